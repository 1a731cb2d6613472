#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// Collects copies of the records it is given.
final class Collector: RecordConsumer {
    var records: [[UInt8]] = []
    var batches = 0
    var finished = false
    func consume(_ event: Event) { records.append(Array(event.bytes)) }
    func endOfBatch() { batches += 1 }
    func finish() { finished = true }
}

func tempPath(_ name: String) -> String {
    "/tmp/vigil-capture-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
}

func sampleRecords() -> [[UInt8]] {
    let h = RecordEncoder.Header(timestampBootNs: 123, cpu: 1, pid: 42, tid: 43, ppid: 1, uid: 1000, gid: 1000,
                                 cgroupID: 7, comm: "cat")
    return [
        RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3, args: [UInt64(bitPattern: -100), 0, 0o101, 0o644],
                              str0: "/etc/shadow"),
        RecordEncoder.exec(h, .init(exePath: "/usr/bin/cat", argv: ["cat", "a\nb", "q\"x"], cwd: "/root")),
        RecordEncoder.fork(h, childPid: 44),
        RecordEncoder.exit(h, code: 7),
    ]
}

@Suite struct CaptureFileTests {
    @Test func roundTripKeepsEveryByte() throws {
        let path = tempPath("roundtrip")
        defer { unlink(path) }
        let records = sampleRecords()
        do {
            let w = try CaptureFileWriter(path: path, bootToWallOffsetNs: 99)
            for r in records { r.withUnsafeBytes { w.write($0) } }
            w.finish()
            #expect(w.error == nil)
            #expect(w.recordsWritten == 4)
        }
        let src = try CaptureFileSource(path: path)
        #expect(src.bootToWallOffsetNs == 99)
        let c = Collector()
        try src.run(c)
        #expect(c.records == records)
        #expect(c.finished)
        let s = src.stats()
        #expect(s.records == 4)
        #expect(s.recordsByType[Int(EventType(name: "openat")!.rawValue)] == 1)
        #expect(s.recordsByType[Int(EventType.procexit.rawValue)] == 1)
        #expect(s.decodeErrors == 0)
    }

    @Test func badMagicNamesTheFile() throws {
        let path = tempPath("badmagic")
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = "this is not a capture file at all!".withCString { write(fd, $0, 34) }
        close(fd)
        do {
            _ = try CaptureFileSource(path: path)
            Issue.record("expected an error")
        } catch let e as CaptureFileError {
            #expect(e.description.contains(path))
            #expect(e.description.contains("not a vigil capture file"))
        }
    }

    @Test func truncatedRecordReportsItsOffset() throws {
        let path = tempPath("trunc")
        defer { unlink(path) }
        let records = sampleRecords()
        do {
            let w = try CaptureFileWriter(path: path)
            for r in records { r.withUnsafeBytes { w.write($0) } }
            w.finish()
        }
        // Cut the last record in half.
        var st = stat()
        stat(path, &st)
        truncate(path, off_t(Int(st.st_size) - 40))
        let src = try CaptureFileSource(path: path)
        let c = Collector()
        do {
            try src.run(c)
            Issue.record("expected an error")
        } catch let e as CaptureFileError {
            let expectedOffset = CaptureFileFormat.headerSize + records.dropLast().reduce(0) { $0 + 4 + $1.count }
            #expect(e.offset == expectedOffset)
            #expect(e.description.contains("truncated record"))
        }
        // Records before the damage are delivered.
        #expect(c.records == Array(records.dropLast()))
    }

    @Test func malformedRecordsAreCountedNotDelivered() throws {
        var bad = sampleRecords()[0]
        bad[4] = 0xFF  // header size no longer matches
        let src = SyntheticSource(records: [bad, [1, 2, 3], sampleRecords()[3]])
        let c = Collector()
        try src.run(c)
        #expect(c.records.count == 1)
        #expect(src.stats().decodeErrors == 2)
        #expect(src.stats().records == 1)
    }

    /// Sources validate with `Event.decode` and nothing else: a record whose string lengths
    /// run past its end (which a size-and-kind check alone let through to the consumer) and one
    /// whose declared size is shorter than the record are both decode errors, never delivered.
    @Test func sourcesValidateOnceWithTheDecoder() throws {
        var overrun = sampleRecords()[0]
        overrun.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt16(5000), toByteOffset: MemoryLayout<vigil_syscall_event>.offset(of: \.str0_len)!, as: UInt16.self)
        }
        let padded = sampleRecords()[0] + [0, 0, 0, 0, 0, 0, 0, 0]
        for bad in [overrun, padded] {
            bad.withUnsafeBytes { raw in
                guard case .failure = Event.decode(raw) else { Issue.record("decode accepted a malformed record"); return }
            }
        }
        let src = SyntheticSource(records: [overrun, padded, sampleRecords()[1]])
        let c = Collector()
        try src.run(c)
        #expect(c.records == [sampleRecords()[1]])
        #expect(src.stats().decodeErrors == 2)
        #expect(src.stats().records == 1)
        #expect(src.stats().bytes == UInt64(sampleRecords()[1].count))
    }

    @Test func syntheticSourceRepeats() throws {
        let src = SyntheticSource(records: sampleRecords(), repeatCount: 3)
        let c = Collector()
        try src.run(c)
        #expect(c.records.count == 12)
        #expect(c.batches == 3)
        #expect(src.stats().recordsByKind[Int(VIGIL_REC_EXEC.rawValue)] == 3)
    }
}

@Suite struct CaptureConfigTests {
    @Test func optionsAreValidated() {
        var o = BPFCaptureOptions()
        o.maxArgsBytes = 0
        #expect(throws: CaptureError.self) { try o.validate() }
        o = BPFCaptureOptions()
        o.ringBufferBytes = 5000
        #expect(throws: CaptureError.self) { try o.validate() }
        o = BPFCaptureOptions()
        #expect(throws: Never.self) { try o.validate() }
    }

    @Test func syscallTableMapsThisArchitecture() {
        #expect(SyscallTable.vigilID(forKernelNumber: Int32(SYS_openat)) == VIGIL_SYS_OPENAT.rawValue)
        #expect(SyscallTable.vigilID(forKernelNumber: Int32(SYS_connect)) == VIGIL_SYS_CONNECT.rawValue)
        #expect(SyscallTable.vigilID(forKernelNumber: Int32(SYS_execve)) == VIGIL_SYS_EXECVE.rawValue)
        #expect(SyscallTable.vigilID(forKernelNumber: Int32(SYS_getpid)) == 0)
        // Ids are unique and every kernel number fits the BPF table.
        let ids = SyscallTable.entries.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(SyscallTable.entries.allSatisfy { $0.nr >= 0 && $0.nr < Int32(VIGIL_NR_MAX) })
    }

    @Test func missingObjectErrorListsSearchedPlaces() {
        let e = CaptureError.objectNotFound(searched: ["/a/vigil.bpf.o", "/b/vigil.bpf.o"])
        #expect(e.description.contains("/a/vigil.bpf.o"))
        #expect(e.description.contains("make bpf"))
        let caps = CaptureError.missingCapabilities(["CAP_BPF", "CAP_PERFMON"])
        #expect(caps.description.contains("CAP_BPF"))
        #expect(caps.description.contains("CAP_PERFMON"))
    }
}
