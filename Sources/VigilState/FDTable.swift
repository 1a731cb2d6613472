/// A process's open file descriptors: the ``FDInfo`` of each fd number the state tracks.
///
/// Used like a `[Int32: FDInfo]` (subscript, `removeValue(forKey:)`, `count`, `values`,
/// iteration over `(key, value)` pairs, dictionary literals) but without hashing: the fds a
/// process has are small numbers handed out lowest-first, so they live in an array indexed by
/// the fd (``directLimit``, grown in powers of two and only while the table stays dense, see
/// ``fitsDirectly(_:)``); any other fd (a `dup2` to a high number, a negative one) goes to a
/// dictionary beside it. An open or a close (one of each per file a process touches: 36 of an
/// exec storm's 39 records per exec) is then an index and a store instead of a hash, a probe
/// and an insert or delete. A value with copy-on-write storage, like the dictionary it replaces:
/// a forked child shares its parent's table until either changes it.
///
/// Iteration visits the directly indexed fds in ascending order, then the others (in no
/// particular order).
package struct FDTable: Sequence, Equatable, ExpressibleByDictionaryLiteral {
    /// Slots for fds `0..<direct.count` (nil: not open).
    private var direct: ContiguousArray<FDInfo?> = []
    /// The fds outside ``direct``.
    private var others: [Int32: FDInfo] = [:]
    /// Open fds in the table.
    package private(set) var count = 0

    /// The direct slots never grow past this many (a process with a thousand sockets still
    /// indexes them; beyond, fds are hashed as before).
    static let directLimit = 4096
    /// The direct slots a table starts with (covers stdin, stdout, stderr and the next few).
    static let initialSlots = 8

    package init() {}

    package init(dictionaryLiteral elements: (Int32, FDInfo)...) {
        for (k, v) in elements { self[k] = v }
    }

    /// Whether no fd is open.
    package var isEmpty: Bool { count == 0 }

    /// The slots reserved in memory (direct slots plus the dictionary's capacity), for
    /// ``ProcessInfo/estimatedBytes``.
    package var directCapacity: Int { direct.capacity }
    package var othersCapacity: Int { others.capacity }

    /// The fd's entry; setting nil closes it.
    package subscript(fd: Int32) -> FDInfo? {
        @inline(__always) get {
            let i = Int(fd)
            if i >= 0 && i < direct.count { return direct[i] }
            return others.isEmpty ? nil : others[fd]
        }
        @inline(__always) set {
            if let v = newValue { insert(v, at: fd) } else { removeValue(forKey: fd) }
        }
    }

    /// Stores `info` at `fd` (replacing what was there).
    @inline(__always)
    package mutating func insert(_ info: FDInfo, at fd: Int32) {
        let i = Int(fd)
        if i >= 0 && i < direct.count {
            // Pattern matches, not `== nil`: that is FDInfo's `==` on two optionals (a copy of
            // the entry and a generic destroy of the pair).
            if case .none = direct[i] { count += 1 }
            direct[i] = info
            return
        }
        insertSlow(info, at: fd)
    }

    private mutating func insertSlow(_ info: FDInfo, at fd: Int32) {
        let i = Int(fd)
        if fitsDirectly(i) {
            grow(toCover: i)
            if case .none = direct[i] { count += 1 }
            direct[i] = info
            return
        }
        if case .none = others.updateValue(info, forKey: fd) { count += 1 }
    }

    /// Whether fd `i`, beyond the direct slots, should extend them: it is below ``directLimit``
    /// and the slots would stay at least a quarter full (the first few always fit).
    private func fitsDirectly(_ i: Int) -> Bool {
        guard i >= 0 && i < Self.directLimit else { return false }
        let slots = Self.slots(covering: i)
        return slots <= Self.initialSlots * 4 || slots <= 4 * (count + 1)
    }

    /// The slot count (a power of two, at least ``initialSlots``) that covers fd `i`.
    private static func slots(covering i: Int) -> Int {
        var n = initialSlots
        while n <= i { n <<= 1 }
        return n
    }

    /// Extends the direct slots to cover fd `i`, moving any fds of the new range out of the dictionary.
    private mutating func grow(toCover i: Int) {
        let old = direct.count
        let n = Self.slots(covering: i)
        direct.reserveCapacity(n)
        for _ in old..<n { direct.append(nil) }
        if !others.isEmpty {
            for fd in others.keys where Int(fd) >= old && Int(fd) < n {
                direct[Int(fd)] = others.removeValue(forKey: fd)
            }
        }
    }

    /// Closes `fd`, returning what it was.
    @inline(__always) @discardableResult
    package mutating func removeValue(forKey fd: Int32) -> FDInfo? {
        let i = Int(fd)
        if i >= 0 && i < direct.count {
            guard let v = direct[i].take() else { return nil }
            count -= 1
            return v
        }
        if others.isEmpty { return nil }
        guard let v = others.removeValue(forKey: fd) else { return nil }
        count -= 1
        return v
    }

    /// Closes every fd for which `shouldRemove` is true (the close-on-exec fds at an exec).
    package mutating func removeAll(where shouldRemove: (FDInfo) -> Bool) {
        for i in direct.indices {
            if let v = direct[i], shouldRemove(v) { direct[i] = nil; count -= 1 }
        }
        if !others.isEmpty {
            let before = others.count
            others = others.filter { !shouldRemove($0.value) }
            count -= before - others.count
        }
    }

    /// The open fds' entries (directly indexed ones in fd order first).
    package var values: LazyMapSequence<FDTable, FDInfo> { lazy.map { $0.value } }

    /// Iterates `(key: fd, value: info)` over the open fds.
    package struct Iterator: IteratorProtocol {
        fileprivate let table: FDTable
        fileprivate var position = 0
        fileprivate var rest: Dictionary<Int32, FDInfo>.Iterator
        package mutating func next() -> (key: Int32, value: FDInfo)? {
            while position < table.direct.count {
                let i = position
                position += 1
                if let v = table.direct[i] { return (Int32(i), v) }
            }
            return rest.next()
        }
    }

    package func makeIterator() -> Iterator { Iterator(table: self, rest: others.makeIterator()) }

    package var underestimatedCount: Int { count }

    /// Same fds with equal entries.
    package static func == (a: FDTable, b: FDTable) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in a where b[k] != v { return false }
        return true
    }
}
