import VigilDecode

/// Everything the rule engine reads for one event: the decoded record plus the
/// state it refers to. Built by the pipeline after the state has applied the event.
public struct EventContext {
    /// The decoded record (valid only while its bytes are).
    public let event: Event
    /// The process that made the event (after the state applied it).
    public let process: ProcessInfo?
    /// The file descriptor this event concerns (opened, connected, closed, ...), if any.
    public let fd: FDInfo?
    /// Its number (`fd.num`), -1 when none.
    public let fdNum: Int32
    /// The container of the event's cgroup (``ContainerInfo/host`` for host processes).
    public let container: ContainerInfo?
    /// For ancestry (`proc.aname[N]`, `proc.pname`, ...).
    public let processes: ProcessTable
    /// Wall-clock ns of the event.
    public let wallTimeNs: UInt64

    public init(event: Event, process: ProcessInfo?, fd: FDInfo?, fdNum: Int32 = -1,
                container: ContainerInfo?, processes: ProcessTable, wallTimeNs: UInt64) {
        self.event = event; self.process = process; self.fd = fd; self.fdNum = fdNum
        self.container = container; self.processes = processes; self.wallTimeNs = wallTimeNs
    }

    /// Builds the context from what ``ProcessTable/apply(_:)`` returned.
    public init(event: Event, applied: ProcessTable.ApplyResult, container: ContainerInfo?,
                processes: ProcessTable, wallTimeNs: UInt64) {
        self.init(event: event, process: applied.process, fd: applied.fd, fdNum: applied.fdNum,
                  container: container, processes: processes, wallTimeNs: wallTimeNs)
    }
}
