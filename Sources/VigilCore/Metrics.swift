import Synchronization

/// A monotonically increasing counter, safe to bump from any thread.
package final class Counter: Sendable {
    private let storage = Atomic<UInt64>(0)
    package init() {}
    /// Adds `n` (relaxed ordering; counters are read for reporting only).
    @inline(__always) package func add(_ n: UInt64 = 1) { storage.wrappingAdd(n, ordering: .relaxed) }
    /// The current value.
    package var value: UInt64 { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down (sizes, states).
package final class Gauge: Sendable {
    private let storage = Atomic<Int64>(0)
    package init() {}
    @inline(__always) package func set(_ v: Int64) { storage.store(v, ordering: .relaxed) }
    @inline(__always) package func add(_ v: Int64) { storage.wrappingAdd(v, ordering: .relaxed) }
    package var value: Int64 { storage.load(ordering: .relaxed) }
}

/// One sample of a metric family: label pairs and a value.
package struct MetricSample: Sendable {
    package var labels: [(String, String)]
    package var value: Double
    package init(labels: [(String, String)] = [], value: Double) { self.labels = labels; self.value = value }
}

/// Prometheus metric type.
package enum MetricType: String, Sendable { case counter, gauge }

/// The process-wide list of metric families, rendered in Prometheus text format on scrape.
///
/// Stages keep their own ``Counter``s; whoever wires them registers a collector
/// that reads them at scrape time, so nothing on the hot path touches the registry.
package final class MetricsRegistry: Sendable {
    struct Family: Sendable {
        let name: String
        let help: String
        let type: MetricType
        let collect: @Sendable () -> [MetricSample]
    }
    private let families = Mutex<[Family]>([])

    package init() {}

    /// Registers (or replaces) a family named `name`.
    package func register(_ name: String, help: String, type: MetricType, collect: @escaping @Sendable () -> [MetricSample]) {
        families.withLock { list in
            list.removeAll { $0.name == name }
            list.append(Family(name: name, help: help, type: type, collect: collect))
        }
    }

    /// Registers a single unlabelled counter.
    package func register(_ name: String, help: String, counter: Counter) {
        register(name, help: help, type: .counter) { [MetricSample(value: Double(counter.value))] }
    }

    /// Registers a single unlabelled gauge.
    package func register(_ name: String, help: String, gauge: Gauge) {
        register(name, help: help, type: .gauge) { [MetricSample(value: Double(gauge.value))] }
    }

    /// Renders every family in Prometheus text exposition format 0.0.4.
    package func render() -> String {
        let list = families.withLock { $0 }
        var out = ""
        for f in list {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.type.rawValue)\n"
            for s in f.collect() {
                out += f.name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " " + Self.format(s.value) + "\n"
            }
        }
        return out
    }

    static func escapeLabel(_ v: String) -> String {
        var r = ""
        for ch in v {
            switch ch {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.append(ch)
            }
        }
        return r
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
