import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

@Suite struct FormatterTests {
    @Test func falcoJSONShape() throws {
        let a = makeAlert(fields: [("proc.name", .string("cat")), ("proc.pid", .int(-7)), ("evt.num", .uint(UInt64.max)),
                                   ("fd.is_upper", .bool(true)), ("proc.aname", .strings(["bash", "sshd"])), ("k8s.pod.name", .none)])
        let bytes = AlertFormatter.json(a)
        let text = String(decoding: bytes, as: UTF8.self)
        // Falco's key order (sorted), no Vigil key on ordinary alerts.
        let keys = ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]
        var last = text.startIndex
        for k in keys {
            let r = try #require(text.range(of: "\"\(k)\":", range: last..<text.endIndex), "key \(k) missing or out of order")
            last = r.upperBound
        }
        #expect(!text.contains("\"vigil\""))
        let d = try parseJSON(bytes)
        #expect(d["hostname"] as? String == "node-1")
        #expect(d["rule"] as? String == "Test rule")
        #expect(d["priority"] as? String == "Warning")
        #expect(d["source"] as? String == "syscall")
        #expect(d["tags"] as? [String] == ["test", "T1059"])
        #expect(d["time"] as? String == "2025-11-24T16:00:00.123456789Z")
        #expect(d["output"] as? String == "2025-11-24T16:00:00.123456789Z: Warning something happened (user=root)")
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect(f["proc.name"] as? String == "cat")
        #expect((f["proc.pid"] as? NSNumber)?.int64Value == -7)
        #expect((f["evt.num"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect(f["fd.is_upper"] as? Bool == true)
        #expect(f["proc.aname"] as? [String] == ["bash", "sshd"])
        #expect(f["k8s.pod.name"] is NSNull)
        #expect(text.contains("\"evt.num\":18446744073709551615"))
        #expect(!bytes.contains(0x0A))
    }

    @Test func outputFieldsNeverEmpty() throws {
        let a = makeAlert(fields: [])
        let d = try parseJSON(AlertFormatter.json(a))
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect((f["evt.time"] as? NSNumber)?.uint64Value == a.timeNs)
    }

    @Test func includeOptions() throws {
        let a = makeAlert()
        let d = try parseJSON(AlertFormatter.json(a, options: AlertFormatOptions(includeOutput: false, includeTags: false, includeMessage: true)))
        #expect(d["output"] == nil)
        #expect(d["tags"] == nil)
        #expect(d["message"] as? String == a.message)
    }

    /// `json_include_output_fields_property: false` (Falco 0.41+) leaves `output_fields` out.
    @Test func outputFieldsCanBeLeftOut() throws {
        var config = AlertOutputConfig()
        #expect(config.formatOptions.includeOutputFields)
        config.jsonIncludeOutputFieldsProperty = false
        let d = try parseJSON(AlertFormatter.json(makeAlert(), options: config.formatOptions))
        #expect(d["output_fields"] == nil)
        #expect(d["rule"] != nil && d["output"] != nil && d["priority"] != nil)
    }

    @Test func summaryObject() throws {
        let s = AlertSummary(kind: .folded, count: 41, windowStartNs: 1_000_000_000, windowEndNs: 2_000_000_001)
        let d = try parseJSON(AlertFormatter.json(makeAlert(), summary: s))
        let v = try #require(d["vigil"] as? [String: Any])
        #expect(v["summary"] as? String == "folded")
        #expect((v["count"] as? NSNumber)?.intValue == 41)
        #expect(v["window_start"] as? String == "1970-01-01T00:00:01.000000000Z")
        #expect(v["window_end"] as? String == "1970-01-01T00:00:02.000000001Z")
    }

    @Test func hostileDataYieldsOneValidJSONLine() throws {
        let big = String(repeating: "A", count: 100 * 1024) + "\n" + hostileMessage
        let a = makeAlert(rule: "rule \"with\" quotes\n", message: hostileMessage + " " + invalidUTF8Text,
                          fields: [("proc.cmdline", .string(big)), ("proc.args", .strings([hostileMessage, invalidUTF8Text])),
                                   ("evil\"key\n", .string("v"))],
                          tags: ["t\u{1b}[1m"])
        let bytes = AlertFormatter.json(a)
        #expect(!bytes.contains(0x0A) && !bytes.contains(0x0D) && !bytes.contains(0x1B) && !bytes.contains(0x00))
        #expect(bytes.count > 100 * 1024)
        let d = try parseJSON(bytes)
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect(f["proc.cmdline"] as? String == big)
        #expect(f["evil\"key\n"] as? String == "v")
        #expect(d["rule"] as? String == "rule \"with\" quotes\n")
        #expect((d["output"] as? String)?.hasSuffix(hostileMessage + " " + invalidUTF8Text) == true)
        #expect(invalidUTF8Text.contains("\u{FFFD}"))
    }

    @Test func truncationKeepsJSONValid() throws {
        let a = makeAlert(message: String(repeating: "é", count: 5000), fields: [("proc.cmdline", .string(String(repeating: "x", count: 100_000)))])
        let bytes = AlertFormatter.json(a, options: AlertFormatOptions(maxStringBytes: 1001))
        #expect(bytes.count < 5000)
        let d = try parseJSON(bytes)
        let f = try #require(d["output_fields"] as? [String: Any])
        #expect((f["proc.cmdline"] as? String)?.hasSuffix("…[truncated 98999 bytes]") == true)
    }

    @Test func textIsOneReadableLine() {
        let a = makeAlert(priority: .critical, message: hostileMessage)
        let t = AlertFormatter.text(a)
        let s = String(decoding: t, as: UTF8.self)
        #expect(s.hasPrefix("2025-11-24T16:00:00.123456789Z: Critical evil\\n<13>1"))
        #expect(!t.contains(0x0A) && !t.contains(0x0D) && !t.contains(0x1B) && !t.contains(0x00))
        #expect(s.contains("\\x1b[31mred"))
        #expect(s.contains("\\u{9b}c1") && s.contains("\\u{2028}ls"))
    }

    @Test func priorityNamesAndSeverities() {
        let expected: [(Priority, String, Int)] = [(.emergency, "Emergency", 0), (.alert, "Alert", 1), (.critical, "Critical", 2),
                                                   (.error, "Error", 3), (.warning, "Warning", 4), (.notice, "Notice", 5),
                                                   (.informational, "Informational", 6), (.debug, "Debug", 7)]
        for (p, name, sev) in expected {
            #expect(p.falcoName == name)
            #expect(p.syslogSeverity == sev)
            #expect(Priority(name: name) == p)
        }
    }
}

@Suite struct RFC3339Tests {
    @Test func matchesCoreTimestampEverywhere() {
        var samples: [UInt64] = [0, 1, 999_999_999, 1_000_000_000, 951_782_400_000_000_000 /* 2000-02-29 */,
                                 4_107_542_399_999_999_999 /* 2100-02-28T23:59:59 */, 1_764_000_000_123_456_789]
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; samples.append(x % 7_000_000_000_000_000_000) }
        for ns in samples {
            #expect(RFC3339.string(ns) == RFC3339.string(ns), "ns=\(ns)")
        }
        #expect(RFC3339.string(1_764_000_000_123_456_789, fractionDigits: 6) == "2025-11-24T16:00:00.123456Z")
    }
}
