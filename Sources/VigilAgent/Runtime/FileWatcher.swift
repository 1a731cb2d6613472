#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilCore

/// Watches configuration and rules files for changes with inotify on their
/// containing directories, so editors' rename-into-place and Kubernetes
/// ConfigMap updates (an atomic swap of the `..data` symlink) are seen.
///
/// Changes are debounced and confirmed by a content fingerprint, so a burst of
/// events, or a touch that changes nothing, gives at most one callback.
package final class FileWatcher: @unchecked Sendable {
    private let state = Mutex<[String]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let onChange: @Sendable () -> Void
    private let debounceMs: Int
    private var thread: NamedThread?
    private var fd: Int32 = -1
    /// Times a change was detected and reported.
    package let changes = Counter()
    /// Times the watched files were re-read and compared after a debounced burst of events
    /// (a check that finds the same content does not call back).
    package let checks = Counter()

    /// Watches `paths` (files or directories); `onChange` runs on the watcher thread.
    package init(paths: [String], debounceMs: Int = 250, onChange: @escaping @Sendable () -> Void) {
        self.onChange = onChange
        self.debounceMs = debounceMs
        state.withLock { $0 = paths }
    }

    deinit { stop() }

    /// Replaces the watched paths (after a reload changed `rules_files`).
    package func setPaths(_ paths: [String]) { state.withLock { $0 = paths } }

    /// The watched paths.
    package var paths: [String] { state.withLock { $0 } }

    /// Starts the watcher thread. Returns false if inotify is unavailable.
    @discardableResult
    package func start() -> Bool {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            Log.warning("reload", "inotify unavailable; file changes are not watched (SIGHUP still reloads)",
                        [("errno", String(errno))])
            return false
        }
        let fd = self.fd
        // Watches and the baseline fingerprint are in place before start() returns,
        // so a change made right after it is seen.
        var watches: [Int32: Watch] = [:]
        let current = state.withLock { $0 }
        establish(fd, current, &watches)
        let baseline = FileWatcher.fingerprint(current)
        let initial = UncheckedWatches(watches)
        do {
            thread = try NamedThread.start(name: "vigil-watch") { [self] in run(fd, initial.value, current, baseline) }
        } catch {
            Log.warning("reload", "cannot watch configuration files; use SIGHUP to reload", [("error", error.description)])
            return false
        }
        return true
    }

    /// Stops and joins the watcher thread.
    package func stop() {
        stopFlag.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
        if fd >= 0 { close(fd); fd = -1 }
    }

    /// A fingerprint of the watched files' contents (directories: their rule files).
    package static func fingerprint(_ paths: [String]) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        func mix(_ bytes: some Sequence<UInt8>) { for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 } }
        for p in paths {
            var files: [String] = []
            if FilePaths.isDirectory(p) {
                files = (FilePaths.listDirectory(p) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.map { p + "/" + $0 }
            } else {
                files = [p]
            }
            for f in files {
                mix(f.utf8); mix([0])
                if let bytes = FileReader.contents(f, truncate: false) { mix(bytes) } else { mix([0xFF, 0xFE]) }
                mix([0])
            }
        }
        return h
    }

    private struct Watch { var wd: Int32; var dir: String; var names: Set<String>?; }

    private func establish(_ fd: Int32, _ paths: [String], _ watches: inout [Int32: Watch]) {
        for (wd, _) in watches { inotify_rm_watch(fd, wd) }
        watches.removeAll()
        var wanted: [String: Set<String>?] = [:]   // dir -> names of interest (nil: any rules file)
        for p in paths {
            if FilePaths.isDirectory(p) {
                wanted[p] = .some(nil)
                let parent = FilePaths.directory(of: p)
                let base = FilePaths.basename(p)
                if case .some(.some(var s)) = wanted[parent] { s.insert(base); s.insert("..data"); wanted[parent] = .some(s) }
                else if wanted[parent] == nil { wanted[parent] = .some(Set([base, "..data"])) }
            } else {
                let dir = FilePaths.directory(of: p)
                let base = FilePaths.basename(p)
                switch wanted[dir] {
                case .some(.none): break
                case .some(.some(var s)): s.insert(base); wanted[dir] = .some(s)
                case .none: wanted[dir] = .some(Set([base, "..data"]))
                }
            }
        }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)
        for (dir, names) in wanted {
            let wd = inotify_add_watch(fd, dir, mask)
            if wd >= 0 {
                watches[wd] = Watch(wd: wd, dir: dir, names: names ?? nil)
            } else {
                Log.debug("reload", "cannot watch directory", [("dir", dir), ("errno", String(errno))])
            }
        }
    }

    private struct UncheckedWatches: @unchecked Sendable {
        let value: [Int32: Watch]
        init(_ v: [Int32: Watch]) { value = v }
    }

    private func run(_ fd: Int32, _ initial: [Int32: Watch], _ paths: [String], _ baseline: UInt64) {
        var watches = initial
        var current = paths
        var print = baseline
        var pendingSince: UInt64 = 0
        var buf = [UInt8](repeating: 0, count: 16384)
        var lastRetry = Timestamp.monotonicNanoseconds()
        while !stopFlag.load(ordering: .acquiring) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            var relevant = false
            var rewatch = false
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                var off = 0
                buf.withUnsafeBytes { raw in
                    while off + 16 <= n {
                        let wd = raw.loadUnaligned(fromByteOffset: off, as: Int32.self)
                        let mask = raw.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self)
                        let len = Int(raw.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                        var nameLen = 0
                        while nameLen < len && raw[off + 16 + nameLen] != 0 { nameLen += 1 }
                        let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(off + 16)..<(off + 16 + nameLen)]), as: UTF8.self)
                        off += 16 + len
                        if mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 { rewatch = true; relevant = true; continue }
                        if mask & UInt32(IN_Q_OVERFLOW) != 0 { relevant = true; continue }
                        guard let w = watches[wd] else { continue }
                        if let names = w.names {
                            if names.contains(name) { relevant = true }
                            if name == "..data" { rewatch = true }
                        } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name == "..data" {
                            relevant = true
                        }
                    }
                }
            }
            let latest = state.withLock { $0 }
            if latest != current { current = latest; rewatch = true; relevant = true }
            let now = Timestamp.monotonicNanoseconds()
            // Directories that did not exist may appear later: retry every few seconds.
            if now - lastRetry > 5_000_000_000 { lastRetry = now; if watches.count < Set(current.map { FilePaths.directory(of: $0) }).count { rewatch = true } }
            if rewatch { establish(fd, current, &watches) }
            if relevant && pendingSince == 0 { pendingSince = now }
            if pendingSince != 0 && now - pendingSince >= UInt64(debounceMs) * 1_000_000 {
                pendingSince = 0
                let newPrint = FileWatcher.fingerprint(current)
                if newPrint != print {
                    print = newPrint
                    changes.add()
                    onChange()
                }
                checks.add()
            }
        }
        for (wd, _) in watches { inotify_rm_watch(fd, wd) }
    }
}
