import Foundation
import Testing
import VigilCore

@Suite struct JSONWriterTests {
    @Test func hostileBytesGiveValidJSON() throws {
        let o = JSONWriter(capacity: 8)  // tiny: forces growth
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

    @Test func valuesOfEveryKindAndNesting() throws {
        let w = JSONWriter(capacity: 16)
        w.beginObject()
        w.key("d"); w.double(1.5)
        w.key("inf"); w.double(.infinity)
        w.key("nil"); w.null()
        w.key("raw"); w.raw("[1,2]")
        w.key("t"); w.time(1_764_912_615_123_456_789)
        w.key("t6"); w.time(1_764_912_615_123_456_789, fractionDigits: 6)
        w.key("nested"); w.beginArray(); w.beginObject(); w.key("a"); w.uint(1); w.endObject(); w.beginArray(); w.endArray(); w.endArray()
        w.endObject()
        #expect(w.text == #"{"d":1.5,"inf":null,"nil":null,"raw":[1,2],"t":"2025-12-05T05:30:15.123456789Z","t6":"2025-12-05T05:30:15.123456Z","nested":[{"a":1},[]]}"#)
        _ = try JSONSerialization.jsonObject(with: Data(w.byteArray))
    }

    @Test func resetKeepsNothingButCapacity() {
        let w = JSONWriter()
        w.beginObject(); w.key("a"); w.string("x"); w.endObject()
        w.reset()
        w.beginArray(); w.int(-5); w.endArray()
        #expect(w.text == "[-5]")
        #expect(w.count == 4)
    }
}
