#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// The enforcement settings the pipeline applies, swapped by reloads (immutable).
package final class EnforcementSettings: Sendable {
    /// The `enforcement` section.
    package let config: Enforcement
    /// `never` entries without a slash (exe names, compared with `comm` and the exe's base name).
    package let neverNames: Set<String>
    /// `never` entries with a slash (exact exe paths).
    package let neverPaths: Set<String>
    /// Processes never killed whatever the rules say: PID 1, Vigil and its parent chain.
    package let protectedPIDs: Set<UInt32>
    /// Kernel filter slots of this configuration: slot -> rule name (for records the exec program marked).
    package let kernelSlots: [String]
    /// Generation tag the exec program writes into its records (low 16 bits).
    package let kernelGeneration: UInt16

    /// Settings for `config`; `kernelSlots` names the rules compiled into the exec program.
    package init(_ config: Enforcement, kernelSlots: [String] = [], kernelGeneration: UInt16 = 0,
                protectedPIDs: Set<UInt32> = EnforcementSettings.selfAndAncestors()) {
        self.config = config
        neverNames = Set(config.never.filter { !$0.contains("/") })
        neverPaths = Set(config.never.filter { $0.contains("/") })
        self.protectedPIDs = protectedPIDs
        self.kernelSlots = kernelSlots
        self.kernelGeneration = kernelGeneration
    }

    /// PID 1, this process and every ancestor up to PID 1 (read from `/proc`).
    package static func selfAndAncestors() -> Set<UInt32> {
        var out: Set<UInt32> = [1]
        var pid = UInt32(getpid())
        for _ in 0..<64 {
            out.insert(pid)
            guard pid > 1, let st = ProcStat.read(pid: pid), st.ppid > 0 else { break }
            pid = st.ppid
        }
        return out
    }

    /// The never-list entry `name`/`path` hits, if any.
    package func neverEntry(comm: String, exePath: String) -> String? {
        if neverNames.contains(comm) { return comm }
        if !exePath.isEmpty {
            if neverPaths.contains(exePath) { return exePath }
            if let slash = exePath.lastIndex(of: "/") {
                let base = String(exePath[exePath.index(after: slash)...])
                if neverNames.contains(base) { return base }
            }
        }
        return nil
    }
}

/// The fields of `/proc/PID/stat` enforcement needs.
struct ProcStat {
    var ppid: UInt32
    /// `flags` (PF_*).
    var flags: UInt64
    /// Start time after boot, in clock ticks.
    var startTicks: UInt64

    static let kernelThreadFlag: UInt64 = 0x0020_0000 // PF_KTHREAD

    /// Reads and parses `/proc/PID/stat` (no Foundation; one read).
    static func read(pid: UInt32) -> ProcStat? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 1023) }
        guard n > 0 else { return nil }
        // "pid (comm) state ppid ..." — comm may hold spaces and parentheses: split after the last ')'.
        guard let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buf[(close + 2)..<n].split(separator: UInt8(ascii: " "))
        // fields[0] = state (3), [1] = ppid (4), [6] = flags (9), [19] = starttime (22)
        guard fields.count > 19 else { return nil }
        func num(_ s: ArraySlice<UInt8>) -> UInt64 { s.reduce(0) { $0 &* 10 &+ UInt64($1 &- 48) } }
        return ProcStat(ppid: UInt32(truncatingIfNeeded: num(fields[1])), flags: num(fields[6]), startTicks: num(fields[19]))
    }
}
