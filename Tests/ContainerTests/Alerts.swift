import Foundation

/// Vigil's stdout alerts (Falco's JSON shape) in an agent's log, which also holds its JSON log lines.
struct AlertLog {
    struct Alert {
        var rule: String
        var fields: [String: Any]
        func string(_ key: String) -> String? { fields[key] as? String }
    }

    /// Every alert in `text` (lines that are JSON objects with a `rule`).
    static func alerts(in text: String) -> [Alert] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let rule = obj["rule"] as? String else { return nil }
            return Alert(rule: rule, fields: obj["output_fields"] as? [String: Any] ?? [:])
        }
    }

    /// The first alert of `rule` for the container with this short id.
    static func alert(in text: String, rule: String, containerID: String) -> Alert? {
        alerts(in: text).first { $0.rule == rule && $0.string("container.id") == containerID }
    }

    /// Whether the agent logged that it is running (programs attached, rules loaded, capture started).
    static func isRunning(_ text: String) -> Bool { text.contains("\"msg\":\"running\"") }
}

/// Runtime event timestamps (`2026-12-05 20:33:51.632117653 +0000 UTC ...`, the format of both
/// `ctr events` and `podman events`), for measuring how long a container lived.
enum EventTimes {
    /// Nanoseconds since the epoch of an event line's leading timestamp.
    static func nanos(_ line: Substring) -> UInt64? {
        let parts = line.split(separator: " ", maxSplits: 3)
        guard parts.count >= 3, parts[2] == "+0000" else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int($0) }
        let time = parts[1].split(separator: ":")
        guard date.count == 3, time.count == 3, let h = Int(time[0]), let m = Int(time[1]) else { return nil }
        let secParts = time[2].split(separator: ".")
        guard let s = Int(secParts[0]) else { return nil }
        var frac: UInt64 = 0
        if secParts.count == 2 {
            let digits = String(secParts[1].prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
            frac = UInt64(digits) ?? 0
        }
        var c = DateComponents()
        c.year = date[0]; c.month = date[1]; c.day = date[2]; c.hour = h; c.minute = m; c.second = s
        c.timeZone = TimeZone(identifier: "UTC")
        guard let d = Calendar(identifier: .gregorian).date(from: c) else { return nil }
        return UInt64(d.timeIntervalSince1970) * 1_000_000_000 + frac
    }

    /// The first line's time that contains every one of `needles`.
    static func time(in text: String, containing needles: [String]) -> UInt64? {
        for line in text.split(separator: "\n") where needles.allSatisfy({ line.contains($0) }) {
            if let t = nanos(line) { return t }
        }
        return nil
    }
}
