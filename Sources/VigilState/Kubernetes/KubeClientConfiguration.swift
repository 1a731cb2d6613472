#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// A configuration problem, naming the file (and line:column) or variable at fault.
package struct KubeConfigError: Error, CustomStringConvertible, Sendable {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// How to reach the Kubernetes API server.
///
/// Secrets are kept as file paths where possible so that rotated tokens and certificates are
/// picked up: the token file is re-read whenever its modification time changes. Token values
/// are never logged or included in errors.
package struct KubeClientConfiguration: Sendable {
    /// `https://host:port` (no trailing slash).
    package var server: String
    /// PEM CA bundle file to verify the server against.
    package var caFile: String?
    /// PEM CA bundle bytes (kubeconfig `certificate-authority-data`, decoded).
    package var caData: [UInt8]?
    /// Bearer token file (service account token; kubeconfig `tokenFile`).
    package var tokenFile: String?
    /// Bearer token value (kubeconfig `token`).
    package var token: String?
    /// Client certificate / key as files or PEM bytes (kubeconfig `client-certificate(-data)`, `client-key(-data)`).
    package var clientCertFile: String?
    package var clientKeyFile: String?
    package var clientCertData: [UInt8]?
    package var clientKeyData: [UInt8]?
    /// kubeconfig `insecure-skip-tls-verify` (logged as a warning when used).
    package var insecureSkipTLSVerify = false
    /// This node's name: only its pods are listed (`fieldSelector=spec.nodeName=<node>`).
    /// nil lists every pod (useful outside a DaemonSet; logged).
    package var nodeName: String?
    /// Seconds allowed to connect.
    package var connectTimeout: Double = 5
    /// Seconds allowed for a list request.
    package var requestTimeout: Double = 30
    /// `timeoutSeconds` asked of the server per watch; the client gives up after this plus a margin.
    package var watchTimeoutSeconds = 300
    /// A watch that sends nothing (not even a bookmark) for this long is restarted.
    package var watchIdleTimeout: Double = 120
    /// Reconnect backoff: first delay and cap (seconds); each delay gets up to 50% random jitter.
    package var backoffInitial: Double = 0.5
    package var backoffMax: Double = 30
    /// Where this came from (`in-cluster`, or the kubeconfig path and context), for logs.
    package var source: String

    package init(server: String, caFile: String? = nil, tokenFile: String? = nil, nodeName: String? = nil, source: String = "explicit") {
        var s = server
        while s.hasSuffix("/") { s.removeLast() }
        self.server = s; self.caFile = caFile; self.tokenFile = tokenFile; self.nodeName = nodeName; self.source = source
    }

    /// The default service account directory inside a pod.
    package static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In-cluster configuration: `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, and the
    /// service account's `token` and `ca.crt`. Throws naming what is missing or unreadable.
    package static func inCluster(environment: [String: String] = ProcessEnvironment.current,
                                 serviceAccountDirectory dir: String = serviceAccountDirectory) throws -> KubeClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw KubeConfigError("in-cluster config: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)")
        }
        let port = environment["KUBERNETES_SERVICE_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "443"
        guard let p = Int(port), (1...65535).contains(p) else { throw KubeConfigError("in-cluster config: KUBERNETES_SERVICE_PORT=\(port) is not a port number") }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let token = dir + "/token", ca = dir + "/ca.crt"
        try checkReadable(token, what: "in-cluster config: service account token")
        try checkReadable(ca, what: "in-cluster config: service account CA")
        var c = KubeClientConfiguration(server: "https://\(hostPart):\(p)", caFile: ca, tokenFile: token, source: "in-cluster")
        c.nodeName = environment["NODE_NAME"].flatMap { $0.isEmpty ? nil : $0 }
        return c
    }

    /// Reads a kubeconfig file and uses `context` (default: its `current-context`).
    /// Relative file paths in it are relative to the kubeconfig's directory, as kubectl does.
    package static func kubeconfig(path: String, context: String? = nil) throws -> KubeClientConfiguration {
        let bytes: [UInt8]
        do { bytes = try FileReader.read(path, limit: 4 << 20) } catch {
            throw KubeConfigError("kubeconfig \(path): cannot read (\(error.message))")
        }
        let root: YAMLNode
        do { root = try YAMLNode.kubeconfig(bytes, file: path) } catch {
            throw KubeConfigError("kubeconfig \(error.mark): \(error.message)")
        }
        func fail(_ node: YAMLNode?, _ msg: String) -> KubeConfigError {
            if let n = node { return KubeConfigError("kubeconfig \(path):\(n.line):\(n.column): \(msg)") }
            return KubeConfigError("kubeconfig \(path): \(msg)")
        }
        guard root.mapping != nil else { throw fail(root, "expected a mapping at the top level") }
        let ctxName = context ?? root["current-context"]?.string
        guard let ctxName, !ctxName.isEmpty else { throw fail(root, "no context given and no current-context set") }
        func named(_ list: String, _ name: String) -> YAMLNode? {
            root[list]?.items.first { $0["name"]?.string == name }
        }
        guard let ctx = named("contexts", ctxName)?["context"] else { throw fail(root["contexts"] ?? root, "context \"\(ctxName)\" not found in contexts") }
        guard let clusterName = ctx["cluster"]?.string else { throw fail(ctx, "context \"\(ctxName)\" has no cluster") }
        guard let cluster = named("clusters", clusterName)?["cluster"] else { throw fail(root["clusters"] ?? ctx, "cluster \"\(clusterName)\" not found in clusters") }
        guard let server = cluster["server"]?.string, !server.isEmpty else { throw fail(cluster, "cluster \"\(clusterName)\" has no server") }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else { throw fail(cluster["server"], "server \"\(server)\" is not an http(s) URL") }
        let baseDir = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? ""
        func resolvePath(_ p: String) -> String { p.hasPrefix("/") || baseDir.isEmpty ? p : baseDir + "/" + p }
        func base64(_ node: YAMLNode?, _ field: String) throws -> [UInt8]? {
            guard let node, let s = node.string else { return nil }
            guard let d = Base64.decode(s.filter { !$0.isWhitespace }) else { throw fail(node, "\(field) is not valid base64") }
            return d
        }
        var c = KubeClientConfiguration(server: server, source: "kubeconfig \(path) context \(ctxName)")
        if let ca = cluster["certificate-authority"]?.string {
            c.caFile = resolvePath(ca)
            try checkReadable(c.caFile!, what: "kubeconfig \(path):\(cluster["certificate-authority"]!.line): certificate-authority")
        }
        c.caData = try base64(cluster["certificate-authority-data"], "certificate-authority-data")
        if cluster["insecure-skip-tls-verify"]?.string == "true" { c.insecureSkipTLSVerify = true }
        if let userName = ctx["user"]?.string {
            guard let user = named("users", userName)?["user"] else { throw fail(root["users"] ?? ctx, "user \"\(userName)\" not found in users") }
            c.token = user["token"]?.string
            if let tf = user["tokenFile"]?.string {
                c.tokenFile = resolvePath(tf)
                try checkReadable(c.tokenFile!, what: "kubeconfig \(path):\(user["tokenFile"]!.line): tokenFile")
            }
            if let f = user["client-certificate"]?.string {
                c.clientCertFile = resolvePath(f)
                try checkReadable(c.clientCertFile!, what: "kubeconfig \(path):\(user["client-certificate"]!.line): client-certificate")
            }
            if let f = user["client-key"]?.string {
                c.clientKeyFile = resolvePath(f)
                try checkReadable(c.clientKeyFile!, what: "kubeconfig \(path):\(user["client-key"]!.line): client-key")
            }
            c.clientCertData = try base64(user["client-certificate-data"], "client-certificate-data")
            c.clientKeyData = try base64(user["client-key-data"], "client-key-data")
            if user["exec"] != nil || user["auth-provider"] != nil, c.token == nil, c.tokenFile == nil, c.clientCertFile == nil, c.clientCertData == nil {
                throw fail(user, "user \"\(userName)\" uses exec/auth-provider credentials, which Vigil does not run; use a token, tokenFile or client certificate")
            }
            if (c.clientCertFile != nil || c.clientCertData != nil) != (c.clientKeyFile != nil || c.clientKeyData != nil) {
                throw fail(user, "user \"\(userName)\" has a client certificate without a key or a key without a certificate")
            }
        }
        return c
    }

    /// Picks the configuration the way the agent does: an explicit kubeconfig wins; else
    /// in-cluster when `KUBERNETES_SERVICE_HOST` is set; else nil (host mode, no API).
    /// `nodeName` (option) overrides `NODE_NAME`.
    package static func resolve(kubeconfig: String?, nodeName: String?,
                               environment: [String: String] = ProcessEnvironment.current) throws -> KubeClientConfiguration? {
        var c: KubeClientConfiguration
        if let k = kubeconfig, !k.isEmpty {
            c = try Self.kubeconfig(path: k)
        } else if environment["KUBERNETES_SERVICE_HOST"].map({ !$0.isEmpty }) == true {
            c = try inCluster(environment: environment)
        } else {
            return nil
        }
        if let n = nodeName, !n.isEmpty { c.nodeName = n }
        else if c.nodeName == nil, let n = environment["NODE_NAME"], !n.isEmpty { c.nodeName = n }
        return c
    }

    static func checkReadable(_ path: String, what: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw KubeConfigError("\(what) \(path): cannot read (\(String(cString: strerror(errno))))") }
        close(fd)
    }
}
