import Testing
import VigilABI
import VigilDecode
import VigilCore

/// Truncated, corrupted and random records: each is counted as a decode error
/// or decodes into a view whose every accessor stays inside the record.
@Suite struct MalformedRecordTests {
    static func samples() -> [[UInt8]] {
        let h = RecordEncoder.Header(timestampBootNs: 5, pid: 7, tid: 8, ppid: 1, uid: 1000, gid: 1000, cgroupID: 9, comm: "sample")
        var out: [[UInt8]] = []
        out.append(RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3,
                                         args: [UInt64(bitPattern: -100), 0, 0o101, 0o644], str0: "/etc/shadow"))
        out.append(try! RecordEncoder.syscall(h, type: EventType(name: "renameat2")!, arguments: [
            "olddirfd": "AT_FDCWD", "oldpath": "/a/b", "newdirfd": "3", "newpath": "c", "flags": "RENAME_EXCHANGE"]))
        out.append(try! RecordEncoder.syscall(h, type: EventType(name: "connect")!, ret: -115, arguments: [
            "fd": "4", "addr": "[2001:db8::1]:443", "tuple": "[2001:db8::2]:5000->[2001:db8::1]:443"]))
        out.append(try! RecordEncoder.syscall(h, type: EventType(name: "bind")!, arguments: ["fd": "4", "addr": "/run/x.sock"]))
        out.append(try! RecordEncoder.syscall(h, type: EventType(name: "mount")!, arguments: [
            "dev": "overlay", "dir": "/mnt", "type": "overlay", "flags": "MS_BIND"]))
        out.append(RecordEncoder.exec(h, .init(exePath: "/usr/bin/env", argv: ["env", "A=1", "x\ny", "\u{FFFD}"], cwd: "/tmp",
                                               exeFlags: UInt32(VIGIL_EXE_WRITABLE), cgroupPath: "/kubepods.slice/a")))
        out.append(RecordEncoder.fork(h, childPid: 70, childTid: 70, isThread: false, childStartBootNs: 9))
        out.append(RecordEncoder.exit(h, code: 1, signal: 9))
        return out
    }

    /// Reads everything an event offers (what rules and the state would read).
    static func exercise(_ e: Event) -> Int {
        var n = Int(e.type.rawValue) + e.comm.count + e.str0.count + e.str1.count + e.str0Raw.count + e.str1Raw.count
        n += e.exePath.count + e.argvRaw.count + e.cwd.count + e.cgroupPath.count
        n &+= Int(truncatingIfNeeded: e.ret) &+ Int(truncatingIfNeeded: e.arg(0)) &+ Int(e.tuple.family)
        n &+= Int(e.execInfo.exe_len) &+ Int(e.forkInfo.child_pid) &+ Int(e.exitInfo.exit_code)
        n &+= e.formattedArguments().utf8.count
        for i in 0..<12 { n &+= e.argument(at: i)?.text().utf8.count ?? 0 }
        n &+= (e.isOpenRead ? 1 : 0) + (e.isOpenWrite ? 1 : 0) + (e.isOpenExec ? 1 : 0)
        n &+= e.str0.vigilString.utf8.count
        return n
    }

    @Test func everyTruncationIsCountedNeverACrash() {
        let stats = DecodeStats()
        var attempts: UInt64 = 0
        for rec in Self.samples() {
            for len in 0..<rec.count {
                attempts += 1
                rec.withUnsafeBytes { raw in
                    if let e = stats.decode(UnsafeRawBufferPointer(rebasing: raw[0..<len])) { _ = Self.exercise(e) }
                }
            }
            // The whole record decodes.
            rec.withUnsafeBytes { raw in #expect(stats.decode(raw) != nil) }
        }
        #expect(stats.decoded.value == UInt64(Self.samples().count))
        #expect(stats.errors == attempts)
        #expect(stats.sizeMismatch.value + stats.tooShort.value == attempts)
    }

    @Test func randomBitFlipsAndGarbage() {
        let stats = DecodeStats()
        var rng = SystemRandomNumberGenerator()
        var sink = 0
        for rec in Self.samples() {
            for _ in 0..<3000 {
                var b = rec
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    let i = Int.random(in: 0..<b.count, using: &rng)
                    b[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                }
                // Sometimes also cut or extend the buffer.
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: b.removeLast(Int.random(in: 0...b.count, using: &rng))
                case 1: b += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default: break
                }
                b.withUnsafeBytes { raw in if let e = stats.decode(raw) { sink &+= Self.exercise(e) } }
            }
        }
        for _ in 0..<5000 {
            let b = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            b.withUnsafeBytes { raw in if let e = stats.decode(raw) { sink &+= Self.exercise(e) } }
        }
        #expect(stats.decoded.value + stats.errors == UInt64(Self.samples().count * 3000 + 5000))
        #expect(stats.errors > 0)
        _ = sink
    }

    @Test func specificMalformations() {
        let stats = DecodeStats()
        var rec = Self.samples()[0]
        // Declared size beyond the buffer.
        rec.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(10_000), toByteOffset: 4, as: UInt32.self) }
        rec.withUnsafeBytes { #expect(stats.decode($0) == nil) }
        #expect(stats.sizeMismatch.value == 1)
        // str0_len running past the end.
        rec = Self.samples()[0]
        rec.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(5000), toByteOffset: 122, as: UInt16.self) }
        rec.withUnsafeBytes { #expect(stats.decode($0) == nil) }
        #expect(stats.payloadOverrun.value == 1)
        // Unknown kind.
        rec = Self.samples()[0]
        rec.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(77), toByteOffset: 0, as: UInt16.self) }
        rec.withUnsafeBytes { #expect(stats.decode($0) == nil) }
        #expect(stats.unknownKind.value == 1)
        // Exec whose parts overrun.
        rec = Self.samples()[5]
        rec.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(60000), toByteOffset: 68, as: UInt16.self) }
        rec.withUnsafeBytes { #expect(stats.decode($0) == nil) }
        #expect(stats.payloadOverrun.value == 2)
        // A truncated-flag record decodes and is counted as truncated.
        var h = RecordEncoder.Header(pid: 1)
        h.flags = UInt16(VIGIL_HF_TRUNCATED)
        let t = RecordEncoder.syscall(h, type: EventType(name: "open")!, ret: 3, str0: "/x")
        t.withUnsafeBytes { #expect(stats.decode($0)?.isTruncated == true) }
        #expect(stats.truncated.value == 1)
        #expect(stats.errors == 4)
    }

    @Test func oversizedPathIsCutAndFlagged() throws {
        let long = "/" + String(repeating: "a", count: 5000)
        let rec = try RecordEncoder.syscall(RecordEncoder.Header(pid: 1), type: EventType(name: "unlink")!, arguments: ["path": long])
        try OwnedRecord(bytes: rec).withEvent { e in
            #expect(e.isTruncated)
            #expect(e.str0.count == Int(VIGIL_PATH_MAX) - 1)
        }.get()
    }

    /// Ring records written in place in a slot are longer than their header's `size`: the
    /// ring decoder takes the first `size` bytes and ignores the tail (whatever an earlier
    /// record left there); every other source still needs the exact size.
    @Test func ringSlotTailIsIgnoredOnlyForRingRecords() {
        var rng = SystemRandomNumberGenerator()
        for rec in Self.samples() {
            for tail in [1, 7, 8, 96, Int(VIGIL_SYSCALL_SLOT_ROOM)] {
                let slot = rec + (0..<tail).map { _ in UInt8.random(in: 0...255, using: &rng) }
                slot.withUnsafeBytes { raw in
                    guard case .success(let e) = Event.decodeRingRecord(raw) else {
                        Issue.record("ring record with a \(tail)-byte tail rejected"); return
                    }
                    #expect(e.length == rec.count)
                    #expect(Array(e.bytes) == rec)
                    rec.withUnsafeBytes { exact in
                        if case .success(let x) = Event.decode(exact) { #expect(Self.exercise(e) == Self.exercise(x)) }
                    }
                    // Anywhere else the tail is a size mismatch.
                    guard case .failure(.sizeMismatch) = Event.decode(raw) else {
                        Issue.record("decode accepted a record longer than its size"); return
                    }
                }
            }
            // A declared size beyond the ring record is still an error, and so are the
            // string lengths running past the declared size into the tail.
            var long = rec + [UInt8](repeating: 0, count: 64)
            let beyond = UInt32(long.count + 1)
            long.withUnsafeMutableBytes { $0.storeBytes(of: beyond, toByteOffset: 4, as: UInt32.self) }
            long.withUnsafeBytes { raw in
                guard case .failure(.sizeMismatch) = Event.decodeRingRecord(raw) else { Issue.record("size beyond the ring record accepted"); return }
            }
        }
        var overrun = Self.samples()[0] + [UInt8](repeating: 0x41, count: 64)
        overrun.withUnsafeMutableBytes { $0.storeBytes(of: UInt16(Self.samples()[0].count - 168 + 10), toByteOffset: 122, as: UInt16.self) }
        overrun.withUnsafeBytes { raw in
            guard case .failure(.payloadOverrun) = Event.decodeRingRecord(raw) else { Issue.record("strings running into the slot tail accepted"); return }
        }
    }
}
