import Synchronization
import VigilCapture
import VigilCore
import VigilRules

/// Plans enforcement on start-up and every reload, loads the exec program's table (when a
/// kernel source is attached) and swaps the pipeline's settings.
package final class EnforcementControl: Sendable {
    /// The settings the pipeline applies.
    package let slot: SwapSlot<EnforcementSettings>
    private struct State {
        var report: [String] = []
        var generation: UInt16 = 1
        var setter: (@Sendable (KernelEnforcementTable) throws -> Void)?
        var lastKernel = KernelEnforcementTable()
    }
    private let state = Mutex(State())

    /// Plans for the initial rules (no kernel table until ``attachKernel(_:rules:config:)``).
    package init(rules: RuleSet, config: Enforcement) {
        let plan = EnforcementPlan(rules: rules, config: config, generation: 1, kernelAvailable: false)
        slot = SwapSlot(plan.settings)
        state.withLock { $0.report = plan.report }
        Self.log(plan, config)
    }

    /// Where each enforcing rule kills, as last planned.
    package var report: [String] { state.withLock { $0.report } }
    /// The table last loaded into the exec program.
    package var kernelTable: KernelEnforcementTable { state.withLock { $0.lastKernel } }

    /// A kernel source is attached: from now on eligible rules are compiled into it.
    package func attachKernel(_ setter: @escaping @Sendable (KernelEnforcementTable) throws -> Void, rules: RuleSet, config: Enforcement) {
        state.withLock { $0.setter = setter }
        apply(rules: rules, config: config)
    }

    /// Plans `rules` under `config`, loads the kernel table and swaps the settings.
    package func apply(rules: RuleSet, config: Enforcement) {
        state.withLock { st in
            st.generation = st.generation &+ 1
            if st.generation == 0 { st.generation = 1 }
            var plan = EnforcementPlan(rules: rules, config: config, generation: st.generation, kernelAvailable: st.setter != nil)
            if let set = st.setter {
                plan.kernel.previousRules = st.lastKernel.rules.map(\.name)
                do {
                    try set(plan.kernel)
                    st.lastKernel = plan.kernel
                } catch {
                    Log.error("enforcement", "cannot load the kernel enforcement table; every rule enforces from user space", [("error", "\(error)")])
                    plan = EnforcementPlan(rules: rules, config: config, generation: st.generation, kernelAvailable: false)
                    _ = try? set(KernelEnforcementTable())
                    st.lastKernel = KernelEnforcementTable()
                }
            }
            slot.store(plan.settings)
            st.report = plan.report
            Self.log(plan, config)
        }
    }

    static func log(_ plan: EnforcementPlan, _ config: Enforcement) {
        if config.mode == .off { return }
        for line in plan.report { Log.info("enforcement", line, [("mode", config.mode.rawValue)]) }
        for s in plan.unmatchedSelectors {
            Log.warning("enforcement", "enforcement.rules item matches no loaded rule", [("item", s.description), ("at", s.origin)])
        }
    }
}
