import Testing
import VigilDecode
@testable import VigilRules

@Suite struct FalcoCompatibilityTests {
    static let dir = falcoRulesDir()

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func stableRulesCompileFully() throws {
        let (set, diags) = try RuleSet.load(paths: [Self.dir! + "/falco_rules.yaml"])
        #expect(errors(diags).isEmpty, "\(diags)")
        #expect(set.summary.rules == 25)
        #expect(set.summary.compiled == 25, "skipped: \(set.summary.skipped.map { "\($0.name): \($0.reason)" })")
        #expect(set.summary.skipped.isEmpty)
        // No field the stable rules use is unknown or unsupported.
        var loader = RuleLoader()
        loader.load(paths: [Self.dir! + "/falco_rules.yaml"])
        let used = FieldUsage.collect(loader.source)
        #expect(used.count == 65, "fields used: \(used.keys.sorted())")
        for (name, _) in used {
            let def = FieldCatalog.lookup(name) ?? FieldCatalog.lookup(FieldUsage.baseName(name))
            #expect(def != nil, "unknown field \(name)")
            #expect(def?.0.unsupported == nil, "unsupported field \(name)")
        }
        #expect(set.requiredEventTypes.contains(EventTypeName.execve))
    }

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"),
          arguments: ["falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"])
    func otherRulesLoadWithReasons(file: String) throws {
        // Loaded after the stable file, as Falco users do.
        let (set, diags) = try RuleSet.load(paths: [Self.dir! + "/falco_rules.yaml", Self.dir! + "/" + file])
        #expect(errors(diags).isEmpty, "\(errors(diags))")
        #expect(set.summary.compiled + set.summary.skipped.count == set.summary.rules)
        for s in set.summary.skipped {
            #expect(!s.reason.isEmpty)
            #expect(diags.contains { $0.item == "rule '\(s.name)'" && $0.message.contains(s.reason) })
        }
    }
}

/// Issue 12: every rule of Falco's stable, incubating and sandbox files compiles, except those
/// that need `evt.buffer` (I/O buffers are not captured).
@Suite struct FalcoAllRulesCompileTests {
    static let dir = falcoRulesDir()

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func allThreeFilesCompileButEvtBufferRules() throws {
        let files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"].map { Self.dir! + "/" + $0 }
        let (set, diags) = try RuleSet.load(paths: files)
        #expect(errors(diags).isEmpty, "\(errors(diags))")
        for s in set.summary.skipped {
            #expect(s.reason.contains("evt.buffer"), "\(s.name) skipped: \(s.reason)")
        }
        #expect(set.summary.skipped.count <= 1)
        #expect(set.summary.compiled >= 92)
        // The rules that use the new fields are among them.
        for name in ["Program run with disallowed http proxy env", "Potential Local Privilege Escalation via Environment Variables Misuse",
                     "Launch Sensitive Mount Container"] {
            #expect(set.rules.contains { $0.name == name }, "\(name) did not compile")
        }
    }
}

extension FalcoCompatibilityTests {
    /// The three files together: every rule compiles but the one needing `evt.buffer` (I/O buffers
    /// are not captured; see FalcoAllRulesCompileTests); `fd.types` and `fd.*ip.name` rules compile.
    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func allFalcoFilesCompileButForThreeFields() throws {
        let files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"].map { Self.dir! + "/" + $0 }
        let (set, diags) = try RuleSet.load(paths: files)
        #expect(errors(diags).isEmpty, "\(errors(diags))")
        #expect(set.summary.compiled >= 89, "compiled \(set.summary.compiled) of \(set.summary.rules)")
        #expect(set.summary.skipped.count <= 4)
        for s in set.summary.skipped {
            #expect(["'proc.env'", "'container.mount", "'evt.buffer'"].contains { s.reason.contains($0) }, "\(s.name): \(s.reason)")
        }
        #expect(set.summary.skipped.contains { $0.name == "Java Process Class File Download" && $0.reason.contains("I/O buffers are not captured") })
        // The rules on fd.*ip.name compile (Falco's DNS-manager semantics).
        let names = Set(set.rules.map(\.name))
        #expect(names.contains("Contact K8S API Server From Container"))
        #expect(names.contains("Detect outbound connections to common miner pool ports"))   // fd.sip.name in (miner_domains)
    }
}

enum EventTypeName {
    static let execve = EventType(name: "execve")!
}

/// The stable Falco rules behave on Vigil's events as they do on Falco's.
@Suite struct FalcoBehaviourTests {
    static let dir = falcoRulesDir()

    @Test(.enabled(if: dir != nil, "Falco rules not found (set VIGIL_FALCO_RULES_DIR or place them at <repo>/../shared/falco-rules)"))
    func stableRulesFireAndStayQuiet() throws {
        var options = RuleLoadOptions()
        options.matching = .all
        let (rules, _) = try RuleSet.load(paths: [Self.dir! + "/falco_rules.yaml"], options: options)
        let yaml = """
        tests:
        - name: kubectl exec shell with a terminal
          event:
            type: execve
            process: {exepath: /bin/bash, tty: 34816, parents: [{exepath: /usr/bin/runc, name: runc}]}
            container: {id: 3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8, name: web, image: 'nginx:1.25'}
          expect: {fire: [Terminal shell in container]}
        - name: entrypoint shell without a terminal
          event:
            type: execve
            process: {exepath: /bin/sh, args: [-c, /start.sh], tty: 0, parents: [{exepath: /usr/bin/runc, name: runc}]}
            container: {id: 3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8, name: web, image: 'nginx:1.25'}
          expect: {not_fire: [Terminal shell in container]}
        - name: cat reads shadow
          event:
            type: openat
            res: 3
            args: {dirfd: -100, name: /etc/shadow, flags: O_RDONLY}
            process: {exepath: /usr/bin/cat, args: [/etc/shadow], parents: [{exepath: /bin/bash}]}
          expect: {fire: [Read sensitive file untrusted]}
        - name: cat reads hosts
          event:
            type: openat
            res: 3
            args: {dirfd: -100, name: /etc/hosts, flags: O_RDONLY}
            process: {exepath: /usr/bin/cat, args: [/etc/hosts], parents: [{exepath: /bin/bash}]}
          expect: {not_fire: [Read sensitive file untrusted]}
        - name: ptrace attach
          event:
            type: ptrace
            args: {request: PTRACE_ATTACH, pid: 1}
            process: {exepath: /usr/bin/gdb, parents: [{exepath: /bin/bash}]}
          expect: {fire: [PTRACE attached to process]}
        - name: symlink to shadow
          event:
            type: symlinkat
            args: {target: /etc/shadow, linkdirfd: -100, linkpath: /tmp/s}
            process: {exepath: /usr/bin/ln, parents: [{exepath: /bin/bash}]}
          expect: {fire: [Create Symlink Over Sensitive Files]}
        - name: grep for passwords
          event:
            type: execve
            process: {exepath: /usr/bin/grep, args: [-r, "BEGIN RSA PRIVATE", /home], parents: [{exepath: /bin/bash}]}
          expect: {fire: [Search Private Keys or Passwords]}
        - name: fileless exec
          event:
            type: execve
            process: {exepath: memfd:payload, is_exe_from_memfd: true, parents: [{exepath: /usr/bin/python3}]}
            container: {id: 3f9a2b7c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8, name: web, image: 'nginx:1.25'}
          expect: {fire: [Fileless execution via memfd_create]}
        """
        let (cases, diags) = RuleTestRunner.load(text: Array(yaml.utf8), file: "falco-behaviour.yaml")
        #expect(errors(diags).isEmpty, "\(diags)")
        let s = rules.makeScratch(hostname: "t")
        for c in cases {
            let r = RuleTestRunner.run(c, rules: rules, scratch: s)
            #expect(r.passed, "\(c.name): missing \(r.missing), unexpected \(r.unexpected), unknown \(r.unknownRules), fired \(r.fired)")
        }
    }
}
