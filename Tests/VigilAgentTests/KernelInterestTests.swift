import Testing
@testable import VigilAgent
import VigilCore
import VigilDecode
import VigilRules

/// What the agent asks the kernel for: the state's types, the rules' types, and which failed
/// calls are dropped (by the analysis, or for every type under `drop_failed_exit`).
@Suite struct KernelInterestTests {
    static func rules(_ yaml: String) throws -> RuleSet {
        let dir = makeTempDir("vigil-interest")
        defer { removeTree(dir) }
        writeFile(dir + "/r.yaml", yaml)
        return try RuleSet.load(paths: [dir + "/r.yaml"]).0
    }

    static let yaml = """
        - rule: Success-only open
          desc: d
          condition: evt.type in (open, openat) and evt.rawres >= 0 and fd.name = /etc/shadow
          output: o
          priority: WARNING
        - rule: Failed chmod
          desc: d
          condition: evt.type = chmod and evt.res = EPERM
          output: o
          priority: WARNING
        - rule: Compat kill
          desc: d
          condition: evt.type = kill and evt.is_compat = true
          output: o
          priority: WARNING
        """

    @Test func failuresAreDroppedOnlyWhereNoRuleAndNoStateUsesThem() throws {
        let set = try Self.rules(Self.yaml)
        let i = RuleLoading.interest(set)
        let name = { (n: String) in EventType(name: n)! }
        #expect(i.types.isSuperset(of: RuleLoading.stateEventTypes))
        #expect(i.dropFailed.contains(name("openat")) && i.dropFailedCompat.contains(name("openat")))
        #expect(!i.dropFailed.contains(name("chmod")) && !i.dropFailedCompat.contains(name("chmod")))
        #expect(i.dropFailed.contains(name("kill")) && !i.dropFailedCompat.contains(name("kill")))
        // The state's needs win over the rules: close, connect and the datagram calls keep their failures.
        #expect(RuleLoading.stateFailureTypes.map(\.name).sorted() == ["close", "connect", "recvfrom", "recvmsg", "sendmsg", "sendto"])
        #expect(i.dropFailed.isDisjoint(with: RuleLoading.stateFailureTypes) && i.dropFailedCompat.isDisjoint(with: RuleLoading.stateFailureTypes))
        // Only types that are sent, and that can fail as a record.
        #expect(i.dropFailed.isSubset(of: i.types.intersection(KernelInterest.failableTypes)))
        #expect(!i.dropFailed.contains(.procexit) && !i.dropFailed.contains(.environmentCapture))
    }

    @Test func dropFailedExitDropsEveryFailureTheStateDoesNotNeedAndNamesTheRulesThatLoseThem() throws {
        let set = try Self.rules(Self.yaml)
        let i = RuleLoading.interest(set, dropFailedExit: true)
        let expected = i.types.intersection(KernelInterest.failableTypes).subtracting(RuleLoading.stateFailureTypes)
        #expect(i.dropFailed == expected && i.dropFailedCompat == expected)
        #expect(i.dropFailed.contains(EventType(name: "chmod")!))
        let lost = RuleLoading.droppedFailureRules(set)
        #expect(lost.map(\.rule) == ["Failed chmod", "Compat kill"])
        #expect(lost.first { $0.rule == "Failed chmod" }?.types == ["chmod"])
        #expect(lost.first { $0.rule == "Compat kill" }?.types == ["kill(32-bit)"])
    }

    /// The reloader applies `drop_failed_exit` as the agent started with it (a restart-only key).
    @Test func theReloaderUsesTheStartUpSetting() throws {
        let fx = Fixture(rules: Self.yaml, config: "engine:\n  modern_ebpf:\n    drop_failed_exit: true\n")
        defer { fx.cleanup() }
        let loaded = try fx.options.loadConfig()
        #expect(loaded.config.engine.modernEBPF.dropFailedExit)
        let set = try RuleLoading.load(loaded).get()
        let reloader = Reloader(options: fx.options, current: loaded, slot: SwapSlot(set), metrics: AgentMetrics(),
                                setInterest: { _ in }, pipelineGeneration: { UInt64.max })
        #expect(reloader.dropFailedExit)
        #expect(reloader.kernelInterest(set) == RuleLoading.interest(set, dropFailedExit: true))
        // A reload that turns it off takes effect at the next start only.
        writeFile(fx.dir + "/vigil.yaml", "rules_files: [rules.yaml]\nwebserver: {enabled: false}\n")
        #expect(reloader.reload(reason: "test") == .reloaded(rules: 3))
        #expect(reloader.kernelInterest(set) == RuleLoading.interest(set, dropFailedExit: true))
    }
}
