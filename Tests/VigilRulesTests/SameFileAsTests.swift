#if canImport(Glibc)
import Glibc
#endif
import Testing
import VigilCore
import VigilDecode
import VigilState
@testable import VigilRules

/// `fd.same_file_as[path]` keeps the targets' inodes between events (no stat per event) and
/// still sees a target that was replaced: a hard link to the new file is the same file.
@Suite struct SameFileAsTests {
    /// A temporary directory with a "shadow" target file; removed by `cleanup`.
    static func makeDirectory() throws -> String {
        var template = Array("/tmp/vigil-same-file-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        return dir
    }

    static func write(_ path: String) throws {
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        try #require(fd >= 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        close(fd)
    }

    /// A new directory holding the target `shadow` and a second link to it, `hl`, with a rule
    /// on `fd.same_file_as` that target.
    static func linkedTarget() throws -> (dir: String, scratch: RuleScratch, fires: (SyntheticEvent) -> Bool) {
        let dir = try makeDirectory()
        let target = dir + "/shadow"
        try write(target)
        try #require(link(target, dir + "/hl") == 0)
        let (s, fires) = try sameFileRule(target)
        return (dir, s, fires)
    }

    /// One rule, `fd.nlink > 1 and fd.same_file_as[target]` on opens, its scratch, and whether it
    /// fires on an event (evaluated with that scratch, so its target cache lives across calls).
    static func sameFileRule(_ target: String) throws -> (RuleScratch, (SyntheticEvent) -> Bool) {
        let (set, diags) = loadRules("""
            - rule: r
              desc: d
              condition: evt.type = openat and fd.nlink > 1 and fd.same_file_as[\(target)] = true
              output: o
              priority: WARNING
            """)
        try #require(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        // Results age out after a second: far longer here, so that a slow (loaded) test run
        // drops them only where a test makes it.
        s.sameFileTargets.lifetime = 3_600_000_000_000
        return (s, { ev in ev.withContext { set.matches(rule: 0, $0, scratch: s) } ?? false })
    }

    /// `ev` as if it happened at boot-clock time `ns` (a live event's time: after everything
    /// its process did before it).
    static func at(_ ns: UInt64, _ ev: SyntheticEvent) -> SyntheticEvent {
        var e = ev
        var bytes = e.record.bytes
        withUnsafeBytes(of: ns.littleEndian) { for k in 0..<8 { bytes[8 + k] = $0[k] } }  // vigil_header.ts_ns
        e.record = OwnedRecord(bytes: bytes)
        return e
    }

    /// An open of `path` by this process (its /proc root is readable), with the file's inode,
    /// happening now (boot clock), as a live event.
    static func openEvent(_ path: String, startNs: UInt64? = nil, exeIno: UInt64? = nil) throws -> SyntheticEvent {
        at(Timestamp.bootNanoseconds(), try untimedOpenEvent(path, startNs: startNs, exeIno: exeIno))
    }

    /// ``openEvent(_:startNs:exeIno:)`` with the synthetic events' fixed time.
    static func untimedOpenEvent(_ path: String, startNs: UInt64? = nil, exeIno: UInt64? = nil,
                                 pid: UInt32 = UInt32(getpid())) throws -> SyntheticEvent {
        var st = stat()
        try #require(stat(path, &st) == 0)
        var ev = event("""
            type: openat
            res: 3
            args: {fd: 3, name: \(path), flags: O_RDONLY}
            process: {pid: \(pid), exepath: /usr/bin/cat\(startNs.map { ", start_ns: \($0)" } ?? "")\(exeIno.map { ", exe_ino: \($0)" } ?? "")}
            """)
        var fd = FDInfo(kind: .file, name: path)
        fd.ino = UInt64(st.st_ino)
        fd.dev = UInt32(truncatingIfNeeded: st.st_dev)
        fd.nlink = UInt32(st.st_nlink)
        ev.fd = fd
        ev.fdNum = 3
        return ev
    }

    @Test func hardLinkToAReplacedTargetIsTheSameFile() throws {
        let dir = try Self.makeDirectory()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let target = dir + "/shadow"
        try Self.write(target)
        let (_, fires) = try Self.sameFileRule(target)

        // Another file with two names: not the target (the target's inode is now kept).
        try Self.write(dir + "/other")
        try #require(link(dir + "/other", dir + "/other-link") == 0)
        let other = try Self.openEvent(dir + "/other-link")
        #expect(!fires(other))
        #expect(!fires(other))

        // The target replaced the way passwd does (a new file renamed over it), then hard-linked:
        // the link is the target at once, with no wait for the cache to age.
        try Self.write(dir + "/shadow.new")
        try #require(rename(dir + "/shadow.new", target) == 0)
        try #require(link(target, dir + "/hl") == 0)
        #expect(fires(try Self.openEvent(dir + "/hl")))
        // The file that was kept as "not the target" before becomes it when renamed over it
        // (an open of it after the rename).
        try #require(rename(dir + "/other", target) == 0)
        #expect(fires(Self.at(Timestamp.bootNanoseconds(), other)))
        // ... and stops being it when the target is removed.
        try #require(unlink(target) == 0)
        #expect(!fires(Self.at(Timestamp.bootNanoseconds(), other)))
        // A link to the target made by link(2) into the watched directory under the target's name.
        try #require(link(dir + "/other-link", target) == 0)
        #expect(fires(Self.at(Timestamp.bootNanoseconds(), other)))
    }

    /// A file with one link seen under another path (a bind mount of its directory: `mount
    /// --bind /etc /mnt/x` shows /etc/gshadow as /mnt/x/gshadow, link count 1) is the target.
    @Test func aSingleLinkFileUnderAnotherPathIsTheSameFile() throws {
        let dir = try Self.makeDirectory()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let target = dir + "/gshadow"
        try Self.write(target)
        let (set, diags) = loadRules("""
            - rule: r
              desc: d
              condition: evt.type = openat and fd.same_file_as[\(target)] = true
              output: o
              priority: WARNING
            """)
        try #require(errors(diags).isEmpty, "\(diags)")
        let s = set.makeScratch(hostname: "h")
        var ev = try Self.openEvent(target)
        #expect(ev.fd?.nlink == 1)
        ev.fd?.name = "/mnt/bind" + target
        #expect(ev.withContext { set.matches(rule: 0, $0, scratch: s) } == true)
        // Another single-link file is not.
        try Self.write(dir + "/other")
        var other = try Self.openEvent(dir + "/other")
        other.fd?.name = "/mnt/bind" + dir + "/gshadow"
        #expect(other.withContext { set.matches(rule: 0, $0, scratch: s) } == false)
    }

    /// A process that is gone (no process has its pid) has its targets looked up in the agent's
    /// root without reading /proc (no stat of /proc/PID/root/), and a hard link is still found.
    @Test func goneProcessUsesTheAgentsRootWithoutAStat() throws {
        let (dir, s, fires) = try Self.linkedTarget()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let targets = s.sameFileTargets
        // Above any pid_max (4194304 at most): no such process.
        let gone = try Self.untimedOpenEvent(dir + "/hl", startNs: 1_000_000_000, pid: 0x3FFF_FFF0)
        #expect(fires(Self.at(Timestamp.bootNanoseconds(), gone)))
        #expect(targets.rootLookups == 1)
        #expect(targets.rootStats == 0)
        // This process (alive): its root is read.
        #expect(fires(try Self.openEvent(dir + "/hl", startNs: 1_000_000_000)))
        #expect(targets.rootLookups == 2)
        #expect(targets.rootStats == 1)
    }

    /// The inotify queue is read once for the events that happened before the read (a live
    /// batch), not once per event; an event after a change reads it again and sees the change.
    @Test func queueIsReadOncePerBatchAndAgainAfterAChange() throws {
        let dir = try Self.makeDirectory()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let target = dir + "/shadow"
        try Self.write(target)
        try Self.write(dir + "/other")
        try #require(link(dir + "/other", dir + "/other-link") == 0)
        let (s, fires) = try Self.sameFileRule(target)
        let targets = s.sameFileTargets
        let batchTime = Timestamp.bootNanoseconds()
        let open = try Self.untimedOpenEvent(dir + "/other-link", startNs: 1_000_000_000)

        // The first event fills the results (nothing to read yet); the second reads the queue.
        #expect(!fires(Self.at(batchTime, open)))
        #expect(targets.queueReads == 0)
        #expect(!fires(Self.at(batchTime, open)))
        #expect(targets.queueReads == 1)
        // Events of the same batch (older than that read by more than the margin) read nothing.
        let older = batchTime - 2 * SameFileTargets.drainMarginNs
        for _ in 0..<20 { #expect(!fires(Self.at(older, open))) }
        #expect(targets.queueReads == 1)
        // An event after the read: read again.
        #expect(!fires(Self.at(Timestamp.bootNanoseconds(), open)))
        #expect(targets.queueReads == 2)
        // The target replaced and hard-linked: an open after that reads the queue and fires.
        try Self.write(dir + "/shadow.new")
        try #require(rename(dir + "/shadow.new", target) == 0)
        try #require(link(target, dir + "/hl") == 0)
        #expect(fires(try Self.openEvent(dir + "/hl", startNs: 1_000_000_000)))
        #expect(targets.queueReads == 3)
        // An event with no time reads the queue every time.
        let untimed = Self.at(0, open)
        #expect(!fires(untimed))
        #expect(!fires(untimed))
        #expect(targets.queueReads >= 5)
    }

    /// Results older than the lifetime are looked up again (changes inotify cannot report).
    @Test func resultsAgeOut() throws {
        let (dir, s, fires) = try Self.linkedTarget()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let targets = s.sameFileTargets
        let open = try Self.openEvent(dir + "/hl", startNs: 1_000_000_000)
        #expect(fires(open))
        #expect(fires(open))
        #expect(targets.rootLookups == 1)
        targets.lifetime = 0
        #expect(fires(open))
        #expect(targets.rootLookups == 2)
    }

    /// A process's root is read once for all its events, again for a new process with the same
    /// pid (another start time), again after an exec (another executable), and again once a
    /// target's directory changed.
    @Test func processRootIsReadOncePerProcess() throws {
        let (dir, s, fires) = try Self.linkedTarget()
        defer { _ = try? FileManagerless.removeTree(dir) }
        let targets = s.sameFileTargets

        let first = try Self.openEvent(dir + "/hl", startNs: 1_000_000_000)
        #expect(fires(first))
        #expect(fires(first))
        #expect(fires(first))
        #expect(targets.rootLookups == 1)
        // The pid reused by another process: its root is read.
        let reused = try Self.openEvent(dir + "/hl", startNs: 2_000_000_000)
        #expect(fires(reused))
        #expect(fires(reused))
        #expect(targets.rootLookups == 2)
        // The same process after an exec (as a container runtime's init after pivot_root).
        let execed = try Self.openEvent(dir + "/hl", startNs: 2_000_000_000, exeIno: 77)
        #expect(fires(execed))
        #expect(fires(execed))
        #expect(targets.rootLookups == 3)
        // A change in the target's directory drops the kept roots with the results (seen by the
        // next event after it: an event from before the change may still use them, so the
        // event is made after the write rather than reused, whose time the last read may cover).
        try Self.write(dir + "/unrelated")
        let afterChange = try Self.openEvent(dir + "/hl", startNs: 2_000_000_000, exeIno: 77)
        #expect(fires(afterChange))
        #expect(targets.rootLookups == 4)
    }
}

/// Removes a directory tree of plain files (the test's own).
enum FileManagerless {
    static func removeTree(_ dir: String) throws {
        guard let d = opendir(dir) else { return }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink(dir + "/" + name) }
        }
        closedir(d)
        rmdir(dir)
    }
}
