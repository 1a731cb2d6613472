import VigilCore
import VigilRules

/// Which optional keys a JSON alert carries (falco.yaml's `json_include_*_property`).
package struct AlertFormatOptions: Sendable, Equatable {
    /// `json_include_output_property`.
    package var includeOutput: Bool
    /// `json_include_tags_property`.
    package var includeTags: Bool
    /// `json_include_message_property`.
    package var includeMessage: Bool
    /// `json_include_output_fields_property` (Falco 0.41+): write the `output_fields` object.
    package var includeOutputFields: Bool = true
    /// When > 0, string values longer than this many bytes are shortened (at a UTF-8 boundary) and
    /// marked `…[truncated N bytes]`. Used by size-limited transports; 0 = never.
    package var maxStringBytes: Int

    package init(includeOutput: Bool = true, includeTags: Bool = true, includeMessage: Bool = false, maxStringBytes: Int = 0) {
        self.includeOutput = includeOutput; self.includeTags = includeTags
        self.includeMessage = includeMessage; self.maxStringBytes = maxStringBytes
    }
}

/// What a summary alert summarises (written as the top-level `vigil` object).
package struct AlertSummary: Sendable, Equatable {
    /// Why alerts were held back.
    package enum Kind: String, Sendable { case folded, rateLimited = "rate_limited", dropped }
    package var kind: Kind
    /// How many alerts were held back.
    package var count: UInt64
    /// Event time (ns) of the first alert held back.
    package var windowStartNs: UInt64
    /// Event time (ns) of the last alert held back.
    package var windowEndNs: UInt64
    package init(kind: Kind, count: UInt64, windowStartNs: UInt64, windowEndNs: UInt64) {
        self.kind = kind; self.count = count; self.windowStartNs = windowStartNs; self.windowEndNs = windowEndNs
    }
}

/// Renders alerts in Falco's JSON shape and as a readable text line.
///
/// JSON keys, in Falco's (sorted) order: `hostname`, `output` ("TIME: Priority message"),
/// `output_fields` (typed values, each key once, with `evt.time` in ns as Falco's prefix adds it), `priority`,
/// `rule`, `source`, `tags`, `time` (RFC 3339, nanoseconds, UTC), then Vigil's `vigil` object
/// on summary alerts. All strings go through ``JSONWriter``, so newlines, quotes, ANSI escapes
/// and invalid UTF-8 in event data cannot break the line.
package enum AlertFormatter {
    /// The `output` text: `2026-11-24T05:56:55.123456789Z: Warning message`.
    package static func outputText(_ alert: Alert) -> String {
        RFC3339.string(alert.timeNs) + ": " + alert.priority.falcoName + " " + alert.message
    }

    /// Appends one JSON object (no trailing newline) to `w`.
    package static func writeJSON(_ alert: Alert, summary: AlertSummary? = nil, options: AlertFormatOptions = AlertFormatOptions(),
                                 into w: JSONWriter) {
        let cap = options.maxStringBytes
        let time = RFC3339.string(alert.timeNs)
        w.beginObject()
        w.key("hostname"); string(alert.hostname, cap, w)
        if options.includeMessage { w.key("message"); string(alert.message, cap, w) }
        if options.includeOutput { w.key("output"); string(time + ": " + alert.priority.falcoName + " " + alert.message, cap, w) }
        if options.includeOutputFields {
        w.key("output_fields")
        w.beginObject()
        // Falco's output_fields always hold the fields of its `%evt.time: priority` prefix too.
        if !alert.outputFields.contains(where: { $0.0 == "evt.time" }) {
            w.key("evt.time"); w.uint(alert.timeNs)
        }
        do {
            let fields = alert.outputFields
            for i in fields.indices {
                let (k, v) = fields[i]
                // A key listed twice (a template field that is also a container/pod field) is written once.
                if i > 0 && fields[..<i].contains(where: { $0.0 == k }) { continue }
                w.key(string: k)
                switch v {
                case .string(let s): string(s, cap, w)
                case .int(let i): w.int(i)
                case .uint(let u): w.uint(u)
                case .bool(let b): w.bool(b)
                case .strings(let list):
                    w.beginArray()
                    for s in list { string(s, cap, w) }
                    w.endArray()
                case .none: w.null()
                }
            }
        }
        w.endObject()
        }
        w.key("priority"); w.string(alert.priority.falcoName)
        w.key("rule"); string(alert.rule, cap, w)
        w.key("source"); string(alert.source, cap, w)
        if options.includeTags {
            w.key("tags")
            w.beginArray()
            for t in alert.tags { string(t, cap, w) }
            w.endArray()
        }
        w.key("time"); w.string(time)
        if let s = summary {
            w.key("vigil")
            w.beginObject()
            w.key("summary"); w.string(s.kind.rawValue)
            w.key("count"); w.uint(s.count)
            w.key("window_start"); w.string(RFC3339.string(s.windowStartNs))
            w.key("window_end"); w.string(RFC3339.string(s.windowEndNs))
            w.endObject()
        }
        w.endObject()
    }

    /// One JSON line (without the newline) as bytes.
    package static func json(_ alert: Alert, summary: AlertSummary? = nil, options: AlertFormatOptions = AlertFormatOptions()) -> [UInt8] {
        let w = JSONWriter(capacity: 512 + alert.message.utf8.count * 2)
        writeJSON(alert, summary: summary, options: options, into: w)
        return w.byteArray
    }

    /// The readable one-line text form: the `output` text with control characters (newlines,
    /// ANSI escapes, C1 controls) shown as escapes and backslash doubled, so one alert is always
    /// one terminal line and `\n` always means a newline.
    package static func text(_ alert: Alert) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(alert.message.utf8.count + 64)
        RFC3339.append(alert.timeNs, to: &out)
        out.append(contentsOf: ": ".utf8)
        out.append(contentsOf: alert.priority.falcoName.utf8)
        out.append(UInt8(ascii: " "))
        appendSanitized(alert.message, escapeBackslash: true, to: &out)
        return out
    }

    /// Appends `s` with every control character escaped (`\n`, `\r`, `\t`, `\xNN`, `\u{NN}`)
    /// With `escapeBackslash` (the text output), backslash is doubled too, so an escape in the
    /// output always means a control character; callers that escape backslash their own way
    /// (syslog SD-PARAM values) leave it out.
    static func appendSanitized(_ s: String, escapeBackslash: Bool = false, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if v == 0x5C && escapeBackslash {
                out.append(contentsOf: [0x5C, 0x5C])
            } else if v < 0x20 || v == 0x7F {
                switch v {
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default: out.append(contentsOf: [0x5C, UInt8(ascii: "x"), hex[Int(v >> 4)], hex[Int(v & 0xF)]])
                }
            } else if v >= 0x80 && v <= 0x9F || v == 0x2028 || v == 0x2029 {
                out.append(contentsOf: "\\u{\(String(v, radix: 16))}".utf8)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }

    private static func string(_ s: String, _ cap: Int, _ w: JSONWriter) {
        if cap <= 0 || s.utf8.count <= cap { w.string(s); return }
        var end = s.utf8.index(s.utf8.startIndex, offsetBy: cap)
        // Back up to a character boundary.
        while end > s.utf8.startIndex && UTF8.isContinuation(s.utf8[end]) {
            end = s.utf8.index(before: end)
        }
        let cut = String(s.utf8[..<end]) ?? String(decoding: s.utf8[..<end], as: UTF8.self)
        w.string(cut + "…[truncated \(s.utf8.count - s.utf8.distance(from: s.utf8.startIndex, to: end)) bytes]")
    }
}
