#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// The files that `fd.same_file_as[path]` compares with, as each process sees them, kept
/// between events so that an open of a file with several links does not stat every target
/// (through `/proc/PID/root`) on every event.
///
/// A target is looked up in the root of the event's process (`/proc/PID/root`), or in the
/// agent's root once the process is gone (a zombie's root cannot be read) or has no such
/// file. Results are kept per root (the root directory's device and inode) and per target,
/// and are dropped, all of them, when:
/// - inotify reports a change of a name in a target's directory (a file created, linked,
///   renamed or moved in or out, deleted; the directory itself moved or deleted) or its
///   queue overflowed: replacing `/etc/shadow` and hard-linking the new file is seen at the
///   next event, since the kernel queues the notification before the change's syscall returns;
/// - a second has passed (changes inotify does not report: a mount over a target, a change
///   made in an overlay's upper directory from outside the container);
/// - a target's directory could not be watched (then results live for one event only).
///
/// A process's root is looked up once per program it runs (its pid, start time and executable's
/// inode: a reused pid is a new process, and an exec looks again, as a container runtime's
/// init execs the container's program after pivot_root) and kept with the results: a
/// process's root changes only through chroot(2), pivot_root(2) or setns(2), which inotify
/// does not report either, so a change without an exec is seen within the same second as a
/// mount over a target. A process the state does not know (start time 0) has its root looked
/// up at each event.
///
/// One per ``RuleScratch`` (one evaluating thread); not thread-safe.
final class SameFileTargets {
    /// A root directory: its device and inode; (0, 0) is the agent's own view (the process is gone).
    struct Root: Hashable { var dev: UInt64; var ino: UInt64 }
    /// One target in one root: its path bytes and the file found there (ino 0: none).
    struct Entry { var path: [UInt8]; var dev: UInt64; var ino: UInt64 }

    /// A process running a program: its pid, start time (boot-clock ns) and executable's inode.
    struct ProcessKey: Hashable { var pid: UInt32; var start: UInt64; var exeIno: UInt64 }

    private var byRoot: [Root: [Entry]] = [:]
    /// The root of each process looked up since the results were last dropped.
    private var rootByProcess: [ProcessKey: Root] = [:]
    /// How many times a process's root was read from /proc (for tests).
    private(set) var rootLookups = 0
    private var entries = 0
    private var filledAtNs: UInt64 = 0
    private var inotifyFD: Int32 = -1
    /// Directories watched (their paths as given to inotify), to add each watch once.
    private var watched: Set<String> = []
    /// Whether every cached entry's directory is watched (else the cache lives one event).
    private var allWatched = true
    /// The event whose root was resolved last (scratch generation and pid) and that root.
    private var memoGen: UInt32 = 0
    private var memoPid: UInt32 = 0
    private var memoRoot = Root(dev: 0, ino: 0)
    private var pathBuffer = [CChar](repeating: 0, count: 48)

    /// Results older than this are looked up again (changes inotify cannot report).
    static let lifetimeNs: UInt64 = 1_000_000_000
    /// At most this many cached targets (over all roots); past it the cache starts over.
    static let capacity = 4096

    init() {
        inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        filledAtNs = Timestamp.monotonicCoarseNanoseconds()
    }

    deinit { if inotifyFD >= 0 { close(inotifyFD) } }

    /// The file (device, inode) at `target` as process `pid` (started at `start`, boot-clock
    /// ns, 0 when unknown; running the executable of inode `exeIno`) sees it at event `gen`;
    /// nil if none.
    func lookup(_ target: UnsafeBufferPointer<UInt8>, pid: UInt32, start: UInt64, exeIno: UInt64 = 0, gen: UInt32) -> (dev: UInt64, ino: UInt64)? {
        if gen != memoGen || pid != memoPid || memoGen == 0 {
            memoGen = gen; memoPid = pid
            refresh()
            memoRoot = processRoot(ProcessKey(pid: pid, start: start, exeIno: exeIno))
        }
        if let list = byRoot[memoRoot] {
            for e in list where e.path.withUnsafeBufferPointer({ Bytes.equal($0, target) }) {
                return e.ino == 0 ? nil : (e.dev, e.ino)
            }
        }
        let found = statTarget(target, pid: pid, root: memoRoot)
        if entries >= Self.capacity { clear() }
        byRoot[memoRoot, default: []].append(Entry(path: Array(target), dev: found?.dev ?? 0, ino: found?.ino ?? 0))
        entries += 1
        return found
    }

    /// Drops everything when a watched directory changed, the lifetime passed, or an entry
    /// is not covered by a watch.
    private func refresh() {
        guard entries > 0 || !rootByProcess.isEmpty else { return }
        var changed = !allWatched || inotifyFD < 0
        if !changed {
            // Drain the queue: any event (or an overflow) means a target may have changed.
            var buf = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                       UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            while withUnsafeMutableBytes(of: &buf, { read(inotifyFD, $0.baseAddress, $0.count) }) > 0 { changed = true }
        }
        if !changed {
            changed = Timestamp.monotonicCoarseNanoseconds() &- filledAtNs >= Self.lifetimeNs
        }
        if changed {
            // A deleted or moved directory's watch is gone: watch again on the next lookup
            // (adding a watch to a watched directory is harmless).
            watched.removeAll(keepingCapacity: true)
            clear()
        }
    }

    private func clear() {
        byRoot.removeAll(keepingCapacity: true)
        rootByProcess.removeAll(keepingCapacity: true)
        entries = 0
        allWatched = true
        filledAtNs = Timestamp.monotonicCoarseNanoseconds()
    }

    /// The root of the process `key` names: kept from an earlier event of the same process
    /// running the same program, else read (see ``root(of:)``).
    private func processRoot(_ key: ProcessKey) -> Root {
        guard key.start != 0 else { return root(of: key.pid) }
        if let r = rootByProcess[key] { return r }
        let r = root(of: key.pid)
        if rootByProcess.count >= Self.capacity { rootByProcess.removeAll(keepingCapacity: true) }
        rootByProcess[key] = r
        return r
    }

    /// The root of `pid` (stat of `/proc/PID/root/`), or the agent's view when it cannot be read.
    private func root(of pid: UInt32) -> Root {
        rootLookups += 1
        // "/proc/<pid>/root/" built without allocating.
        var n = 0
        for c in "/proc/".utf8 { pathBuffer[n] = CChar(bitPattern: c); n += 1 }
        var p = pid
        let start = n
        repeat { pathBuffer[n] = CChar(48 + Int(p % 10)); p /= 10; n += 1 } while p > 0
        var a = start, b = n - 1
        while a < b { pathBuffer.swapAt(a, b); a += 1; b -= 1 }
        for c in "/root/".utf8 { pathBuffer[n] = CChar(bitPattern: c); n += 1 }
        pathBuffer[n] = 0
        var st = stat()
        guard stat(pathBuffer, &st) == 0 else { return Root(dev: 0, ino: 0) }
        return Root(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// Stats `target` in the process's root, else in the agent's (as `fd.same_file_as` always
    /// did), and watches the directories that were looked in.
    private func statTarget(_ target: UnsafeBufferPointer<UInt8>, pid: UInt32, root: Root) -> (dev: UInt64, ino: UInt64)? {
        let t = String(decoding: target, as: UTF8.self)
        var st = stat()
        if root != Root(dev: 0, ino: 0) {
            let inRoot = "/proc/\(pid)/root" + t
            watchDirectory(of: inRoot)
            if stat(inRoot, &st) == 0 { return (UInt64(st.st_dev), UInt64(st.st_ino)) }
        }
        watchDirectory(of: t)
        guard stat(t, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    private func watchDirectory(of path: String) {
        var dir = path
        while let last = dir.last, last != "/" { dir.removeLast() }
        if dir.count > 1 { dir.removeLast() }
        if dir.isEmpty { dir = "/" }
        if watched.contains(dir) { return }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
        if inotifyFD >= 0 && inotify_add_watch(inotifyFD, dir, mask) >= 0 {
            // A directory in a process's root is watched through that process's /proc entry;
            // a later process with the same root watches it again under its own path (cheap).
            if watched.count >= Self.capacity { watched.removeAll() }
            watched.insert(dir)
        } else {
            allWatched = false
        }
    }
}
