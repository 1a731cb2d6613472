#if canImport(Glibc)
import Glibc
#endif
import CMicroHTTPD
import VigilCore

/// The metrics and health HTTP server (libmicrohttpd, its own thread):
/// Prometheus `/metrics`, `/healthz` (alive) and `/readyz` (ready for traffic).
package final class MetricsServer: @unchecked Sendable {
    /// Why the server could not start.
    package struct StartError: Error, CustomStringConvertible, Sendable {
        package let description: String
    }

    /// What the daemon's thread calls: owned by the daemon (retained at start, released after
    /// the daemon stopped), so a request in flight never reaches a server being released.
    private let responder: MetricsResponder
    private var daemon: OpaquePointer?
    /// The responder reference the running daemon holds.
    private var daemonContext: Unmanaged<MetricsResponder>?
    /// The port actually listened on (differs from the requested one when that was 0).
    package private(set) var port: UInt16 = 0
    /// Requests served (by path class), for the server's own metrics.
    package var requests: Counter { responder.requests }

    package init(registry: MetricsRegistry, health: HealthState, healthzPath: String = "/healthz",
                readyzPath: String = "/readyz", metricsEnabled: Bool = true) {
        responder = MetricsResponder(registry: registry, health: health, metricsPath: "/metrics", healthzPath: healthzPath,
                              readyzPath: readyzPath, metricsEnabled: metricsEnabled)
    }

    /// Releasing a started server stops it first (waits for its thread).
    deinit { stop() }

    /// Starts listening on `address:port` (IPv4 or IPv6 literal; port 0 picks a free one).
    package func start(address: String, port requested: Int) throws(StartError) {
        guard daemon == nil else { return }
        var flags = UInt32(MHD_USE_AUTO_INTERNAL_THREAD.rawValue)
        var storage = sockaddr_storage()
        let isV6 = address.contains(":")
        if isV6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = UInt16(requested).bigEndian
            guard inet_pton(AF_INET6, address, &a.sin6_addr) == 1 else {
                throw StartError(description: "webserver.listen_address: '\(address)' is not an IP address")
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: a, as: sockaddr_in6.self) }
            flags |= UInt32(MHD_USE_IPv6.rawValue)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = UInt16(requested).bigEndian
            let addr = address.isEmpty ? "0.0.0.0" : address
            guard inet_pton(AF_INET, addr, &a.sin_addr) == 1 else {
                throw StartError(description: "webserver.listen_address: '\(address)' is not an IP address")
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: a, as: sockaddr_in.self) }
        }
        let context = Unmanaged.passRetained(responder)
        let ctx = context.toOpaque()
        let d = withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                vigil_mhd_start(flags, UInt16(requested), MetricsServer.handler, ctx, sa)
            }
        }
        guard let d else {
            context.release()
            throw StartError(description: "cannot listen on \(address):\(requested) for the metrics server: \(String(decoding: strerrorBytes(errno), as: UTF8.self))")
        }
        daemon = d
        daemonContext = context
        port = vigil_mhd_bound_port(d)
    }

    /// Stops the server (waits for its thread).
    package func stop() {
        if let d = daemon {
            MHD_stop_daemon(d)
            daemon = nil
            daemonContext?.release()
            daemonContext = nil
        }
    }

    private func strerrorBytes(_ e: Int32) -> [UInt8] {
        guard let p = strerror(e) else { return [] }
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
    }

    /// Builds the response for `path` (also used directly by tests).
    func respond(method: String, path: String) -> (status: UInt32, contentType: String, body: String) {
        responder.respond(method: method, path: path)
    }

    private static let handler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, _, uploadSize, conCls in
        guard let cls, let connection else { return .NO }
        let server = Unmanaged<MetricsResponder>.fromOpaque(cls).takeUnretainedValue()
        // First call per request: MHD only wants to know we accept it (bodies are not read).
        if conCls?.pointee == nil {
            conCls?.pointee = UnsafeMutableRawPointer(bitPattern: 1)
            return .YES
        }
        if let uploadSize, uploadSize.pointee != 0 { uploadSize.pointee = 0; return .YES }
        let m = method.map { String(cString: $0) } ?? "GET"
        var path = url.map { String(cString: $0) } ?? "/"
        if let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
        let r = server.respond(method: m, path: path)
        var body = Array(r.body.utf8)
        let response = body.withUnsafeMutableBytes { p in
            MHD_create_response_from_buffer(p.count, p.baseAddress, .RESPMEM_MUST_COPY)
        }
        guard let response else { return .NO }
        _ = MHD_add_response_header(response, "Content-Type", r.contentType)
        let ret = MHD_queue_response(connection, r.status, response)
        MHD_destroy_response(response)
        return ret
    }
}

/// The server's answers: what `/metrics`, `/healthz` and `/readyz` return (read-only state
/// plus a request counter; safe from the daemon's threads).
final class MetricsResponder: Sendable {
    let registry: MetricsRegistry
    let health: HealthState
    let metricsPath: String
    let healthzPath: String
    let readyzPath: String
    let metricsEnabled: Bool
    let requests = Counter()

    init(registry: MetricsRegistry, health: HealthState, metricsPath: String, healthzPath: String, readyzPath: String,
         metricsEnabled: Bool) {
        self.registry = registry; self.health = health
        self.metricsPath = metricsPath; self.healthzPath = healthzPath; self.readyzPath = readyzPath
        self.metricsEnabled = metricsEnabled
    }

    func respond(method: String, path: String) -> (status: UInt32, contentType: String, body: String) {
        requests.add()
        guard method == "GET" || method == "HEAD" else { return (405, "text/plain", "method not allowed\n") }
        if path == metricsPath && metricsEnabled {
            return (200, "text/plain; version=0.0.4; charset=utf-8", registry.render())
        }
        if path == healthzPath { return (200, "text/plain", "ok\n") }
        if path == readyzPath {
            let missing = health.missing
            return missing.isEmpty ? (200, "text/plain", "ready\n") : (503, "text/plain", "not ready: " + missing.joined(separator: ", ") + "\n")
        }
        return (404, "text/plain", "not found\n")
    }
}
