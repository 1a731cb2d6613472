import VigilABI

/// The event type of a decoded event: Falco's `evt.type` names.
///
/// Raw values are vigil's syscall ids (`enum vigil_syscall` in vigil_abi.h) for
/// syscall, exec and fork records; ``procexit`` is the exit record. Rule sets index
/// by this small integer (see ``EventType/count``).
package struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: UInt16
    package init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Number of distinct event types (array size for per-type tables; `VIGIL_EVENT_TYPE_MAX`).
    package static let count = Int(VIGIL_EVENT_TYPE_MAX.rawValue)
    /// Process exit (`procexit` in Falco; `VIGIL_EVT_PROCEXIT`).
    package static let procexit = EventType(rawValue: UInt16(VIGIL_EVT_PROCEXIT.rawValue))
    /// Not an event type: in a capture interest set, asks the exec program to copy the
    /// environment of each new image (a loaded rule uses `proc.env`). The last id of the table,
    /// which no row of vigil_abi.h may take: it has no name, is in no rule's types and never
    /// appears on a record (EventTableTests checks it stays free).
    package static let environmentCapture = EventType(rawValue: UInt16(VIGIL_EVENT_TYPE_MAX.rawValue - 1))

    /// Falco's name for this event type (`openat`, `execve`, `procexit`, ...), or `unknown`.
    package var name: String { EventType.names[Int(rawValue) & (EventType.count - 1)] }
    package var description: String { name }

    /// Looks up a type by its Falco name.
    package init?(name: String) {
        guard let v = EventType.byName[name] else { return nil }
        self = v
    }

    /// All types that have a name.
    package static var all: [EventType] {
        (0..<count).compactMap { names[$0] == "unknown" ? nil : EventType(rawValue: UInt16($0)) }
    }

    /// Names by type, from the rows of vigil_abi.h's syscall table (``EventTable``).
    static let names: [String] = {
        var n = [String](repeating: "unknown", count: count)
        for r in EventTable.rows where !r.name.isEmpty { n[Int(r.type.rawValue) & (count - 1)] = r.name }
        return n
    }()

    static let byName: [String: EventType] = {
        var d: [String: EventType] = [:]
        for (i, n) in names.enumerated() where n != "unknown" { d[n] = EventType(rawValue: UInt16(i)) }
        return d
    }()
}
