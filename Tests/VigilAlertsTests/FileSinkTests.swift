import Foundation
import Testing
import VigilCore
import VigilRules
@testable import VigilAlerts

@Suite struct FileSinkTests {
    @Test func appendsJSONLines() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("alerts.json")
        try "existing line\n".write(toFile: path, atomically: false, encoding: .utf8)
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: path, keepAlive: false), json: true, capacity: 100)
        for i in 0..<20 { sink.submit(FormattedAlert(makeAlert(message: "m\(i)"))) }
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        let lines = readLines(path)
        #expect(lines.count == 21)
        #expect(lines[0] == "existing line")
        for (i, l) in lines.dropFirst().enumerated() {
            let d = try parseJSON(Array(l.utf8))
            #expect((d["output"] as? String)?.hasSuffix(" m\(i)") == true)
        }
        #expect(sink.stats.sent.value == 20 && sink.stats.errors.value == 0 && sink.stats.dropped.value == 0)
    }

    @Test func rotatesBySizeKeepingCount() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("alerts.json")
        let line = FormattedAlert(makeAlert(message: String(repeating: "x", count: 200)))
        let lineSize = line.json.count + 1
        // Room for 5 lines per file; keep 2 rotated files.
        let cfg = FileOutputConfig(enabled: true, filename: path, keepAlive: true,
                                   maxSizeMB: Double(lineSize * 5) / (1024 * 1024), maxFiles: 2)
        let sink = AlertSink.file(cfg, json: true, capacity: 1000)
        for _ in 0..<23 { sink.submit(line) }
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        let fm = FileManager.default
        #expect(readLines(path).count == 3)          // 23 = 4 full files + 3
        #expect(readLines(path + ".1").count == 5)
        #expect(readLines(path + ".2").count == 5)
        #expect(!fm.fileExists(atPath: path + ".3"))  // only max_files kept
        for p in [path, path + ".1", path + ".2"] {
            let size = (try fm.attributesOfItem(atPath: p)[.size] as? NSNumber)?.intValue ?? -1
            #expect(size <= cfg.maxSizeBytes)
            for l in readLines(p) { _ = try parseJSON(Array(l.utf8)) }
        }
        #expect(sink.stats.sent.value == 23)
    }

    @Test func reopenAfterExternalRotation() throws {
        let dir = TempDir(); defer { dir.cleanup() }
        let path = dir.file("alerts.log")
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: path, keepAlive: true, maxSizeMB: 0), json: false, capacity: 100)
        sink.submit(FormattedAlert(makeAlert(message: "before")))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        // logrotate moves the file away and sends SIGUSR1: the next alert goes to a fresh file at once
        // (without the signal, the sink notices the move itself within a second: FileSinkFaultTests).
        #expect(rename(path, path + ".old") == 0)
        sink.reopen()
        sink.submit(FormattedAlert(makeAlert(message: "after")))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        sink.stop(timeoutNs: 1_000_000_000)
        let old = readLines(path + ".old")
        let new = readLines(path)
        #expect(old.count == 1 && old[0].hasSuffix("Warning before"))
        #expect(new.count == 1 && new[0].hasSuffix("Warning after"))
        #expect(new[0].hasPrefix("2025-11-24T16:00:00.123456789Z: "))
    }

    @Test func unwritableFileCountsErrors() {
        let dir = TempDir(); defer { dir.cleanup() }
        let sink = AlertSink.file(FileOutputConfig(enabled: true, filename: dir.file("missing-dir/alerts.json")), json: true, capacity: 10)
        sink.submit(FormattedAlert(makeAlert()))
        sink.submit(FormattedAlert(makeAlert()))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        sink.stop(timeoutNs: 0)
        #expect(sink.stats.errors.value == 2)
        #expect(sink.stats.sent.value == 0)
    }

    @Test func stdoutSinkWritesToDescriptor() throws {
        var fds: [Int32] = [0, 0]
        #expect(cloexecPipe(&fds))
        defer { close(fds[0]) }
        let sink = AlertSink.stdout(StdoutOutputConfig(format: .auto), json: true, capacity: 10, fd: fds[1])
        #expect(sink.format == .json) // a pipe is not a terminal
        sink.submit(FormattedAlert(makeAlert(message: hostileMessage)))
        #expect(sink.flush(timeoutNs: 5_000_000_000))
        sink.stop(timeoutNs: 0)
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0]).readDataToEndOfFile()
        let lines = data.split(separator: 0x0A)
        #expect(lines.count == 1)
        let d = try parseJSON(Array(lines[0]))
        #expect((d["output"] as? String)?.hasSuffix(hostileMessage) == true)
    }

    @Test func stalledStdoutDoesNotHangStop() {
        var fds: [Int32] = [0, 0]
        #expect(cloexecPipe(&fds))
        defer { shutdown(fds[0], Int32(SHUT_RDWR)); close(fds[1]) }   // the reader thread closes nothing
        let sink = AlertSink.stdout(StdoutOutputConfig(format: .json), json: true, capacity: 10, fd: fds[1])
        let big = FormattedAlert(makeAlert(fields: [("proc.cmdline", .string(String(repeating: "s", count: 4 << 20)))]))
        for _ in 0..<3 { sink.submit(big) }  // nobody reads: the first write blocks forever
        let start = Date()
        sink.stop(timeoutNs: 100_000_000)
        #expect(Date().timeIntervalSince(start) < 5)
        // Once the reader drains, the left-behind worker finishes and everything is accounted for.
        let readFD = fds[0]
        Thread {
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while read(readFD, &buf, buf.count) > 0 {}
        }.start()
        #expect(waitUntil(10) { sink.stats.sent.value + sink.stats.errors.value + sink.stats.dropped.value == 3 })
    }
}
