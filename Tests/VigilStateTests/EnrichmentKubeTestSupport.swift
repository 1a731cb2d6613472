import Foundation
@testable import VigilState
#if canImport(Glibc)
import Glibc
#endif

/// Certificates made with `openssl` for one test: a CA, a server certificate it signed for
/// 127.0.0.1/localhost, and an unrelated CA (for the wrong-CA case).
struct TestPKI {
    let dir: String
    var caCert: String { dir + "/ca.crt" }
    var serverCert: String { dir + "/server.crt" }
    var serverKey: String { dir + "/server.key" }
    var otherCACert: String { dir + "/other-ca.crt" }
    var clientCert: String { dir + "/client.crt" }
    var clientKey: String { dir + "/client.key" }

    static let opensslPath: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"].first { access($0, X_OK) == 0 }

    init(dir: String) throws {
        self.dir = dir
        guard let openssl = Self.opensslPath else { throw TestFailure("openssl not found") }
        func ossl(_ args: [String]) throws {
            let (st, out) = try EnrichTestEnv.run(openssl, args)
            if st != 0 { throw TestFailure("openssl \(args.joined(separator: " ")) failed: \(out)") }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try ossl(["req", "-x509"] + ec + ["-keyout", dir + "/ca.key", "-out", caCert, "-days", "2", "-subj", "/CN=vigil-test-ca"])
        try ossl(["req", "-x509"] + ec + ["-keyout", dir + "/other-ca.key", "-out", otherCACert, "-days", "2", "-subj", "/CN=vigil-other-ca"])
        try ossl(["req"] + ec + ["-keyout", serverKey, "-out", dir + "/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        try ossl(["x509", "-req", "-in", dir + "/server.csr", "-CA", caCert, "-CAkey", dir + "/ca.key", "-CAcreateserial",
                  "-out", serverCert, "-days", "2", "-extfile", dir + "/ext.cnf"])
        // A client certificate (kubeconfig client-certificate / client-key).
        try ossl(["req"] + ec + ["-keyout", clientKey, "-out", dir + "/client.csr", "-subj", "/CN=system:serviceaccount:vigil:vigil"])
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: dir + "/client-ext.cnf", atomically: true, encoding: .utf8)
        try ossl(["x509", "-req", "-in", dir + "/client.csr", "-CA", caCert, "-CAkey", dir + "/ca.key", "-CAcreateserial",
                  "-out", clientCert, "-days", "2", "-extfile", dir + "/client-ext.cnf"])
    }
}

/// The Kubernetes API double (Tests/Fixtures/enrich/kube_api_server.py) run over HTTPS.
final class FakeKubeAPI {
    let dir: String
    let pki: TestPKI
    let process = Process()
    let port: Int
    let serverTokenFile: String
    let clientTokenFile: String
    let logFile: String
    private let stdin = Pipe()
    private let stdout = Pipe()

    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first { access($0, X_OK) == 0 }
    static var script: String {
        // Tests/VigilStateTests/<this file> -> Tests/Fixtures/enrich/kube_api_server.py
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return here.appendingPathComponent("Fixtures/enrich/kube_api_server.py").path
    }
    static var available: Bool { python != nil && TestPKI.opensslPath != nil }

    init(initialPods: [[String: Any]] = [], token: String = "s3cr3t-token-value", acceptClientCerts: Bool = false) throws {
        dir = EnrichTestEnv.tempDir("kube")
        pki = try TestPKI(dir: dir)
        serverTokenFile = dir + "/server-token"
        clientTokenFile = dir + "/client-token"
        logFile = dir + "/requests.log"
        try token.write(toFile: serverTokenFile, atomically: true, encoding: .utf8)
        try (token + "\n").write(toFile: clientTokenFile, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let podsFile = dir + "/pods.json"
        try JSONSerialization.data(withJSONObject: initialPods).write(to: URL(fileURLWithPath: podsFile))
        guard let py = Self.python else { throw TestFailure("python3 not found") }
        process.executableURL = URL(fileURLWithPath: py)
        process.arguments = [Self.script, "--cert", pki.serverCert, "--key", pki.serverKey, "--token-file", serverTokenFile,
                             "--log", logFile, "--pods", podsFile] + (acceptClientCerts ? ["--client-ca", pki.caCert] : [])
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // First line: "PORT <n>".
        var line = [UInt8]()
        let fh = stdout.fileHandleForReading
        while true {
            let d = fh.readData(ofLength: 1)
            if d.isEmpty { throw TestFailure("kube_api_server.py exited before listening") }
            if d[0] == 0x0A { break }
            line.append(d[0])
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let p = Int(text.dropFirst(5)) else { throw TestFailure("unexpected server output: \(text)") }
        port = p
    }

    var server: String { "https://127.0.0.1:\(port)" }

    /// A client configuration trusting the test CA with the client token file.
    func clientConfig(node: String? = "node-1") -> KubeClientConfiguration {
        var c = KubeClientConfiguration(server: server, caFile: pki.caCert, tokenFile: clientTokenFile, nodeName: node, source: "test")
        c.backoffInitial = 0.05
        c.backoffMax = 0.3
        c.requestTimeout = 2
        c.connectTimeout = 2
        c.watchTimeoutSeconds = 30
        c.watchIdleTimeout = 10
        return c
    }

    /// Sends one control command and waits for its acknowledgement.
    func send(_ cmd: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: cmd)
        data.append(0x0A)
        stdin.fileHandleForWriting.write(data)
        // Read "OK <op>\n".
        let fh = stdout.fileHandleForReading
        while true {
            let d = fh.readData(ofLength: 1)
            if d.isEmpty || d[0] == 0x0A { break }
        }
    }

    func add(_ pod: [String: Any]) throws { try send(["op": "add", "pod": pod]) }
    func modify(_ pod: [String: Any]) throws { try send(["op": "modify", "pod": pod]) }
    func delete(uid: String) throws { try send(["op": "delete", "uid": uid]) }
    func fault(_ target: String, _ kind: String, count: Int = 1, seconds: Double = 0, status: Int = 500) throws {
        try send(["op": "fault", "target": target, "kind": kind, "count": count, "seconds": seconds, "status": status])
    }

    /// Request lines logged so far ("GET /api/v1/pods?...").
    var requests: [String] {
        (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// Watches the server has registered so far: a `drop` sent after one is counted closes it.
    /// (A client that is `synced` has listed; its watch may not be registered yet.)
    var watchesOpened: Int { requests.filter { $0.hasPrefix("WATCH-OPEN ") }.count }

    func stop() {
        try? stdin.fileHandleForWriting.close() // the server exits when its control input closes
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        EnrichTestEnv.removeTree(dir)
    }
}

/// Pod JSON as the API server sends it.
func testPodJSON(name: String, namespace: String = "shop", uid: String, node: String = "node-1",
                 labels: [String: String] = [:], owner: (kind: String, name: String)? = nil,
                 containers: [(name: String, image: String, id: String?)] = [], sa: String = "default") -> [String: Any] {
    var meta: [String: Any] = ["name": name, "namespace": namespace, "uid": uid, "labels": labels,
                               "annotations": ["kubectl.kubernetes.io/restartedAt": "2024-05-01T00:00:00Z"],
                               "creationTimestamp": "2024-05-01T00:00:00Z"]
    if let o = owner {
        meta["ownerReferences"] = [["apiVersion": "apps/v1", "kind": o.kind, "name": o.name, "uid": UUID().uuidString.lowercased(),
                                    "controller": true, "blockOwnerDeletion": true]]
    }
    let spec: [String: Any] = [
        "nodeName": node, "serviceAccountName": sa, "restartPolicy": "Always",
        "containers": containers.map { ["name": $0.name, "image": $0.image, "securityContext": ["privileged": false]] as [String: Any] },
    ]
    let statuses: [[String: Any]] = containers.map { c in
        var s: [String: Any] = ["name": c.name, "image": c.image, "ready": true, "restartCount": 0,
                                "imageID": "docker.io/library/\(c.image.split(separator: ":").first ?? "")@sha256:\(String(repeating: "e", count: 64))"]
        if let id = c.id {
            s["containerID"] = "containerd://" + id
            s["state"] = ["running": ["startedAt": "2024-05-01T12:00:00Z"]]
        } else {
            s["state"] = ["waiting": ["reason": "ContainerCreating"]]
        }
        return s
    }
    return ["kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec,
            "status": ["phase": "Running", "containerStatuses": statuses, "qosClass": "BestEffort"]]
}
