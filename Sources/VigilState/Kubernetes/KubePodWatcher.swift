import Dispatch
import Synchronization
import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// Lists, then watches, the pods of this node on its own thread, publishing them into a
/// ``PodStore``.
///
/// - `GET /api/v1/pods?fieldSelector=spec.nodeName=<node>&limit=500` (paged with `continue`),
///   then `?watch=1&allowWatchBookmarks=true&resourceVersion=<rv>&timeoutSeconds=<n>`; every
///   event and bookmark moves the resourceVersion on.
/// - 410 Gone (as the HTTP status or an `ERROR` event) relists.
/// - A watch the server ends normally is restarted from the last resourceVersion at once.
///   Errors (connection, TLS, HTTP status, garbage, silence beyond the idle timeout) restart it
///   after a backoff that doubles up to a cap, with up to 50% random jitter.
/// - While the API is failing the store keeps what it had and the enricher runs on node-local
///   data; the state changes (connecting, synced, degraded) are logged once each, with the reason.
package final class KubePodWatcher: Sendable {
    package let configuration: KubeClientConfiguration
    package let store: PodStore
    package let metrics: EnrichmentMetrics
    private let stateValue = Atomic<Int64>(KubeAPIState.connecting.rawValue)
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let thread = Mutex<NamedThread?>(nil)
    private let lastErrorText = Mutex<String?>(nil)
    private let running = Atomic<Bool>(false)

    package init(configuration: KubeClientConfiguration, store: PodStore, metrics: EnrichmentMetrics) {
        self.configuration = configuration
        self.store = store
        self.metrics = metrics
        metrics.apiState.set(KubeAPIState.connecting.rawValue)
    }

    /// Current API state.
    package var state: KubeAPIState { KubeAPIState(rawValue: stateValue.load(ordering: .relaxed)) ?? .degraded }

    /// The last error, if the API is degraded (never contains credentials).
    package var lastError: String? { lastErrorText.withLock { $0 } }

    /// Starts the watcher thread.
    package func start() {
        guard !running.exchange(true, ordering: .relaxed) else { return }
        stopping.store(false, ordering: .relaxed)
        do {
            let t = try NamedThread.start(name: "vigil-k8s") { [self] in self.run() }
            thread.withLock { $0 = t }
        } catch {
            running.store(false, ordering: .relaxed)
            setState(.degraded, reason: error.description)
        }
    }

    /// Stops the thread, aborting a transfer in progress, and waits for it.
    package func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        thread.withLock { t -> NamedThread? in let v = t; t = nil; return v }?.join()
    }

    private func setState(_ s: KubeAPIState, reason: String? = nil) {
        lastErrorText.withLock { $0 = s == .degraded ? reason : nil }
        let old = stateValue.exchange(s.rawValue, ordering: .relaxed)
        metrics.apiState.set(s.rawValue)
        guard old != s.rawValue else { return }
        var fields: [(String, String)] = [("state", s.description), ("source", configuration.source)]
        if let r = reason { fields.append(("reason", r)) }
        switch s {
        case .degraded: Log.warning("k8s", "Kubernetes API unavailable; using node-local metadata", fields)
        case .synced: Log.info("k8s", "Kubernetes pod metadata synced", fields + [("pods", String(store.count))])
        default: Log.info("k8s", "Kubernetes API state changed", fields)
        }
    }

    private var selector: String {
        guard let n = configuration.nodeName else { return "" }
        return "&fieldSelector=" + percentEncode("spec.nodeName=" + n)
    }

    private func run() {
        // Transfers abort as soon as stop() is asked (checked from the transfer itself).
        let http = KubeHTTPClient(config: configuration, shouldCancel: { [self] in stopping.load(ordering: .relaxed) })
        if configuration.nodeName == nil {
            Log.warning("k8s", "no node name (NODE_NAME or --node-name): watching pods of every node", [("source", configuration.source)])
        }
        if configuration.insecureSkipTLSVerify {
            Log.warning("k8s", "kubeconfig sets insecure-skip-tls-verify: the API server's certificate is not verified", [("source", configuration.source)])
        }
        var resourceVersion: String?
        var backoff = configuration.backoffInitial
        var rng = SystemRandomNumberGenerator()
        func pause() -> Bool {
            let delay = backoff * (1 + Double.random(in: 0..<0.5, using: &rng))
            backoff = min(configuration.backoffMax, backoff * 2)
            return sleepInterruptibly(delay)
        }
        while !stopping.load(ordering: .relaxed) {
            do {
                if resourceVersion == nil {
                    resourceVersion = try list(http)
                    setState(.synced)
                    backoff = configuration.backoffInitial
                }
                let started = Timestamp.monotonicNanoseconds()
                var rv = resourceVersion!
                let outcome: WatchOutcome
                do {
                    outcome = try watch(http, resourceVersion: &rv)
                } catch let e as WatchBroken {
                    // An established watch broke (connection dropped, garbage, silence): resume from
                    // the last resourceVersion; back off only if it keeps breaking quickly.
                    resourceVersion = rv
                    metrics.watchRestarts.add()
                    metrics.apiErrors.add()
                    Log.debug("k8s", "pod watch interrupted; resuming", [("reason", "\(e.error)")])
                    if Timestamp.monotonicNanoseconds() &- started < 2_000_000_000 { if pause() { break } } else { backoff = configuration.backoffInitial }
                    continue
                }
                resourceVersion = rv
                metrics.watchRestarts.add()
                backoff = configuration.backoffInitial
                if case .gone = outcome {
                    Log.info("k8s", "watch resourceVersion expired (410 Gone); relisting")
                    resourceVersion = nil
                }
            } catch KubeHTTPError.cancelled {
                break
            } catch {
                metrics.apiErrors.add()
                if case .status(_, 410, _)? = error as? KubeHTTPError {
                    resourceVersion = nil
                    continue
                }
                setState(.degraded, reason: "\(error)")
                if pause() { break }
            }
        }
    }

    /// Sleeps up to `seconds`; true if stopped meanwhile.
    private func sleepInterruptibly(_ seconds: Double) -> Bool {
        _ = wake.wait(timeout: .now() + .milliseconds(Int(seconds * 1000)))
        return stopping.load(ordering: .relaxed)
    }

    private func list(_ http: KubeHTTPClient) throws -> String {
        metrics.relists.add()
        var pods: [KubePod] = []
        var cont: String?
        var rv = ""
        repeat {
            var path = "/api/v1/pods?limit=500" + selector
            if let c = cont { path += "&continue=" + percentEncode(c) }
            let (status, body) = try withCancel(http) { () throws(KubeHTTPError) in try http.get(path, timeout: configuration.requestTimeout) }
            guard status == 200 else { throw KubeHTTPError.status(url: configuration.server + path, status: status, body: statusMessage(body)) }
            let page: (pods: [KubePod], resourceVersion: String, continueToken: String?)
            do { page = try KubePodParser.parseList(body) } catch {
                throw KubeHTTPError.garbage(url: configuration.server + path, message: "\(error)")
            }
            pods += page.pods
            rv = page.resourceVersion
            cont = page.continueToken
        } while cont != nil
        guard !rv.isEmpty else { throw KubeHTTPError.garbage(url: configuration.server + "/api/v1/pods", message: "PodList without metadata.resourceVersion") }
        store.replaceAll(pods, nowNs: Timestamp.monotonicNanoseconds())
        metrics.podsKnown.set(Int64(store.count))
        return rv
    }

    enum WatchOutcome { case ended, gone }

    /// An established watch stream that broke; `error` says how.
    struct WatchBroken: Error { let error: any Error }

    /// Runs one watch from `resourceVersion`, moving it on with every event and bookmark.
    private func watch(_ http: KubeHTTPClient, resourceVersion current: inout String) throws -> WatchOutcome {
        let path = "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=" + percentEncode(current)
            + "&timeoutSeconds=\(configuration.watchTimeoutSeconds)" + selector
        var rv = current
        var line: [UInt8] = []
        var failure: (any Error)?
        var gone = false
        var established = false
        defer { current = rv }
        let apply: ([UInt8]) -> Bool = { [self] bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return true }
            do {
                let ev = try KubePodParser.parseWatchEvent(bytes)
                metrics.watchEvents.add()
                switch ev {
                case .added(let p), .modified(let p):
                    store.upsert(p); if !p.resourceVersion.isEmpty { rv = p.resourceVersion }
                case .deleted(let p):
                    store.markDeleted(p, nowNs: Timestamp.monotonicNanoseconds()); if !p.resourceVersion.isEmpty { rv = p.resourceVersion }
                case .bookmark(let v): rv = v
                case .error(let code, let reason, let message):
                    if code == 410 { gone = true; return false }
                    failure = KubeHTTPError.status(url: configuration.server + path, status: code, body: "\(reason): \(message)")
                    return false
                }
                metrics.podsKnown.set(Int64(store.count))
                return true
            } catch {
                failure = KubeHTTPError.garbage(url: configuration.server + path, message: "\(error)")
                return false
            }
        }
        let idle = configuration.watchIdleTimeout
        let status: Int, body: [UInt8]
        do {
            (status, body) = try withCancel(http) { () throws(KubeHTTPError) in
                try http.stream(path, timeout: Double(configuration.watchTimeoutSeconds) + 30, idleTimeout: idle, onStatus: { [self] code in
                    if (200..<300).contains(code) { established = true; if state != .synced { setState(.synced) } }
                }) { chunk in
                    var start = 0
                    for (i, b) in chunk.enumerated() where b == 0x0A {
                        line.append(contentsOf: chunk[start..<i])
                        start = i + 1
                        let ok = apply(line)
                        line.removeAll(keepingCapacity: true)
                        if !ok { return false }
                    }
                    line.append(contentsOf: chunk[start...])
                    if line.count > 64 << 20 { failure = KubeHTTPError.garbage(url: self.configuration.server + path, message: "watch line over 64 MiB"); return false }
                    return true
                }
            }
        } catch KubeHTTPError.cancelled {
            throw KubeHTTPError.cancelled
        } catch {
            if established { throw WatchBroken(error: error) }
            throw error
        }
        if status == 410 { return .gone }
        guard (200..<300).contains(status) else { throw KubeHTTPError.status(url: configuration.server + path, status: status, body: statusMessage(body)) }
        if gone { return .gone }
        if let f = failure { throw WatchBroken(error: f) }
        if !line.isEmpty, !apply(line) {
            if gone { return .gone }
            if let f = failure { throw WatchBroken(error: f) }
        }
        return .ended
    }

    /// Runs a transfer unless stop() was asked (the client's `shouldCancel` aborts one in progress).
    private func withCancel<R>(_ http: KubeHTTPClient, _ body: () throws(KubeHTTPError) -> R) throws(KubeHTTPError) -> R {
        if stopping.load(ordering: .relaxed) { throw .cancelled }
        return try body()
    }

    private func statusMessage(_ body: [UInt8]) -> String {
        if let o = try? KubePodParser.object(body, what: "Status"), let m = o["message"] as? String { return m }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}


func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            out += "%" + String(b, radix: 16, uppercase: true).leftPad(2)
        }
    }
    return out
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
