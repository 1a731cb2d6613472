#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a file could not be read; the description names the file.
package struct FileReadError: Error, Sendable, CustomStringConvertible {
    /// The path as given.
    package var path: String
    /// What went wrong (`larger than the limit of 16 MiB`, `not a regular file (a FIFO)`, `No such file or directory`).
    package var message: String
    /// The errno behind an open/read failure (0 for limit and file-type errors).
    package var errno: Int32
    package init(path: String, message: String, errno: Int32 = 0) { self.path = path; self.message = message; self.errno = errno }
    package var description: String { "\(path): \(message)" }
}

/// The one way Vigil reads a whole file (rules, configuration, kubeconfig, container
/// runtime state, procfs): bounded and safe against hostile paths.
///
/// - Only regular files: FIFOs, sockets, character and block devices (`/dev/zero`) and
///   directories are refused. The file is opened with `O_NONBLOCK`, so opening a FIFO
///   never blocks, and checked with `fstat` on the opened descriptor (no race with the path).
/// - At most `limit` bytes: a larger file is an error naming the file and the limit
///   (or, with `truncate`, the first `limit` bytes, for procfs files whose size is 0 in `stat`).
/// - Reads retry on `EINTR`.
package enum FileReader {
    /// The default size limit (16 MiB): far above Falco's full rule set or any configuration file.
    package static let defaultLimit = 16 << 20

    /// Reads the whole file at `path`.
    package static func read(_ path: String, limit: Int = defaultLimit, truncate: Bool = false) throws(FileReadError) -> [UInt8] {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw systemError(path, "cannot open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw systemError(path, "cannot stat") }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw FileReadError(path: path, message: "not a regular file (\(typeName(type))); Vigil reads only regular files")
        }
        let size = Int(st.st_size)
        if size > limit && !truncate {
            throw FileReadError(path: path, message: "file is \(size) bytes, larger than the limit of \(sizeText(limit))")
        }
        // One buffer, sized from fstat (procfs files report 0 and start small), grown by doubling;
        // reads ask for one byte more than the limit so a file that grew past it is noticed.
        var out = [UInt8](repeating: 0, count: size > 0 ? min(size, limit) + 1 : min(4096, limit + 1))
        var length = 0
        while true {
            if length == out.count {
                if length > limit { break }
                out.append(contentsOf: repeatElement(0, count: min(out.count, limit + 1 - out.count)))
            }
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + length, $0.count - length) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError(path, "cannot read")
            }
            if n == 0 { out.removeLast(out.count - length); return out }
            length += n
        }
        if truncate { out.removeLast(out.count - limit); return out }
        throw FileReadError(path: path, message: "file is larger than the limit of \(sizeText(limit))")
    }

    /// Reads the whole file as text (invalid UTF-8 repaired).
    package static func readText(_ path: String, limit: Int = defaultLimit, truncate: Bool = false) throws(FileReadError) -> String {
        String(decoding: try read(path, limit: limit, truncate: truncate), as: UTF8.self)
    }

    /// The file's bytes, or nil when it cannot be read for any reason (for best-effort
    /// readers of procfs and sysfs, which treat a vanished or unreadable file as absent).
    package static func contents(_ path: String, limit: Int = defaultLimit, truncate: Bool = true) -> [UInt8]? {
        try? read(path, limit: limit, truncate: truncate)
    }

    /// `16 MiB`, `512 KiB` or `100 bytes`.
    package static func sizeText(_ n: Int) -> String {
        if n >= 1 << 20 && n % (1 << 20) == 0 { return "\(n >> 20) MiB" }
        if n >= 1 << 10 && n % (1 << 10) == 0 { return "\(n >> 10) KiB" }
        return "\(n) bytes"
    }

    static func typeName(_ t: mode_t) -> String {
        switch t {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    static func systemError(_ path: String, _ what: String) -> FileReadError {
        let e = errno
        return FileReadError(path: path, message: "\(what): \(String(cString: strerror(e)))", errno: e)
    }
}
