import Testing
import VigilCore
import VigilDecode
@testable import VigilState

/// ``FDTable`` (fds indexed directly, others hashed) against the dictionary it replaced: the
/// same operations give the same contents, answers and counts, copies stay independent.
@Suite struct FDTableDifferentialTests {
    /// A small deterministic generator (xorshift), so a failure replays.
    struct Rand {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func info(_ k: Int, cloexec: Bool) -> FDInfo {
        FDInfo(kind: k % 3 == 0 ? .file : (k % 3 == 1 ? .pipe : .ipv4), name: "/f\(k)", nameRaw: "f\(k)",
               flags: cloexec ? FDInfo.cloexecFlag : 0)
    }

    static func same(_ t: FDTable, _ d: [Int32: FDInfo]) -> Bool {
        guard t.count == d.count, t.isEmpty == d.isEmpty else { return false }
        for (k, v) in d where t[k] != v { return false }
        var seen = 0
        for (k, v) in t {
            guard d[k] == v else { return false }
            seen += 1
        }
        return seen == d.count && Array(t.values).count == d.count
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomOperationsMatchADictionary(seed: UInt64) {
        var r = Rand(s: 0x9E37_79B9_7F4A_7C15 &* seed)
        var t = FDTable()
        var d: [Int32: FDInfo] = [:]
        var snapshots: [(FDTable, [Int32: FDInfo])] = []
        for step in 0..<4_000 {
            // Mostly small fds (as processes get them), some high ones (dup2, many sockets), a few negative.
            let fd: Int32
            switch r.below(20) {
            case 0: fd = Int32(r.below(100_000))
            case 1: fd = Int32(r.below(5_000))
            case 2: fd = -Int32(r.below(3)) - 1
            default: fd = Int32(r.below(40))
            }
            switch r.below(10) {
            case 0...4:
                let v = Self.info(step, cloexec: r.below(4) == 0)
                t[fd] = v; d[fd] = v
            case 5...6:
                #expect(t.removeValue(forKey: fd) == d.removeValue(forKey: fd))
            case 7:
                #expect(t[fd] == d[fd])
            case 8:
                if r.below(50) == 0 {
                    t.removeAll { $0.isCloseOnExec }
                    d = d.filter { !$0.value.isCloseOnExec }
                } else {
                    t.insert(Self.info(step, cloexec: false), at: fd); d[fd] = Self.info(step, cloexec: false)
                }
            default:
                // A fork: the copy shares storage until either side changes.
                if snapshots.count < 20 { snapshots.append((t, d)) }
            }
            if step % 97 == 0 { #expect(Self.same(t, d), "seed \(seed) step \(step)") }
        }
        #expect(Self.same(t, d))
        for (st, sd) in snapshots { #expect(Self.same(st, sd), "a copy changed with the original") }
    }

    @Test func highFdsMoveIntoTheDirectSlotsWhenTheyGrow() {
        var t = FDTable()
        var d: [Int32: FDInfo] = [:]
        // 100 is far beyond an empty table's slots: hashed. Filling 0..<60 grows the slots past 100.
        t[100] = Self.info(100, cloexec: false); d[100] = Self.info(100, cloexec: false)
        for fd in 0..<60 as Range<Int32> { t[fd] = Self.info(Int(fd), cloexec: false); d[fd] = Self.info(Int(fd), cloexec: false) }
        t[127] = Self.info(127, cloexec: true); d[127] = Self.info(127, cloexec: true)
        #expect(Self.same(t, d))
        #expect(t.removeValue(forKey: 100) == d.removeValue(forKey: 100))
        #expect(t[100] == nil && t.count == 61)
        let literal: FDTable = [0: Self.info(0, cloexec: false), 7000: Self.info(1, cloexec: false)]
        #expect(literal.count == 2 && literal[7000] == Self.info(1, cloexec: false) && literal[1] == nil)
        #expect(FDTable() == [:] && literal != [:])
    }

    /// Tables filled by a coherent event stream (forks copying tables, execs dropping
    /// close-on-exec fds, opens, closes, dups, pipes, sockets) answer the same through every
    /// access path: lookup, iteration, values, count.
    @Test func tablesFilledByEventsAnswerThroughEveryAccessPath() {
        let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        let w = SyntheticWorkload(count: 50_000, processes: 64, seed: 7)
        var r = ProcessTable.ApplyResult()
        w.forEachEvent { table.apply($0, into: &r) }
        var checked = 0
        for (_, p) in table.processes {
            var n = 0
            for (k, v) in p.fds { #expect(p.fds[k] == v); n += 1 }
            #expect(n == p.fds.count && Array(p.fds.values).count == n)
            checked += n
        }
        #expect(checked > 0)
    }
}

/// ``ProcessTable/lookup(_:)`` (the direct-mapped cache, else the dictionary) answers what the
/// dictionary holds, through forks, execs, exits, evictions of exited processes and pid reuse.
@Suite struct ProcessLookupTests {
    @Test func cachedLookupsMatchTheDictionary() {
        // A small table and exit budget: evictions and removals happen all along.
        let table = ProcessTable(configuration: .init(maxProcesses: 64, exitGracePeriodNs: 1_000_000, resolveUnknownFromProc: false,
                                                      maxExited: 8))
        let w = SyntheticWorkload(count: 60_000, processes: 200, seed: 11)
        var r = ProcessTable.ApplyResult()
        var checked = 0
        w.forEachEvent { e in
            table.apply(e, into: &r)
            for pid in [e.pid, e.ppid, e.pid &+ 4096, e.pid &- 4096] {
                #expect(table.lookup(pid) === table.processes[pid])
                checked += 1
            }
            if let p = table.lookup(e.pid) { #expect(table.parent(of: p) === (p.ppid == p.pid || p.ppid == 0 ? nil : table.processes[p.ppid])) }
        }
        for pid in table.processes.keys { #expect(table[pid] === table.processes[pid]) }
        #expect(checked > 0 && table.stats.evictions.value + table.stats.exitedEvictions.value + table.stats.expired.value > 0)
    }
}
