#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore

/// Appends alert lines to a file, rotating by size and reopening on request (SIGUSR1 after an
/// external logrotate moved the file).
///
/// Rotation: when a write would make the file larger than `max_size_mb`, `FILE.(N-1)` is renamed
/// to `FILE.N` … `FILE` to `FILE.1` (keeping `max_files` old files; the oldest is removed) and a
/// fresh `FILE` is opened. A single line larger than the limit is still written whole.
public final class FileBackend: AlertSinkBackend, @unchecked Sendable {
    private let path: String
    private let format: AlertLineFormat
    private let keepAlive: Bool
    private let maxBytes: Int
    private let maxFiles: Int
    private var fd: Int32 = -1
    private var size = 0
    private var buffer: [UInt8] = []
    private var lastErrorLogNs: UInt64 = 0
    /// Rotations performed (read by tests and metrics through the sink).
    public private(set) var rotations = 0

    public init(config: FileOutputConfig, format: AlertLineFormat) {
        path = config.filename
        self.format = format
        keepAlive = config.keepAlive
        maxBytes = config.maxSizeBytes
        maxFiles = max(0, config.maxFiles)
        buffer.reserveCapacity(64 * 1024)
    }

    public var maxBatch: Int { 256 }

    private func openFile() -> Bool {
        if fd >= 0 { return true }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if fd < 0 {
            let err = String(cString: strerror(errno))
            let now = Timestamp.monotonicNanoseconds()
            if now &- lastErrorLogNs > 10_000_000_000 {
                lastErrorLogNs = now
                Log.error("alerts", "cannot open alert file", [("sink", "file"), ("path", path), ("error", err)])
            }
            return false
        }
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        return true
    }

    private func closeFile() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    private func rotate() {
        closeFile()
        if maxFiles == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(maxFiles)")
            var i = maxFiles - 1
            while i >= 1 { rename("\(path).\(i)", "\(path).\(i + 1)"); i -= 1 }
            rename(path, "\(path).1")
        }
        rotations += 1
    }

    private func flushBuffer(_ n: Int, _ stats: SinkStats) {
        guard !buffer.isEmpty else { return }
        let ok = buffer.withUnsafeBytes { FileDescriptorWriter.writeAll(fd, $0) }
        if ok {
            stats.sent.add(UInt64(n)); size += buffer.count
        } else {
            stats.errors.add(UInt64(n)); closeFile()
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func idle(control: SinkControl) {
        if control.takeReopenRequest() { closeFile() }
    }

    public func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        if !openFile() {
            // One retry after a short pause (the directory may be being recreated by logrotate).
            stats.retries.add()
            control.sleep(ns: 50_000_000)
            if !openFile() { stats.errors.add(UInt64(batch.count)); return }
        }
        var pending = 0
        for (i, a) in batch.enumerated() {
            let line = format == .json ? a.json : a.text
            if maxBytes > 0 && size + buffer.count > 0 && size + buffer.count + line.count + 1 > maxBytes {
                flushBuffer(pending, stats); pending = 0
                rotate()
                if !openFile() { stats.errors.add(UInt64(batch.count - i)); return }
            }
            buffer.append(contentsOf: line)
            buffer.append(0x0A)
            pending += 1
        }
        flushBuffer(pending, stats)
        if !keepAlive { closeFile() }
        if buffer.capacity > 1 << 20 { buffer = []; buffer.reserveCapacity(64 * 1024) }
    }

    public func close() { closeFile() }
}

extension AlertSink {
    /// The file sink for `config` (JSON lines when `json`, else text lines).
    public static func file(_ config: FileOutputConfig, json: Bool, capacity: Int, maxBytes: Int = OutputsQueueConfig.defaultMaxBytes) -> AlertSink {
        let fmt: AlertLineFormat = json ? .json : .text
        return AlertSink(name: "file", format: fmt, capacity: capacity, maxBytes: maxBytes, backend: FileBackend(config: config, format: fmt))
    }
}
