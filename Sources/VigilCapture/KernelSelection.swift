import VigilABI
import VigilDecode

/// What the BPF programs capture: the content of the object's global selection data
/// (`struct vigil_select`, section `VIGIL_SELECT_SECTION`), which the programs read with
/// plain loads. Built from the wanted event types and the configuration; written whole
/// into the section's map at start and on every interest change (``BPFCapture``).
///
/// - `nr[kernel nr]` (native at `nr`, 32-bit at `VIGIL_NR_COMPAT_BASE + nr`): the vigil id
///   from ``SyscallTable``, `VIGIL_NR_HAS_COMPAT` on native slots the 32-bit table shares,
///   `VIGIL_NR_WANTED` when sys_exit sends a record for that syscall, and
///   `VIGIL_NR_COMPAT_WANTED` on a native slot whose 32-bit twin is wanted. A syscall with
///   neither wanted flag costs sys_exit one load.
/// - `type[id]`: `VIGIL_INTEREST_WANTED` for the event types whose records are sent by the
///   other programs (exec, fork, exit, io_uring completions, socketcall's calls), and
///   `VIGIL_INTEREST_DROP_FAILED` for the types whose failed native calls sys_exit and the
///   io_uring completion drop (exactly ``KernelInterest/dropFailed``), and
///   `VIGIL_INTEREST_DROP_FAILED_COMPAT` for the 32-bit ones (``KernelInterest/dropFailedCompat``).
///   Never on socketcall itself: its calls are checked after the demultiplexing.
///   `VIGIL_INTEREST_FAILED_PATHS` (native) and `VIGIL_INTEREST_FAILED_PATHS_COMPAT` (32-bit) on
///   the types whose failed calls are sent only for the paths of `failed_path`
///   (``KernelInterest/failedPathTypes``, ``KernelInterest/failedPathTypesCompat``).
/// - `failed_path`: ``KernelInterest/failedPaths``, one per slot (``failedPath``). A path keeps
///   the slot it had in the previous selection, so that rewriting the selection never changes
///   an entry both selections use (the programs read it while it is written).
package struct KernelSelection: Sendable {
    /// `struct vigil_select.config`.
    package var config: vigil_config
    /// `struct vigil_select.nr` (`VIGIL_NR_MAX` slots).
    package var nr: [UInt32]
    /// `struct vigil_select.type` (`VIGIL_EVENT_TYPE_MAX` entries).
    package var type: [UInt8]
    /// `struct vigil_select.failed_path` (`VIGIL_FAILED_PATH_MAX` slots, nil: unused).
    package var failedPath: [[UInt8]?]

    /// The syscalls i386 `socketcall` multiplexes (rows with a socketcall number).
    static let socketcallIDs: [UInt16] = EventTable.rows.filter { $0.socketcall != 0 }.map(\.type.rawValue)
    /// Successful ones arrive as exec records (sched_process_exec).
    static let execIDs: [UInt16] = EventTable.rows.filter { $0.capture & VIGIL_CAPTURE_EXEC_RECORD != 0 }.map(\.type.rawValue)
    /// Reported by sched_process_fork (the fork record), never at sys_exit.
    static let cloneIDs: [UInt16] = EventTable.rows.filter { $0.capture & VIGIL_CAPTURE_FORK_RECORD != 0 }.map(\.type.rawValue)
    /// Demultiplexed at sys_exit (i386 socketcall).
    static let demuxIDs: [UInt16] = EventTable.rows.filter { $0.capture & VIGIL_CAPTURE_DEMUX != 0 }.map(\.type.rawValue)

    /// The selection for `interest` (see ``BPFCapture/setInterest(_:)`` for how exec and fork
    /// types select their records) with `config`; the failed-open paths keep their slots of
    /// `previousPaths` (the selection written before), new ones take free slots.
    package init(interest: KernelInterest, config: vigil_config, previousPaths: [[UInt8]?] = []) {
        self.config = config
        let n = Int(VIGIL_EVENT_TYPE_MAX.rawValue)
        var wanted = [Bool](repeating: false, count: n)
        for t in interest.types where Int(t.rawValue) < n { wanted[Int(t.rawValue)] = true }
        var drop = [UInt8](repeating: 0, count: n)
        for t in interest.dropFailed where Int(t.rawValue) < n { drop[Int(t.rawValue)] |= UInt8(VIGIL_INTEREST_DROP_FAILED) }
        for t in interest.dropFailedCompat where Int(t.rawValue) < n { drop[Int(t.rawValue)] |= UInt8(VIGIL_INTEREST_DROP_FAILED_COMPAT) }
        for t in interest.failedPathTypes where Int(t.rawValue) < n { drop[Int(t.rawValue)] |= UInt8(VIGIL_INTEREST_FAILED_PATHS) }
        for t in interest.failedPathTypesCompat where Int(t.rawValue) < n { drop[Int(t.rawValue)] |= UInt8(VIGIL_INTEREST_FAILED_PATHS_COMPAT) }
        for t in interest.openNameWriteOnly where Int(t.rawValue) < n { drop[Int(t.rawValue)] |= UInt8(VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY) }
        func expand(_ ids: [UInt16]) {
            if ids.contains(where: { wanted[Int($0)] }) { for i in ids { wanted[Int(i)] = true } }
        }
        expand(Self.execIDs)
        expand(Self.cloneIDs)
        if Self.socketcallIDs.contains(where: { wanted[Int($0)] }) { for i in Self.demuxIDs { wanted[Int(i)] = true } }
        let demux = Set(Self.demuxIDs.map(Int.init))
        type = (0..<n).map { i in
            guard wanted[i] else { return 0 }
            return UInt8(VIGIL_INTEREST_WANTED) | (demux.contains(i) ? 0 : drop[i])
        }

        let clone = Set(Self.cloneIDs.map(UInt32.init))
        func sentAtExit(_ id: UInt32) -> Bool {
            id != 0 && Int(id) < wanted.count && wanted[Int(id)] && !clone.contains(id)
        }
        let base = Int(VIGIL_NR_COMPAT_BASE)
        var slots = [UInt32](repeating: 0, count: Int(VIGIL_NR_MAX))
        for (key, value) in SyscallTable.kernelTable() where Int(key) < slots.count {
            slots[Int(key)] = value
            if sentAtExit(value & VIGIL_NR_ID_MASK) { slots[Int(key)] |= VIGIL_NR_WANTED }
        }
        for n in 0..<base where slots[base + n] & VIGIL_NR_WANTED != 0 { slots[n] |= VIGIL_NR_COMPAT_WANTED }
        nr = slots

        // KernelInterest holds at most VIGIL_FAILED_PATH_MAX paths the kernel can compare.
        var paths = [[UInt8]?](repeating: nil, count: Int(VIGIL_FAILED_PATH_MAX))
        var rest = interest.failedPaths
        for (i, p) in previousPaths.prefix(paths.count).enumerated() {
            if let p, rest.remove(p) != nil { paths[i] = p }
        }
        var free = paths.indices.filter { paths[$0] == nil }.makeIterator()
        for p in rest.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let i = free.next() else { break }
            paths[i] = p
        }
        failedPath = paths
    }

    /// Whether a failed-open path filter is on for some type (native or 32-bit).
    package var filtersFailedPaths: Bool {
        type.contains { $0 & UInt8(VIGIL_INTEREST_FAILED_PATHS | VIGIL_INTEREST_FAILED_PATHS_COMPAT) != 0 }
    }

    /// Whether some slot of ``failedPath`` holds a path that `previousPaths` did not hold there.
    package func addsPaths(to previousPaths: [[UInt8]?]) -> Bool {
        failedPath.indices.contains { i in failedPath[i] != nil && failedPath[i] != (i < previousPaths.count ? previousPaths[i] : nil) }
    }

    /// This selection with every failed call of the path-filtered types sent (their path
    /// filters off): written before a selection that adds paths, so that no program compares
    /// a path against a slot while it is written.
    package var sendingEveryFailure: KernelSelection {
        var s = self
        let mask = ~UInt8(VIGIL_INTEREST_FAILED_PATHS | VIGIL_INTEREST_FAILED_PATHS_COMPAT)
        s.type = type.map { $0 & mask }
        return s
    }

    /// Whether sys_exit sends the failed calls of `type` only for the paths of ``failedPath``.
    package func filtersFailuresByPath(of type: EventType, compat: Bool = false) -> Bool {
        let flag = UInt8(compat ? VIGIL_INTEREST_FAILED_PATHS_COMPAT : VIGIL_INTEREST_FAILED_PATHS)
        return Int(type.rawValue) < self.type.count && self.type[Int(type.rawValue)] & flag != 0
    }

    /// Whether sys_exit sends a record for native syscall number `n` (in a 64-bit syscall).
    package func isWanted(nativeNumber n: Int) -> Bool {
        n >= 0 && n < Int(VIGIL_NR_COMPAT_BASE) && nr[n] & VIGIL_NR_WANTED != 0
    }

    /// Whether sys_exit (and for native calls the io_uring completion) drops failed calls of `type`.
    package func dropsFailures(of type: EventType, compat: Bool = false) -> Bool {
        let flag = UInt8(compat ? VIGIL_INTEREST_DROP_FAILED_COMPAT : VIGIL_INTEREST_DROP_FAILED)
        return Int(type.rawValue) < self.type.count && self.type[Int(type.rawValue)] & flag != 0
    }

    /// The bytes of `struct vigil_select`.
    package func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: MemoryLayout<vigil_select>.size)
        out.withUnsafeMutableBytes { raw in
            var c = config
            withUnsafeBytes(of: &c) { raw.copyMemory(from: $0) }
            let nrOffset = MemoryLayout<vigil_select>.offset(of: \vigil_select.nr)!
            nr.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[nrOffset...]).copyMemory(from: $0) }
            let typeOffset = MemoryLayout<vigil_select>.offset(of: \vigil_select.type)!
            type.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[typeOffset...]).copyMemory(from: $0) }
            let pathOffset = MemoryLayout<vigil_select>.offset(of: \vigil_select.failed_path)!
            let entry = Int(VIGIL_FAILED_PATH_BYTES)
            for (i, p) in failedPath.enumerated() {
                guard let p, p.count < entry else { continue }
                p.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: raw[(pathOffset + i * entry)...]).copyMemory(from: $0) }
            }
        }
        return out
    }
}
