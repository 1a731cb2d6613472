import Dispatch
import Synchronization
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// Container and pod identity for every event: the facade the agent's pipeline uses.
///
/// ## Use
/// ```swift
/// let enricher = ContainerEnricher(configuration: .init())   // host mode: no API
/// enricher.start()
/// // decoding thread, per event:
/// let lookup = enricher.container(forCgroupID: ev.cgroupID,
///                                 cgroupPathHint: ev.cgroupPath, pid: ev.pid) // exec: in-band path
/// switch lookup {
/// case .known(let c):   // complete: emit
/// case .partial(let c): // id/runtime/pod UID known, name/pod metadata coming: hold or emit
/// case .pending:        // not resolved yet: hold (see ``MetadataHoldingArea``)
/// }
/// enricher.stop()
/// ```
///
/// ## Threads
/// - `container(forCgroupID:…)` is called on the decoding thread. A cache hit is one
///   uncontended lock, a dictionary probe and a flag write: O(1), no allocation.
///   A miss with an in-band path (exec records) parses the path and caches the container's
///   identity at once; its runtime metadata is read in the background. A miss without a path
///   queues a background resolution (bounded queue, drops counted) and answers `.pending`.
/// - One worker thread resolves cgroup ids (`/proc/<pid>/cgroup`, then a walk of the
///   cgroup hierarchy), reads runtime state (containerd / CRI-O), and refreshes cached
///   containers when pod metadata changes.
/// - With Kubernetes configured, a watcher thread lists and watches this node's pods
///   into ``pods`` (see ``KubePodWatcher``).
///
/// ``generation`` increases whenever a cached container changes, so a consumer holding
/// `ContainerInfo` references can tell cheaply when to look again.
package final class ContainerEnricher: Sendable {
    /// Settings; every field has a working default for host mode.
    package struct Configuration: Sendable {
        /// cgroup v2 mount point; nil: discovered from `/proc/self/mountinfo`.
        package var cgroupRoot: String?
        /// containerd task roots (see ``RuntimeMetadataStore``).
        package var containerdRoots: [String] = RuntimeMetadataStore.defaultContainerdRoots
        /// CRI-O container roots.
        package var crioRoots: [String] = RuntimeMetadataStore.defaultCRIORoots
        /// Docker container directories.
        package var dockerRoots: [String] = RuntimeMetadataStore.defaultDockerRoots
        /// Most cgroups cached; beyond it the least recently used go (second chance).
        package var cacheCapacity = 16384
        /// Most background work items queued; more are dropped and counted.
        package var queueCapacity = 4096
        /// How long pods stay known after deletion (seconds).
        package var deletedPodGraceSeconds: Double = 300
        /// Kubernetes API access; nil: no API (host mode, or node-local metadata only).
        package var kubernetes: KubeClientConfiguration?
        /// This node's name for `k8s.node.name` when a pod is known only from node-local state;
        /// nil: the API configuration's node name, else `NODE_NAME` from the environment.
        package var nodeName: String?

        package init(cgroupRoot: String? = nil, kubernetes: KubeClientConfiguration? = nil) {
            self.cgroupRoot = cgroupRoot
            self.kubernetes = kubernetes
        }
    }

    enum Work {
        /// cgroup id, pid, and when it was asked for (a walk older than that cannot have seen it).
        case resolve(UInt64, UInt32, UInt64)
        case metadata(UInt64)
        case refreshPods([String])
    }

    struct State {
        var cache: ContainerCache
        var pendingIDs: Set<UInt64> = []
        var queue: [Work] = []
        var queueHead = 0
        var running = false
        var stopping = false
    }

    package let configuration: Configuration
    /// Counters and gauges (register with ``EnrichmentMetrics/register(in:)``).
    package let metrics: EnrichmentMetrics
    /// Pods of this node from the API (empty in host mode).
    package let pods: PodStore
    /// The cgroup hierarchy in use.
    package let mounts: CgroupMounts
    /// Node-local runtime state reader.
    package let runtimeStore: RuntimeMetadataStore
    /// The API watcher, when Kubernetes is configured.
    package let watcher: KubePodWatcher?

    private let state: Mutex<State>
    private let gen = Atomic<UInt64>(0)
    private let wake = DispatchSemaphore(value: 0)
    private let worker = Mutex<NamedThread?>(nil)
    private let resolver: CgroupResolver
    private let apiExpectsPods = Atomic<Bool>(false)
    private let nodeName: String?

    package init(configuration: Configuration = Configuration(), metrics: EnrichmentMetrics = EnrichmentMetrics()) {
        self.configuration = configuration
        self.metrics = metrics
        let mounts = CgroupMounts.discover()
        self.mounts = configuration.cgroupRoot.map { CgroupMounts(unified: $0, v1: mounts.v1) } ?? mounts
        self.resolver = CgroupResolver(mounts: self.mounts)
        self.runtimeStore = RuntimeMetadataStore(containerdRoots: configuration.containerdRoots, crioRoots: configuration.crioRoots,
                                                 dockerRoots: configuration.dockerRoots)
        self.pods = PodStore(deletedGraceNs: UInt64(max(0, configuration.deletedPodGraceSeconds) * 1e9))
        self.state = Mutex(State(cache: ContainerCache(capacity: configuration.cacheCapacity)))
        self.nodeName = configuration.nodeName ?? configuration.kubernetes?.nodeName
            ?? getenv("NODE_NAME").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        if let k = configuration.kubernetes {
            self.watcher = KubePodWatcher(configuration: k, store: pods, metrics: metrics)
        } else {
            self.watcher = nil
            metrics.apiState.set(KubeAPIState.disabled.rawValue)
        }
        pods.setListener { [weak self] uids in self?.enqueue(.refreshPods(uids)) }
    }

    /// Bumped whenever a cached container changes.
    package var generation: UInt64 { gen.load(ordering: .acquiring) }

    /// The cgroup v2 root in use (nil if none was found).
    package var cgroupRoot: String? { resolver.root }

    // MARK: lifecycle

    /// Starts the worker thread (and the API watcher when configured). Idempotent.
    package func start() {
        let go = state.withLock { s -> Bool in
            if s.running { return false }
            s.running = true; s.stopping = false
            return true
        }
        guard go else { return }
        do {
            let t = try NamedThread.start(name: "vigil-enrich") { [self] in self.workerLoop() }
            worker.withLock { $0 = t }
        } catch {
            state.withLock { $0.running = false }
            Log.error("enrich", "container enrichment cannot run; events are attributed to the host", [("error", error.description)])
            return
        }
        watcher?.start()
        Log.info("enrich", "container enrichment started", [
            ("cgroup_root", resolver.root ?? "none"),
            ("kubernetes", configuration.kubernetes == nil ? "off" : "on"),
        ])
    }

    /// Stops the threads and waits for them.
    package func stop() {
        let go = state.withLock { s -> Bool in
            if !s.running { return false }
            s.stopping = true
            return true
        }
        guard go else { return }
        watcher?.stop()
        wake.signal()
        worker.withLock { t -> NamedThread? in let v = t; t = nil; return v }?.join()
        state.withLock { $0.running = false }
    }

    // MARK: hot path

    /// The container of cgroup `id`. O(1) and allocation-free on a cache hit.
    ///
    /// - Parameters:
    ///   - cgroupPathHint: the in-band cgroup path of an exec record (``VigilDecode/Event/cgroupPath``),
    ///     empty otherwise. On a miss it identifies the container with no file-system access.
    ///   - pid: the event's process, used to resolve an unknown id from `/proc/<pid>/cgroup`.
    @inline(__always)
    package func container(forCgroupID id: UInt64, cgroupPathHint: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                          pid: UInt32 = 0) -> ContainerLookup {
        if let hit = state.withLock({ $0.cache.lookup(id) }) {
            // An id that could not be resolved earlier is re-learned when an exec brings its path.
            if hit.0 !== ContainerInfo.unresolved || cgroupPathHint.count == 0 {
                metrics.cacheHits.add()
                return hit.1 ? .known(hit.0) : .partial(hit.0)
            }
        }
        return miss(id, cgroupPathHint, pid)
    }

    /// Records that cgroup `cgroupID` has `path` (relative to the cgroup root), e.g. from an
    /// exec record or a `/proc` scan. Cheap when already known.
    package func learn(cgroupID: UInt64, path: String) {
        if state.withLock({ $0.cache.peek(cgroupID)?.path != nil }) { return }
        insertFromPath(cgroupID, path, inBand: true)
    }

    @inline(never)
    private func miss(_ id: UInt64, _ hint: UnsafeRawBufferPointer, _ pid: UInt32) -> ContainerLookup {
        metrics.cacheMisses.add()
        // The kernel copies at most VIGIL_CGROUP_DEPTH (8) components from the leaf. A path that
        // long may have lost its top, and the components left could all have been named by a
        // process that can create cgroups (a privileged container nesting fake kubelet names):
        // such paths are not trusted; the id is resolved from the full path on the file system.
        if hint.count > 0 && Self.componentCount(hint) < Self.inBandDepthLimit {
            let path = String(decoding: hint, as: UTF8.self)
            return insertFromPath(id, path, inBand: true)
        }
        let queued = state.withLock { s -> Bool in
            if s.pendingIDs.contains(id) { return false }
            guard s.queue.count - s.queueHead < configuration.queueCapacity else { return false }
            s.pendingIDs.insert(id)
            s.queue.append(.resolve(id, pid, Timestamp.monotonicNanoseconds()))
            return true
        }
        if queued {
            metrics.lookupsPending.add(1)
            wake.signal()
        } else if !state.withLock({ $0.pendingIDs.contains(id) }) {
            metrics.queueDrops.add()
        }
        return .pending
    }

    /// Components the kernel copies into exec records (VIGIL_CGROUP_DEPTH).
    static let inBandDepthLimit = 8

    static func componentCount(_ p: UnsafeRawBufferPointer) -> Int {
        var n = 0
        var inName = false
        for b in p {
            if b == 0x2F { inName = false } else if !inName { inName = true; n += 1 }
        }
        return n
    }

    @discardableResult
    private func insertFromPath(_ id: UInt64, _ path: String, inBand: Bool) -> ContainerLookup {
        if inBand { metrics.learnedInBand.add() }
        guard let identity = CgroupPathParser.parse(path) else {
            put(id, ContainerCacheEntry(info: .host, complete: true, referenced: true, identity: nil, path: path,
                                        runtimeMetadata: nil, runtimeLookupDone: true))
            return .known(.host)
        }
        let (info, complete) = compose(identity, runtime: nil, runtimeLookupDone: false)
        put(id, ContainerCacheEntry(info: info, complete: complete, referenced: true, identity: identity, path: path,
                                    runtimeMetadata: nil, runtimeLookupDone: false))
        enqueue(.metadata(id))
        return complete ? .known(info) : .partial(info)
    }

    private func put(_ id: UInt64, _ entry: ContainerCacheEntry) {
        let (evicted, size, wasPending) = state.withLock { s -> (Bool, Int, Bool) in
            let e = s.cache.insert(id, entry)
            let p = s.pendingIDs.remove(id) != nil
            return (e, s.cache.count, p)
        }
        if evicted { metrics.cacheEvictions.add() }
        if wasPending { metrics.lookupsPending.add(-1) }
        metrics.cacheSize.set(Int64(size))
        gen.wrappingAdd(1, ordering: .releasing)
    }

    private func enqueue(_ w: Work) {
        let ok = state.withLock { s -> Bool in
            guard s.queue.count - s.queueHead < configuration.queueCapacity else { return false }
            s.queue.append(w)
            return true
        }
        if ok { wake.signal() } else { metrics.queueDrops.add() }
    }

    // MARK: composition

    /// Builds the container from what is known; returns it and whether it is complete.
    func compose(_ identity: ContainerIdentity, runtime meta: RuntimeContainerMetadata?, runtimeLookupDone: Bool) -> (ContainerInfo, Bool) {
        var kubePod: KubePod?
        var status: KubeContainerStatus?
        if let (p, c) = pods.container(fullID: identity.fullID) { kubePod = p; status = c }
        let podUID = identity.podUID ?? meta?.podUID ?? kubePod?.info.uid
        if kubePod == nil, let uid = podUID { kubePod = pods.pod(uid: uid) }
        if status == nil, let p = kubePod, let name = meta?.containerName { status = p.containers.first { $0.name == name } }

        var runtime = identity.runtime
        if runtime == "unknown" { runtime = meta?.runtime ?? status?.runtime ?? "unknown" }
        let image = meta?.image ?? status?.image
        var ref = image.map(ImageReference.init(parsing:))
        if ref?.digest == nil, let imageID = status?.imageID {
            let idRef = ImageReference(parsing: imageID)
            if let d = idRef.digest { ref = ref ?? ImageReference(repository: idRef.repository); ref?.digest = d }
        }
        var pod = kubePod?.info
        if pod == nil, let m = meta, let name = m.podName, let ns = m.podNamespace {
            pod = PodInfo(name: name, namespace: ns, uid: podUID ?? m.podUID ?? "", labels: m.podLabels, nodeName: nodeName)
        }
        let info = ContainerInfo(
            id: identity.shortID, fullID: identity.fullID, runtime: runtime,
            name: status?.name ?? meta?.containerName,
            image: image, imageRepository: ref.map(\.repository).flatMap { $0.isEmpty ? nil : $0 },
            imageTag: ref?.tag, imageDigest: ref?.digest,
            startTimeNs: meta?.startTimeNs ?? status?.startedAtNs,
            privileged: meta?.privileged ?? status?.privileged,
            podUID: podUID, pod: pod, mounts: meta?.mounts)
        let complete: Bool
        if let kp = kubePod {
            // The API knows the pod. Complete once this container's status is in, or once waiting
            // cannot help: node-local data named it, or every container of the pod has an id already
            // (e.g. the pause container, which has no status entry).
            complete = status != nil || (runtimeLookupDone && (meta != nil || kp.containers.allSatisfy { $0.containerID != nil }))
        } else if podUID == nil {
            complete = runtimeLookupDone
        } else {
            // A pod container: node-local data suffices unless the API is up and should know the pod.
            complete = runtimeLookupDone && pod != nil && !apiExpectsPods.load(ordering: .relaxed)
        }
        return (info, complete)
    }

    // MARK: worker

    private func workerLoop() {
        var lastSweep = Timestamp.monotonicNanoseconds()
        while true {
            _ = wake.wait(timeout: .now() + .seconds(1))
            if state.withLock({ $0.stopping }) { break }
            let expects = watcher?.state == .synced
            if apiExpectsPods.exchange(expects, ordering: .relaxed) != expects { run(.refreshPods([])) }
            while let w = dequeue() {
                if state.withLock({ $0.stopping }) { return }
                run(w)
            }
            let now = Timestamp.monotonicNanoseconds()
            if now &- lastSweep >= 5_000_000_000 {
                lastSweep = now
                pods.sweep(nowNs: now)
                metrics.podsKnown.set(Int64(pods.count))
            }
        }
    }

    private func dequeue() -> Work? {
        state.withLock { s -> Work? in
            guard s.queueHead < s.queue.count else { return nil }
            let w = s.queue[s.queueHead]
            s.queueHead += 1
            if s.queueHead >= 1024 || s.queueHead == s.queue.count {
                s.queue.removeFirst(s.queueHead); s.queueHead = 0
            }
            return w
        }
    }

    private func run(_ w: Work) {
        switch w {
        case .resolve(let id, let pid, let askedNs):
            guard let path = resolver.path(forCgroupID: id, pid: pid, askedAtNs: askedNs) else {
                metrics.unresolved.add()
                put(id, ContainerCacheEntry(info: .unresolved, complete: true, referenced: false, identity: nil, path: nil,
                                            runtimeMetadata: nil, runtimeLookupDone: true))
                return
            }
            metrics.resolved.add()
            insertFromPath(id, path, inBand: false)
        case .metadata(let id):
            guard let entry = state.withLock({ $0.cache.peek(id) }), let identity = entry.identity else { return }
            var meta: RuntimeContainerMetadata?
            do {
                meta = try runtimeStore.lookup(containerID: identity.fullID, runtimeHint: identity.runtime)
            } catch {
                metrics.runtimeStateErrors.add()
                Log.warning("enrich", "cannot read container runtime state", [("error", "\(error)")])
            }
            let (info, complete) = compose(identity, runtime: meta, runtimeLookupDone: true)
            _ = state.withLock { s in
                s.cache.update(id) { e in e.info = info; e.complete = complete; e.runtimeMetadata = meta; e.runtimeLookupDone = true }
            }
            gen.wrappingAdd(1, ordering: .releasing)
        case .refreshPods(let uids):
            // Empty `uids`: refresh every container (the API state changed).
            metrics.podsKnown.set(Int64(pods.count))
            let set = Set(uids)
            let targets = state.withLock { s in
                s.cache.ids { e in
                    guard let i = e.identity else { return false }
                    if set.isEmpty { return true }
                    if let u = i.podUID ?? e.runtimeMetadata?.podUID { return set.contains(u) }
                    return true // a container whose pod is unknown: the change may be its pod
                }
            }
            for id in targets {
                guard let e = state.withLock({ $0.cache.peek(id) }), let identity = e.identity else { continue }
                let (info, complete) = compose(identity, runtime: e.runtimeMetadata, runtimeLookupDone: e.runtimeLookupDone)
                _ = state.withLock { s in s.cache.update(id) { $0.info = info; $0.complete = complete } }
            }
            if !targets.isEmpty { gen.wrappingAdd(1, ordering: .releasing) }
        }
    }
}
