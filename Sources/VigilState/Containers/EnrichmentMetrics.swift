import VigilCore

/// State of the Kubernetes API connection, as a metric value.
package enum KubeAPIState: Int64, Sendable, CustomStringConvertible {
    /// No API configured (host mode or node-local only).
    case disabled = 0
    /// Listing / connecting, not yet synced.
    case connecting = 1
    /// Listed and watching.
    case synced = 2
    /// Failing (down, slow, bad answers); running on node-local data and retrying.
    case degraded = 3

    package var description: String {
        switch self {
        case .disabled: "disabled"
        case .connecting: "connecting"
        case .synced: "synced"
        case .degraded: "degraded"
        }
    }
}

/// Counters and gauges of the enrichment stage. All are safe to read from any thread.
package final class EnrichmentMetrics: Sendable {
    /// Entries in the cgroup cache.
    package let cacheSize = Gauge()
    /// Entries evicted from the cgroup cache to stay within its capacity.
    package let cacheEvictions = Counter()
    /// Lookups answered from the cache.
    package let cacheHits = Counter()
    /// Lookups that missed the cache.
    package let cacheMisses = Counter()
    /// Cgroups learned in-band from exec records' cgroup paths.
    package let learnedInBand = Counter()
    /// Background resolutions in flight (cgroup ids without a path yet).
    package let lookupsPending = Gauge()
    /// Background resolutions that found the cgroup.
    package let resolved = Counter()
    /// Background resolutions that could not find the cgroup (it was gone).
    package let unresolved = Counter()
    /// Background work items dropped because the queue was full.
    package let queueDrops = Counter()
    /// Runtime state files that exist but could not be parsed.
    package let runtimeStateErrors = Counter()
    /// Events released from a holding area without complete metadata.
    package let lateMetadata = Counter()
    /// Events released from a holding area after their metadata arrived.
    package let heldThenResolved = Counter()
    /// Events that could not be held (holding area full) and went out at once.
    package let holdOverflow = Counter()
    /// Kubernetes API state (``KubeAPIState`` raw value).
    package let apiState = Gauge()
    /// Watch streams restarted (closed by the server, dropped, timed out, or failed).
    package let watchRestarts = Counter()
    /// Full lists done (start-up, 410 Gone, errors).
    package let relists = Counter()
    /// API requests that failed (connection, TLS, HTTP status, garbage).
    package let apiErrors = Counter()
    /// Watch events applied.
    package let watchEvents = Counter()
    /// Pods known (live and deleted within the grace period).
    package let podsKnown = Gauge()

    package init() {}

    /// Registers every metric under `vigil_enrich_*` in `registry`.
    package func register(in registry: MetricsRegistry) {
        registry.register("vigil_enrich_cache_entries", help: "Cgroups in the container cache.", gauge: cacheSize)
        registry.register("vigil_enrich_cache_evictions_total", help: "Container cache evictions.", counter: cacheEvictions)
        registry.register("vigil_enrich_cache_hits_total", help: "Container lookups answered from the cache.", counter: cacheHits)
        registry.register("vigil_enrich_cache_misses_total", help: "Container lookups that missed the cache.", counter: cacheMisses)
        registry.register("vigil_enrich_learned_in_band_total", help: "Cgroups learned from exec records.", counter: learnedInBand)
        registry.register("vigil_enrich_lookups_pending", help: "Cgroup ids being resolved in the background.", gauge: lookupsPending)
        registry.register("vigil_enrich_resolved_total", help: "Cgroup ids resolved in the background.", counter: resolved)
        registry.register("vigil_enrich_unresolved_total", help: "Cgroup ids that could not be resolved.", counter: unresolved)
        registry.register("vigil_enrich_queue_drops_total", help: "Background lookups dropped (queue full).", counter: queueDrops)
        registry.register("vigil_enrich_runtime_state_errors_total", help: "Unparsable container runtime state files.", counter: runtimeStateErrors)
        registry.register("vigil_enrich_late_metadata_total", help: "Events released without complete pod metadata.", counter: lateMetadata)
        registry.register("vigil_enrich_held_resolved_total", help: "Held events released after metadata arrived.", counter: heldThenResolved)
        registry.register("vigil_enrich_hold_overflow_total", help: "Events not held because the holding area was full.", counter: holdOverflow)
        registry.register("vigil_enrich_k8s_api_state", help: "Kubernetes API state: 0 disabled, 1 connecting, 2 synced, 3 degraded.", gauge: apiState)
        registry.register("vigil_enrich_k8s_watch_restarts_total", help: "Pod watch restarts.", counter: watchRestarts)
        registry.register("vigil_enrich_k8s_relists_total", help: "Pod lists.", counter: relists)
        registry.register("vigil_enrich_k8s_api_errors_total", help: "Failed Kubernetes API requests.", counter: apiErrors)
        registry.register("vigil_enrich_k8s_watch_events_total", help: "Pod watch events applied.", counter: watchEvents)
        registry.register("vigil_enrich_k8s_pods", help: "Pods known on this node.", gauge: podsKnown)
    }
}
