#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Severity of a line in the agent's own log.
package enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug = 0, info, warning, error

    package static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    package var description: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }
    /// Parses `debug`, `info`, `warning`/`warn`, `error`.
    package init?(name: String) {
        switch name.lowercased() {
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error", "err": self = .error
        default: return nil
        }
    }
}

/// The agent's own log: structured JSON lines on stderr, never mixed into the alert stream.
///
/// Each line is `{"ts":"…","level":"info","component":"capture","msg":"…", …fields}`.
package enum Log {
    private static let minimum = Atomic<Int>(LogLevel.info.rawValue)
    private static let lock = Mutex<Void>(())

    /// Sets the lowest level that is written.
    package static func setLevel(_ level: LogLevel) { minimum.store(level.rawValue, ordering: .relaxed) }
    /// Whether `level` is currently written.
    package static func enabled(_ level: LogLevel) -> Bool { level.rawValue >= minimum.load(ordering: .relaxed) }

    /// Writes one log line if `level` is enabled.
    package static func write(_ level: LogLevel, _ component: String, _ message: String, _ fields: [(String, String)] = []) {
        guard enabled(level) else { return }
        let w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("ts"); w.time(Timestamp.nowNanoseconds())
        w.key("level"); w.string(level.description)
        w.key("component"); w.string(component)
        w.key("msg"); w.string(message)
        for (k, v) in fields { w.key(string: k); w.string(v) }
        w.endObject()
        w.rawByte(0x0A)
        lock.withLock { _ in
            _ = FileDescriptorWriter.writeAll(2, w.bytes)
        }
    }

    package static func debug(_ c: String, _ m: String, _ f: [(String, String)] = []) { write(.debug, c, m, f) }
    package static func info(_ c: String, _ m: String, _ f: [(String, String)] = []) { write(.info, c, m, f) }
    package static func warning(_ c: String, _ m: String, _ f: [(String, String)] = []) { write(.warning, c, m, f) }
    package static func error(_ c: String, _ m: String, _ f: [(String, String)] = []) { write(.error, c, m, f) }
}
