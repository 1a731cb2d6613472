#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import VigilAgent
import VigilCore
import VigilDecode
import VigilRules

/// Reload isolation (issue 11): a reload compiles on its own thread within budgets; a
/// hostile or too costly rule set is rejected, counted and reported, and the old set stays.
@Suite struct ReloadIsolationTests {
    func makeReloader(_ fx: Fixture, metrics: AgentMetrics) throws -> (Reloader, SwapSlot<RuleSet>) {
        let loaded = try fx.options.loadConfig()
        let slot = SwapSlot(try RuleLoading.load(loaded).get())
        let stop = StopBox()
        let reloader = Reloader(options: fx.options, current: loaded, slot: slot, metrics: metrics,
                                setInterest: { _ in }, pipelineGeneration: { UInt64.max },
                                isStopping: { stop.flag.load(ordering: .acquiring) })
        return (reloader, slot)
    }

    final class StopBox: Sendable { let flag = Atomic<Bool>(false) }

    static let hostileFiles: [(String, String)] = {
        func rule(_ c: String, _ extra: String = "") -> String {
            extra + "- rule: Hostile\n  desc: d\n  condition: \(c)\n  output: o\n  priority: WARNING\n"
        }
        var bomb = "- macro: m0\n  condition: proc.name = x\n"
        for i in 1..<64 { bomb += "- macro: m\(i)\n  condition: (m\(i - 1) or m\(i - 1))\n" }
        var lists = "- list: l0\n  items: [a, b]\n"
        for i in 1..<64 { lists += "- list: l\(i)\n  items: [l\(i - 1), l\(i - 1)]\n" }
        return [
            ("20,000 nested parentheses", rule("evt.type = openat and " + String(repeating: "(", count: 20_000) + "proc.name = x" + String(repeating: ")", count: 20_000))),
            ("64 doubling macros", rule("evt.type = openat and m63", bomb)),
            ("64 doubling lists", rule("evt.type = openat and proc.name in (l63)", lists)),
            ("YAML nested 50,000 deep", String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n"),
        ]
    }()

    @Test func hostileRuleFilesAreRejectedAndReported() throws {
        let fx = Fixture(rules: shadowRule)
        defer { fx.cleanup() }
        let metrics = AgentMetrics()
        let (reloader, slot) = try makeReloader(fx, metrics: metrics)
        let reported = Mutex<[Reloader.Failure]>([])
        reloader.setFailureHandler { f in reported.withLock { $0.append(f) } }
        let before = slot.load()
        for (k, (what, text)) in Self.hostileFiles.enumerated() {
            writeFile(fx.dir + "/rules.yaml", shadowRule + "\n" + text)
            guard case .rejected(let why) = reloader.reload(reason: "test \(k)") else { Issue.record("\(what) accepted"); continue }
            #expect(why.contains("rules.yaml:"), "\(what): \(why)")
            #expect(metrics.reloadFailures.value == UInt64(k + 1))
            #expect(slot.load() === before, "\(what) replaced the running set")
        }
        let r = reported.withLock { $0 }
        #expect(r.count == Self.hostileFiles.count)
        #expect(r.first?.reason == "test 0" && r.first?.errors.first?.contains("condition nested deeper than 1000") == true)
        // A good file afterwards reloads.
        writeFile(fx.dir + "/rules.yaml", shadowRule)
        #expect(reloader.reload(reason: "fixed") == .reloaded(rules: 1))
    }

    /// Past its time budget a compilation is abandoned and the reload fails at once.
    @Test func timeBudget() throws {
        let fx = Fixture(rules: shadowRule, config: "rules_reload: {timeout_ms: 1}\n")
        defer { fx.cleanup() }
        let metrics = AgentMetrics()
        let (reloader, slot) = try makeReloader(fx, metrics: metrics)
        let before = slot.load()
        // 200,000 list items take far longer than 1 ms to load and compile.
        let items = (0..<200_000).map { "p\($0)" }.joined(separator: ", ")
        writeFile(fx.dir + "/rules.yaml", shadowRule + "\n- list: big\n  items: [\(items)]\n")
        let outcome = reloader.reload(reason: "slow")
        guard case .rejected(let why) = outcome else { Issue.record("accepted: \(outcome)"); return }
        #expect(why.contains("longer than the reload time budget (rules_reload.timeout_ms = 1)"), "\(why)")
        #expect(metrics.reloadFailures.value == 1)
        #expect(slot.load() === before)
        // The abandoned compilation finishes in the background; then reloads work again.
        #expect(waitFor(120) { reloader.compilationsInFlight == 0 })
    }

    /// Past its memory budget a compilation is abandoned.
    @Test func memoryBudget() throws {
        let fx = Fixture(rules: shadowRule, config: "rules_reload: {max_memory: 1Mi}\n")
        defer { fx.cleanup() }
        let metrics = AgentMetrics()
        let (reloader, _) = try makeReloader(fx, metrics: metrics)
        #expect(waitFor(120) { reloader.compilationsInFlight == 0 })
        // 500,000 list items need far more than 1 MiB.
        let items = (0..<500_000).map { "item-number-\($0)" }.joined(separator: ", ")
        writeFile(fx.dir + "/rules.yaml", shadowRule + "\n- list: big\n  items: [\(items)]\n")
        let outcome = reloader.reload(reason: "big")
        guard case .rejected(let why) = outcome else { Issue.record("accepted: \(outcome)"); return }
        #expect(why.contains("more than the reload memory budget (rules_reload.max_memory = 1 MiB)") || why.contains("still finishing"), "\(why)")
        #expect(metrics.reloadFailures.value == 1)
        #expect(waitFor(120) { reloader.compilationsInFlight == 0 })
    }

    @Test func budgetsAreConfigurable() throws {
        let c = try ConfigLoader.load(text: "rules_reload:\n  timeout_ms: 500\n  max_memory: 64Mi\n", origin: "r.yaml")
        #expect(c.rulesReload.timeoutMs == 500 && c.rulesReload.maxMemory == 64 << 20)
        #expect(VigilConfig().rulesReload == VigilConfig.RulesReload())
        #expect(throws: ConfigError.self) { _ = try ConfigLoader.load(text: "rules_reload: {timeout_ms: 0}\n", origin: "r.yaml") }
    }
}
