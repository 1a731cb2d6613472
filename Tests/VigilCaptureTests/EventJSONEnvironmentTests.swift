import Foundation
import Testing
import VigilABI
import VigilCapture
import VigilDecode

/// `vigil trace` prints the environment of exec records that carry one (`--env N`).
@Suite struct EventJSONEnvironmentTests {
    @Test func execWithEnvironmentPrintsProcEnv() throws {
        let h = RecordEncoder.Header(timestampBootNs: 5, pid: 7, tid: 7, ppid: 1, uid: 0, comm: "true")
        var x = RecordEncoder.Exec(exePath: "/bin/true", argv: ["true"], cwd: "/")
        x.env = ["LD_PRELOAD=/tmp/x.so", "A=line1\nline2", "Q=\"q\""]
        x.exeFlags = UInt32(VIGIL_EXE_ENV_TRUNCATED)
        var r = EventJSONRenderer(bootToWallOffsetNs: 0)
        let json: [UInt8] = try OwnedRecord(bytes: RecordEncoder.exec(h, x)).withEvent { e in r.render(e) { Array($0) } }.get()
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        #expect(obj["proc.env"] as? [String] == ["LD_PRELOAD=/tmp/x.so", "A=line1\nline2", "Q=\"q\""])
        #expect(obj["proc.is_env_truncated"] as? Bool == true)

        // Not captured: no key at all.
        let plain: [UInt8] = try OwnedRecord(bytes: RecordEncoder.exec(h, .init(exePath: "/bin/true", argv: ["true"])))
            .withEvent { e in r.render(e) { Array($0) } }.get()
        let o = try #require(try JSONSerialization.jsonObject(with: Data(plain)) as? [String: Any])
        #expect(o["proc.env"] == nil)
    }

    @Test func decodeRejectsAnEnvironmentRunningPastTheRecord() {
        let h = RecordEncoder.Header(timestampBootNs: 5, pid: 7, tid: 7, ppid: 1, uid: 0, comm: "true")
        var x = RecordEncoder.Exec(exePath: "/bin/true", argv: ["true"])
        x.env = ["A=1"]
        var rec = RecordEncoder.exec(h, x)
        rec[162] = 0xff  // env_len far beyond the record
        let bad = rec.withUnsafeBytes { Event.decode($0) }
        guard case .failure(.payloadOverrun) = bad else { Issue.record("decoded: \(bad)"); return }
    }
}
