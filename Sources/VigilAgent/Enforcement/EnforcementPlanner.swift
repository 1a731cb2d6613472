#if canImport(Glibc)
import Glibc
#endif
import VigilABI
import VigilAlerts
import VigilCapture
import VigilRules

/// Decides, for a rule set and an `enforcement` section, which rules enforce, where (the exec
/// program or user space, and why), and builds the kernel table and the pipeline's settings.
package struct EnforcementPlan: Sendable {
    /// One enforcing rule and where its kill happens.
    package struct Entry: Sendable {
        package var rule: String
        package var path: EnforcementPath
    }
    /// Enforcing rules in load order.
    package var entries: [Entry]
    /// What the exec program gets.
    package var kernel: KernelEnforcementTable
    /// What the pipeline applies.
    package var settings: EnforcementSettings
    /// Selector items that name no loaded rule (likely typos).
    package var unmatchedSelectors: [RuleSelector]

    /// Builds the plan. `generation` tags kernel-marked records; `kernelAvailable` false puts
    /// every rule in user space (no BPF source, or `enforcement.kernel: false`).
    package init(rules: RuleSet, config: Enforcement, generation: UInt16, kernelAvailable: Bool = true,
                protectedPIDs: Set<UInt32> = EnforcementSettings.selfAndAncestors()) {
        var entries: [Entry] = []
        var table = KernelEnforcementTable()
        var slots: [String] = []
        var cgroupNeed: KernelExecFilter.Facts?
        // The never-lists first (the kernel refuses by them): exe names as comm holds them (15
        // bytes), exe paths as the kernel reads them (255 bytes); a longer entry is refused by
        // its prefix (over-matching is the safe side).
        for n in Set(config.never).sorted() {
            if n.contains("/") {
                table.strings.append((VIGIL_ENF_K_NEVER_PATH.rawValue, 0, Self.prefix(n, bytes: KernelExecFilter.maxString)))
            } else {
                table.strings.append((VIGIL_ENF_K_NEVER_COMM.rawValue, 0, Self.prefix(n, bytes: KernelExecFilter.maxName)))
            }
        }
        for (k, r) in rules.rules.enumerated() where r.enforcing {
            var path = rules.enforcementPath(rule: k)
            if case .kernel = path {
                if !config.kernel { path = .userSpace(reason: "enforcement.kernel is false") }
                else if !kernelAvailable { path = .userSpace(reason: "no kernel capture (events from a file)") }
                else if slots.count >= Int(VIGIL_ENF_MAX_RULES) { path = .userSpace(reason: "more than \(VIGIL_ENF_MAX_RULES) kernel rules (the exec program's limit)") }
            }
            if case .kernel(let f) = path {
                let pfx = f.exePrefixes.count + f.exePrefixesNot.count
                let strings = f.exePaths.count + f.exePathsNot.count + f.names.count + f.namesNot.count + f.argv0.count + f.argv0Not.count
                if table.prefixes.count + pfx > Int(VIGIL_ENF_MAX_PREFIXES) {
                    path = .userSpace(reason: "more than \(VIGIL_ENF_MAX_PREFIXES) exe path prefixes across kernel rules (the exec program's limit)")
                } else if table.strings.count + strings > Int(VIGIL_ENF_MAX_STRINGS) {
                    path = .userSpace(reason: "more than \(VIGIL_ENF_MAX_STRINGS) strings across kernel rules and never-lists (the exec program's limit)")
                } else {
                    let slot = UInt32(slots.count)
                    slots.append(r.name)
                    var sets: UInt32 = 0
                    func add(_ kind: vigil_enf_kind, _ values: [String]) {
                        guard !values.isEmpty else { return }
                        sets |= 1 << kind.rawValue
                        for v in values { table.strings.append((kind.rawValue, slot, v)) }
                    }
                    add(VIGIL_ENF_K_PATH, f.exePaths); add(VIGIL_ENF_K_PATH_NOT, f.exePathsNot)
                    add(VIGIL_ENF_K_COMM, f.names); add(VIGIL_ENF_K_COMM_NOT, f.namesNot)
                    add(VIGIL_ENF_K_ARGV0, f.argv0); add(VIGIL_ENF_K_ARGV0_NOT, f.argv0Not)
                    if !f.exePrefixes.isEmpty { sets |= 1 << VIGIL_ENF_K_PREFIX.rawValue }
                    if !f.exePrefixesNot.isEmpty { sets |= 1 << VIGIL_ENF_K_PREFIX_NOT.rawValue }
                    for p in f.exePrefixes { table.prefixes.append((slot, false, p)) }
                    for p in f.exePrefixesNot { table.prefixes.append((slot, true, p)) }
                    table.rules.append(.init(name: r.name, require: f.require.rawValue, forbid: f.forbid.rawValue, sets: sets))
                    if !f.require.union(f.forbid).isDisjoint(with: [.container, .host]) {
                        let need = f.require.intersection([.memfd, .upperLayer])
                        cgroupNeed = cgroupNeed.map { $0.intersection(need) } ?? need
                        table.flags |= KernelEnforcementTable.cgroupFlag
                    }
                }
            }
            entries.append(Entry(rule: r.name, path: path))
        }
        switch config.mode {
        case .off: table.mode = 0
        case .dryRun: table.mode = 1
        case .enforce: table.mode = 2
        }
        if table.rules.isEmpty { table.mode = 0 }
        table.fastWakeup = config.mode != .off && entries.contains { if case .userSpace = $0.path { return true }; return false }
        table.generation = UInt32(generation)
        table.setRateLimit(rate: config.rateLimit.rate, burst: config.rateLimit.burst)
        table.cgroupNeed = cgroupNeed?.rawValue ?? 0
        table.protectedTGIDs = protectedPIDs.filter { $0 > 1 }.sorted().prefix(8).map { $0 }
        self.entries = entries
        self.kernel = table
        self.settings = EnforcementSettings(config, kernelSlots: slots, kernelGeneration: generation, protectedPIDs: protectedPIDs)
        self.unmatchedSelectors = RuleSelector.unmatched(config.rules, rules: rules.rules.map { ($0.name, $0.tags) })
    }

    /// The first `bytes` bytes of `s` (cut on a character boundary).
    static func prefix(_ s: String, bytes: Int) -> String {
        var out = ""
        var n = 0
        for ch in s {
            let w = String(ch).utf8.count
            if n + w > bytes { break }
            out.append(ch); n += w
        }
        return out
    }

    /// One line per enforcing rule: `rule 'X': kernel (exe on overlay upper layer, in a container)`
    /// or `rule 'Y': user space (field fd.name is not known in the kernel at exec)`.
    package var report: [String] {
        entries.map { e in
            switch e.path {
            case .kernel(let f): "rule '\(e.rule)': kernel at exec (\(f.summary))"
            case .userSpace(let why): "rule '\(e.rule)': user space (\(why))"
            }
        }
    }
}
