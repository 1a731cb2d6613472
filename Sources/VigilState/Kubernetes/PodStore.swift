import Synchronization
import VigilCore

/// The pods of this node, as published by the API watcher: immutable ``KubePod`` snapshots in
/// `Mutex`-protected maps, plus a generation counter bumped on every change so a reader can
/// notice changes with one atomic load.
///
/// Deleted pods stay for a grace period (``deletedGraceNs``) so late events still resolve.
package final class PodStore: Sendable {
    struct Entry {
        var pod: KubePod
        var deletedAtNs: UInt64?
    }
    struct State {
        var byUID: [String: Entry] = [:]
        var uidByContainerID: [String: String] = [:]
    }
    private let state = Mutex(State())
    private let gen = Atomic<UInt64>(0)
    private let listener = Mutex<(@Sendable ([String]) -> Void)?>(nil)
    /// How long deleted pods are kept.
    package let deletedGraceNs: UInt64
    /// Pods removed after their grace period.
    package let expired = Counter()

    package init(deletedGraceNs: UInt64 = 300_000_000_000) {
        self.deletedGraceNs = deletedGraceNs
    }

    /// Bumped on every change.
    package var generation: UInt64 { gen.load(ordering: .acquiring) }

    /// Called (on the writer's thread) with the UIDs of changed pods.
    package func setListener(_ f: (@Sendable ([String]) -> Void)?) { listener.withLock { $0 = f } }

    /// The pod with `uid` (also during its deletion grace period).
    package func pod(uid: String) -> KubePod? { state.withLock { $0.byUID[uid]?.pod } }

    /// Whether `uid` is known and deleted (in its grace period).
    package func isDeleted(uid: String) -> Bool { state.withLock { $0.byUID[uid]?.deletedAtNs != nil } }

    /// The pod and status of container `fullID`.
    package func container(fullID: String) -> (KubePod, KubeContainerStatus)? {
        state.withLock { s in
            guard let uid = s.uidByContainerID[fullID], let p = s.byUID[uid]?.pod, let c = p.container(fullID: fullID) else { return nil }
            return (p, c)
        }
    }

    /// Number of pods held (live and in grace).
    package var count: Int { state.withLock { $0.byUID.count } }

    /// All pods held, live first.
    package func all() -> [KubePod] { state.withLock { s in s.byUID.values.sorted { ($0.deletedAtNs ?? 0) < ($1.deletedAtNs ?? 0) }.map(\.pod) } }

    /// Adds or replaces a pod (watch ADDED/MODIFIED).
    package func upsert(_ pod: KubePod) {
        state.withLock { s in Self.put(&s, pod, deletedAtNs: nil) }
        changed([pod.info.uid])
    }

    /// Marks a pod deleted (watch DELETED); it stays resolvable for the grace period.
    package func markDeleted(_ pod: KubePod, nowNs: UInt64) {
        state.withLock { s in Self.put(&s, pod, deletedAtNs: nowNs) }
        changed([pod.info.uid])
    }

    /// Replaces the live set after a list: pods absent from `pods` are marked deleted.
    package func replaceAll(_ pods: [KubePod], nowNs: UInt64) {
        var uids: [String] = []
        state.withLock { s in
            let listed = Set(pods.map(\.info.uid))
            for (uid, e) in s.byUID where e.deletedAtNs == nil && !listed.contains(uid) {
                s.byUID[uid]?.deletedAtNs = nowNs
                uids.append(uid)
            }
            for p in pods { Self.put(&s, p, deletedAtNs: nil); uids.append(p.info.uid) }
        }
        changed(uids)
    }

    /// Drops deleted pods whose grace period is over.
    package func sweep(nowNs: UInt64) {
        var gone: [String] = []
        state.withLock { s in
            for (uid, e) in s.byUID {
                if let d = e.deletedAtNs, nowNs &- d >= deletedGraceNs { gone.append(uid) }
            }
            for uid in gone {
                if let e = s.byUID.removeValue(forKey: uid) {
                    for c in e.pod.containers { if let id = c.containerID, s.uidByContainerID[id] == uid { s.uidByContainerID.removeValue(forKey: id) } }
                }
            }
        }
        if !gone.isEmpty { expired.add(UInt64(gone.count)); changed(gone) }
    }

    private static func put(_ s: inout State, _ pod: KubePod, deletedAtNs: UInt64?) {
        if let old = s.byUID[pod.info.uid]?.pod {
            for c in old.containers { if let id = c.containerID { s.uidByContainerID.removeValue(forKey: id) } }
        }
        s.byUID[pod.info.uid] = Entry(pod: pod, deletedAtNs: deletedAtNs)
        for c in pod.containers { if let id = c.containerID { s.uidByContainerID[id] = pod.info.uid } }
    }

    private func changed(_ uids: [String]) {
        gen.wrappingAdd(1, ordering: .releasing)
        if let f = listener.withLock({ $0 }) { f(uids) }
    }
}
