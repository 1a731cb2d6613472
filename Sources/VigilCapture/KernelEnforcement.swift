#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import Synchronization
import VigilABI

/// What the exec program enforces: the contents of its `enforce_*` maps (see `vigil_abi.h`).
package struct KernelEnforcementTable: Sendable, Equatable {
    /// 0 off, 1 dry-run (records marked, nothing killed), 2 enforce (SIGKILL at exec).
    package var mode: UInt32 = 0
    /// Written into marked records (low 16 bits) so user space maps slots to rules of the right reload.
    package var generation: UInt32 = 0
    /// `VIGIL_ENF_S_*` flags (``cgroupFlag``: some rule tests container or host).
    package var flags: UInt32 = 0
    /// Facts every rule testing container or host also requires (the cgroup walk runs only
    /// for execs that have them, e.g. only for executables on an upper layer).
    package var cgroupNeed: UInt32 = 0
    /// The rate limit per rule slot, as GCRA: one kill every `ratePeriodNs` (0: no limit),
    /// bursts of `rateTauNs / ratePeriodNs + 1`. See ``setRateLimit(rate:burst:)``.
    package var ratePeriodNs: UInt64 = 0
    package var rateTauNs: UInt64 = 0
    /// Never killed (Vigil and its parents; PID 1 and kernel threads always are).
    package var protectedTGIDs: [UInt32] = []
    /// One entry per rule slot: facts required / forbidden and the string sets it tests.
    package struct Rule: Sendable, Equatable {
        /// The rule's name: a reload keeps the rate-limit bucket of a rule that keeps its name.
        package var name: String
        package var require: UInt32, forbid: UInt32, sets: UInt32
        package init(name: String = "", require: UInt32, forbid: UInt32, sets: UInt32) {
            self.name = name; self.require = require; self.forbid = forbid; self.sets = sets
        }
    }
    package var rules: [Rule] = []
    /// (VIGIL_ENF_K_* kind, rule slot or 0, string) members of the string sets and never-lists.
    package var strings: [(kind: UInt32, slot: UInt32, value: String)] = []
    /// Exe path prefixes per slot.
    package var prefixes: [(slot: UInt32, negate: Bool, value: String)] = []
    /// Rules enforce from user space: the reader polls the ring every millisecond (the kill waits
    /// for the record to reach user space), instead of `capture.poll_interval_ms`.
    package var fastWakeup = false
    /// The slot names of the table loaded before this one (not compared by `==`).
    package var previousRules: [String] = []

    package init() {}

    /// `VIGIL_ENF_S_CGROUP`.
    package static let cgroupFlag = UInt32(VIGIL_ENF_S_CGROUP)

    /// Sets the GCRA numbers for `rate` kills per second and bursts of `burst` (the token bucket
    /// of `enforcement.rate_limit`: a full bucket of `burst` tokens, refilled at `rate`). A rate
    /// of 0 refills never (one period of ~3 years).
    package mutating func setRateLimit(rate: Double, burst: Double) {
        let period = rate > 0 ? min(1e17, max(1, 1e9 / rate)) : 1e17
        ratePeriodNs = UInt64(period)
        let extra = max(0, burst.rounded(.down) - 1)
        rateTauNs = UInt64(min(Double(UInt64(1) << 62), extra * period))
    }

    package static func == (a: Self, b: Self) -> Bool {
        a.mode == b.mode && a.fastWakeup == b.fastWakeup && a.generation == b.generation && a.flags == b.flags && a.cgroupNeed == b.cgroupNeed && a.ratePeriodNs == b.ratePeriodNs && a.rateTauNs == b.rateTauNs && a.protectedTGIDs == b.protectedTGIDs
            && a.rules == b.rules && a.strings.map { "\($0.kind)/\($0.slot)/\($0.value)" } == b.strings.map { "\($0.kind)/\($0.slot)/\($0.value)" }
            && a.prefixes.map { "\($0.slot)/\($0.negate)/\($0.value)" } == b.prefixes.map { "\($0.slot)/\($0.negate)/\($0.value)" }
    }
}

extension BPFCapture {
    /// Replaces what the exec program enforces. The state entry is switched off first and
    /// written last, so the kernel never reads a half-written table (user space enforces the
    /// same rules meanwhile). A rule of ``KernelEnforcementTable/previousRules`` that keeps its
    /// name keeps its rate-limit bucket, whatever its new slot.
    package func setEnforcement(_ t: KernelEnforcementTable) throws {
        let previous = t.previousRules
        guard let obj = object else { throw CaptureError.mapFailed(map: "enforce_state", errno: EBADF) }
        func fd(_ name: String) throws -> Int32 {
            guard let m = bpf_object__find_map_by_name(obj, name) else { throw CaptureError.mapFailed(map: name, errno: ENOENT) }
            let f = bpf_map__fd(m)
            if f < 0 { throw CaptureError.mapFailed(map: name, errno: -f) }
            return f
        }
        let stateFD = try fd("enforce_state"), rulesFD = try fd("enforce_rules")
        let stringsFD = try fd("enforce_strings"), prefixesFD = try fd("enforce_prefixes"), bucketsFD = try fd("enforce_buckets")
        guard t.rules.count <= Int(VIGIL_ENF_MAX_RULES), t.prefixes.count <= Int(VIGIL_ENF_MAX_PREFIXES),
              t.strings.count <= Int(VIGIL_ENF_MAX_STRINGS) else {
            throw CaptureError.mapFailed(map: "enforce_rules", errno: E2BIG)
        }
        func check(_ r: Int32, _ map: String) throws { if r != 0 { throw CaptureError.mapFailed(map: map, errno: -r) } }
        var zero: UInt32 = 0
        var off = vigil_enforce_state()
        try check(bpf_map_update_elem(stateFD, &zero, &off, UInt64(BPF_ANY)), "enforce_state")
        // Clear the string sets.
        var key = vigil_enforce_key(), next = vigil_enforce_key()
        var keys: [vigil_enforce_key] = []
        var r = bpf_map_get_next_key(stringsFD, nil, &next)
        while r == 0 {
            keys.append(next); key = next
            r = bpf_map_get_next_key(stringsFD, &key, &next)
        }
        for var k in keys { _ = bpf_map_delete_elem(stringsFD, &k) }
        // Rate-limit buckets by rule name, then the new slots' (a new rule starts full).
        var kept: [String: vigil_enforce_bucket] = [:]
        for (i, name) in previous.enumerated() where i < Int(VIGIL_ENF_MAX_RULES) && !name.isEmpty {
            var k = UInt32(i)
            var b = vigil_enforce_bucket()
            if bpf_map_lookup_elem(bucketsFD, &k, &b) == 0 { kept[name] = b }
        }
        for i in 0..<Int(VIGIL_ENF_MAX_RULES) {
            var k = UInt32(i)
            var b = i < t.rules.count ? kept[t.rules[i].name] ?? vigil_enforce_bucket() : vigil_enforce_bucket()
            try check(bpf_map_update_elem(bucketsFD, &k, &b, UInt64(BPF_ANY)), "enforce_buckets")
        }
        for (i, rule) in t.rules.enumerated() {
            var k = UInt32(i)
            var v = vigil_enforce_rule(require: rule.require, forbid: rule.forbid, sets: rule.sets, reserved: 0)
            try check(bpf_map_update_elem(rulesFD, &k, &v, UInt64(BPF_ANY)), "enforce_rules")
        }
        for s in t.strings {
            var k = vigil_enforce_key()
            k.kind = s.kind; k.slot = s.slot
            Self.fill(&k.s, s.value)
            var one: UInt8 = 1
            try check(bpf_map_update_elem(stringsFD, &k, &one, UInt64(BPF_ANY)), "enforce_strings")
        }
        for (i, p) in t.prefixes.enumerated() {
            var k = UInt32(i)
            var v = vigil_enforce_prefix()
            v.slot = p.slot; v.negate = p.negate ? 1 : 0
            v.len = UInt32(min(p.value.utf8.count, Int(VIGIL_ENF_STR) - 1))
            Self.fill(&v.s, p.value)
            withUnsafeMutableBytes(of: &v.mask) { raw in for i in 0..<raw.count { raw[i] = i < Int(v.len) ? 0xff : 0 } }
            try check(bpf_map_update_elem(prefixesFD, &k, &v, UInt64(BPF_ANY)), "enforce_prefixes")
        }
        var st = vigil_enforce_state()
        st.mode = t.mode; st.nrules = UInt32(t.rules.count); st.nprefixes = UInt32(t.prefixes.count)
        st.generation = t.generation; st.flags = t.flags; st.cgroup_need = t.cgroupNeed
        st.period_ns = t.ratePeriodNs; st.tau_ns = t.rateTauNs
        withUnsafeMutableBytes(of: &st.protected_tgids) { raw in
            let p = raw.bindMemory(to: UInt32.self)
            for (i, tgid) in t.protectedTGIDs.prefix(p.count).enumerated() { p[i] = tgid }
        }
        try check(bpf_map_update_elem(stateFD, &zero, &st, UInt64(BPF_ANY)), "enforce_state")
        control.pollCap.store(t.fastWakeup ? 1 : Int32.max, ordering: .relaxed)
    }

    /// Copies `s` (at most VIGIL_ENF_STR - 1 bytes) into a zeroed fixed C array.
    static func fill<T>(_ dst: inout T, _ s: String) {
        withUnsafeMutableBytes(of: &dst) { raw in
            for i in 0..<raw.count { raw[i] = 0 }
            for (i, b) in s.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
    }
}
