import Foundation
import Testing
import VigilCapture
import VigilDecode

@Suite struct JSONOutTests {
    @Test func hostileBytesGiveValidJSON() throws {
        let o = JSONOut(capacity: 8)  // tiny: forces growth
        o.beginObject()
        let hostile: [UInt8] = [0x22, 0x5C, 0x0A, 0x01, 0x7F, 0xFF, 0xC3, 0xA9, 0xED, 0xA0, 0x80, 0x41]
        o.key("a"); hostile.withUnsafeBytes { o.string(bytes: $0) }
        o.key("n"); o.int(-9_223_372_036_854_775_807)
        o.key("u"); o.uint(UInt64.max)
        o.key("z"); o.uint(0)
        o.key(string: "k\"ey"); o.bool(false)
        o.key("arr"); o.beginArray(); o.string("x"); o.bool(true); o.int(-1); o.endArray()
        o.key("obj"); o.beginObject(); o.endObject()
        o.endObject()
        let data = Data(o.bytes)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(obj["a"] as? String == "\"\\\n\u{01}\u{7F}\u{FFFD}é\u{FFFD}\u{FFFD}\u{FFFD}A")
        #expect((obj["n"] as? NSNumber)?.int64Value == -9_223_372_036_854_775_807)
        #expect((obj["u"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect(obj["k\"ey"] as? Bool == false)
        #expect((obj["arr"] as? [Any])?.count == 3)
        #expect(String(decoding: o.bytes, as: UTF8.self).contains("\\u0001"))
    }

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
