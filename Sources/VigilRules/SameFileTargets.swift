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
///   next event, since the kernel queues the notification before the change's syscall returns
///   (see "When the queue is read" below);
/// - a second has passed (changes inotify does not report: a mount over a target, a change
///   made in an overlay's upper directory from outside the container);
/// - a target's directory could not be watched (then results live for one event only).
///
/// When the queue is read: not at every event (a `read` per event, nearly always EAGAIN, was
/// a syscall per exec in an exec storm) but whenever an event may come after a change the
/// last read could not see. An event's time (the boot clock, taken by the BPF program at the
/// syscall's exit) is after its syscall did its work, so after any change that syscall could
/// see, and so after that change's notification was queued. The queue is read with the boot
/// clock noted just before the read; an event older than that note by more than
/// ``drainMarginNs`` (a bound on how far the kernel's and user space's readings of the
/// same clock can differ) could see only changes queued before that read, which the read
/// found: its results stand. Any other event reads the queue again. Live events arrive
/// in batches a few milliseconds old, so a batch of events is covered by one read. An event
/// with no time (0) always reads it; events replayed from a capture file (older than any
/// read) see changes through the one-second lifetime only.
///
/// A process's root is looked up once per program it runs (its pid, start time and executable's
/// inode: a reused pid is a new process, and an exec looks again, as a container runtime's
/// init execs the container's program after pivot_root) and kept with the results: a
/// process's root changes only through chroot(2), pivot_root(2) or setns(2), which inotify
/// does not report either, so a change without an exec is seen within the same second as a
/// mount over a target. A process the state does not know (start time 0) has its root looked
/// up at each event. (A new process's root is not taken from its parent's: the capture does
/// not see every chroot, pivot_root and setns, so an inherited root could be stale.)
///
/// One per ``RuleScratch`` (one evaluating thread); not thread-safe (its state is used by that
/// thread only, so it is not checked for exclusive access at run time).
final class SameFileTargets {
    /// A root directory: its device and inode; (0, 0) is the agent's own view (the process is gone).
    struct Root: Hashable { var dev: UInt64; var ino: UInt64 }
    /// One target in one root: its path bytes and the file found there (ino 0: none).
    struct Entry { var path: [UInt8]; var dev: UInt64; var ino: UInt64 }

    /// A process running a program: its pid, start time (boot-clock ns) and executable's inode.
    struct ProcessKey: Hashable { var pid: UInt32; var start: UInt64; var exeIno: UInt64 }

    /// The slot in ``lists`` of each root's results.
    @exclusivity(unchecked) private var slotOfRoot: [Root: Int] = [:]
    /// The results per root (indexed by ``slotOfRoot``).
    @exclusivity(unchecked) private var lists: [[Entry]] = []
    /// The root of each process looked up since the results were last dropped.
    @exclusivity(unchecked) private var rootByProcess: [ProcessKey: Root] = [:]
    /// How many times a process's root was looked up, and read from /proc (for tests).
    private(set) var rootLookups = 0
    private(set) var rootStats = 0
    /// How many times the inotify queue was read (for tests and benchmarks).
    private(set) var queueReads = 0
    @exclusivity(unchecked) private var entries = 0
    @exclusivity(unchecked) private var filledAtNs: UInt64 = 0
    private var inotifyFD: Int32 = -1
    /// The boot clock just before the inotify queue was last read (0: not read since the
    /// results were dropped).
    @exclusivity(unchecked) private var drainedAtBootNs: UInt64 = 0
    /// Directories watched (their paths as given to inotify), to add each watch once.
    private var watched: Set<String> = []
    /// Whether every cached entry's directory is watched (else the cache lives one event).
    @exclusivity(unchecked) private var allWatched = true
    /// The event whose root was resolved last (scratch generation and pid), that root and its
    /// results' slot in ``lists`` (-1: none yet).
    @exclusivity(unchecked) private var memoGen: UInt32 = 0
    @exclusivity(unchecked) private var memoPid: UInt32 = 0
    @exclusivity(unchecked) private var memoRoot = Root(dev: 0, ino: 0)
    @exclusivity(unchecked) private var memoSlot = -1
    /// "/proc/<pid>/root/" is built here (no allocation).
    private var pathBuffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// Results older than this are looked up again (changes inotify cannot report).
    static let lifetimeNs: UInt64 = 1_000_000_000
    /// ``lifetimeNs`` for this instance (tests lengthen it, so that only what they exercise drops results).
    var lifetime: UInt64 = SameFileTargets.lifetimeNs
    /// At most this many cached targets (over all roots); past it the cache starts over.
    static let capacity = 4096
    /// How much older than the last read of the inotify queue an event must be for that read to
    /// cover it: far more than the kernel's `bpf_ktime_get_boot_ns` and user space's
    /// `CLOCK_BOOTTIME` (the same timekeeper, read through the vDSO) can differ.
    static let drainMarginNs: UInt64 = 1_000_000

    init() {
        inotifyFD = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        filledAtNs = Timestamp.monotonicCoarseNanoseconds()
    }

    deinit { if inotifyFD >= 0 { close(inotifyFD) } }

    /// The file (device, inode) at `target` as process `pid` (started at `start`, boot-clock
    /// ns, 0 when unknown; running the executable of inode `exeIno`) sees it at event `gen`,
    /// which happened at `timeNs` (boot clock; 0 when unknown); nil if none.
    func lookup(_ target: UnsafeBufferPointer<UInt8>, pid: UInt32, start: UInt64, exeIno: UInt64 = 0, gen: UInt32,
                timeNs: UInt64 = 0) -> (dev: UInt64, ino: UInt64)? {
        if gen != memoGen || pid != memoPid || memoGen == 0 {
            memoGen = gen; memoPid = pid
            refresh(eventTimeNs: timeNs)
            memoRoot = processRoot(ProcessKey(pid: pid, start: start, exeIno: exeIno))
            memoSlot = slotOfRoot[memoRoot] ?? -1
        }
        if memoSlot >= 0 {
            for e in lists[memoSlot] where e.path.withUnsafeBufferPointer({ Bytes.equal($0, target) }) {
                return e.ino == 0 ? nil : (e.dev, e.ino)
            }
        }
        let found = statTarget(target, pid: pid, root: memoRoot)
        if entries >= Self.capacity { clear() }
        if memoSlot < 0 {
            memoSlot = lists.count
            lists.append([])
            slotOfRoot[memoRoot] = memoSlot
        }
        lists[memoSlot].append(Entry(path: Array(target), dev: found?.dev ?? 0, ino: found?.ino ?? 0))
        entries += 1
        return found
    }

    /// Drops everything when a watched directory changed, the lifetime passed, or an entry
    /// is not covered by a watch. Reads the inotify queue only when the last read does not
    /// cover an event of time `eventTimeNs` (see the type's documentation).
    private func refresh(eventTimeNs: UInt64) {
        guard entries > 0 || !rootByProcess.isEmpty else { return }
        var changed = !allWatched || inotifyFD < 0
        if !changed && (eventTimeNs == 0 || eventTimeNs &+ Self.drainMarginNs >= drainedAtBootNs) {
            // The clock first: whatever the read misses was queued after this reading.
            drainedAtBootNs = Timestamp.bootNanoseconds()
            queueReads &+= 1
            // Drain the queue: any event (or an overflow) means a target may have changed.
            var buf = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                       UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            while withUnsafeMutableBytes(of: &buf, { read(inotifyFD, $0.baseAddress, $0.count) }) > 0 { changed = true }
        }
        if !changed {
            changed = Timestamp.monotonicCoarseNanoseconds() &- filledAtNs >= lifetime
        }
        if changed {
            // A deleted or moved directory's watch is gone: watch again on the next lookup
            // (adding a watch to a watched directory is harmless).
            watched.removeAll(keepingCapacity: true)
            clear()
        }
    }

    private func clear() {
        slotOfRoot.removeAll(keepingCapacity: true)
        lists.removeAll(keepingCapacity: true)
        memoSlot = -1
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
    /// A pid no process has (kill(2) with signal 0: ESRCH) has no /proc entry to read: the
    /// agent's view without the path walk (in an exec storm the process of most events has
    /// exited by the time they are evaluated; a zombie or a reused pid still goes to the stat,
    /// as before).
    private func root(of pid: UInt32) -> Root {
        rootLookups += 1
        if pid == 0 || pid > UInt32(Int32.max) { return Root(dev: 0, ino: 0) }  // never a process group
        if kill(pid_t(pid), 0) != 0 && errno == ESRCH { return Root(dev: 0, ino: 0) }
        rootStats += 1
        return withUnsafeMutableBytes(of: &pathBuffer) { raw -> Root in
            // "/proc/<pid>/root/" (at most 6 + 10 + 6 + 1 bytes).
            let b = raw.bindMemory(to: UInt8.self)
            var n = 0
            for c in "/proc/".utf8 { b[n] = c; n += 1 }
            var digits = 1, p = pid
            while p >= 10 { p /= 10; digits += 1 }
            p = pid
            for k in stride(from: n + digits - 1, through: n, by: -1) { b[k] = UInt8(48 + p % 10); p /= 10 }
            n += digits
            for c in "/root/".utf8 { b[n] = c; n += 1 }
            b[n] = 0
            var st = stat()
            guard stat(UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self), &st) == 0 else { return Root(dev: 0, ino: 0) }
            return Root(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
        }
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
