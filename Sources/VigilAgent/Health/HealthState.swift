import Synchronization

/// What `/readyz` reports: the agent is ready once its programs are attached
/// (or its event source is open), a rule set is loaded and the first ring-buffer
/// poll has completed.
package final class HealthState: Sendable {
    private let attached = Atomic<Bool>(false)
    private let rulesLoaded = Atomic<Bool>(false)
    private let firstPoll = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)

    package init() {}

    /// Marks the programs attached (or the event source open).
    package func setAttached(_ v: Bool) { attached.store(v, ordering: .releasing) }
    /// Marks a rule set loaded.
    package func setRulesLoaded(_ v: Bool) { rulesLoaded.store(v, ordering: .releasing) }
    /// Marks the first ring-buffer poll done.
    package func setFirstPollDone() { firstPoll.store(true, ordering: .releasing) }
    /// Marks the agent as shutting down (not ready any more).
    package func setStopping() { stopping.store(true, ordering: .releasing) }

    package var isAttached: Bool { attached.load(ordering: .acquiring) }
    package var isRulesLoaded: Bool { rulesLoaded.load(ordering: .acquiring) }
    package var isFirstPollDone: Bool { firstPoll.load(ordering: .acquiring) }
    package var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Ready for traffic: everything up and not shutting down.
    package var isReady: Bool { isAttached && isRulesLoaded && isFirstPollDone && !isStopping }

    /// What is still missing, for the `/readyz` body.
    package var missing: [String] {
        var m: [String] = []
        if !isAttached { m.append("programs not attached") }
        if !isRulesLoaded { m.append("rules not loaded") }
        if !isFirstPollDone { m.append("first ring-buffer poll not done") }
        if isStopping { m.append("stopping") }
        return m
    }
}
