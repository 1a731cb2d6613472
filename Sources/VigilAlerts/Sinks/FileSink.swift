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
///
/// Never corrupts the file: a short write (disk full, quota) is cut back to the last complete
/// line with `ftruncate`, so the file holds whole lines only and the next alert starts on its
/// own line; `sent` counts exactly the lines that reached the file, `errors` the rest.
/// Like log shippers, it compares the path's inode with the open file's every second: when the
/// file was deleted, moved away or replaced (or its directory removed), it logs it and reopens
/// the path (alerts are counted as errors while the path cannot be opened).
package final class FileBackend: AlertSinkBackend, @unchecked Sendable {
    private let path: String
    private let format: AlertLineFormat
    private let keepAlive: Bool
    private let maxBytes: Int
    private let maxFiles: Int
    private var fd: Int32 = -1
    private var size = 0
    private var buffer: [UInt8] = []
    /// End offset in ``buffer`` of each line (after its newline).
    private var lineEnds: [Int] = []
    /// Device and inode of the open file, compared with the path's.
    private var openedID: (dev: UInt64, ino: UInt64)?
    private var lastPathCheckNs: UInt64 = 0
    /// A partial line could not be truncated away: the next write starts with a newline.
    private var danglingPartial = false
    private var lastErrorLogNs: UInt64 = 0
    private var lastWriteErrorLogNs: UInt64 = 0
    /// How often the path's inode is compared with the open file's.
    static let pathCheckIntervalNs: UInt64 = 1_000_000_000
    /// Rotations performed (read by tests and metrics through the sink).
    package private(set) var rotations = 0

    package init(config: FileOutputConfig, format: AlertLineFormat) {
        path = config.filename
        self.format = format
        keepAlive = config.keepAlive
        maxBytes = config.maxSizeBytes
        maxFiles = max(0, config.maxFiles)
        buffer.reserveCapacity(64 * 1024)
    }

    package var maxBatch: Int { 256 }

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
        if fstat(fd, &st) == 0 {
            size = Int(st.st_size)
            openedID = (UInt64(st.st_dev), UInt64(st.st_ino))
        } else {
            size = 0; openedID = nil
        }
        lastPathCheckNs = Timestamp.monotonicNanoseconds()
        return true
    }

    private func closeFile() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        openedID = nil
    }

    /// Closes the file (to be reopened by path) when the path no longer names it. At most once per interval.
    private func checkPath(force: Bool = false) {
        guard fd >= 0, let id = openedID else { return }
        let now = Timestamp.monotonicNanoseconds()
        if !force && now &- lastPathCheckNs < Self.pathCheckIntervalNs { return }
        lastPathCheckNs = now
        var st = stat()
        if stat(path, &st) != 0 {
            let why = String(cString: strerror(errno))
            Log.warning("alerts", "alert file was deleted or moved away; reopening its path", [("sink", "file"), ("path", path), ("stat", why)])
            closeFile()
        } else if UInt64(st.st_dev) != id.dev || UInt64(st.st_ino) != id.ino {
            Log.warning("alerts", "alert file was replaced; reopening its path", [("sink", "file"), ("path", path)])
            closeFile()
        }
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

    /// Writes the buffered lines. Counts exactly: `sent` for each line that reached the file
    /// whole, `errors` for the others; a partial line is truncated away.
    private func flushBuffer(_ stats: SinkStats) {
        defer { buffer.removeAll(keepingCapacity: true); lineEnds.removeAll(keepingCapacity: true) }
        guard !buffer.isEmpty else { return }
        var st = stat()
        let start = fstat(fd, &st) == 0 ? Int(st.st_size) : size
        var written = 0
        var failure: Int32 = 0
        buffer.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { failure = EIO; return }
                written += n
            }
        }
        var complete = 0, completeBytes = 0
        for end in lineEnds {
            guard end <= written else { break }
            complete += 1; completeBytes = end
        }
        stats.sent.add(UInt64(complete))
        size = start + completeBytes
        guard failure != 0 else { return }
        stats.errors.add(UInt64(lineEnds.count - complete))
        var truncated = "none"
        if written > completeBytes {
            // Part of a line reached the file: cut it off so the next line does not glue to it.
            if ftruncate(fd, off_t(start + completeBytes)) == 0 {
                truncated = "\(written - completeBytes) bytes"
            } else {
                truncated = "failed (\(String(cString: strerror(errno))))"
                danglingPartial = true
            }
        }
        let now = Timestamp.monotonicNanoseconds()
        if now &- lastWriteErrorLogNs > 10_000_000_000 {
            lastWriteErrorLogNs = now
            Log.error("alerts", "cannot write alert file", [("sink", "file"), ("path", path), ("error", String(cString: strerror(failure))),
                                                            ("written", String(complete)), ("failed", String(lineEnds.count - complete)),
                                                            ("partial_line_removed", truncated)])
        }
        closeFile()
    }

    package func idle(control: SinkControl) {
        if control.takeReopenRequest() { closeFile() }
        checkPath()
    }

    package func deliver(_ batch: [FormattedAlert], stats: SinkStats, control: SinkControl) {
        checkPath()
        if !openFile() {
            // One retry after a short pause (the directory may be being recreated by logrotate).
            stats.retries.add()
            control.sleep(ns: 50_000_000)
            if !openFile() { stats.errors.add(UInt64(batch.count)); return }
        }
        if danglingPartial { buffer.append(0x0A); danglingPartial = false }
        for (i, a) in batch.enumerated() {
            let line = format == .json ? a.json : a.text
            if maxBytes > 0 && size + buffer.count > 0 && size + buffer.count + line.count + 1 > maxBytes {
                flushBuffer(stats)
                if fd < 0 { stats.errors.add(UInt64(batch.count - i)); return }
                rotate()
                if !openFile() { stats.errors.add(UInt64(batch.count - i)); return }
            }
            buffer.append(contentsOf: line)
            buffer.append(0x0A)
            lineEnds.append(buffer.count)
        }
        flushBuffer(stats)
        if !keepAlive { closeFile() }
        if buffer.capacity > 1 << 20 { buffer = []; buffer.reserveCapacity(64 * 1024) }
    }

    package func close() { closeFile() }
}

extension AlertSink {
    /// The file sink for `config` (JSON lines when `json`, else text lines).
    package static func file(_ config: FileOutputConfig, json: Bool, capacity: Int, maxBytes: Int = OutputsQueueConfig.defaultMaxBytes) -> AlertSink {
        let fmt: AlertLineFormat = json ? .json : .text
        return AlertSink(name: "file", format: fmt, capacity: capacity, maxBytes: maxBytes, backend: FileBackend(config: config, format: fmt))
    }
}
