import Testing
@testable import VigilRules

/// A compiled rule set is shared between threads; each thread has its own scratch.
@Suite struct ConcurrencyTests {
    @Test func sharedRuleSetSeparateScratches() async {
        let (set, d) = loadRules("""
        - list: shells
          items: [bash, sh]
        - rule: Shell
          desc: d
          condition: evt.type = execve and proc.name in (shells) and proc.pname = nginx
          output: "%proc.name under %proc.pname"
          priority: warning
        """)
        #expect(errors(d).isEmpty)
        let total = await withTaskGroup(of: Int.self) { group in
            for k in 0..<4 {
                group.addTask {
                    let fire = event("type: execve\nprocess: {exepath: /bin/bash, parents: [{exepath: /usr/sbin/nginx}]}")
                    let quiet = event("type: execve\nprocess: {exepath: /bin/bash, parents: [{exepath: /usr/sbin/sshd}]}")
                    let s = set.makeScratch(hostname: "t\(k)")
                    var hits = 0
                    for i in 0..<500 {
                        let ev = i % 2 == 0 ? fire : quiet
                        _ = ev.withContext { ctx in set.evaluate(ctx, scratch: s) { a in
                            #expect(a.message == "bash under nginx")
                            hits += 1
                        } }
                    }
                    return hits
                }
            }
            var sum = 0
            for await h in group { sum += h }
            return sum
        }
        #expect(total == 4 * 250)
    }
}
