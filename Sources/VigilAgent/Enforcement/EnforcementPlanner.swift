#if canImport(Glibc)
import Glibc
#endif
import VigilABI
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
        for (k, r) in rules.rules.enumerated() where r.enforcing {
            var path = rules.enforcementPath(rule: k)
            if case .kernel = path {
                if !config.kernel { path = .userSpace(reason: "enforcement.kernel is false") }
                else if !kernelAvailable { path = .userSpace(reason: "no kernel capture (events from a file)") }
                else if slots.count >= Int(VIGIL_ENF_MAX_RULES) { path = .userSpace(reason: "more than \(VIGIL_ENF_MAX_RULES) kernel rules") }
            }
            if case .kernel(let f) = path {
                let pfx = f.exePrefixes.count + f.exePrefixesNot.count
                if table.prefixes.count + pfx > Int(VIGIL_ENF_MAX_PREFIXES) {
                    path = .userSpace(reason: "more than \(VIGIL_ENF_MAX_PREFIXES) exe path prefixes across kernel rules")
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
                    table.rules.append(.init(require: f.require.rawValue, forbid: f.forbid.rawValue, sets: sets))
                }
            }
            entries.append(Entry(rule: r.name, path: path))
        }
        let never = Set(config.never)
        for n in never.sorted() {
            guard n.utf8.count < Int(VIGIL_ENF_STR) else { continue }
            if n.contains("/") { table.strings.append((VIGIL_ENF_K_NEVER_PATH.rawValue, 0, n)) }
            else {
                // comm holds at most 15 bytes: a longer name is refused by its first 15 (over-matching is the safe side).
                table.strings.append((VIGIL_ENF_K_NEVER_COMM.rawValue, 0, String(decoding: n.utf8.prefix(KernelExecFilter.maxName), as: UTF8.self)))
            }
        }
        switch config.mode {
        case .off: table.mode = 0
        case .dryRun: table.mode = 1
        case .enforce: table.mode = 2
        }
        if table.rules.isEmpty { table.mode = 0 }
        table.fastWakeup = config.mode != .off && entries.contains { if case .userSpace = $0.path { return true }; return false }
        table.generation = UInt32(generation)
        table.hostPidNamespace = Self.hostPidNamespace()
        table.protectedTGIDs = protectedPIDs.filter { $0 > 1 }.sorted().prefix(8).map { $0 }
        self.entries = entries
        self.kernel = table
        self.settings = EnforcementSettings(config, kernelSlots: slots, kernelGeneration: generation, protectedPIDs: protectedPIDs)
        self.unmatchedSelectors = RuleSelector.unmatched(config.rules, rules: rules.rules.map { ($0.name, $0.tags) })
    }

    /// The inode of PID 1's pid namespace (`/proc/1/ns/pid` -> `pid:[N]`), 0 when unreadable.
    static func hostPidNamespace() -> UInt32 {
        var buf = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/1/ns/pid", &buf, 63)
        guard n > 0 else { return 0 }
        let s = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let open = s.firstIndex(of: "["), let close = s.firstIndex(of: "]") else { return 0 }
        return UInt32(s[s.index(after: open)..<close]) ?? 0
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
