#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

/// Whether this process may mount a tmpfs (root). In CI the tests must run, so they fail there
/// when they cannot mount.
let canMountTmpfs: Bool = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"
    || ProcessInfo.processInfo.environment["VIGIL_CI"] == "1"

/// A small tmpfs mounted for one test (root only).
struct SmallTmpfs {
    let path: String
    init(sizeKiB: Int) throws {
        let dir = TempDir("vigil-tmpfs")
        path = dir.path
        let rc = mount("tmpfs", path, "tmpfs", 0, "size=\(sizeKiB)k,mode=0755")
        if rc != 0 { throw AlertConfigError(key: "test", message: "cannot mount a tmpfs on \(path): \(String(cString: strerror(errno)))") }
    }
    func cleanup() {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }
}

/// File output under faults (issue 11): a full disk never leaves half a line, counts are exact,
/// a deleted or replaced file or directory is noticed and reopened.
@Suite(.serialized) struct FileSinkFaultTests {
    /// Every line of `path` parses as one JSON object.
    func wholeJSONLines(_ path: String) throws -> Int {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        let bytes = [UInt8](data)
        if !bytes.isEmpty { #expect(bytes.last == 0x0A, "the file does not end with a newline") }
        var n = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            _ = try parseJSON(Array(line))
            n += 1
        }
        return n
    }

    @Test(.enabled(if: canMountTmpfs, "needs root to mount a tmpfs; skipped outside CI"))
    func fullDiskLeavesWholeLinesAndExactCounts() throws {
        let fs = try SmallTmpfs(sizeKiB: 64)
        defer { fs.cleanup() }
        let path = fs.path + "/alerts.json"
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: path, keepAlive: true, maxSizeMB: 0), json: true, capacity: 10_000)
        defer { sink.stop(timeoutNs: 1_000_000_000) }
        // ~1 KiB alerts of different lengths: 64 KiB fills in the middle of some line.
        var total = 0
        for i in 0..<300 {
            sink.submit(FormattedAlert(makeAlert(message: "full-\(i) " + String(repeating: "x", count: 700 + (i * 37) % 500))))
            total += 1
        }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        let sent = Int(sink.stats.sent.value), errors = Int(sink.stats.errors.value)
        #expect(sent + errors == total)
        #expect(sent > 10 && errors > 0, "sent \(sent), errors \(errors)")
        #expect(try wholeJSONLines(path) == sent)

        // Space returns (the file is cut to its first 5 lines): the next alerts start on their own line.
        let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        var newlines = 0, cut = 0
        for (i, b) in bytes.enumerated() where b == 0x0A { newlines += 1; if newlines == 5 { cut = i + 1; break } }
        #expect(truncate(path, off_t(cut)) == 0)
        let sentBefore = sink.stats.sent.value
        for i in 0..<5 { sink.submit(FormattedAlert(makeAlert(message: "after-\(i)"))) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        #expect(sink.stats.sent.value == sentBefore + 5)
        let lines = try wholeJSONLines(path)
        #expect(lines == 10, "\(lines) lines")
        #expect(sink.stats.sent.value + sink.stats.errors.value == UInt64(total + 5))
    }

    @Test(.enabled(if: canMountTmpfs, "needs root to mount a tmpfs; skipped outside CI"))
    func deletedDirectoryIsNoticedCountedAndRecovered() throws {
        let fs = try SmallTmpfs(sizeKiB: 1024)
        defer { fs.cleanup() }
        let dir = fs.path + "/out"
        #expect(mkdir(dir, 0o755) == 0)
        let path = dir + "/alerts.json"
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: path, keepAlive: true, maxSizeMB: 0), json: true, capacity: 10_000)
        defer { sink.stop(timeoutNs: 1_000_000_000) }
        sink.submit(FormattedAlert(makeAlert(message: "before")))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        #expect(sink.stats.sent.value == 1)

        // The directory goes away: within the path-check interval the sink notices, and alerts
        // are counted as errors (not as sent into the deleted file).
        try FileManager.default.removeItem(atPath: dir)
        var k = 0
        let noticed = waitUntil(10) {
            sink.submit(FormattedAlert(makeAlert(message: "lost-\(k)"))); k += 1
            _ = sink.flush(timeoutNs: 5_000_000_000)
            return sink.stats.errors.value > 0
        }
        #expect(noticed, "alerts still counted as sent after the directory was removed")
        let sentWhileGone = sink.stats.sent.value
        // Once it noticed, nothing more is counted as sent while the directory is missing.
        for i in 0..<3 { sink.submit(FormattedAlert(makeAlert(message: "gone-\(i)"))) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        #expect(sink.stats.sent.value == sentWhileGone)

        // The directory comes back: alerts reach the new file.
        #expect(mkdir(dir, 0o755) == 0)
        for i in 0..<4 { sink.submit(FormattedAlert(makeAlert(message: "back-\(i)"))) }
        #expect(sink.flush(timeoutNs: 10_000_000_000))
        #expect(sink.stats.sent.value == sentWhileGone + 4)
        #expect(try wholeJSONLines(path) == 4)
        #expect(sink.stats.sent.value + sink.stats.errors.value == UInt64(1 + k + 3 + 4))
    }

    @Test func replacedFileIsReopened() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("alerts.json")
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: path, keepAlive: true, maxSizeMB: 0), json: true, capacity: 1000)
        defer { sink.stop(timeoutNs: 1_000_000_000) }
        sink.submit(FormattedAlert(makeAlert(message: "one")))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        // Another file is moved over the path (a new inode): the sink follows the path.
        try "".write(toFile: dir.file("new"), atomically: false, encoding: .utf8)
        #expect(rename(dir.file("new"), path) == 0)
        let followed = waitUntil(10) {
            sink.submit(FormattedAlert(makeAlert(message: "probe")))
            _ = sink.flush(timeoutNs: 5_000_000_000)
            return !readLines(path).isEmpty
        }
        #expect(followed, "the sink kept writing to the replaced file")
        #expect(readLines(path).allSatisfy { $0.contains("probe") })
    }

    @Test func textOutputEscapesBackslash() {
        let a = makeAlert(message: "path C:\\new\nline \\n end")
        let text = String(decoding: AlertFormatter.text(a), as: UTF8.self)
        // A real newline is \n, a backslash is \\: the two never look alike.
        #expect(text.hasSuffix("Warning path C:\\\\new\\nline \\\\n end"), "\(text)")
    }

    func waitUntil(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let end = Timestamp.monotonicNanoseconds() + UInt64(seconds * 1e9)
        while Timestamp.monotonicNanoseconds() < end {
            if cond() { return true }
            Timestamp.sleep(milliseconds: 50)
        }
        return cond()
    }
}
