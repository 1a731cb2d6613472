import Testing
@testable import VigilRules
import VigilState

/// proc.cmdline is kept between events per process (``CommandLineMemo``): it must follow
/// every change of the process's name or arguments, and processes whose events interleave
/// (or share a memo entry) must each get their own.
@Suite struct CommandLineMemoTests {
    static let rules = """
    - rule: cmdline
      desc: d
      condition: evt.type = openat and proc.cmdline exists
      output: "%proc.cmdline"
      priority: WARNING
    """

    static func open(pid: Int) -> SyntheticEvent {
        event("""
        type: openat
        res: 3
        args: {dirfd: -100, name: /etc/hosts, flags: O_RDONLY, mode: 0}
        process: {pid: \(pid), exepath: /usr/bin/cat, args: [/etc/hosts]}
        """)
    }

    /// The alert message (the command line) for `ev` with scratch `s`.
    static func cmdline(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch) -> String? {
        var out: String?
        _ = ev.withContext { ctx in set.evaluate(ctx, scratch: s) { out = $0.message } }
        return out
    }

    @Test func followsExecAndInPlaceChangesOfTheArguments() {
        let (set, diags) = loadRules(Self.rules)
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        let ev = Self.open(pid: 100)
        #expect(Self.cmdline(set, ev, s) == "cat /etc/hosts")
        #expect(Self.cmdline(set, ev, s) == "cat /etc/hosts")  // from the memo
        // An exec: new arguments and name.
        ev.process.args = ["-n", "/etc/passwd"]
        #expect(Self.cmdline(set, ev, s) == "cat -n /etc/passwd")
        // The same array changed in place (copy on write: the memo holds the old storage).
        ev.process.args[1] = "/etc/group"
        #expect(Self.cmdline(set, ev, s) == "cat -n /etc/group")
        ev.process.args.append("/etc/shadow")
        #expect(Self.cmdline(set, ev, s) == "cat -n /etc/group /etc/shadow")
        // Only the name changes (prctl PR_SET_NAME, or an exec keeping argv).
        ev.process.name = "tac"
        #expect(Self.cmdline(set, ev, s) == "tac -n /etc/group /etc/shadow")
        ev.process.args = []
        #expect(Self.cmdline(set, ev, s) == "tac")
    }

    @Test func interleavedProcessesKeepTheirOwn() {
        let (set, _) = loadRules(Self.rules)
        let s = set.makeScratch(hostname: "h")
        // 100, 116 and 132 share a memo entry (16 entries by pid); 101 has another.
        let evs = [100, 116, 101, 132].map { Self.open(pid: $0) }
        for (k, ev) in evs.enumerated() { ev.process.args = ["file\(k)"] }
        for _ in 0..<3 {
            for (k, ev) in evs.enumerated() { #expect(Self.cmdline(set, ev, s) == "cat file\(k)") }
        }
        // Two processes with the same (shared) argument array and different names.
        evs[1].process.args = evs[0].process.args
        evs[1].process.name = "dog"
        #expect(Self.cmdline(set, evs[0], s) == "cat file0")
        #expect(Self.cmdline(set, evs[1], s) == "dog file0")
        #expect(Self.cmdline(set, evs[0], s) == "cat file0")
    }
}
