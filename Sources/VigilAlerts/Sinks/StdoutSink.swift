#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore

/// Writes alert lines to a file descriptor (standard output by default), one batch per write.
package final class FDLineBackend: AlertSinkBackend, @unchecked Sendable {
    private let fd: Int32
    private let format: AlertLineFormat
    private var buffer: [UInt8] = []

    /// Writes `format` lines to `fd` (not closed by the sink).
    package init(fd: Int32 = 1, format: AlertLineFormat) {
        self.fd = fd
        self.format = format
        buffer.reserveCapacity(64 * 1024)
    }

    package var maxBatch: Int { 256 }

    package func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        buffer.removeAll(keepingCapacity: true)
        for a in batch {
            buffer.append(contentsOf: format == .json ? a.json : a.text)
            buffer.append(0x0A)
        }
        let ok = buffer.withUnsafeBytes { FileDescriptorWriter.writeAll(fd, $0) }
        if ok { stats.sent.add(UInt64(batch.count)) } else { stats.errors.add(UInt64(batch.count)) }
        if buffer.capacity > 1 << 20 { buffer = []; buffer.reserveCapacity(64 * 1024) }
    }
}

extension AlertSink {
    /// The stdout sink. `format` `.auto` writes text on a terminal, else JSON when `json` is true.
    package static func stdout(_ config: StdoutOutputConfig, json: Bool, capacity: Int, maxBytes: Int = OutputsQueueConfig.defaultMaxBytes, fd: Int32 = 1) -> AlertSink {
        let fmt: AlertLineFormat
        switch config.format {
        case .auto: fmt = isatty(fd) == 1 ? .text : (json ? .json : .text)
        case .config: fmt = json ? .json : .text
        case .json: fmt = .json
        case .text: fmt = .text
        }
        return AlertSink(name: "stdout", format: fmt, capacity: capacity, maxBytes: maxBytes, backend: FDLineBackend(fd: fd, format: fmt))
    }
}
