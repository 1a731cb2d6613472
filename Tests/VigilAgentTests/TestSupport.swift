#if canImport(Glibc)
import Glibc
#endif
@testable import VigilAgent

/// A minimal HTTP/1.1 GET over a TCP socket (no outside tools needed).
func httpGet(port: UInt16, path: String, host: String = "127.0.0.1") -> (status: Int, body: String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &addr.sin_addr)
    let ok = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0 else { return nil }
    let req = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
    _ = req.withCString { send(fd, $0, strlen($0), 0) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buf, buf.count, 0)
        if n <= 0 { break }
        data += buf[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let headEnd = text.firstRange(of: "\r\n\r\n") else { return nil }
    let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let code = Int(parts[1]) else { return nil }
    return (code, String(text[headEnd.upperBound...]))
}

/// Parses Prometheus text format into `name{labels}` -> value.
func parsePrometheus(_ text: String) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let sp = line.lastIndex(of: " ") else { continue }
        let key = String(line[..<sp])
        if let v = Double(line[line.index(after: sp)...]) { out[key] = v }
    }
    return out
}

/// A fresh temporary directory.
func makeTempDir(_ tag: String = "vigil-agent-test") -> String {
    var template = Array("/tmp/\(tag)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return p.map { String(cString: $0) } ?? "/tmp"
}

func writeFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    _ = text.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}

func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/") else { return }
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/rm"), strdup("-rf"), strdup(path), nil]
    defer { for a in argv { free(a) } }
    if posix_spawn(&pid, "/bin/rm", nil, nil, &argv, environ) == 0 {
        var st: Int32 = 0
        waitpid(pid, &st, 0)
    }
}

/// Events the agent serving `port` has lost in the kernel so far (`vigil_kernel_drops_total`, read
/// from the kernel's counters at scrape time); nil when the metrics cannot be read.
func kernelDrops(port: UInt16) -> Double? {
    guard let r = httpGet(port: port, path: "/metrics"), r.status == 200 else { return nil }
    return parsePrometheus(r.body).filter { $0.key.hasPrefix("vigil_kernel_drops_total") }.values.reduce(0, +)
}

/// Does `act` and waits up to `wait` seconds for `alerted`. Returns nil once it alerted, else why not.
///
/// The agent sees every process of the machine: a storm elsewhere (another test's or program's
/// flood of syscalls) can fill its ring, and the kernel then loses events, counted in
/// `vigil_kernel_drops_total` (what Vigil promises under overload, with its "Vigil dropped
/// events" alert). A try during which that counter rose may have lost this behaviour's events and
/// proves nothing either way, so it is done again, up to `attempts` times. A try without losses
/// decides: no alert there is a failure.
func actUntilAlerted(port: UInt16, attempts: Int = 5, wait: Double = 15, act: () -> Bool, alerted: () -> Bool) -> String? {
    var lossy: [String] = []
    for _ in 0..<max(1, attempts) {
        let before = kernelDrops(port: port)
        guard act() else { return "the behaviour itself failed" }
        if waitFor(wait, alerted) { return nil }
        let after = kernelDrops(port: port)
        guard let b = before, let a = after, a > b else {
            return "no alert within \(Int(wait)) s, and the kernel lost no event meanwhile"
                + (lossy.isEmpty ? "" : " (earlier tries lost events: \(lossy.joined(separator: ", ")))")
        }
        lossy.append("\(Int(a - b)) events lost")
        print("actUntilAlerted: the kernel lost \(Int(a - b)) events during try \(lossy.count) and no alert came; trying again")
    }
    return "the kernel lost events during every try (\(lossy.joined(separator: ", "))): the machine was flooded; nothing shown either way"
}
