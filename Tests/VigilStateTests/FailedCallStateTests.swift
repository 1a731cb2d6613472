import Testing
import VigilABI
import VigilDecode
@testable import VigilState

/// The kernel drops failed calls that no rule can match only when the process table does not
/// need them either: a type's failures may be dropped unless its row has `VIGIL_STATE_FAILED`.
/// Applying a failed call of any other type must leave the table as it was (fds, cwd, ids,
/// capabilities; the header's own facts aside, which every record carries).
@Suite struct FailedCallStateTests {
    /// What the table knows about a process (the facts a failed call could change).
    struct Snapshot: Equatable {
        var fds: FDTable
        var cwd: String
        var euid: UInt32, egid: UInt32
        var capEffective: UInt64, capPermitted: UInt64
        var processes: Int
        init(_ t: ProcessTable, _ pid: UInt32) {
            let p = t.processes[pid]!
            fds = p.fds; cwd = p.cwd; euid = p.euid; egid = p.egid
            capEffective = p.capEffective; capPermitted = p.capPermitted
            processes = t.count
        }
    }

    static let pid: UInt32 = 7000

    /// A table with one process holding files, a directory, sockets (one connected, one bound
    /// datagram socket) and a pipe.
    static func table() -> ProcessTable {
        let t = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
        func apply(_ b: [UInt8]) { _ = try? OwnedRecord(bytes: b).withEvent { t.apply($0) }.get() }
        let h = RecordEncoder.Header(timestampBootNs: 1_000, pid: pid, ppid: 1, uid: 1000, gid: 1000, comm: "app")
        apply(RecordEncoder.exec(h, .init(exePath: "/usr/bin/app", argv: ["app"], cwd: "/srv")))
        let openat = EventType(name: "openat")!
        apply(RecordEncoder.syscall(h, type: openat, ret: 3, args: [UInt64(bitPattern: -100), 0, 0], str0: "/etc/hosts"))
        apply(RecordEncoder.syscall(h, type: openat, ret: 4, args: [UInt64(bitPattern: -100), 0, UInt64(LinuxConstants.O_DIRECTORY)], str0: "/var"))
        apply(RecordEncoder.syscall(h, type: EventType(name: "socket")!, ret: 5, args: [2, 1, 0]))
        let tcp = SocketTuple.encode(family: 2, l4proto: 6, local: (IPAddress("10.0.0.2")!, 40000), remote: (IPAddress("10.0.0.9")!, 443))
        apply(RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: 0, args: [5], tuple: tcp))
        apply(RecordEncoder.syscall(h, type: EventType(name: "socket")!, ret: 6, args: [2, 2, 0]))
        apply(RecordEncoder.syscall(h, type: EventType(name: "pipe2")!, ret: 0, args: [0, 0, 0, 0, 7, 8]))
        return t
    }

    /// Failed calls of every type that may be dropped, with arguments naming the table's fds
    /// (and a few others), leave the table unchanged.
    @Test func failuresOfTypesWithoutTheStateFlagChangeNothing() throws {
        let needed = EventTable.types(withState: VIGIL_STATE_FAILED)
        let failable = KernelInterest.failableTypes.subtracting(needed)
        #expect(failable.count > 50)
        let udp = SocketTuple.encode(family: 2, l4proto: 17, local: (IPAddress("10.0.0.2")!, 5353), remote: (IPAddress("8.8.8.8")!, 53))
        var checked = 0
        for type in failable.sorted(by: { $0.rawValue < $1.rawValue }) {
            for fd: UInt64 in [3, 4, 5, 6, 7, 9] {
                for ret: Int64 in [-1, -4, -9, -11, -13, -115] {
                    let t = Self.table()
                    let before = Snapshot(t, Self.pid)
                    let h = RecordEncoder.Header(timestampBootNs: 2_000, pid: Self.pid, ppid: 1, uid: 1000, gid: 1000, comm: "app")
                    let rec = RecordEncoder.syscall(h, type: type, ret: ret, args: [fd, 1, 2, 0, 10, 11], str0: "/tmp/other",
                                                    rawStr1: nil, tuple: udp)
                    _ = try OwnedRecord(bytes: rec).withEvent { t.apply($0) }.get()
                    #expect(Snapshot(t, Self.pid) == before, "failed \(type.name) (fd \(fd), ret \(ret)) changed the table")
                    checked += 1
                }
            }
        }
        #expect(checked == failable.count * 36)
    }

    /// The flagged types do use failures: without them the table would be wrong.
    @Test func theFlaggedTypesNeedTheirFailures() throws {
        let needed = EventTable.types(withState: VIGIL_STATE_FAILED).map(\.name).sorted()
        #expect(needed == ["close", "connect", "recvfrom", "recvmsg", "sendmsg", "sendto"])
        let h = RecordEncoder.Header(timestampBootNs: 2_000, pid: Self.pid, ppid: 1, uid: 1000, gid: 1000, comm: "app")
        func changed(_ type: String, ret: Int64, args: [UInt64], tuple: vigil_sock_tuple = vigil_sock_tuple(), raw: [UInt8]? = nil) throws -> Bool {
            let t = Self.table()
            let before = Snapshot(t, Self.pid)
            let rec = RecordEncoder.syscall(h, type: EventType(name: type)!, ret: ret, args: args, rawStr0: raw, tuple: tuple)
            _ = try OwnedRecord(bytes: rec).withEvent { t.apply($0) }.get()
            return Snapshot(t, Self.pid) != before
        }
        // close(2) frees the fd even when it reports EINTR or EIO.
        #expect(try changed("close", ret: -4, args: [3]))
        // A non-blocking connect in progress (EINPROGRESS) is a connection.
        let tcp = SocketTuple.encode(family: 2, l4proto: 6, local: (IPAddress("10.0.0.2")!, 40001), remote: (IPAddress("10.0.0.7")!, 80))
        #expect(try changed("connect", ret: -115, args: [6], tuple: tcp))
        // A datagram socket's peer is learnt from a send or receive, whatever its result.
        let udp = SocketTuple.encode(family: 2, l4proto: 17, local: (IPAddress("10.0.0.2")!, 5353), remote: (IPAddress("8.8.8.8")!, 53))
        for t in ["sendto", "sendmsg", "recvfrom", "recvmsg"] { #expect(try changed(t, ret: -11, args: [6], tuple: udp), "\(t)") }
    }
}
