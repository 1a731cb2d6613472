import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init(_ tag: String = "vigil-alerts") {
        var template = Array("\(NSTemporaryDirectory())/\(tag)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? NSTemporaryDirectory() + "/\(tag)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Builds an alert for tests.
func makeAlert(rule: String = "Test rule", priority: Priority = .warning, message: String = "something happened (user=root)",
               timeNs: UInt64 = 1_764_000_000_123_456_789, container: String? = nil,
               fields: [(String, AlertFieldValue)]? = nil, tags: [String] = ["test", "T1059"]) -> Alert {
    var f = fields ?? [("proc.name", .string("cat")), ("proc.pid", .int(4242)), ("user.name", .string("root"))]
    if let c = container { f.append(("container.id", .string(c))) }
    return Alert(timeNs: timeNs, rule: rule, priority: priority, source: "syscall", hostname: "node-1",
                 message: message, tags: tags, outputFields: f)
}

/// Parses one JSON object line.
func parseJSON(_ line: some Collection<UInt8>) throws -> [String: Any] {
    let obj = try JSONSerialization.jsonObject(with: Data(line), options: [])
    guard let d = obj as? [String: Any] else { throw TestFailure("not a JSON object: \(String(decoding: Array(line), as: UTF8.self))") }
    return d
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Lines of a file (empty if missing).
func readLines(_ path: String) -> [String] {
    guard let d = FileManager.default.contents(atPath: path) else { return [] }
    return String(decoding: d, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// Polls `cond` every 10 ms until true or `timeout` seconds pass.
@discardableResult
func waitUntil(_ timeout: Double = 5, _ cond: () -> Bool) -> Bool {
    let end = Timestamp.monotonicNanoseconds() + UInt64(timeout * 1e9)
    while Timestamp.monotonicNanoseconds() < end {
        if cond() { return true }
        Timestamp.sleep(milliseconds: 10)
    }
    return cond()
}

/// Whether `s` is Falco's RFC 3339 nanosecond UTC time, as written in `time`.
func isRFC3339Nanos(_ s: String) -> Bool {
    s.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z/#) != nil
}

/// The repository root (for fixtures).
let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A free TCP (or UDP) port on 127.0.0.1, found by binding port 0.
func freePort(udp: Bool = false) -> UInt16 {
    let s = socket(AF_INET, udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
    return UInt16(bigEndian: addr.sin_port)
}

/// Hostile event data: newlines, quotes, ANSI escapes, a fake syslog header, NUL, C1 controls.
let hostileMessage = "evil\n<13>1 2026-01-01T00:00:00Z fake vigil - - - injected\r\n\"quoted\" \\ back ] bracket \u{1b}[31mred\u{1b}[0m \u{0} nul \u{9b}c1 \u{2028}ls"

/// Invalid UTF-8 bytes as they could come from argv, decoded as Swift does (U+FFFD).
let invalidUTF8Text = String(decoding: [0x66, 0x6F, 0xFF, 0xFE, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0x6F], as: UTF8.self)

/// Whether a TCP connection to 127.0.0.1:`port` succeeds right now.
func canConnect(port: UInt16) -> Bool {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A connected pair standing in for a pipe ([0] read, [1] write), created close-on-exec atomically
/// so receivers the tests spawn meanwhile do not inherit an end (which would hide EOF and EPIPE).
func cloexecPipe(_ fds: inout [Int32]) -> Bool {
    socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0
}
