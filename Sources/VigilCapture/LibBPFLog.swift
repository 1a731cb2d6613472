#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Synchronization
import VigilCore

/// Collects libbpf's messages (including the verifier log printed on a load
/// failure) so that errors can show their tail and the whole log can be saved to a
/// file. Installed once per process through `libbpf_set_print`.
enum LibBPFLog {
    /// Messages since the last ``clear()``, each whole (a verifier log arrives as one
    /// message of up to 16 MiB and is never cut).
    private static let messages = Mutex<[String]>([])
    private static let installed = Atomic<Bool>(false)
    /// Whether debug-level libbpf output is kept (VIGIL_LIBBPF_DEBUG=1).
    private static let keepDebug = Atomic<Bool>(false)
    /// Most text kept (libbpf's largest verifier log is 16 MiB).
    static let maxBytes = 64 << 20

    /// Installs the print callback (idempotent).
    static func install() {
        guard installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        keepDebug.store(getenv("VIGIL_LIBBPF_DEBUG").map { String(cString: $0) == "1" } ?? false, ordering: .relaxed)
        _ = libbpf_set_print { level, fmt, args in
            guard let fmt, let args else { return 0 }
            if level == LIBBPF_DEBUG && !LibBPFLog.keepDebug.load(ordering: .relaxed) { return 0 }
            guard let s = vigil_vformat(fmt, args) else { return 0 }
            defer { free(s) }
            let text = String(cString: s)
            LibBPFLog.append(text)
            return Int32(clamping: text.utf8.count)
        }
    }

    static func append(_ text: String) {
        messages.withLock { m in
            m.append(text)
            // Oldest messages go first when the total passes maxBytes (the newest,
            // which holds the verifier's reason, always stays).
            var total = m.reduce(0) { $0 + $1.utf8.count }
            while total > maxBytes && m.count > 1 { total -= m.removeFirst().utf8.count }
        }
    }

    /// Forgets everything collected so far.
    static func clear() {
        messages.withLock { $0.removeAll() }
    }

    private static func allLines() -> [Substring] {
        messages.withLock { m in m.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: true) } }
    }

    /// The last `count` lines, joined.
    static func tail(_ count: Int = 40) -> String {
        allLines().suffix(count).joined(separator: "\n")
    }

    /// The most relevant part of a verifier rejection: the lines before
    /// "-- END PROG LOAD LOG --" (the verifier's verdict is at the end of its log).
    static func verifierTail(_ count: Int = 30) -> String {
        let l = allLines()
        if let end = l.lastIndex(where: { $0.contains("-- END PROG LOAD LOG --") }) {
            let start = max(0, end - count)
            return l[start...end].joined(separator: "\n")
        }
        return l.suffix(count).joined(separator: "\n")
    }

    /// The program named in the last "prog 'NAME': failed to load" message.
    static func failedProgram() -> String? {
        for line in allLines().reversed() {
            guard line.contains("failed to load") || line.contains("failed to attach") else { continue }
            let parts = line.split(separator: "'", omittingEmptySubsequences: false)
            if parts.count >= 3, parts[0].hasSuffix("prog ") { return String(parts[1]) }
        }
        return nil
    }

    /// Writes everything collected (the whole verifier log included) to a new file in
    /// `$VIGIL_LOG_DIR`, `$TMPDIR` or /tmp, and returns its path (nil if no file could be written).
    static func saveFullLog(program: String?) -> String? {
        let env = { (n: String) -> String? in getenv(n).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let dirs = [env("VIGIL_LOG_DIR"), env("TMPDIR"), "/tmp"].compactMap { $0 }
        let name = "vigil-verifier-\(program ?? "object")-\(getpid())-\(time(nil)).log"
        let text = messages.withLock { $0.joined(separator: "") }
        for dir in dirs {
            let path = dir + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd < 0 { continue }
            var ok = true
            text.utf8CString.withUnsafeBufferPointer { buf in
                var off = 0
                let n = buf.count - 1
                while off < n {
                    let w = write(fd, buf.baseAddress! + off, n - off)
                    if w <= 0 { if errno == EINTR { continue }; ok = false; break }
                    off += w
                }
            }
            close(fd)
            if ok { return path }
            unlink(path)
        }
        return nil
    }
}
