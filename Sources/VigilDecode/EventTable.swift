import VigilABI

/// One row of the syscall table in vigil_abi.h (`VIGIL_SYSCALLS`, `VIGIL_RECORD_EVENTS`):
/// every fact Vigil keeps about one event type. ``EventType`` names, ``SyscallSchema``,
/// the kernel-number maps (`SyscallTable`), `vigil trace` groups and the events the
/// process table needs are all derived from these rows.
package struct EventTableRow: Sendable {
    /// The event type (`VIGIL_SYS_*` or `VIGIL_EVT_*`).
    package let type: EventType
    /// Falco's event name (`evt.type`); empty for an entry that never reaches a record (socketcall).
    package let name: String
    /// The x86-64 syscall number, nil when x86-64 has none.
    package let x86_64: Int32?
    /// i386 numbers (ia32 processes and `int 0x80`): the current one first, then an older
    /// one for the same call (16-bit uid calls, `fcntl` before `fcntl64`).
    package let i386: [Int32]
    /// The arm64 syscall number, nil when arm64 has none.
    package let arm64: Int32?
    /// The i386 `socketcall(2)` call number (`SYS_SOCKET` = 1, ...), 0 when none.
    package let socketcall: UInt32
    /// `VIGIL_CAPTURE_*`: what the kernel side stores beyond `args[]` and `ret`.
    package let capture: UInt32
    /// `VIGIL_GROUP_*` bits (`vigil trace --kinds` groups).
    package let groups: UInt32
    /// `VIGIL_STATE_*` bits: what the process table does with the event.
    package let state: UInt32
    /// Falco's parameters, in Falco's order.
    package let arguments: [ArgumentSpec]

    /// The capture kind (`VIGIL_CAPTURE_KIND_MASK` bits of ``capture``).
    package var captureKind: UInt32 { capture & VIGIL_CAPTURE_KIND_MASK }

    /// This architecture's native syscall number, nil when it has none.
    package var nativeNumber: Int32? {
        #if arch(x86_64)
        x86_64
        #elseif arch(arm64)
        arm64
        #else
        nil
        #endif
    }
}

/// Why an `arguments` column of vigil_abi.h does not parse (a fault in the header, caught by tests).
package struct EventTableError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The row's name (or id) and the offending item.
    package let row: String
    package let item: String
    package let reason: String
    package init(row: String, item: String, reason: String) { self.row = row; self.item = item; self.reason = reason }
    package var description: String { "vigil_abi.h, row \(row): argument '\(item)': \(reason)" }
}

/// The rows of vigil_abi.h's syscall table, read once through `vigil_event_rows()`.
package enum EventTable {
    /// Every row: the syscalls (`VIGIL_SYSCALLS`), then the other event types (`VIGIL_RECORD_EVENTS`).
    package static let rows: [EventTableRow] = {
        var rowCount: UInt32 = 0
        guard let base = vigil_event_rows(&rowCount) else { return [] }
        let n = Int(rowCount)
        return (0..<n).map { (i: Int) -> EventTableRow in
            let r: vigil_event_row = base[i]
            let name = String(cString: r.name)
            do {
                return EventTableRow(
                    type: EventType(rawValue: UInt16(r.id)), name: name,
                    x86_64: r.nr_x86_64 >= 0 ? r.nr_x86_64 : nil,
                    i386: [r.nr_i386, r.nr_i386_old].filter { $0 >= 0 },
                    arm64: r.nr_arm64 >= 0 ? r.nr_arm64 : nil,
                    socketcall: r.socketcall, capture: r.capture, groups: r.groups, state: r.state,
                    arguments: try parseArguments(String(cString: r.arguments), row: name.isEmpty ? "id \(r.id)" : name))
            } catch {
                // The table is compiled in: a row that does not parse is a fault of this build.
                preconditionFailure("\(error)")
            }
        }
    }()

    /// The row of `type`, nil for a type without one.
    package static func row(_ type: EventType) -> EventTableRow? { byType[Int(type.rawValue) & (EventType.count - 1)] }

    /// Rows indexed by event type.
    static let byType: [EventTableRow?] = {
        var t = [EventTableRow?](repeating: nil, count: EventType.count)
        for r in rows { t[Int(r.type.rawValue) & (EventType.count - 1)] = r }
        return t
    }()

    /// By type: whether the record's socket tuple belongs to the fd the syscall returned
    /// (`VIGIL_CAPTURE_TUPLE_RET`, accept), so its local end is the server.
    package static let tupleIsServerSide: [Bool] = {
        var t = [Bool](repeating: false, count: EventType.count)
        for r in rows where r.captureKind == VIGIL_CAPTURE_TUPLE_RET { t[Int(r.type.rawValue) & (EventType.count - 1)] = true }
        return t
    }()

    /// Event types whose row has any of `bits` in its `state` column.
    package static func types(withState bits: UInt32) -> Set<EventType> {
        Set(rows.filter { $0.state & bits != 0 && !$0.name.isEmpty }.map(\.type))
    }

    /// Event types whose row has any of `bits` in its `groups` column.
    package static func types(inGroups bits: UInt32) -> Set<EventType> {
        Set(rows.filter { $0.groups & bits != 0 && !$0.name.isEmpty }.map(\.type))
    }

    /// `vigil trace --kinds` group names and their `VIGIL_GROUP_*` bits ("clone" is another name for "fork").
    package static let groupNames: [(name: String, bit: UInt32)] = [
        ("open", VIGIL_GROUP_OPEN), ("exec", VIGIL_GROUP_EXEC), ("fork", VIGIL_GROUP_FORK), ("clone", VIGIL_GROUP_FORK),
        ("exit", VIGIL_GROUP_EXIT), ("file", VIGIL_GROUP_FILE), ("network", VIGIL_GROUP_NETWORK),
        ("process", VIGIL_GROUP_PROCESS), ("privilege", VIGIL_GROUP_PRIVILEGE),
    ]

    /// The event types of each `vigil trace --kinds` group.
    package static let groups: [String: Set<EventType>] =
        Dictionary(uniqueKeysWithValues: groupNames.map { ($0.name, types(inGroups: $0.bit)) })

    /// Parses an `arguments` column: space-separated `name:format=source` items (vigil_abi.h
    /// says which formats and sources exist).
    package static func parseArguments(_ text: String, row: String) throws(EventTableError) -> [ArgumentSpec] {
        var out: [ArgumentSpec] = []
        for item in text.split(separator: " ") {
            func fail(_ reason: String) -> EventTableError { EventTableError(row: row, item: String(item), reason: reason) }
            guard let colon = item.firstIndex(of: ":"), let equals = item.firstIndex(of: "="), colon < equals else {
                throw fail("expected name:format=source")
            }
            let name = String(item[..<colon])
            let formatText = item[item.index(after: colon)..<equals]
            let sourceText = item[item.index(after: equals)...]
            guard !name.isEmpty else { throw fail("empty name") }
            guard let format = parseFormat(formatText) else { throw fail("unknown format '\(formatText)'") }
            guard let source = parseSource(sourceText) else { throw fail("unknown source '\(sourceText)'") }
            guard !out.contains(where: { $0.name == name }) else { throw fail("parameter '\(name)' given twice") }
            out.append(ArgumentSpec(name, format, source))
        }
        return out
    }

    /// `X(Y)` as `("X", "Y")`, or `(text, nil)` without parentheses.
    static func call(_ text: Substring) -> (Substring, Substring?)? {
        guard let open = text.firstIndex(of: "(") else { return (text, nil) }
        guard text.last == ")" else { return nil }
        return (text[..<open], text[text.index(after: open)..<text.index(before: text.endIndex)])
    }

    static func parseFormat(_ text: Substring) -> ArgumentFormat? {
        guard let (head, inner) = call(text) else { return nil }
        if let inner {
            guard head == "flags", let set = FlagSet.allCases.first(where: { "\($0)" == inner }) else { return nil }
            return .flags(set)
        }
        let plain: [ArgumentFormat] = [.fd, .errno, .int, .uint, .hex, .octal, .uid, .gid, .pid, .path, .string, .argv,
                                       .mode, .sockaddr, .tuple]
        return plain.first { "\($0)" == head }
    }

    static func parseSource(_ text: Substring) -> ArgumentSource? {
        guard let (head, inner) = call(text) else { return nil }
        switch (head, inner) {
        case ("ret", nil): return .ret
        case ("str0", nil): return .str0
        case ("str1", nil): return .str1
        case ("str0Second", nil): return .str0Second
        case ("tuple", nil): return .tuple
        case ("unavailable", nil): return .unavailable
        case ("arg", let n?): return argumentIndex(n).map { ArgumentSource.arg($0) }
        case ("arg32", let n?): return argumentIndex(n).map { ArgumentSource.arg32($0) }
        case ("field", let f?): return RecordField.allCases.first { "\($0)" == f }.map { .field($0) }
        default: return nil
        }
    }

    /// `N` of `arg(N)`: 0 to 5.
    static func argumentIndex(_ text: Substring) -> Int? {
        guard let n = Int(String(text)), (0...5).contains(n) else { return nil }
        return n
    }
}
