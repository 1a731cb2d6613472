import Foundation
import Synchronization
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// A backend that only counts.
final class NullBackend: AlertSinkBackend, @unchecked Sendable {
    var maxBatch: Int { 256 }
    func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) { stats.sent.add(UInt64(batch.count)) }
}

/// Throughput numbers, run on demand: `VIGIL_BENCH=1 swift test -c release --filter AlertBenchmarks`.
/// Each compares against a baseline measured in the same run and prints the ratio.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["VIGIL_BENCH"] == "1", "set VIGIL_BENCH=1 to run benchmarks"))
struct AlertBenchmarks {
    static func typicalAlert(_ i: Int) -> Alert {
        makeAlert(rule: "Read sensitive file untrusted", message: "Sensitive file opened for reading (file=/etc/shadow pid=\(i) proc=cat)",
                  timeNs: 1_764_000_000_000_000_000 + UInt64(i),
                  fields: [("evt.time", .uint(1_764_000_000_000_000_000 + UInt64(i))), ("proc.name", .string("cat")),
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

    @Test func jsonFormattingVersusFoundation() throws {
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
        let foundation = try seconds {
            for d in dicts { total2 += try! JSONSerialization.data(withJSONObject: d, options: [.sortedKeys]).count }
        }
        print(String(format: "BENCH json: %.0f ns/alert (%.0f alerts/s, %d B avg); JSONSerialization %.0f ns/alert; ratio %.2fx",
                     ours / Double(n) * 1e9, Double(n) / ours, total / n, foundation / Double(n) * 1e9, foundation / ours))
        #expect(total > 0 && total2 > 0)
    }

    @Test func submitCostAndDispatchThroughput() {
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
        #expect(sink.stats.sent.value == UInt64(n))
    }

    @Test func fileSinkVersusBareWrites() throws {
        let dir = TempDir(); defer { dir.cleanup() }
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
        #expect(sink.stats.sent.value == UInt64(n))
    }

    @Test func foldingUnderFlood() {
        let n = 200_000
        let a = Self.typicalAlert(1)
        let sink = AlertSink(name: "null", format: .json, capacity: 10_000, backend: NullBackend())
        let d = AlertDispatcher(sinks: [sink], floodControl: FloodControlConfig(fold: FoldConfig(enabled: true, windowMs: 60_000)), capacity: 1 << 20)
        let t = seconds { for _ in 0..<n { d.submit(a) }; d.flush(timeout: .seconds(120)) }
        d.stop()
        print(String(format: "BENCH folding: %.0f identical alerts/s folded into %d sent alerts", Double(n) / t, Int(sink.stats.sent.value)))
        #expect(sink.stats.sent.value == 2)
    }
}
