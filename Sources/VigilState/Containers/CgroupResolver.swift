#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// Maps a cgroup id (the cgroup directory's inode number on the v2 hierarchy, which is
/// what `bpf_get_current_cgroup_id()` returns on 64-bit kernels) to its path.
///
/// Used off the hot path only: it reads `/proc/<pid>/cgroup` and, failing that, walks
/// the hierarchy. A walk's results are kept as a snapshot so a burst of unknown ids
/// costs one walk, not one each.
package final class CgroupResolver: @unchecked Sendable {
    // @unchecked: used by one background thread at a time (the enricher's worker).
    /// The mounts in use.
    package let mounts: CgroupMounts
    /// The v2 mount point (or a v1 fallback when there is no v2 hierarchy).
    package let root: String?
    private var snapshot: [UInt64: String] = [:]
    private var snapshotTakenNs: UInt64 = 0
    /// Directories visited by the last walk (for tests and metrics).
    package private(set) var lastWalkDirectories = 0
    /// Walks stop after this many directories.
    package var walkLimit = 200_000

    package init(mounts: CgroupMounts = .discover(), root: String? = nil) {
        self.mounts = mounts
        self.root = root ?? mounts.unified ?? mounts.v1Fallback
    }

    /// The inode number of a cgroup directory, i.e. its cgroup id; nil if it does not exist.
    package static func cgroupID(ofDirectory path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return UInt64(st.st_ino)
    }

    /// The cgroup id of `relativePath` under the root, if it exists.
    package func cgroupID(ofPath relativePath: String) -> UInt64? {
        guard let root else { return nil }
        return Self.cgroupID(ofDirectory: join(root, relativePath))
    }

    /// The v2 path of `pid` from `/proc/<pid>/cgroup` (the `0::` line), or the v1
    /// `name=systemd`/`cpu` line when there is no v2 hierarchy.
    package static func cgroupPath(ofPID pid: UInt32, procRoot: String = "/proc") -> String? {
        guard let text = readSmallFile("\(procRoot)/\(pid)/cgroup", limit: 65536) else { return nil }
        var v1: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("0::") { return String(line.dropFirst(3)) }
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3, v1 == nil || parts[1] == "name=systemd" { if !parts[1].isEmpty { v1 = String(parts[2]) } }
        }
        return v1
    }

    /// Resolves `id` to a path relative to the root ("/" for the root itself).
    /// Tries `pid`'s `/proc` entry first (checked against the id), then the snapshot, then a walk.
    /// A walk is done only if the snapshot predates `askedAtNs` (monotonic ns when the id was
    /// first seen), so a burst of unknown ids shares one walk and none is judged by a stale one.
    package func path(forCgroupID id: UInt64, pid: UInt32 = 0, askedAtNs: UInt64) -> String? {
        guard let root else { return nil }
        if let rootID = Self.cgroupID(ofDirectory: root), rootID == id { return "/" }
        if pid > 0, let p = Self.cgroupPath(ofPID: pid) {
            if mounts.unified == nil { return p } // v1 only: ids are not inode numbers there; trust /proc
            if Self.cgroupID(ofDirectory: join(root, p)) == id { return p }
        }
        if let p = snapshot[id], Self.cgroupID(ofDirectory: join(root, p)) == id { return p }
        if snapshotTakenNs == 0 || snapshotTakenNs < askedAtNs {
            snapshotTakenNs = Timestamp.monotonicNanoseconds()
            walk()
            if let p = snapshot[id] { return p }
        }
        return nil
    }

    /// Rebuilds the id -> path snapshot by walking the hierarchy.
    package func walk() {
        guard let root else { return }
        var map: [UInt64: String] = [:]
        var stack: [String] = [""]
        var visited = 0
        while let rel = stack.popLast(), visited < walkLimit {
            visited += 1
            let abs = rel.isEmpty ? root : root + rel
            guard let dir = opendir(abs) else { continue }
            while let ent = readdir(dir) {
                let type = ent.pointee.d_type
                guard type == UInt8(DT_DIR) else { continue }
                let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> String in
                    let p = raw.bindMemory(to: UInt8.self)
                    let n = p.firstIndex(of: 0) ?? p.count
                    return String(decoding: UnsafeBufferPointer(rebasing: p[0..<n]), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let childRel = rel + "/" + name
                map[UInt64(ent.pointee.d_ino)] = childRel
                stack.append(childRel)
            }
            closedir(dir)
        }
        lastWalkDirectories = visited
        snapshot = map
    }

    private func join(_ root: String, _ rel: String) -> String {
        if rel.isEmpty || rel == "/" { return root }
        return rel.hasPrefix("/") ? root + rel : root + "/" + rel
    }
}
