#if canImport(Glibc)
import Glibc
#endif

extension BPFCapture {
    /// Where the BPF object is looked for, in order: `$VIGIL_BPF_OBJECT`; beside the
    /// executable; the install layouts relative to it (`../lib/vigil`, `../share/vigil`);
    /// `/usr/lib/vigil` and `/usr/local/lib/vigil`; the checkout's `build/bpf` above the
    /// executable (SwiftPM puts it at `.build/<triple>/<config>/vigil`, test bundles alike);
    /// `<cwd>/build/bpf`. The executable is found through `/proc/self/exe`, so symlinks
    /// (`.build/release`, `/usr/bin/vigil`) and the directory vigil is started from do not matter.
    package static func objectSearchPaths() -> [String] {
        let name = "vigil.bpf.o"
        var paths: [String] = []
        if let env = getenv("VIGIL_BPF_OBJECT") { paths.append(String(cString: env)) }
        let exe = executableDirectory()
        if let exe {
            paths.append(exe + "/" + name)
            paths.append(parent(exe) + "/lib/vigil/" + name)
            paths.append(parent(exe) + "/share/vigil/" + name)
        }
        paths.append("/usr/lib/vigil/vigil.bpf.o")  // where the container image installs it
        paths.append("/usr/local/lib/vigil/vigil.bpf.o")
        if let exe {
            var dir = exe
            for _ in 0..<4 {
                dir = parent(dir)
                paths.append((dir == "/" ? "" : dir) + "/build/bpf/" + name)
                if dir == "/" { break }
            }
        }
        var cwd = [CChar](repeating: 0, count: Int(PATH_MAX))
        if getcwd(&cwd, cwd.count) != nil { paths.append(cString(cwd) + "/build/bpf/" + name) }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// The first readable BPF object in ``objectSearchPaths()``.
    package static func findObject() throws -> String {
        let paths = objectSearchPaths()
        for p in paths where access(p, R_OK) == 0 { return p }
        throw CaptureError.objectNotFound(searched: paths)
    }

    /// The directory of the running executable, symlinks resolved (`/proc/self/exe`).
    static func executableDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        guard n > 0 else { return nil }
        let path = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return parent(path)
    }

    /// The lexical parent directory (`/` for `/` and top-level names).
    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
