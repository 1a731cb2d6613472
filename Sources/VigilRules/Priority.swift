/// Rule priority, Falco's scale (most severe first).
package enum Priority: Int, Sendable, CaseIterable, Comparable {
    case emergency = 0, alert, critical, error, warning, notice, informational, debug

    /// Falco's capitalised name as written in alerts (`Warning`, `Notice`, ...).
    package var falcoName: String {
        switch self {
        case .emergency: "Emergency"
        case .alert: "Alert"
        case .critical: "Critical"
        case .error: "Error"
        case .warning: "Warning"
        case .notice: "Notice"
        case .informational: "Informational"
        case .debug: "Debug"
        }
    }

    /// The syslog severity (RFC 5424) matching this priority.
    package var syslogSeverity: Int { rawValue }

    /// Parses a priority name, case-insensitively; `info` is an alias of `informational`.
    package init?(name: String) {
        switch name.lowercased() {
        case "emergency": self = .emergency
        case "alert": self = .alert
        case "critical": self = .critical
        case "error": self = .error
        case "warning": self = .warning
        case "notice": self = .notice
        case "informational", "info": self = .informational
        case "debug": self = .debug
        default: return nil
        }
    }

    /// More severe sorts first: `a < b` when `a` is more severe.
    package static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
}
