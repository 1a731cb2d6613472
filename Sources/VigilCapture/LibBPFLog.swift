#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Synchronization
import VigilCore

/// Collects libbpf's messages (including the verifier log printed on a load
/// failure) so that errors can show their tail, and forwards warnings to the
/// agent's log. Installed once per process through `libbpf_set_print`.
enum LibBPFLog {
    private static let lines = Mutex<[String]>([])
    private static let installed = Atomic<Bool>(false)
    /// Whether debug-level libbpf output is kept (VIGIL_LIBBPF_DEBUG=1).
    nonisolated(unsafe) static var keepDebug = false

    /// Installs the print callback (idempotent).
    static func install() {
        guard installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        keepDebug = getenv("VIGIL_LIBBPF_DEBUG").map { String(cString: $0) == "1" } ?? false
        _ = libbpf_set_print { level, fmt, args in
            guard let fmt, let args else { return 0 }
            if level == LIBBPF_DEBUG && !LibBPFLog.keepDebug { return 0 }
            var buf = [CChar](repeating: 0, count: 8192)
            let n = vsnprintf(&buf, buf.count, fmt, args)
            guard n > 0 else { return 0 }
            let text = String(decoding: buf.prefix(Int(min(n, Int32(buf.count - 1)))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            LibBPFLog.append(text)
            return n
        }
    }

    static func append(_ text: String) {
        lines.withLock { l in
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                l.append(String(line))
            }
            if l.count > 4000 { l.removeFirst(l.count - 4000) }
        }
    }

    /// Forgets everything collected so far.
    static func clear() { lines.withLock { $0.removeAll() } }

    /// The last `count` lines, joined.
    static func tail(_ count: Int = 40) -> String {
        lines.withLock { l in l.suffix(count).joined(separator: "\n") }
    }

    /// The most relevant part of a verifier rejection: the lines before
    /// "-- END PROG LOAD LOG --" (the verifier's verdict is at the end of its log).
    static func verifierTail(_ count: Int = 30) -> String {
        lines.withLock { l in
            if let end = l.lastIndex(where: { $0.contains("-- END PROG LOAD LOG --") }) {
                let start = max(0, end - count)
                return l[start...end].joined(separator: "\n")
            }
            return l.suffix(count).joined(separator: "\n")
        }
    }

    /// The program named in the last "prog 'NAME': failed to load" message.
    static func failedProgram() -> String? {
        lines.withLock { l in
            for line in l.reversed() {
                guard line.contains("failed to load") || line.contains("failed to attach") else { continue }
                let parts = line.split(separator: "'", omittingEmptySubsequences: false)
                if parts.count >= 3, parts[0].hasSuffix("prog ") { return String(parts[1]) }
            }
            return nil
        }
    }
}
