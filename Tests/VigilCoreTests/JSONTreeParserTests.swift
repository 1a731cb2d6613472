import Testing
import VigilCore

/// The Foundation-free JSON reader of the container runtime and Kubernetes parsers.
@Suite struct JSONTreeParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #"{"s": "a\"b\\c\/d\n\u00e9\ud83d\ude00", "i": -42, "big": 12345678901234567890, "d": 1.5e3,"#
            + #" "t": true, "f": false, "n": null, "a": [1, "x", [], {}], "o": {"k": "v"}}"#
        let any = try JSONTreeParser.parse(text)
        let o = try #require(any as? [String: Any])
        #expect(o["s"] as? String == "a\"b\\c/d\né😀")
        #expect(o["i"] as? Int == -42)
        #expect(o["big"] as? Double == 12345678901234567890.0)
        #expect(o["d"] as? Double == 1500)
        #expect(o["t"] as? Bool == true && o["f"] as? Bool == false)
        #expect(o["n"] is JSONNull)
        let a = try #require(o["a"] as? [Any])
        #expect(a.count == 4 && a[0] as? Int == 1 && a[1] as? String == "x" && (a[2] as? [Any])?.isEmpty == true)
        #expect((o["o"] as? [String: Any])?["k"] as? String == "v")
        #expect(try JSONTreeParser.parse(" [\"x\", \"y\"] ") as? [String] == ["x", "y"])
    }

    @Test func badInputIsAnErrorWithItsOffset() {
        let cases: [(String, Int)] = [("", 0), ("{", 1), ("{\"a\" 1}", 5), ("[1,]", 3), ("tru", 0), ("\"abc", 4),
                                      ("01x", 1), ("{} {}", 3), ("\"\\q\"", 2), ("-", 1), ("1.", 2), ("\"\u{1}\"", 1)]
        for (text, offset) in cases {
            do {
                _ = try JSONTreeParser.parse(text)
                Issue.record("no error for \(text.debugDescription)")
            } catch {
                #expect(error.offset == offset, "\(text.debugDescription): \(error)")
            }
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONTreeParser.parse(deep) }
        #expect((try? JSONTreeParser.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100))) != nil)
    }

    @Test func base64() {
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("TWFu") == Array("Man".utf8))
        #expect(Base64.decode("TWE=") == Array("Ma".utf8))
        #expect(Base64.decode("TQ==") == Array("M".utf8))
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
        for bad in ["TWF", "TW=u", "T===", "TQ==TWFu", "TW\nu", "TWF!"] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }
}
