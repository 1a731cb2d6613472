import VigilDecode

/// The process table: every live process (and recently exited ones, for late
/// events), keyed by pid. Owned by the pipeline thread.
public final class ProcessTable {
    private(set) public var processes: [UInt32: ProcessInfo] = [:]

    public init() {}

    /// The process with thread group id `pid`.
    @inline(__always) public subscript(pid: UInt32) -> ProcessInfo? { processes[pid] }

    /// Inserts or replaces an entry.
    public func insert(_ p: ProcessInfo) { processes[p.pid] = p }

    /// Number of entries.
    public var count: Int { processes.count }

    /// The parent of `p`, if known.
    @inline(__always) public func parent(of p: ProcessInfo) -> ProcessInfo? {
        p.ppid == p.pid ? nil : processes[p.ppid]
    }
}
