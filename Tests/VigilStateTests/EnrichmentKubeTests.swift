import Foundation
import Testing
import VigilCore
@testable import VigilState
#if canImport(Glibc)
import Glibc
#endif

private let kubeEnabled = FakeKubeAPI.available || EnrichTestEnv.ci

@Suite(.serialized) struct EnrichmentKubeWatchTests {
    /// List (this node only), then watch: labels and owner arrive; updates and deletions are seen.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func listThenWatch() throws {
        let web = EnrichTestEnv.randomUID(), other = EnrichTestEnv.randomUID()
        let cid = EnrichTestEnv.randomHexID()
        let api = try FakeKubeAPI(initialPods: [
            testPodJSON(name: "web-5d8f7c9b6d-x2x7q", uid: web, labels: ["app": "web", "pod-template-hash": "5d8f7c9b6d"],
                        owner: ("ReplicaSet", "web-5d8f7c9b6d"), containers: [("nginx", "nginx:1.25", cid)], sa: "web-sa"),
            testPodJSON(name: "elsewhere", uid: other, node: "node-2"),
        ])
        defer { api.stop() }
        let store = PodStore(deletedGraceNs: 60_000_000_000)
        let metrics = EnrichmentMetrics()
        let w = KubePodWatcher(configuration: api.clientConfig(), store: store, metrics: metrics)
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.state == .synced && store.pod(uid: web) != nil })
        let p = try #require(store.pod(uid: web))
        #expect(p.info.name == "web-5d8f7c9b6d-x2x7q" && p.info.namespace == "shop" && p.info.labels["app"] == "web")
        #expect(p.info.workloadKind == "Deployment" && p.info.workloadName == "web")
        #expect(p.info.serviceAccount == "web-sa" && p.info.nodeName == "node-1")
        #expect(p.info.annotations["kubectl.kubernetes.io/restartedAt"] != nil)
        let (_, status) = try #require(store.container(fullID: cid))
        #expect(status.name == "nginx" && status.image == "nginx:1.25" && status.runtime == "containerd")
        #expect(status.imageID?.hasSuffix(String(repeating: "e", count: 64)) == true)
        #expect(store.pod(uid: other) == nil) // other node filtered by the field selector
        #expect(api.requests.first?.contains("fieldSelector=spec.nodeName%3Dnode-1") == true)

        // Added through the watch.
        let job = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "report-28500000-abcde", namespace: "batch", uid: job, labels: ["job": "report"],
                                owner: ("Job", "report-28500000")))
        #expect(EnrichTestEnv.eventually { store.pod(uid: job) != nil })
        #expect(store.pod(uid: job)?.info.workloadKind == "CronJob" && store.pod(uid: job)?.info.workloadName == "report")
        // Updated.
        try api.modify(testPodJSON(name: "web-5d8f7c9b6d-x2x7q", uid: web, labels: ["app": "web", "tier": "front", "pod-template-hash": "5d8f7c9b6d"],
                                   owner: ("ReplicaSet", "web-5d8f7c9b6d"), containers: [("nginx", "nginx:1.25", cid)]))
        #expect(EnrichTestEnv.eventually { store.pod(uid: web)?.info.labels["tier"] == "front" })
        // Deleted: still resolvable during the grace period, marked deleted.
        try api.delete(uid: job)
        #expect(EnrichTestEnv.eventually { store.isDeleted(uid: job) })
        #expect(store.pod(uid: job)?.info.name == "report-28500000-abcde")
        store.sweep(nowNs: Timestamp.monotonicNanoseconds() + 61_000_000_000)
        #expect(store.pod(uid: job) == nil && store.pod(uid: web) != nil)
        #expect(metrics.relists.value == 1)
        #expect(api.requests.contains { $0.contains("watch=1") && $0.contains("allowWatchBookmarks=true") && $0.contains("resourceVersion=") })
    }

    /// The resourceVersion expires while the watch is down: 410 -> relist, and nothing is missed.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func goneLeadsToRelist() throws {
        let a = EnrichTestEnv.randomUID()
        let api = try FakeKubeAPI(initialPods: [testPodJSON(name: "a", uid: a)])
        defer { api.stop() }
        let store = PodStore()
        let metrics = EnrichmentMetrics()
        let w = KubePodWatcher(configuration: api.clientConfig(), store: store, metrics: metrics)
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.state == .synced && store.pod(uid: a) != nil })
        // Make the next watch fail for a while (slow answers time out), change things, compact history.
        try api.fault("watch", "status", count: 2, status: 503)
        try api.send(["op": "drop"])
        let b = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "b", uid: b))
        try api.delete(uid: a)
        try api.send(["op": "compact"])
        #expect(EnrichTestEnv.eventually(10) { metrics.relists.value >= 2 })
        #expect(EnrichTestEnv.eventually { store.pod(uid: b) != nil && store.isDeleted(uid: a) && w.state == .synced })
        // A plain HTTP 410 answer to the watch request also relists.
        try api.fault("watch", "status410")
        try api.send(["op": "drop"])
        #expect(EnrichTestEnv.eventually(10) { metrics.relists.value >= 3 })
    }

    /// Dropped connections, slow answers and garbage never stop the client; it catches up.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func survivesDropsSlownessAndGarbage() throws {
        let api = try FakeKubeAPI()
        defer { api.stop() }
        let store = PodStore()
        let metrics = EnrichmentMetrics()
        // The first list is garbage, the second slow (beyond the 2 s request timeout), the third a 500.
        try api.fault("list", "garbage")
        try api.fault("list", "slow", seconds: 3)
        try api.fault("list", "status", status: 500)
        var cfg = api.clientConfig()
        cfg.watchIdleTimeout = 1.5 // a watch silent for longer is restarted
        let w = KubePodWatcher(configuration: cfg, store: store, metrics: metrics)
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.state == .degraded })
        #expect(EnrichTestEnv.eventually(15) { w.state == .synced })
        #expect(metrics.apiErrors.value >= 3)
        // Garbage in the watch stream; then a dropped connection.
        try api.fault("watch", "garbage")
        try api.send(["op": "drop"])
        let p1 = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "p1", uid: p1))
        #expect(EnrichTestEnv.eventually(10) { store.pod(uid: p1) != nil })
        try api.send(["op": "drop"])
        let p2 = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "p2", uid: p2))
        #expect(EnrichTestEnv.eventually(10) { store.pod(uid: p2) != nil })
        #expect(metrics.watchRestarts.value >= 2)
        // A server that answers a watch too slowly: the idle timeout gives up, and the client comes back.
        let restarts = metrics.watchRestarts.value
        try api.fault("watch", "slow", seconds: 3)
        try api.send(["op": "drop"])
        let p3 = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "p3", uid: p3))
        #expect(EnrichTestEnv.eventually(15) { store.pod(uid: p3) != nil })
        #expect(metrics.watchRestarts.value > restarts)
        #expect(w.state == .synced)
    }

    /// Token rotation: the token file is re-read when it changes; the token is never in errors.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func tokenRotationAndUnauthorized() throws {
        let api = try FakeKubeAPI(token: "first-token-AAAA")
        defer { api.stop() }
        let store = PodStore()
        let w = KubePodWatcher(configuration: api.clientConfig(), store: store, metrics: EnrichmentMetrics())
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.state == .synced })
        // Synced means listed: wait for the watch itself, or the drop below could miss it (the
        // watch, authorised with the old token, would then stay open and nothing fail).
        #expect(EnrichTestEnv.eventually { api.watchesOpened >= 1 })
        // The server rotates; the client still has the old token: 401, degraded, token not shown.
        try "second-token-BBBB".write(toFile: api.serverTokenFile, atomically: true, encoding: .utf8)
        try api.send(["op": "drop"])
        #expect(EnrichTestEnv.eventually { w.state == .degraded })
        let err = try #require(w.lastError)
        #expect(err.contains("401") && !err.contains("first-token") && !err.contains("second-token"))
        // The kubelet rotates the client's projected token: picked up without a restart.
        usleep(20_000)
        try "second-token-BBBB\n".write(toFile: api.clientTokenFile, atomically: true, encoding: .utf8)
        #expect(EnrichTestEnv.eventually(10) { w.state == .synced })
        let p = EnrichTestEnv.randomUID()
        try api.add(testPodJSON(name: "after-rotation", uid: p))
        #expect(EnrichTestEnv.eventually { store.pod(uid: p) != nil })
    }

    /// Wrong CA: a clear TLS error, degraded, still running.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func wrongCAIsAClearError() throws {
        let api = try FakeKubeAPI()
        defer { api.stop() }
        var cfg = api.clientConfig()
        cfg.caFile = api.pki.otherCACert
        let w = KubePodWatcher(configuration: cfg, store: PodStore(), metrics: EnrichmentMetrics())
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.state == .degraded })
        let err = try #require(w.lastError)
        #expect(err.contains("TLS verification against CA file \(api.pki.otherCACert) failed"), "\(err)")
        #expect(api.requests.isEmpty) // nothing was sent to an unverified server
    }

    /// A kubeconfig with inline CA data and a token works end to end.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func kubeconfigWithInlineCA() throws {
        let uid = EnrichTestEnv.randomUID()
        let api = try FakeKubeAPI(initialPods: [testPodJSON(name: "kc", uid: uid)], token: "kc-token")
        defer { api.stop() }
        let ca = try Data(contentsOf: URL(fileURLWithPath: api.pki.caCert)).base64EncodedString()
        let path = api.dir + "/kubeconfig"
        try """
        apiVersion: v1
        kind: Config
        current-context: test
        clusters:
        - name: local
          cluster:
            server: \(api.server)
            certificate-authority-data: \(ca)
        contexts:
        - name: test
          context: {cluster: local, user: vigil}
        users:
        - name: vigil
          user:
            token: kc-token
        """.write(toFile: path, atomically: true, encoding: .utf8)
        var cfg = try KubeClientConfiguration.kubeconfig(path: path)
        cfg.nodeName = "node-1"
        cfg.backoffInitial = 0.05
        #expect(cfg.caData != nil && cfg.token == "kc-token" && cfg.server == api.server)
        let store = PodStore()
        let w = KubePodWatcher(configuration: cfg, store: store, metrics: EnrichmentMetrics())
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { store.pod(uid: uid) != nil })
    }

    /// Client-certificate authentication from a kubeconfig: inline data, and files relative to it.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func kubeconfigClientCertificates() throws {
        let uid = EnrichTestEnv.randomUID()
        let api = try FakeKubeAPI(initialPods: [testPodJSON(name: "mtls", uid: uid)], acceptClientCerts: true)
        defer { api.stop() }
        func b64(_ p: String) throws -> String { try Data(contentsOf: URL(fileURLWithPath: p)).base64EncodedString() }
        let inline = api.dir + "/kubeconfig-inline"
        try """
        apiVersion: v1
        kind: Config
        current-context: c
        clusters: [{name: k, cluster: {server: "\(api.server)", certificate-authority: ca.crt}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        users:
        - name: u
          user:
            client-certificate-data: \(try b64(api.pki.clientCert))
            client-key-data: \(try b64(api.pki.clientKey))
        """.write(toFile: inline, atomically: true, encoding: .utf8)
        let files = api.dir + "/kubeconfig-files"
        try """
        current-context: c
        clusters: [{name: k, cluster: {server: "\(api.server)", certificate-authority: ca.crt}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}}]
        """.write(toFile: files, atomically: true, encoding: .utf8)
        for path in [inline, files] {
            var cfg = try KubeClientConfiguration.kubeconfig(path: path)
            #expect(cfg.caFile == api.pki.caCert && cfg.token == nil)
            cfg.nodeName = "node-1"
            let store = PodStore()
            let w = KubePodWatcher(configuration: cfg, store: store, metrics: EnrichmentMetrics())
            w.start()
            #expect(EnrichTestEnv.eventually { store.pod(uid: uid) != nil }, "\(path): \(w.lastError ?? "")")
            w.stop()
        }
        // Without a certificate or token: 401, a clear error.
        var anon = KubeClientConfiguration(server: api.server, caFile: api.pki.caCert, nodeName: "node-1", source: "test")
        anon.backoffInitial = 0.05
        let w = KubePodWatcher(configuration: anon, store: PodStore(), metrics: EnrichmentMetrics())
        w.start()
        defer { w.stop() }
        #expect(EnrichTestEnv.eventually { w.lastError?.contains("HTTP 401") == true })
    }
}

@Suite struct EnrichmentKubeConfigErrorTests {
    @Test func badKubeconfigNamesThePlace() throws {
        let dir = EnrichTestEnv.tempDir("kcbad")
        defer { EnrichTestEnv.removeTree(dir) }
        let p = dir + "/kubeconfig"
        try "clusters:\n- name: a\n  cluster: {server: [unclosed\n".write(toFile: p, atomically: true, encoding: .utf8)
        #expect { try KubeClientConfiguration.kubeconfig(path: p) } throws: {
            "\($0)".hasPrefix("kubeconfig \(p):4:1: invalid YAML: ") && "\($0)".contains("did not find expected")
        }
        try "current-context: nope\ncontexts: []\n".write(toFile: p, atomically: true, encoding: .utf8)
        #expect { try KubeClientConfiguration.kubeconfig(path: p) } throws: { "\($0)".contains("context \"nope\" not found") }
        try """
        current-context: c
        contexts:
        - {name: c, context: {cluster: k, user: u}}
        clusters:
        - {name: k, cluster: {server: "https://127.0.0.1:1", certificate-authority: missing-ca.crt}}
        users:
        - {name: u, user: {token: t}}
        """.write(toFile: p, atomically: true, encoding: .utf8)
        #expect { try KubeClientConfiguration.kubeconfig(path: p) } throws: { "\($0)".contains("certificate-authority \(dir)/missing-ca.crt: cannot read") }
        try """
        current-context: c
        contexts:
        - {name: c, context: {cluster: k, user: u}}
        clusters:
        - {name: k, cluster: {server: "https://127.0.0.1:1", certificate-authority-data: "!!notbase64"}}
        users:
        - {name: u, user: {exec: {command: aws}}}
        """.write(toFile: p, atomically: true, encoding: .utf8)
        #expect { try KubeClientConfiguration.kubeconfig(path: p) } throws: { "\($0)".contains(":5:") && "\($0)".contains("certificate-authority-data is not valid base64") }
        #expect { try KubeClientConfiguration.kubeconfig(path: dir + "/absent") } throws: { "\($0)".contains("absent: cannot read") }
    }

    @Test func inClusterNamesWhatIsMissing() throws {
        let dir = EnrichTestEnv.tempDir("sa")
        defer { EnrichTestEnv.removeTree(dir) }
        #expect(try KubeClientConfiguration.resolve(kubeconfig: nil, nodeName: nil, environment: [:]) == nil) // host mode
        let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "NODE_NAME": "n1"]
        #expect { try KubeClientConfiguration.inCluster(environment: env, serviceAccountDirectory: dir) } throws: {
            "\($0)".contains("service account token \(dir)/token: cannot read")
        }
        try "tok".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "ca".write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        let c = try KubeClientConfiguration.inCluster(environment: env, serviceAccountDirectory: dir)
        #expect(c.server == "https://10.96.0.1:443" && c.nodeName == "n1" && c.tokenFile == dir + "/token" && c.caFile == dir + "/ca.crt")
        #expect { try KubeClientConfiguration.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "x"], serviceAccountDirectory: dir) } throws: {
            "\($0)".contains("KUBERNETES_SERVICE_PORT=x")
        }
        if getuid() != 0 {
            chmod(dir + "/token", 0)
            #expect(throws: KubeConfigError.self) { try KubeClientConfiguration.inCluster(environment: env, serviceAccountDirectory: dir) }
        }
    }

    /// An unreadable token at request time: a clear error naming the file, never the token.
    @Test func unreadableTokenAtRequestTime() throws {
        let cfg = KubeClientConfiguration(server: "https://127.0.0.1:1", tokenFile: "/nonexistent/token")
        let http = KubeHTTPClient(config: cfg)
        #expect { _ = try http.get("/api/v1/pods", timeout: 1) } throws: { "\($0)".contains("token file /nonexistent/token: cannot read") }
    }
}

@Suite(.serialized) struct EnrichmentKubeEnricherTests {
    /// API pod metadata joins the in-band container; with the API down, node-local data still serves.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func enricherUsesAPIAndDegradesToNodeLocal() throws {
        let uid = EnrichTestEnv.randomUID(), cid = EnrichTestEnv.randomHexID()
        let api = try FakeKubeAPI(initialPods: [
            testPodJSON(name: "web-7f9c6b5d4-abcde", uid: uid, labels: ["app": "web", "pod-template-hash": "7f9c6b5d4"],
                        owner: ("ReplicaSet", "web-7f9c6b5d4"), containers: [("nginx", "nginx:1.25", cid)], sa: "web"),
        ])
        defer { api.stop() }
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent", kubernetes: api.clientConfig())
        cfg.containerdRoots = []
        let enricher = ContainerEnricher(configuration: cfg)
        enricher.start()
        defer { enricher.stop() }
        #expect(EnrichTestEnv.eventually { enricher.watcher?.state == .synced })
        enricher.learn(cgroupID: 501, path: "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(cid).scope")
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 501).isComplete })
        let c = try #require(enricher.container(forCgroupID: 501).info)
        #expect(c.name == "nginx" && c.image == "nginx:1.25" && c.imageTag == "1.25" && c.imageDigest == "sha256:" + String(repeating: "e", count: 64))
        #expect(c.pod?.labels["app"] == "web" && c.pod?.workloadKind == "Deployment" && c.pod?.workloadName == "web" && c.pod?.serviceAccount == "web")
        #expect(c.pod?.nodeName == "node-1")
        // A label change reaches the cached container.
        let gen = enricher.generation
        try api.modify(testPodJSON(name: "web-7f9c6b5d4-abcde", uid: uid, labels: ["app": "web", "canary": "yes"],
                                   owner: ("ReplicaSet", "web-7f9c6b5d4"), containers: [("nginx", "nginx:1.25", cid)]))
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 501).info?.pod?.labels["canary"] == "yes" })
        #expect(enricher.generation > gen)
    }

    /// The first exec races the API: the pod is known but its container status has no id yet.
    /// The container stays partial until the status arrives, then completes with its name.
    @Test(.enabled(if: kubeEnabled, "needs python3 and openssl for the local HTTPS API server"))
    func containerStatusArrivingLateCompletesTheContainer() throws {
        let uid = EnrichTestEnv.randomUID(), cid = EnrichTestEnv.randomHexID()
        let api = try FakeKubeAPI(initialPods: [testPodJSON(name: "slow-start", uid: uid, containers: [("app", "busybox:1.36", nil)])])
        defer { api.stop() }
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent", kubernetes: api.clientConfig())
        cfg.containerdRoots = []
        cfg.crioRoots = []
        let enricher = ContainerEnricher(configuration: cfg)
        enricher.start()
        defer { enricher.stop() }
        #expect(EnrichTestEnv.eventually { enricher.watcher?.state == .synced })
        enricher.learn(cgroupID: 601, path: "/kubepods/pod\(uid)/\(cid)")
        // Wait until the worker has attached the pod; the container status has no id yet, so it stays partial.
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 601).info?.pod?.name == "slow-start" })
        let partial = enricher.container(forCgroupID: 601)
        #expect(!partial.isComplete && partial.info?.pod?.name == "slow-start" && partial.info?.name == nil)
        try api.modify(testPodJSON(name: "slow-start", uid: uid, containers: [("app", "busybox:1.36", cid)]))
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 601).isComplete })
        let c = try #require(enricher.container(forCgroupID: 601).info)
        #expect(c.name == "app" && c.runtime == "containerd" && c.image == "busybox:1.36" && c.startTimeNs == 1_714_564_800_000_000_000)
    }

    @Test func apiDownStillServesNodeLocal() throws {
        let root = EnrichTestEnv.tempDir("down")
        defer { EnrichTestEnv.removeTree(root) }
        let uid = EnrichTestEnv.randomUID(), cid = EnrichTestEnv.randomHexID()
        try EnrichTestEnv.write("\(root)/\(cid)/config.json", RuntimeStateFixture.containerdSpec(
            id: cid, pod: "local-pod", ns: "ns1", uid: uid, name: "app", image: "busybox:1.36"))
        var k = KubeClientConfiguration(server: "https://127.0.0.1:1", nodeName: "n", source: "test") // nothing listens
        k.backoffInitial = 0.05; k.backoffMax = 0.2; k.connectTimeout = 1
        var cfg = ContainerEnricher.Configuration(cgroupRoot: "/nonexistent", kubernetes: k)
        cfg.containerdRoots = [root]
        let enricher = ContainerEnricher(configuration: cfg)
        enricher.start()
        defer { enricher.stop() }
        #expect(EnrichTestEnv.eventually { enricher.watcher?.state == .degraded })
        enricher.learn(cgroupID: 777, path: "/kubepods/pod\(uid)/\(cid)")
        #expect(EnrichTestEnv.eventually { enricher.container(forCgroupID: 777).isComplete })
        let c = try #require(enricher.container(forCgroupID: 777).info)
        #expect(c.pod?.name == "local-pod" && c.pod?.namespace == "ns1" && c.name == "app" && c.runtime == "containerd")
        #expect(enricher.metrics.apiState.value == KubeAPIState.degraded.rawValue && enricher.metrics.apiErrors.value >= 1)
    }
}
