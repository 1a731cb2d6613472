#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilCore

/// The addresses of the host names that rules compare `fd.*ip.name` with, resolved in the
/// background: Falco's DNS manager, the mechanism behind `fd.sip.name = "example.com"`.
///
/// Falco does not see DNS answers either: it resolves the names written in conditions with the
/// system resolver (`getaddrinfo`, so `/etc/hosts` and the cluster's DNS apply), refreshes them
/// (every 10 s, backing off to 320 s while the answer does not change) and compares an fd's
/// address with the addresses of the name. The same cache names an address in outputs
/// (`%fd.sip.name`): the first cached name that resolves to it, else `<NA>`, since only
/// names some loaded rule mentions are ever resolved.
///
/// Bounded: at most ``maxNames`` names and ``maxAddressesPerName`` addresses each. Names are
/// registered while a rule set compiles and released when the set is freed; only names an
/// enabled rule can reach are resolved (Falco's sandbox rules name miner pools in rules that are
/// off by default, and a disabled rule must not send DNS queries). Resolving starts
/// with ``startResolving()`` (the agent calls it when it starts) or, as in Falco, at the first
/// lookup, so compiling or validating rules sends no DNS queries. Lookups on the event path
/// take one uncontended lock and allocate nothing.
package final class DNSNameCache: Sendable {
    /// The process-wide cache (Falco has one DNS manager per process too).
    package static let shared = DNSNameCache()

    /// Most names resolved at once (names past it are refused: the rule is skipped with why).
    package static let maxNames = 4096
    /// Most addresses kept per name.
    package static let maxAddressesPerName = 64
    /// First refresh interval, and the ceiling of its back-off (Falco's 10 s and 320 s).
    static let baseRefreshNs: UInt64 = 10_000_000_000
    static let maxRefreshNs: UInt64 = 320_000_000_000

    /// A 16-byte address key (IPv4 as ::ffff:a.b.c.d, so one table holds both).
    struct Key: Hashable, Sendable {
        var hi: UInt64
        var lo: UInt64
    }

    struct Entry: Sendable {
        var name: String
        var nameBytes: [UInt8]
        var refs: Int
        /// Users that are enabled rules: only names with some are resolved.
        var activeRefs: Int
        var addresses: [Key]
        var resolved: Bool
        var nextRefreshNs: UInt64
        var intervalNs: UInt64
        /// A lookup of this name is running.
        var inFlight = false
    }

    struct State: Sendable {
        var ids: [String: Int32] = [:]
        var entries: [Entry?] = []
        var free: [Int32] = []
        /// Address -> ids of the names resolving to it.
        var byAddress: [Key: [Int32]] = [:]
        var resolutions = 0
        var inFlight = 0
    }

    private let state = Mutex(State())
    /// Wakes the resolver early (a name registered or activated, a lookup finished).
    private let wake = WakeSignal()
    private let started = Atomic<Bool>(false)

    package init() {}

    // MARK: registration

    /// Registers `name` (one more user) and returns its id, or nil when the cache is full.
    /// The background resolver starts with the first name and resolves new names at once.
    package func register(_ name: String) -> Int32? {
        let key = name.lowercased()
        let id: Int32? = state.withLock { st in
            if let id = st.ids[key] {
                st.entries[Int(id)]!.refs += 1
                return id
            }
            guard st.ids.count < Self.maxNames else { return nil }
            let e = Entry(name: key, nameBytes: Array(key.utf8), refs: 1, activeRefs: 0, addresses: [], resolved: false, nextRefreshNs: 0,
                          intervalNs: Self.baseRefreshNs)
            let id: Int32
            if let f = st.free.popLast() { id = f; st.entries[Int(f)] = e } else { id = Int32(st.entries.count); st.entries.append(e) }
            st.ids[key] = id
            return id
        }
        wake.signal()
        return id
    }

    /// Marks one enabled rule set as using each id: those names are resolved.
    package func activate(_ ids: [Int32]) {
        state.withLock { st in
            for id in ids where Int(id) < st.entries.count && st.entries[Int(id)] != nil { st.entries[Int(id)]!.activeRefs += 1 }
        }
        wake.signal()
    }

    /// Drops one user of each id (and one active user of each of `active`); names nobody uses
    /// any more leave the cache.
    package func release(_ ids: [Int32], active: [Int32] = []) {
        state.withLock { st in
            for id in active where Int(id) < st.entries.count && st.entries[Int(id)] != nil { st.entries[Int(id)]!.activeRefs -= 1 }
            for id in ids {
                guard Int(id) < st.entries.count, var e = st.entries[Int(id)] else { continue }
                e.refs -= 1
                if e.refs > 0 { st.entries[Int(id)] = e; continue }
                Self.setAddresses(&st, id, [])
                st.entries[Int(id)] = nil
                st.ids[e.name] = nil
                st.free.append(id)
            }
        }
    }

    // MARK: lookups (event path)

    /// Whether `ip` (4 or 16 bytes) is an address of one of the names `ids`.
    func matches(_ ip: UnsafeBufferPointer<UInt8>, _ ids: UnsafeBufferPointer<Int32>) -> Bool {
        if !started.load(ordering: .relaxed) { startResolving() }
        guard let key = Self.key(ip) else { return false }
        return state.withLock { st in
            guard let names = st.byAddress[key] else { return false }
            for n in names where ids.contains(n) { return true }
            return false
        }
    }

    /// Copies the first cached name of `ip` into `w`; false when no registered name resolves to it.
    func name(of ip: UnsafeBufferPointer<UInt8>, into w: inout ArenaWriter) -> Bool {
        if !started.load(ordering: .relaxed) { startResolving() }
        guard let key = Self.key(ip) else { return false }
        return state.withLock { st in
            guard let id = st.byAddress[key]?.first, let e = st.entries[Int(id)] else { return false }
            e.nameBytes.withUnsafeBytes { w.put($0) }
            return true
        }
    }

    /// The longest name (bytes) the cache can hold (DNS names are at most 253 characters).
    static let maxNameBytes = 256

    // MARK: inspection (tests, diagnostics)

    /// The addresses currently cached for `name` (text form), nil when the name is not registered.
    package func addresses(of name: String) -> [String]? {
        state.withLock { st -> [String]? in
            guard let id = st.ids[name.lowercased()], let e = st.entries[Int(id)] else { return nil }
            return e.addresses.map(Self.text)
        }
    }

    /// Whether an enabled rule uses `name` (only those are resolved).
    package func isActive(_ name: String) -> Bool {
        state.withLock { st in st.ids[name.lowercased()].flatMap { st.entries[Int($0)]?.activeRefs }.map { $0 > 0 } ?? false }
    }

    /// Whether `name` has been resolved at least once.
    package func isResolved(_ name: String) -> Bool {
        state.withLock { st in st.ids[name.lowercased()].flatMap { st.entries[Int($0)]?.resolved } ?? false }
    }

    /// Number of names registered.
    package var count: Int { state.withLock { $0.ids.count } }

    // MARK: resolver

    /// Starts the background resolver (once): registered names are resolved at once, new ones
    /// as they are registered.
    package func startResolving() {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        do {
            _ = try NamedThread.start(name: "vigil-dns") { [self] in resolverLoop() }
        } catch {
            Log.warning("rules", "DNS name resolver not started: fd.*ip.name comparisons will not match", [("error", "\(error)")])
        }
    }

    /// Most lookups in flight at once: a name whose DNS server does not answer (glibc waits
    /// seconds per try) does not hold up the others.
    static let maxInFlight = 8

    private func resolverLoop() {
        while true {
            let now = Timestamp.nowNanoseconds()
            let due: [(Int32, String)] = state.withLock { st in
                var out: [(Int32, String)] = []
                for (k, e) in st.entries.enumerated() where st.inFlight + out.count < Self.maxInFlight {
                    if let e, e.activeRefs > 0, !e.inFlight, e.nextRefreshNs <= now { out.append((Int32(k), e.name)) }
                }
                for (id, _) in out { st.entries[Int(id)]!.inFlight = true }
                st.inFlight += out.count
                return out
            }
            for (id, name) in due {
                do {
                    _ = try NamedThread.start(name: "vigil-dns-query") { [self] in finish(id, name, Self.resolve(name)) }
                } catch {
                    finish(id, name, Self.resolve(name))
                }
            }
            // Sleep up to 1 s, waking early when a new name is registered.
            wake.wait(timeoutNs: 1_000_000_000)
        }
    }

    /// Records the answer of one lookup and when to ask again.
    private func finish(_ id: Int32, _ name: String, _ result: [Key]?) {
        state.withLock { st in
            st.inFlight -= 1
            guard Int(id) < st.entries.count, var e = st.entries[Int(id)], e.name == name else { return }
            let now = Timestamp.nowNanoseconds()
            e.inFlight = false
            if let addrs = result {
                let changed = Set(addrs) != Set(e.addresses)
                e.intervalNs = changed || !e.resolved ? Self.baseRefreshNs : min(e.intervalNs * 2, Self.maxRefreshNs)
                e.resolved = true
                st.entries[Int(id)] = e
                if changed { Self.setAddresses(&st, id, addrs) }
            } else {
                // A failed lookup keeps the last answer and retries at the base interval.
                e.intervalNs = Self.baseRefreshNs
                e.resolved = true
                st.entries[Int(id)] = e
            }
            st.entries[Int(id)]!.nextRefreshNs = now + st.entries[Int(id)]!.intervalNs
            st.resolutions += 1
        }
        wake.signal()
    }

    private static func setAddresses(_ st: inout State, _ id: Int32, _ addrs: [Key]) {
        guard var e = st.entries[Int(id)] else { return }
        for a in e.addresses {
            st.byAddress[a]?.removeAll { $0 == id }
            if st.byAddress[a]?.isEmpty == true { st.byAddress[a] = nil }
        }
        e.addresses = addrs
        st.entries[Int(id)] = e
        for a in addrs { st.byAddress[a, default: []].append(id) }
    }

    /// The addresses of `name` from the system resolver; nil when the lookup failed.
    static func resolve(_ name: String) -> [Key]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0 else { return nil }
        defer { freeaddrinfo(res) }
        var out: [Key] = []
        var p = res
        while let ai = p, out.count < maxAddressesPerName {
            if let sa = ai.pointee.ai_addr {
                var bytes = [UInt8](repeating: 0, count: 16)
                if ai.pointee.ai_family == AF_INET {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        withUnsafeBytes(of: sin.pointee.sin_addr) { bytes = Array($0) }
                    }
                } else if ai.pointee.ai_family == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        withUnsafeBytes(of: sin6.pointee.sin6_addr) { bytes = Array($0) }
                    }
                }
                if let k = bytes.withUnsafeBufferPointer({ key($0) }), !out.contains(k) { out.append(k) }
            }
            p = ai.pointee.ai_next
        }
        return out
    }

    /// The key of a 4- or 16-byte address.
    static func key(_ ip: UnsafeBufferPointer<UInt8>) -> Key? {
        var hi: UInt64 = 0, lo: UInt64 = 0
        switch ip.count {
        case 4:
            lo = 0xFFFF << 32
            for k in 0..<4 { lo |= UInt64(ip[k]) << UInt64(8 * (3 - k)) }
        case 16:
            for k in 0..<8 { hi = hi << 8 | UInt64(ip[k]) }
            for k in 8..<16 { lo = lo << 8 | UInt64(ip[k]) }
        default: return nil
        }
        return Key(hi: hi, lo: lo)
    }

    static func text(_ k: Key) -> String {
        if k.hi == 0 && k.lo >> 32 == 0xFFFF {
            let v = k.lo & 0xFFFF_FFFF
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        var parts: [String] = []
        for w in [k.hi, k.lo] { for s in stride(from: 48, through: 0, by: -16) { parts.append(String(w >> UInt64(s) & 0xFFFF, radix: 16)) } }
        return parts.joined(separator: ":")
    }
}

/// The DNS names one rule set registered; released when the set is freed.
final class DNSNameLease: Sendable {
    let ids: [Int32]
    let active: [Int32]
    init(ids: [Int32], active: [Int32]) {
        self.ids = ids; self.active = active
        if !active.isEmpty { DNSNameCache.shared.activate(active) }
    }
    deinit { if !ids.isEmpty { DNSNameCache.shared.release(ids, active: active) } }
}

/// The names of one `fd.*ip.name = ...` / `in (...)` check (ids into ``DNSNameCache``).
struct DNSNameSet {
    let ids: UnsafePointer<Int32>
    let count: Int
    var buffer: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: ids, count: count) }
}
