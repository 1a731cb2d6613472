import Foundation
import Testing
import VigilCapture
import VigilDecode
import VigilState

@Suite struct EventJSONTests {
    @Test func rendererOutputParsesForEveryRecordKind() throws {
        let h = RecordEncoder.Header(timestampBootNs: 1_000_000_123, pid: 7, tid: 8, ppid: 1, uid: 0, comm: "x\u{1b}y")
        let recs: [[UInt8]] = [
            RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: -2, args: [UInt64(bitPattern: -100)], str0: "/a\nb"),
            RecordEncoder.exec(h, .init(exePath: "/bin/x", argv: ["x", "a\"b", ""], cwd: "/")),
            RecordEncoder.fork(h, childPid: 9),
            RecordEncoder.exit(h, code: 1, signal: 9),
        ]
        var r = EventJSONRenderer(bootToWallOffsetNs: 1_700_000_000_000_000_000)
        for rec in recs {
            let json: [UInt8] = try OwnedRecord(bytes: rec).withEvent { e in r.render(e) { Array($0) } }.get()
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
            #expect(obj["proc.pid"] as? Int == 7)
            #expect(obj["proc.name"] as? String == "x\u{1b}y")
            #expect((obj["evt.time"] as? String)?.hasSuffix(".000000123Z") == true)
        }
        let open: [UInt8] = try OwnedRecord(bytes: recs[0]).withEvent { e in r.render(e) { Array($0) } }.get()
        let o = try #require(try JSONSerialization.jsonObject(with: Data(open)) as? [String: Any])
        #expect(o["evt.res"] as? String == "ENOENT")
        #expect(o["fd.name"] as? String == "/a\nb")
    }

    /// `vigil trace` prints the `fd.name` the rules see: the relative path resolved through the
    /// process table (cwd from the exec record, `..` and `.` folded), not the record's raw text.
    @Test func tracePrintsTheFDNameRulesSee() throws {
        let h = RecordEncoder.Header(timestampBootNs: 5, pid: 4242, tid: 4242, ppid: 1, uid: 0, comm: "cat")
        let recs: [[UInt8]] = [
            RecordEncoder.exec(h, .init(exePath: "/bin/cat", argv: ["cat", "x"], cwd: "/srv/app")),
            RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3, args: [UInt64(bitPattern: -100)], str0: "../etc/./passwd"),
        ]
        // What the rules see.
        let table = ProcessTable()
        var ruleName: String?
        for r in recs { try OwnedRecord(bytes: r).withEvent { e in ruleName = table.apply(e).fd?.name }.get() }
        #expect(ruleName == "/srv/etc/passwd")

        let vigil = try #require(findVigilBinary(), "vigil binary not found next to the test bundle")
        let path = tempPath("fdname")
        defer { unlink(path) }
        do {
            let w = try CaptureFileWriter(path: path)
            for r in recs { r.withUnsafeBytes { w.write($0) } }
            w.finish()
        }
        let out = try runProcess(vigil, ["trace", "--read", path])
        #expect(out.status == 0, "\(String(decoding: out.stderr, as: UTF8.self))")
        let lines = out.stdout.split(separator: 0x0A)
        let open = try #require(lines.last)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(open)) as? [String: Any])
        #expect(o["evt.type"] as? String == "openat")
        #expect(o["fd.name"] as? String == ruleName)
        // proc.* of a non-exec event come from the process table, as rules see them; every key once.
        #expect(o["proc.exepath"] as? String == "/bin/cat")
        #expect(o["proc.cmdline"] as? String == "cat x")
        #expect(o["proc.cwd"] as? String == "/srv/app/")
        #expect(o["fd.typechar"] as? String == "f")
        let text = String(decoding: open, as: UTF8.self)
        for key in ["\"fd.name\":", "\"proc.pid\":", "\"evt.type\":", "\"proc.exepath\":"] {
            #expect(text.components(separatedBy: key).count == 2, "\(key) in \(text)")
        }
    }
}
