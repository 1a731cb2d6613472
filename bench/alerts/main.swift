// Alert-path throughput (`make bench-alerts`, release build): JSON formatting against
// Foundation's JSONSerialization, the cost of submitting to the dispatcher, the file sink
// against bare writes, and folding under a flood. Each prints its ratio to a baseline
// measured in the same run.
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import VigilCore
import VigilRules
import VigilAlerts

/// A backend that only counts.
final class NullBackend: AlertSinkBackend, @unchecked Sendable {
    var maxBatch: Int { 256 }
    func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) { stats.sent.add(UInt64(batch.count)) }
}

/// A scratch directory removed at the end.
struct TempDirectory {
    let path: String
    init() {
        var t = Array("/tmp/vigil-bench-alerts-XXXXXX".utf8CString)
        path = t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { _ = try? FileManager.default.removeItem(atPath: path) }
}

/// A benchmark's sanity check: a wrong result makes the run fail.
func check(_ ok: Bool, _ line: Int = #line) {
    if !ok { FileDescriptorWriter.writeAll(2, "vigil-bench-alerts: check failed at line \(line)\n"); exit(1) }
}

struct AlertBenchmarks {
    static func typicalAlert(_ i: Int) -> Alert {
        Alert(timeNs: 1_764_000_000_000_000_000 + UInt64(i), rule: "Read sensitive file untrusted", priority: .warning, source: "syscall", hostname: "node-1", message: "Sensitive file opened for reading (file=/etc/shadow pid=\(i) proc=cat)",
                  tags: ["test", "T1059"], outputFields: [("evt.time", .uint(1_764_000_000_000_000_000 + UInt64(i))), ("proc.name", .string("cat")),
                           ("proc.pid", .int(Int64(i))), ("proc.cmdline", .string("cat /etc/shadow")),
                           ("proc.pname", .string("bash")), ("user.name", .string("root")), ("user.uid", .int(0)),
                           ("fd.name", .string("/etc/shadow")), ("container.id", .string("3f9a2b7c1d4e")),
                           ("container.image.repository", .string("docker.io/library/nginx")), ("k8s.pod.name", .string("web-5d8f")),
                           ("k8s.ns.name", .string("shop"))])
    }

    func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    func jsonFormattingVersusFoundation() throws {
        let n = 100_000
        let alerts = (0..<n).map(Self.typicalAlert)
        var total = 0
        let w = JSONWriter(capacity: 2048)
        let ours = seconds {
            for a in alerts { w.reset(); AlertFormatter.writeJSON(a, into: w); total += w.bytes.count }
        }
        // Baseline: Foundation's JSONSerialization of the same object.
        let dicts: [[String: Any]] = alerts.map { a in
            var f: [String: Any] = [:]
            for (k, v) in a.outputFields {
                switch v {
                case .string(let s): f[k] = s
                case .int(let i): f[k] = i
                case .uint(let u): f[k] = u
                default: f[k] = NSNull()
                }
            }
            return ["hostname": a.hostname, "output": AlertFormatter.outputText(a), "output_fields": f, "priority": a.priority.falcoName,
                    "rule": a.rule, "source": a.source, "tags": a.tags, "time": RFC3339.string(a.timeNs)]
        }
        var total2 = 0
        let foundation = seconds {
            for d in dicts { total2 += try! JSONSerialization.data(withJSONObject: d, options: [.sortedKeys]).count }
        }
        print(String(format: "BENCH json: %.0f ns/alert (%.0f alerts/s, %d B avg); JSONSerialization %.0f ns/alert; ratio %.2fx",
                     ours / Double(n) * 1e9, Double(n) / ours, total / n, foundation / Double(n) * 1e9, foundation / ours))
        check(total > 0 && total2 > 0)
    }

    func submitCostAndDispatchThroughput() {
        let n = 200_000
        let alerts = (0..<n).map(Self.typicalAlert)
        let sink = AlertSink(name: "null", format: .json, capacity: 1 << 20, maxBytes: 1 << 30, backend: NullBackend())
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: false)), capacity: 1 << 20)
        let submit = seconds { for a in alerts { d.submit(a) } }
        let all = seconds { d.flush(timeout: .seconds(120)) } + submit
        d.stop()
        // Baseline: appending the same alerts to a plain array under a Mutex (the cheapest possible handoff).
        let m = Mutex<[Alert]>([])
        m.withLock { $0.reserveCapacity(n) }
        let bare = seconds { for a in alerts { m.withLock { $0.append(a) } } }
        print(String(format: "BENCH submit: %.0f ns/alert on the caller (bare mutex append %.0f ns, ratio %.2fx); end to end %.0f alerts/s (format + fan-out), dropped %d",
                     submit / Double(n) * 1e9, bare / Double(n) * 1e9, submit / bare, Double(n) / all, Int(d.queueDropped.value + sink.stats.dropped.value)))
        check(sink.stats.sent.value == UInt64(n))
    }

    func fileSinkVersusBareWrites() throws {
        let dir = TempDirectory(); defer { dir.cleanup() }
        let n = 100_000
        let formatted = (0..<n).map { FormattedAlert(Self.typicalAlert($0)) }
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: dir.file("a.json"), keepAlive: true, maxSizeMB: 0),
                                  json: true, capacity: n, maxBytes: 1 << 30)
        let t = seconds {
            for f in formatted { sink.submit(f) }
            _ = sink.flush(timeoutNs: 120_000_000_000)
        }
        sink.stop(timeoutNs: 0)
        // Baseline: one write(2) per line from the same thread.
        let fd = open(dir.file("b.json"), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let bare = seconds {
            for f in formatted { var l = f.json; l.append(0x0A); l.withUnsafeBytes { _ = FileDescriptorWriter.writeAll(fd, $0) } }
        }
        close(fd)
        print(String(format: "BENCH file sink: %.0f alerts/s; bare write per line %.0f alerts/s; ratio %.2fx",
                     Double(n) / t, Double(n) / bare, bare / t))
        check(sink.stats.sent.value == UInt64(n))
    }

    func foldingUnderFlood() {
        let n = 200_000
        let a = Self.typicalAlert(1)
        let sink = AlertSink(name: "null", format: .json, capacity: 10_000, backend: NullBackend())
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: true, windowMs: 60_000)), capacity: 1 << 20)
        let t = seconds { for _ in 0..<n { d.submit(a) }; d.flush(timeout: .seconds(120)) }
        d.stop()
        print(String(format: "BENCH folding: %.0f identical alerts/s folded into %d sent alerts", Double(n) / t, Int(sink.stats.sent.value)))
        check(sink.stats.sent.value == 2)
    }
}

let b = AlertBenchmarks()
try b.jsonFormattingVersusFoundation()
b.submitCostAndDispatchThroughput()
try b.fileSinkVersusBareWrites()
b.foldingUnderFlood()
