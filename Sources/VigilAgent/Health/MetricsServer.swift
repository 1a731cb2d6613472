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

    private let registry: MetricsRegistry
    private let health: HealthState
    private let metricsPath: String
    private let healthzPath: String
    private let readyzPath: String
    private let metricsEnabled: Bool
    private var daemon: OpaquePointer?
    /// The port actually listened on (differs from the requested one when that was 0).
    package private(set) var port: UInt16 = 0
    /// Requests served (by path class), for the server's own metrics.
    package let requests = Counter()

    package init(registry: MetricsRegistry, health: HealthState, healthzPath: String = "/healthz",
                readyzPath: String = "/readyz", metricsEnabled: Bool = true) {
        self.registry = registry; self.health = health
        self.metricsPath = "/metrics"; self.healthzPath = healthzPath; self.readyzPath = readyzPath
        self.metricsEnabled = metricsEnabled
    }

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
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        let d = withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                vigil_mhd_start(flags, UInt16(requested), MetricsServer.handler, ctx, sa)
            }
        }
        guard let d else {
            throw StartError(description: "cannot listen on \(address):\(requested) for the metrics server: \(String(decoding: strerrorBytes(errno), as: UTF8.self))")
        }
        daemon = d
        port = vigil_mhd_bound_port(d)
    }

    /// Stops the server (waits for its thread).
    package func stop() {
        if let d = daemon {
            MHD_stop_daemon(d)
            daemon = nil
        }
    }

    private func strerrorBytes(_ e: Int32) -> [UInt8] {
        guard let p = strerror(e) else { return [] }
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
    }

    /// Builds the response for `path` (also used directly by tests).
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

    private static let handler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, _, uploadSize, conCls in
        guard let cls, let connection else { return .NO }
        let server = Unmanaged<MetricsServer>.fromOpaque(cls).takeUnretainedValue()
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
