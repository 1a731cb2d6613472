#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// Small path and file helpers (no Foundation).
package enum FilePaths {
    package static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return cString(buf)
    }

    package static func absolute(_ p: String, relativeTo base: String) -> String {
        if p.hasPrefix("/") { return normalize(p) }
        return normalize(base + "/" + p)
    }

    /// Removes `.` and `..` components and duplicate slashes (lexically); the result is
    /// absolute (a relative `p` is taken from `/`). See ``PathResolver/normalize(_:)``.
    package static func normalize(_ p: String) -> String {
        PathResolver.normalize(p.hasPrefix("/") ? p : "/" + p)
    }

    package static func directory(of p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return "." }
        if i == p.startIndex { return "/" }
        return String(p[..<i])
    }

    package static func basename(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: i)...])
    }

    package static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    package static func isRegularFile(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    package static func exists(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0
    }

    /// The whole regular file as text (invalid UTF-8 repaired), or nil when ``FileReader`` refuses it.
    package static func readText(_ p: String) -> String? {
        try? FileReader.readText(p)
    }

    /// Names in a directory (without `.` and `..`), sorted.
    package static func listDirectory(_ p: String) -> [String]? {
        guard let d = opendir(p) else { return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A NUL-terminated C buffer as a String.
    static func cString(_ buf: [CChar]) -> String {
        let n = buf.firstIndex(of: 0) ?? buf.count
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The running executable's path.
    package static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        buf[n] = 0
        return cString(buf)
    }
}
