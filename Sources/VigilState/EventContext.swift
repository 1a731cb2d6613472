import VigilDecode

/// Everything the rule engine reads for one event: the decoded record plus the
/// state it refers to. Built by the pipeline after the state has applied the event
/// (the pipeline keeps one and refills it in place for every event: ``refill(event:applied:lookup:wallTimeNs:)``).
package struct EventContext {
    /// The decoded record (valid only while its bytes are).
    package private(set) var event: Event
    /// The process that made the event (after the state applied it).
    package private(set) var process: ProcessInfo?
    /// The file descriptor this event concerns (opened, connected, closed, ...), if any.
    package private(set) var fd: FDInfo?
    /// Its number (`fd.num`), -1 when none.
    package private(set) var fdNum: Int32
    /// The container of the event's cgroup (``ContainerInfo/host`` for host processes).
    package private(set) var container: ContainerInfo?
    /// For ancestry (`proc.aname[N]`, `proc.pname`, ...).
    package let processes: ProcessTable
    /// Wall-clock ns of the event.
    package private(set) var wallTimeNs: UInt64

    package init(event: Event, process: ProcessInfo?, fd: FDInfo?, fdNum: Int32 = -1,
                container: ContainerInfo?, processes: ProcessTable, wallTimeNs: UInt64) {
        self.event = event; self.process = process; self.fd = fd; self.fdNum = fdNum
        self.container = container; self.processes = processes; self.wallTimeNs = wallTimeNs
    }

    /// Builds the context from what ``ProcessTable/apply(_:)`` returned.
    package init(event: Event, applied: ProcessTable.ApplyResult, container: ContainerInfo?,
                processes: ProcessTable, wallTimeNs: UInt64) {
        self.init(event: event, process: applied.process, fd: applied.fd, fdNum: applied.fdNum,
                  container: container, processes: processes, wallTimeNs: wallTimeNs)
    }

    /// Makes this context the next event's, in place (for a context reused across events
    /// of one ``ProcessTable``): takes `applied`'s process and fd by swapping them in (what
    /// `applied` holds afterwards is the previous event's), and stores the process and the
    /// container `lookup` knows (none while it is pending) only when they are not the ones
    /// already held, so a run of events from one process pays no reference counting here.
    package mutating func refill(event: Event, applied: inout ProcessTable.ApplyResult, lookup: ContainerLookup,
                                 wallTimeNs: UInt64) {
        self.event = event
        if process !== applied.process { swap(&process, &applied.process) }
        swap(&fd, &applied.fd)
        fdNum = applied.fdNum
        switch lookup {
        case .known(let c), .partial(let c): if container !== c { container = c }
        case .pending: if container != nil { container = nil }
        }
        self.wallTimeNs = wallTimeNs
    }

    /// A resolver for rendering this event's arguments (`evt.args`, `evt.arg.fd`):
    /// fd numbers become the process's typed fd names (`<f>/etc/passwd`), ids become
    /// names from the process's own root (through ``ProcessTable/users``).
    package func argumentResolver() -> ArgumentResolver {
        let p = process
        let users = processes.users
        return ArgumentResolver(
            fdName: { fd in
                guard let p, fd >= 0, fd <= Int64(Int32.max) else { return nil }
                return p.fds[Int32(fd)]?.typedName
            },
            userName: { uid in p.flatMap { users.userName(uid, for: $0) } ?? users.host.userName(uid) },
            groupName: { gid in p.flatMap { users.groupName(gid, for: $0) } ?? users.host.groupName(gid) })
    }
}

