import Foundation
import Testing
import VigilCapture
import VigilDecode

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
}
