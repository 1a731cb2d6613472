import Testing
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// ``RuleSet/match`` replays the walk of the last event with the same fd name, type and
/// signature (``PathCheckMemo/replay(_:type:signature:_:_:_:steps:)``) when the comparisons
/// that walk consulted besides the name's give the same results. Its matches, and the alerts
/// rendered after it, must be exactly those of the condition trees evaluated from scratch
/// (``RuleSet/matches(rule:_:scratch:newEvent:)``, no memo, no guard tree) for every event,
/// whatever came before it through the same scratch.
@Suite struct MatchReplayTests {
    /// The rules the condition trees say match `ev` (a fresh evaluation), in load order.
    static func reference(_ set: RuleSet, _ ev: SyntheticEvent) -> [Int] {
        let s = set.makeScratch(hostname: "h")
        return BranchProgramTests.treeMatches(set, ev, s)
    }

    /// The alerts of `rules` for `ev` rendered with scratch `s` right after `match` (fields
    /// as the match left them in the event's cache).
    static func alerts(_ set: RuleSet, _ ev: SyntheticEvent, _ s: RuleScratch, _ rules: [Int]) -> [String] {
        for (k, v) in ev.userNames { s.userNames[k] = v }
        for (k, v) in ev.groupNames { s.groupNames[k] = v }
        defer { s.userNames = [:]; s.groupNames = [:] }
        return ev.withContext { ctx in rules.map { k in describe(set.alert(rule: k, ctx, scratch: s)) } } ?? []
    }

    static func describe(_ a: Alert) -> String {
        a.rule + "|" + a.message + "|" + a.outputFields.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }

    /// Every event of the rule tests and their variants, in several interleavings through one
    /// scratch (so that each name recurs with other processes, flags, results and types): the
    /// same matches as the trees (`all`; `first`: the first of them), the same alert texts
    /// and fields as rendered from a fresh scratch, and the traces were replayed.
    static func compare(_ paths: [String], minimumReplays: UInt64) throws -> Int {
        let (all, first) = try EveryRuleLoading.allAndFirst(paths)
        let events = OperandOrderTests.events(variants: 6)
        let sAll = all.makeScratch(hostname: "h"), sFirst = first.makeScratch(hostname: "h")
        var wanted: [[Int]] = []
        var wantedAlerts: [[String]] = []
        for ev in events {
            let tree = reference(all, ev)
            wanted.append(tree)
            let fresh = all.makeScratch(hostname: "h")
            _ = BranchProgramTests.reported(all, ev, fresh)
            wantedAlerts.append(alerts(all, ev, fresh, tree))
        }
        var differences = 0, matches = 0
        var rng: UInt64 = 0x2545_F491_4F6C_DD1D
        for round in 0..<4 {
            // Round 0 in order, then shuffled: each name meets the others' traces.
            var order = Array(events.indices)
            if round > 0 {
                for i in stride(from: order.count - 1, to: 0, by: -1) {
                    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                    order.swapAt(i, Int(rng % UInt64(i + 1)))
                }
            }
            for k in order {
                let ev = events[k]
                let a = BranchProgramTests.reported(all, ev, sAll)
                let got = alerts(all, ev, sAll, a)
                let f = BranchProgramTests.reported(first, ev, sFirst)
                if a != wanted[k] || f != Array(wanted[k].prefix(1)) || got != wantedAlerts[k] {
                    differences += 1
                    if differences <= 5 {
                        let type: String = (try? ev.record.withEvent { $0.type.name }.get()) ?? "?"
                        Issue.record(Comment(rawValue: "round \(round) \(type) by \(ev.process.name) \(ev.process.exePath) fd \(ev.fd?.name ?? "-"): trees \(wanted[k].map { all.rules[$0].name }), match(all) \(a.map { all.rules[$0].name }), match(first) \(f.map { first.rules[$0].name })\(got != wantedAlerts[k] ? ", alerts differ: \(got) vs \(wantedAlerts[k])" : "")"))
                    }
                }
                matches += a.count
            }
        }
        #expect(differences == 0, "\(differences) evaluations differ from the condition trees")
        #expect(sAll.pathMemo.replays >= minimumReplays && sFirst.pathMemo.replays >= minimumReplays,
                "replays: all \(sAll.pathMemo.replays) (\(sAll.pathMemo.replayMisses) stopped), first \(sFirst.pathMemo.replays)")
        #expect(sAll.pathMemo.replayMisses > 0, "no trace ever stopped at a differing comparison: the test does not vary enough")
        return matches
    }

    @Test func vigilRulesReplayExactly() throws {
        let matches = try Self.compare([repoRoot() + "/rules/", repoRoot() + "/bench/kernel/exec_storm.yaml"], minimumReplays: 500)
        #expect(matches > 1000, "\(matches) matches")
    }

    @Test(.enabled(if: falcoRulesDir() != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func falcoRulesReplayExactly() throws {
        let dir = falcoRulesDir()!
        let matches = try Self.compare(["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"].map { dir + "/" + $0 },
                                       minimumReplays: 500)
        #expect(matches > 100, "\(matches) matches")
    }

    // MARK: what a trace depends on

    static let rulesYAML = """
    - list: shells
      items: [bash, sh]
    - rule: shell reads etc
      desc: d
      condition: evt.type in (open, openat) and evt.is_open_read = true and fd.name startswith /etc/ and proc.name in (shells)
      output: "%proc.name read %fd.name (%evt.type)"
      priority: WARNING
    - rule: write below etc
      desc: d
      condition: evt.type in (open, openat) and evt.is_open_write = true and evt.rawres >= 0 and fd.name startswith /etc/
      output: "%proc.name wrote %fd.name"
      priority: WARNING
    - rule: failed open of etc
      desc: d
      condition: evt.type = openat and evt.rawres < 0 and fd.name startswith /etc/
      output: "failed %fd.name"
      priority: WARNING
    - rule: linked shadow
      desc: d
      condition: evt.type = openat and fd.typechar = f and fd.nlink > 1 and fd.filename = shadow and container.id = host
      output: "linked %fd.name %fd.nlink"
      priority: WARNING
    - rule: editor reads hosts
      desc: d
      condition: evt.type = openat and fd.name = /etc/hosts and proc.exepath in (/usr/bin/vi, /usr/bin/nano)
      output: "%proc.exepath read %fd.name"
      priority: WARNING
    - rule: parent is sudo
      desc: d
      condition: evt.type = openat and fd.directory = /etc and proc.pname = sudo
      output: "under sudo %fd.name"
      priority: WARNING
    """

    static func open(_ name: String, type: String = "openat", flags: String = "O_RDONLY", res: Int = 3, proc: String = "cat",
                     parent: String = "bash", nlink: Int = 1, fdType: String = "file") -> SyntheticEvent {
        var ev = event("""
        type: \(type)
        res: \(res)
        args: {\(type == "open" ? "" : "dirfd: -100, ")name: \(name), flags: \(flags), mode: 0}
        process: {pid: 10, name: \(proc), exepath: /usr/bin/\(proc), parents: [{name: \(parent), exepath: /usr/bin/\(parent)}]}
        """)
        var fd = FDInfo(kind: fdType == "file" ? .file : .directory, name: name)
        fd.ino = 77
        fd.nlink = UInt32(nlink)
        ev.fd = fd
        ev.fdNum = 3
        return ev
    }

    /// One name through one scratch, each event differing from the last in one input a trace
    /// depends on: the process (its name, its parent), the open's direction and result, the
    /// event type, the fd's link count and type. Every event: the trees' matches, and the
    /// replays the unchanged repeats must make.
    @Test func everyInputOfATraceIsTested() {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, diags) = loadRules(Self.rulesYAML, options: options)
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        let sequence: [(SyntheticEvent, [String])] = [
            (Self.open("/etc/shadow"), []),
            (Self.open("/etc/shadow"), []),                                   // replayed
            (Self.open("/etc/shadow", proc: "bash"), ["shell reads etc"]),    // another process name
            (Self.open("/etc/shadow", proc: "bash"), ["shell reads etc"]),    // replayed
            (Self.open("/etc/shadow", proc: "cat"), []),
            (Self.open("/etc/shadow", parent: "sudo"), ["parent is sudo"]),   // another parent
            (Self.open("/etc/shadow", flags: "O_WRONLY"), ["write below etc"]),  // another signature
            (Self.open("/etc/shadow", flags: "O_WRONLY", res: -13), ["failed open of etc"]),
            (Self.open("/etc/shadow", flags: "O_WRONLY", res: 0), ["write below etc"]),  // rawres 0: >= 0 holds, < 0 not
            (Self.open("/etc/shadow", type: "open", proc: "bash"), ["shell reads etc"]),  // another type
            (Self.open("/etc/shadow", proc: "bash"), ["shell reads etc"]),
            (Self.open("/etc/shadow", nlink: 2), ["linked shadow"]),          // another link count
            (Self.open("/etc/shadow", nlink: 2), ["linked shadow"]),          // replayed
            (Self.open("/etc/shadow", nlink: 1), []),
            (Self.open("/etc/shadow", nlink: 2, fdType: "directory"), []),   // another fd type: another entry
            (Self.open("/etc/shadow", nlink: 2), ["linked shadow"]),
        ]
        var replays: [UInt64] = []
        for (k, (ev, want)) in sequence.enumerated() {
            let got = BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name }
            let tree = Self.reference(set, ev).map { set.rules[$0].name }
            #expect(got == want && tree == want, "event \(k): match \(got), trees \(tree), expected \(want)")
            replays.append(s.pathMemo.replays)
        }
        // The unchanged repeats (events 1, 3, 12) were answered from their traces.
        #expect(replays[1] == 1 && replays[3] == 2 && replays[12] > replays[11], "replays after each event: \(replays)")
    }

    /// A process whose identity changes between two events with the same name (an exec in
    /// place, a rename, a new parent): the trace re-tests its comparisons, so the second event
    /// is matched as the trees match it.
    @Test func processChangingBetweenEventsIsSeen() {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, _) = loadRules(Self.rulesYAML, options: options)
        let s = set.makeScratch(hostname: "h")
        let ev = Self.open("/etc/hosts")
        #expect(BranchProgramTests.reported(set, ev, s).isEmpty)
        #expect(BranchProgramTests.reported(set, ev, s).isEmpty)
        #expect(s.pathMemo.replays == 1)
        ev.process.name = "sh"  // the same process object, renamed (as an exec updates it)
        #expect(BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name } == ["shell reads etc"])
        #expect(Self.alerts(set, ev, s, [0]).first?.hasPrefix("shell reads etc|sh read /etc/hosts (openat)|proc.name=string(\"sh\")") == true,
                "\(Self.alerts(set, ev, s, [0]))")
        ev.process.name = "cat"
        #expect(BranchProgramTests.reported(set, ev, s).isEmpty)
        #expect(s.pathMemo.replayMisses >= 2, "\(s.pathMemo.replayMisses)")
        // The executable's path (kept by the trace as the string it compared), changed in place.
        #expect(BranchProgramTests.reported(set, ev, s).isEmpty)
        ev.process.exePath = "/usr/bin/vi"
        #expect(BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name } == ["editor reads hosts"])
        #expect(BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name } == ["editor reads hosts"])
        // Equal contents in another string: the comparison is made again, with the same result.
        ev.process.exePath = String(decoding: Array("/usr/bin/vi".utf8), as: UTF8.self)
        let before = s.pathMemo.replays
        #expect(BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name } == ["editor reads hosts"])
        #expect(s.pathMemo.replays == before + 1)
        ev.process.exePath = "/usr/bin/cat"
        #expect(BranchProgramTests.reported(set, ev, s).isEmpty)

    }

    /// Names too long for the memo, and more names than it has entries (evictions): every
    /// event still matched as the trees match it, twice over.
    @Test func longNamesAndEvictionsAreExact() {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, _) = loadRules(Self.rulesYAML, options: options)
        let s = set.makeScratch(hostname: "h")
        var names = ["/etc/" + String(repeating: "x", count: PathCheckMemo.maxNameBytes), "/etc/", "/etc/a b", "/etc/\u{e9}t\u{e9}"]
        for k in 0..<(PathCheckMemo.slots * 2) { names.append("/etc/f\(k)") }
        // The same events twice: the second round finds names by their strings' identity, in
        // slots whose entries were given to other names since (their stamps tell).
        let events = names.enumerated().map { k, name in Self.open(name, proc: k % 3 == 0 ? "bash" : "cat", parent: k % 5 == 0 ? "sudo" : "bash") }
        var matched = 0
        for round in 0..<3 {
            for (k, ev) in events.enumerated() {
                let got = BranchProgramTests.reported(set, ev, s)
                let tree = Self.reference(set, ev)
                #expect(got == tree, "round \(round) \(names[k]): \(got) vs \(tree)")
                matched += got.count
                // Right after: the same string again, found by identity, answered by the trace.
                let again = BranchProgramTests.reported(set, ev, s)
                #expect(again == tree, "round \(round) \(names[k]) again: \(again) vs \(tree)")
            }
        }
        #expect(matched > names.count / 2)
        #expect(s.pathMemo.identityHits > UInt64(names.count), "\(s.pathMemo.identityHits) identity hits")
    }

    /// A name string found by identity whose entry was given to another name since (three names
    /// of one set, the third replacing the first): the entry's stamp sends the lookup to the
    /// name's bytes, and the first name is matched as its own again.
    @Test func identityOfAReplacedEntryIsNotUsed() throws {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, _) = loadRules(Self.rulesYAML, options: options)
        func setOf(_ name: String) -> Int {
            Array(name.utf8).withUnsafeBufferPointer { PathCheckMemo.set(of: $0, kind: unsafeBitCast(FDInfo.Kind.file, to: UInt8.self)) }
        }
        // Three names of one set: one below /etc (a shell reading it matches), two elsewhere.
        let x = "/etc/identity-x"
        var others: [String] = []
        for k in 0..<200_000 where others.count < 2 {
            let name = "/tmp/identity-\(k)"
            if setOf(name) == setOf(x) { others.append(name) }
        }
        try #require(others.count == 2)
        let a = Self.open(x, proc: "bash"), b = Self.open(others[0], proc: "bash"), c = Self.open(others[1], proc: "bash")
        let kind = unsafeBitCast(FDInfo.Kind.file, to: UInt8.self)
        let slotOfA = PathCheckMemo.identitySlot(a.fd!.name, kind: kind)
        try #require(slotOfA != PathCheckMemo.identitySlot(b.fd!.name, kind: kind)
                     && slotOfA != PathCheckMemo.identitySlot(c.fd!.name, kind: kind), "identity slots collide; rerun")
        let s = set.makeScratch(hostname: "h")
        for ev in [a, a, b, c, a, a, c, b, a] {
            let got = BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name }
            #expect(got == (ev.fd!.name == x ? ["shell reads etc"] : []), "\(ev.fd!.name): \(got)")
        }
        #expect(s.pathMemo.identityHits >= 2)
    }

    /// Execs (events without an fd) replay the last walk of their type: every input an exec
    /// rule reads changed in turn (name, path, arguments, environment, parent, user), and the
    /// unchanged repeats answered from the trace.
    @Test func execTracesAreExact() {
        var options = RuleLoadOptions()
        options.matching = .all
        let (set, diags) = loadRules("""
        - list: shells
          items: [bash, sh]
        - rule: shell with -c
          desc: d
          condition: evt.type = execve and proc.name in (shells) and proc.cmdline contains " -c "
          output: "%proc.cmdline"
          priority: WARNING
        - rule: preload
          desc: d
          condition: evt.type = execve and proc.env[LD_PRELOAD] != ""
          output: "%proc.env[LD_PRELOAD]"
          priority: WARNING
        - rule: from tmp under sudo
          desc: d
          condition: evt.type = execve and proc.exepath pmatch (/tmp) and proc.pname = sudo and user.uid = 0
          output: "%proc.exepath"
          priority: WARNING
        """, options: options)
        #expect(errors(diags).isEmpty, "\(diags)")
        func exec(name: String = "bash", path: String = "/usr/bin/bash", args: String = "-c true", env: String = "HOME=/root",
                  parent: String = "sshd", uid: Int = 0) -> SyntheticEvent {
            event("""
            type: execve
            res: 0
            process: {pid: 30, name: \(name), exepath: \(path), args: "\(args)", uid: \(uid), env: [\(env)], parents: [{name: \(parent), exepath: /usr/sbin/\(parent)}]}
            """)
        }
        let s = set.makeScratch(hostname: "h")
        let sequence: [(SyntheticEvent, [String])] = [
            (exec(), ["shell with -c"]),
            (exec(), ["shell with -c"]),                                   // replayed
            (exec(args: "-l"), []),                                          // other arguments
            (exec(name: "cat", path: "/usr/bin/cat"), []),                  // other program
            (exec(env: "LD_PRELOAD=/tmp/x.so"), ["shell with -c", "preload"]),  // other environment
            (exec(env: "LD_PRELOAD=/tmp/x.so"), ["shell with -c", "preload"]),  // replayed
            (exec(name: "x", path: "/tmp/x", parent: "sudo"), ["from tmp under sudo"]),
            (exec(name: "x", path: "/tmp/x", parent: "sudo", uid: 1000), []),  // other user
            (exec(name: "x", path: "/tmp/x", parent: "sshd"), []),           // other parent
            (exec(name: "x", path: "/tmp/x", parent: "sudo"), ["from tmp under sudo"]),
            (exec(), ["shell with -c"]),
        ]
        var replays: [UInt64] = []
        for (k, (ev, want)) in sequence.enumerated() {
            let got = BranchProgramTests.reported(set, ev, s).map { set.rules[$0].name }
            let tree = Self.reference(set, ev).map { set.rules[$0].name }
            #expect(got == want && tree == want, "exec \(k): match \(got), trees \(tree), expected \(want)")
            replays.append(s.pathMemo.replays)
        }
        #expect(replays[1] == 1 && replays[5] > replays[4], "replays after each exec: \(replays)")
    }

    /// A trace belongs to its rule set: another set evaluated through the same scratch starts over.
    @Test func anotherRuleSetHasItsOwnTraces() {
        var options = RuleLoadOptions()
        options.matching = .all
        let (a, _) = loadRules(Self.rulesYAML, options: options)
        let (b, _) = loadRules("""
        - rule: cat reads etc
          desc: d
          condition: evt.type = openat and fd.name startswith /etc/ and proc.name = cat
          output: o
          priority: WARNING
        """, options: options)
        let s = a.makeScratch(hostname: "h")
        let ev = Self.open("/etc/group")
        for _ in 0..<3 {
            #expect(BranchProgramTests.reported(a, ev, s).isEmpty)
            #expect(BranchProgramTests.reported(b, ev, s) == [0])
        }
    }
}
