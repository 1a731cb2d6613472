import Foundation
import Testing
import VigilCore
@testable import VigilRules
import VigilState

/// `FieldList` (what `vigil trace` prints from state) reads the rules' own extractor: for the
/// same event every field has the value a rule's output sees.
@Suite struct FieldListTests {
    static let names = ["evt.type", "evt.res", "evt.rawres", "proc.pid", "thread.tid", "proc.name", "proc.exepath", "proc.exe",
                        "proc.args", "proc.cmdline", "proc.cwd", "user.uid", "proc.tty", "fd.num", "fd.name", "fd.typechar",
                        "fd.l4proto", "fd.cip", "fd.cport", "fd.sip", "fd.sport", "container.id", "toupper(proc.name)"]

    static func rendered(_ list: FieldList, _ ctx: EventContext, _ s: RuleScratch) throws -> [String: Any] {
        let w = JSONWriter(capacity: 1024)
        w.beginObject()
        withUnsafePointer(to: ctx) { list.write($0, scratch: s, to: w) }
        w.endObject()
        return try #require(try JSONSerialization.jsonObject(with: Data(w.text.utf8)) as? [String: Any])
    }

    @Test func valuesEqualWhatARuleOutputSees() throws {
        let output = Self.names.map { "\($0)=%\($0)" }.joined(separator: " ")
        let (set, diags) = loadRules("- rule: r\n  desc: d\n  condition: evt.type in (openat, connect)\n  output: \"\(output)\"\n  priority: WARNING\n")
        #expect(errors(diags).isEmpty, "\(diags)")
        let list = try FieldList(Self.names.map { (key: $0, field: $0) })
        let events = [
            event("""
            type: openat
            res: 3
            args: {dirfd: -100, name: ../etc/./passwd, flags: O_RDONLY, mode: 0}
            process: {pid: 100, exepath: /usr/bin/cat, args: [x], cwd: /srv/app, tty: 34816}
            """),
            event("""
            type: connect
            res: 0
            args: {fd: 5}
            process: {exepath: /usr/bin/curl}
            fd: {num: 5, type: ipv6, l4proto: tcp, cip: "fe80::1", cport: 40000, sip: "2001:db8::2", sport: 443}
            """),
        ]
        for ev in events {
            let rs = set.makeScratch(hostname: "h")
            let s = list.makeScratch(hostname: "h")
            var alert: Alert?
            _ = ev.withContext { ctx in set.evaluate(ctx, scratch: rs) { alert = $0 } }
            let a = try #require(alert)
            let json = try #require(try ev.withContext { try Self.rendered(list, $0, s) })
            // The alert also carries routing fields (container.name, k8s.*): compare the listed ones.
            #expect(Set(Self.names).isSubset(of: Set(a.outputFields.map(\.0))))
            for (name, v) in a.outputFields where Self.names.contains(name) {
                switch v {
                case .none: #expect(json[name] == nil, "\(name)")
                case .string(let t): #expect(json[name] as? String == t, "\(name)")
                case .int(let i): #expect((json[name] as? NSNumber)?.int64Value == i, "\(name)")
                case .uint(let u): #expect((json[name] as? NSNumber)?.uint64Value == u, "\(name)")
                case .bool(let b): #expect(json[name] as? Bool == b, "\(name)")
                case .strings: Issue.record("unexpected list value for \(name)")
                }
            }
            #expect(json["fd.name"] as? String != nil)
        }
    }

    @Test func unknownAndMalformedFieldsAreNamed() {
        #expect(throws: FieldListError.self) { _ = try FieldList([("x", "proc.nope")]) }
        do {
            _ = try FieldList([("x", "proc.name extra")])
            Issue.record("accepted trailing text")
        } catch {
            #expect(error.description.contains("proc.name extra"))
        }
    }
}
