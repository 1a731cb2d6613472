/// A deterministic, coherent stream of records for benchmarks and soak tests
/// of decode and state: processes exec, fork, open and close files, connect,
/// send, change ids and exit, in proportions like a busy node's.
///
/// Records are packed back to back in one buffer (as a ring buffer holds them)
/// with their offsets, so a benchmark can decode them in place:
///
/// ```swift
/// let w = SyntheticWorkload(count: 1_000_000, processes: 256)
/// let table = ProcessTable(configuration: .init(resolveUnknownFromProc: false))
/// let t0 = Timestamp.bootNanoseconds()
/// w.forEachEvent { _ = table.apply($0) }   // decode + state, one core
/// ```
package struct SyntheticWorkload {
    /// All records, back to back.
    package let bytes: [UInt8]
    /// Start offset and length of each record in ``bytes``.
    package let records: [(offset: Int, length: Int)]

    /// Builds `count` records over about `processes` live processes.
    package init(count: Int, processes: Int = 64, seed: UInt64 = 0x5EED) {
        var rng = SplitMix64(seed: seed)
        var out: [UInt8] = []
        var recs: [(offset: Int, length: Int)] = []
        out.reserveCapacity(count * 200)
        recs.reserveCapacity(count)
        var ts: UInt64 = 1_000_000_000
        func emit(_ r: [UInt8]) {
            recs.append((offset: out.count, length: r.count))
            out += r
        }
        struct Proc { var pid: UInt32; var ppid: UInt32; var fds: [Int32]; var nextFD: Int32 }
        var live: [Proc] = []
        var nextPid: UInt32 = 10_000
        let paths = ["/etc/passwd", "/etc/hosts", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/proc/self/status",
                     "/var/log/app.log", "/tmp/cache/item", "/etc/ssl/certs/ca-certificates.crt", "data/local.db"]
        let exes = [("/usr/bin/python3", ["python3", "app.py", "--port", "8080"]), ("/bin/sh", ["sh", "-c", "ls -l /tmp"]),
                    ("/usr/sbin/nginx", ["nginx", "-g", "daemon off;"]), ("/usr/bin/curl", ["curl", "-s", "http://10.0.0.1/"])]
        func header(_ p: Proc) -> RecordEncoder.Header {
            ts += 5000  // 200k events/s
            return RecordEncoder.Header(timestampBootNs: ts, cpu: 0, pid: p.pid, tid: p.pid, ppid: p.ppid, uid: 1000, gid: 1000,
                                        cgroupID: 4242, comm: "worker")
        }
        func spawn(parent: UInt32) -> Proc {
            let p = Proc(pid: nextPid, ppid: parent, fds: [], nextFD: 3)
            nextPid += 1
            let x = exes[Int(rng.next() % UInt64(exes.count))]
            emit(RecordEncoder.exec(header(p), .init(exePath: x.0, argv: x.1, cwd: "/srv/app", loginUID: 1000,
                                                     euid: 1000, egid: 1000, startTimeBootNs: ts)))
            return p
        }
        while live.count < processes { live.append(spawn(parent: 1)) }
        while recs.count < count {
            let i = Int(rng.next() % UInt64(live.count))
            var p = live[i]
            let roll = rng.next() % 100
            let h = header(p)
            switch roll {
            case 0..<30:  // open
                let path = paths[Int(rng.next() % UInt64(paths.count))]
                let fd = p.nextFD
                p.nextFD += 1
                emit(RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: Int64(fd),
                                           args: [UInt64(bitPattern: -100), 0, roll < 25 ? 0o2000000 : 0o2001101, 0o644], str0: path))
                p.fds.append(fd)
            case 30..<55:  // close
                if let fd = p.fds.popLast() {
                    emit(RecordEncoder.syscall(h, type: EventType(name: "close")!, ret: 0, args: [UInt64(fd)]))
                    if fd == p.nextFD - 1 { p.nextFD -= 1 }
                } else {
                    emit(RecordEncoder.syscall(h, type: EventType(name: "close")!, ret: -9, args: [99]))
                }
            case 55..<62:  // socket + connect
                let fd = p.nextFD
                p.nextFD += 1
                emit(RecordEncoder.syscall(h, type: EventType(name: "socket")!, ret: Int64(fd), args: [2, 1, 0]))
                let t = SocketTuple.encode(family: 2, l4proto: 6, local: (IPAddress("10.0.0.2")!, UInt16(40000 + rng.next() % 20000)),
                                           remote: (IPAddress("10.0.0.1")!, 443))
                emit(RecordEncoder.syscall(header(p), type: EventType(name: "connect")!, ret: 0, args: [UInt64(fd), 0, 16],
                                           rawStr0: SocketAddress.encode("10.0.0.1:443"), tuple: t))
                p.fds.append(fd)
            case 62..<80:  // send on an existing fd
                let fd = p.fds.last ?? 1
                emit(RecordEncoder.syscall(h, type: EventType(name: "sendto")!, ret: 100, args: [UInt64(fd), 0, 100]))
            case 80..<90:  // privilege and other non-fd syscalls
                emit(RecordEncoder.syscall(h, type: EventType(name: roll < 85 ? "setuid" : "kill")!, ret: 0, args: [1000, 0]))
            case 90..<96 where live.count < 2 * processes:  // fork + exec of a child
                let c = nextPid
                emit(RecordEncoder.fork(h, childPid: c, childTid: c, childStartBootNs: ts))
                live.append(spawn(parent: p.pid))
            default:  // exit
                if live.count > processes {
                    emit(RecordEncoder.exit(h, code: 0))
                    live.remove(at: i)
                    continue
                }
                emit(RecordEncoder.syscall(h, type: EventType(name: "dup2")!, ret: 1, args: [UInt64(p.fds.last ?? 0), 1]))
            }
            live[i] = p
        }
        bytes = out
        records = recs
    }

    /// Calls `body` with each record decoded in place (records that fail to decode are skipped).
    package func forEachEvent(_ body: (Event) -> Void) {
        bytes.withUnsafeBytes { raw in
            for r in records {
                if case .success(let e) = Event.decode(UnsafeRawBufferPointer(rebasing: raw[r.offset..<(r.offset + r.length)])) {
                    body(e)
                }
            }
        }
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
