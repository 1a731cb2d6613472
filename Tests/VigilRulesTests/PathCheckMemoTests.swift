import Testing
import VigilDecode
import VigilState
@testable import VigilRules

/// ``PathCheckMemo``: comparisons of the fd's name are answered from earlier events with the
/// same name and fd type, and never from another name, another type or another rule set.
@Suite struct PathCheckMemoTests {
    static func open(_ name: String, type: String = "file") -> SyntheticEvent {
        event("""
        type: openat
        res: 3
        args: {dirfd: -100, name: \(name), flags: \(type == "directory" ? "O_RDONLY|O_DIRECTORY" : "O_RDONLY"), mode: 0}
        process: {pid: 10, exepath: /usr/bin/cat}
        fd: {num: 3, type: \(type), name: \(name)}
        """)
    }

    static func rules(_ conditions: [String]) -> RuleSet {
        var options = RuleLoadOptions()
        options.matching = .all
        let yaml = conditions.enumerated().map { k, c in
            "- rule: r\(k)\n  desc: d\n  condition: evt.type = openat and \(c)\n  output: o\n  priority: WARNING\n"
        }.joined(separator: "\n")
        let (set, diags) = loadRules(yaml, options: options)
        #expect(errors(diags).isEmpty, "\(diags)")
        return set
    }

    static func matched(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch) -> [String] {
        var out: [String] = []
        _ = ev.withContext { set.match($0, scratch: s) { out.append(set.rules[$0].name) } }
        return out
    }

    /// The same name as a directory and as a file: `fd.directory` differs, and
    /// the memo keeps them apart; repeated events are answered from it.
    @Test func sameNameOtherTypeIsAnotherEntry() {
        let set = Self.rules(["fd.directory = /etc", "fd.filename = etc", "fd.name startswith /et", "fd.name in (/etc, /x)"])
        #expect(set.memoCount == 4)
        let dir = Self.open("/etc", type: "directory"), file = Self.open("/etc")
        let s = set.makeScratch(hostname: "h")
        for _ in 0..<3 {
            #expect(Self.matched(set, dir, s) == ["r0", "r1", "r2", "r3"])  // fd.filename of a directory: its last component
            #expect(Self.matched(set, file, s) == ["r1", "r2", "r3"])
        }
        // After the first round every event of both names came from the memo (their traces:
        // the conditions test nothing but the name), and no comparison was computed again.
        #expect(s.pathMemo.replays == 4, "\(s.pathMemo.replays) replays, \(s.pathMemo.hits) hits")
        #expect(s.pathMemo.misses == 8, "\(s.pathMemo.misses) computed")
    }

    /// Two rule sets evaluated with one scratch (a reload and back): each set's own results.
    @Test func anotherRuleSetStartsOver() {
        let a = Self.rules(["fd.name = /etc/hosts"]), b = Self.rules(["fd.name = /etc/passwd"])
        let hosts = Self.open("/etc/hosts"), passwd = Self.open("/etc/passwd")
        let s = a.makeScratch(hostname: "h")
        for _ in 0..<3 {
            #expect(Self.matched(a, hosts, s) == ["r0"])
            #expect(Self.matched(b, hosts, s) == [])
            #expect(Self.matched(a, passwd, s) == [])
            #expect(Self.matched(b, passwd, s) == ["r0"])
        }
    }

    /// Names that share a slot, names too long to keep, and transformed names: every result as
    /// the condition trees compute it.
    @Test func collisionsLongNamesAndTransformersAreExact() {
        let set = Self.rules(["fd.name endswith .conf", "tolower(fd.filename) = readme", "fd.name glob '/tmp/*/x*'",
                              "fd.directory pmatch (/usr/lib, /opt)", "fd.name contains lib"])
        let s = set.makeScratch(hostname: "h"), reference = set.makeScratch(hostname: "h")
        let long = "/opt/" + String(repeating: "d", count: PathCheckMemo.maxNameBytes) + "/lib.conf"
        var names = [long, "/usr/lib/a.conf", "/tmp/q/x1", "/home/README", "/etc/x.conf"]
        for k in 0..<(PathCheckMemo.slots * 3) { names.append("/usr/lib/f\(k)" + (k % 3 == 0 ? ".conf" : "")) }
        var matches = 0
        for round in 0..<2 {
            for name in names {
                let ev = Self.open(name)
                let got = Self.matched(set, ev, s)
                let want = (0..<set.rules.count).filter { k in ev.withContext { set.matches(rule: k, $0, scratch: reference) } ?? false }
                    .map { set.rules[$0].name }
                #expect(got == want, "round \(round) \(name): \(got), trees \(want)")
                matches += got.count
            }
        }
        #expect(matches > names.count, "\(matches) matches")
        #expect(s.pathMemo.hits + s.pathMemo.replays > 0)
    }
}
