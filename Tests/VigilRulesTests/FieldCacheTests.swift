import Testing
@testable import VigilRules
import VigilState

/// Each field is extracted once per event, whether a condition tests it, an output prints it
/// or the alert carries it for routing.
@Suite struct FieldCacheTests {
    static let rules = """
    - rule: first
      desc: d
      condition: evt.type = openat and proc.name = vim and fd.name startswith /etc
      output: "%proc.name opened %fd.name (%proc.exepath)"
      priority: WARNING
    - rule: second
      desc: d
      condition: evt.type = openat and fd.name = /etc/ssh/sshd_config and proc.exepath = /usr/bin/vim
      output: "again %fd.name by %proc.name in %container.id"
      priority: NOTICE
    """

    @Test func matchedFieldsAreReusedToRenderEveryAlert() throws {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, diags) = loadRules(Self.rules, options: options)
        #expect(errors(diags).isEmpty, "\(diags)")
        let ev = event("""
        type: openat
        res: 3
        args: {dirfd: -100, name: /etc/ssh/sshd_config, flags: O_RDONLY, mode: 0}
        process: {pid: 100, exepath: /usr/bin/vim, cwd: /root}
        """)
        let s = set.makeScratch(hostname: "h")
        var alerts: [Alert] = []
        var extraRenders: UInt64 = 0
        _ = ev.withContext { ctx in
            withUnsafePointer(to: ctx) { cp in
                set.match(cp, scratch: s) { k in alerts.append(set.alert(rule: k, cp, scratch: s)) }
                // Rendering again for the same event extracts nothing.
                let before = s.fieldsExtracted
                _ = set.alert(rule: 0, cp, scratch: s)
                _ = set.alert(rule: 1, cp, scratch: s)
                extraRenders = s.fieldsExtracted - before
            }
        }
        #expect(alerts.map(\.rule) == ["first", "second"])
        #expect(alerts[0].message == "vim opened /etc/ssh/sshd_config (/usr/bin/vim)")
        #expect(alerts[1].message == "again /etc/ssh/sshd_config by vim in host")
        // proc.name, fd.name, proc.exepath (conditions and outputs; evt.type is the type index)
        // and the routing fields (container.*, k8s.*) every alert carries: once each.
        #expect(s.fieldsExtracted == 3 + UInt64(RuleSet.routingFields.count))
        #expect(extraRenders == 0)
        for a in alerts {
            #expect(a.outputFields.filter { $0.0 == "container.id" }.count == 1)
            #expect(a.outputFields.contains { $0.0 == "k8s.pod.name" })
        }
    }
}
