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
