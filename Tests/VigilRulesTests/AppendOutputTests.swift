import Testing
import VigilCore
@testable import VigilRules

/// Falco's `append_output` and `static_fields` (configuration-level) applied by the rule compiler.
@Suite struct AppendOutputTests {
    static let rules = """
        - rule: Shell reads shadow
          desc: d
          condition: evt.type = openat and fd.name = /etc/shadow
          output: shadow read (proc=%proc.name)
          priority: WARNING
          tags: [container, T1003]
        - rule: Other rule
          desc: d
          condition: evt.type = openat and fd.name = /etc/shadow
          output: other
          priority: NOTICE
          tags: [host]
        """

    static var open: SyntheticEvent { event("""
        type: openat
        res: 3
        args: {dirfd: -100, name: /etc/shadow, flags: O_RDONLY, mode: 0}
        process: {pid: 321, exepath: /usr/bin/cat, args: [/etc/shadow]}
        fd: {num: 3, type: file, name: /etc/shadow}
        """) }

    func alerts(_ options: RuleLoadOptions, rules: String = AppendOutputTests.rules) -> [Alert] {
        var o = options
        o.matching = .all
        let (set, diags) = loadRules(rules, options: o)
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        var out: [Alert] = []
        _ = Self.open.withContext { ctx in set.evaluate(ctx, scratch: s) { out.append($0) } }
        return out
    }

    func field(_ a: Alert, _ name: String) -> AlertFieldValue? { a.outputFields.first { $0.0 == name }?.1 }

    @Test func extraOutputAndFieldsFollowMatch() throws {
        var o = RuleLoadOptions()
        o.appendOutput = [
            AppendOutput(tags: ["container"], extraOutput: "pid=%proc.pid",
                         extraFields: [.init(name: "proc.exepath", format: nil, mark: SourceMark(file: "c", line: 1, column: 1)),
                                       .init(name: "who", format: "%proc.name on %evt.hostname", mark: SourceMark(file: "c", line: 2, column: 1))]),
            AppendOutput(source: "syscall", rule: "Other rule", extraOutput: "(other)"),
            AppendOutput(source: "k8s_audit", extraOutput: "never"),
            AppendOutput(tags: ["container", "missing"], extraOutput: "never either"),
        ]
        let a = alerts(o)
        #expect(a.count == 2)
        let shadow = try #require(a.first { $0.rule == "Shell reads shadow" })
        #expect(shadow.message == "shadow read (proc=cat) pid=321")
        #expect(field(shadow, "proc.pid") == .int(321))           // a field of extra_output: in output_fields too
        #expect(field(shadow, "proc.exepath") == .string("/usr/bin/cat"))   // raw field: typed value
        #expect(field(shadow, "who") == .string("cat on h"))                // formatted: a string
        #expect(!shadow.message.contains("/usr/bin/cat"))                   // extra fields stay out of the text
        let other = try #require(a.first { $0.rule == "Other rule" })
        #expect(other.message == "other (other)")
        #expect(field(other, "who") == nil)
    }

    @Test func laterEntryWinsAndOverridesTemplateField() throws {
        var o = RuleLoadOptions()
        let m = SourceMark(file: "c", line: 1, column: 1)
        o.appendOutput = [
            AppendOutput(extraFields: [.init(name: "k", format: "first", mark: m)]),
            AppendOutput(extraFields: [.init(name: "k", format: "second", mark: m), .init(name: "proc.name", format: "renamed", mark: m)]),
        ]
        let a = try #require(alerts(o).first)
        #expect(field(a, "k") == .string("second"))
        #expect(field(a, "proc.name") == .string("renamed"))
        #expect(a.outputFields.filter { $0.0 == "proc.name" }.count == 1)
    }

    @Test func staticFieldsInConditionsOutputsAndSuggestedOutput() throws {
        var o = RuleLoadOptions()
        o.staticFields = [StaticField(name: "cluster", value: "prod-eu"), StaticField(name: "team", value: "sec")]
        o.appendOutput = [AppendOutput(suggestedOutput: true)]
        let rules = """
            - rule: In prod
              desc: d
              condition: evt.type = openat and static.cluster = prod-eu and static.team in (sec, ops)
              output: read in %static.cluster
              priority: WARNING
            - rule: In staging
              desc: d
              condition: evt.type = openat and static.cluster = staging
              output: never
              priority: WARNING
            """
        let a = alerts(o, rules: rules)
        #expect(a.map(\.rule) == ["In prod"])
        #expect(a.first?.message == "read in prod-eu static_cluster=prod-eu static_team=sec")
        #expect(a.first.map { field($0, "static.cluster") } == .string("prod-eu"))
        #expect(a.first.map { field($0, "static.team") } == .string("sec"))
    }

    /// Rule-level appends (Falco's `override: {output: append}`) come first, then the
    /// configuration's `extra_output`, as Falco composes them; the appended fields are output fields.
    @Test func ruleLevelAppendThenConfigAppend() throws {
        var o = RuleLoadOptions()
        o.appendOutput = [AppendOutput(rule: "Shell reads shadow", extraOutput: "cfg=%evt.type")]
        let rules = Self.rules + """

            - rule: Shell reads shadow
              output: uid=%user.uid
              override:
                output: append
            """
        let a = try #require(alerts(o, rules: rules).first { $0.rule == "Shell reads shadow" })
        #expect(a.message == "shadow read (proc=cat) uid=0 cfg=openat")
        #expect(field(a, "user.uid") == .uint(0) || field(a, "user.uid") == .int(0))
        #expect(field(a, "evt.type") == .string("openat"))
    }

    @Test func unknownStaticFieldIsAPositionedError() {
        var o = RuleLoadOptions()
        o.staticFields = [StaticField(name: "cluster", value: "x")]
        let (_, diags) = loadRules("- rule: r\n  desc: d\n  condition: evt.type = openat and static.clustr = x\n  output: o\n  priority: WARNING\n",
                                   options: o)
        let e = errors(diags)
        #expect(e.count == 1)
        #expect(e.first?.message.contains("unknown field 'static.clustr' (static_fields defines static.cluster)") == true, "\(e)")
        #expect(e.first?.mark.line == 3 && e.first?.mark.column == 36, "\(e)")
    }

    @Test func badAppendEntriesAreReportedAtTheirPlace() {
        let mark = SourceMark(file: "vigil.yaml", line: 7, column: 5)
        let entries = [
            AppendOutput(extraOutput: "cpu %evt.nope", mark: mark),
            AppendOutput(extraFields: [.init(name: "proc.nme", format: nil, mark: SourceMark(file: "vigil.yaml", line: 9, column: 9))]),
            AppendOutput(extraFields: [.init(name: "x", format: "%evt.buffer", mark: SourceMark(file: "vigil.yaml", line: 10, column: 9))]),
        ]
        let d = RuleSet.checkAppendOutput(entries, staticFields: [])
        #expect(d.count == 3)
        #expect(d[0].mark == mark && d[0].item == "append_output[0]" && d[0].message.contains("extra_output: unknown field 'evt.nope'"))
        #expect(d[1].mark.line == 9 && d[1].message.contains("extra_fields 'proc.nme': unknown field 'proc.nme'"))
        #expect(d[2].mark.line == 10 && d[2].message.contains("not supported by Vigil (I/O buffers are not captured)"))
    }
}
