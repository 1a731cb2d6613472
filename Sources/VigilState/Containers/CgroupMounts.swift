#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// Where the cgroup hierarchies are mounted, read from `/proc/self/mountinfo`.
///
/// Real nodes mount cgroup v2 at `/sys/fs/cgroup`; hybrid systems (like systemd's
/// "hybrid" mode) mount it at `/sys/fs/cgroup/unified` beside the v1 controllers.
/// Nothing here is hard-coded: the paths come from the mount table.
package struct CgroupMounts: Sendable, Equatable {
    /// Mount point of the cgroup v2 (unified) hierarchy, if mounted.
    package var unified: String?
    /// cgroup v1 mount points by controller (`cpu`, `memory`, `name=systemd`, ...).
    package var v1: [String: String]

    package init(unified: String?, v1: [String: String] = [:]) {
        self.unified = unified
        self.v1 = v1
    }

    /// A v1 mount point usable to map paths when there is no v2 hierarchy
    /// (prefers `name=systemd`, then `cpu`, `memory`, `pids`).
    package var v1Fallback: String? {
        for c in ["name=systemd", "cpu", "memory", "pids", "cpuacct", "cpu,cpuacct"] { if let m = v1[c] { return m } }
        return v1.values.sorted().first
    }

    /// Reads and parses `/proc/self/mountinfo` (or `path`).
    package static func discover(mountinfo path: String = "/proc/self/mountinfo") -> CgroupMounts {
        guard let text = readSmallFile(path) else { return CgroupMounts(unified: nil) }
        return parse(mountinfo: text)
    }

    /// Parses mountinfo text (see proc(5)): fields up to ` - `, then fstype, source, super options.
    package static func parse(mountinfo text: String) -> CgroupMounts {
        var unified: String?
        var v1: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = parts.firstIndex(of: "-"), dash >= 5, parts.count >= dash + 3 else { continue }
            let fstype = parts[dash + 1]
            let root = String(parts[3])
            let mountPoint = unescapeMountField(String(parts[4]))
            if fstype == "cgroup2" {
                // Prefer a mount of the hierarchy root; a bind mount of a sub-cgroup only sees part of it.
                if unified == nil || root == "/" { unified = mountPoint }
            } else if fstype == "cgroup" {
                let superOpts = parts.count > dash + 3 ? parts[dash + 3] : ""
                let known: Set<Substring> = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                             "pids", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"]
                var ctrls: [String] = []
                for o in superOpts.split(separator: ",") {
                    if known.contains(o) || o.hasPrefix("name=") { ctrls.append(String(o)) }
                }
                for c in ctrls where v1[c] == nil { v1[c] = mountPoint }
                if ctrls.count > 1 { v1[ctrls.joined(separator: ",")] = mountPoint }
            }
        }
        return CgroupMounts(unified: unified, v1: v1)
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo` (three octal digits).
    static func unescapeMountField(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        let b = Array(s.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            if b[i] == 0x5C, i + 4 <= b.count,
               let v = UInt8(String(decoding: b[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4; continue
            }
            out.append(b[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads a small procfs or sysfs text file (first `limit` bytes); nil if unreadable. See ``FileReader``.
func readSmallFile(_ path: String, limit: Int = 16 << 20) -> String? {
    guard let bytes = FileReader.contents(path, limit: limit, truncate: true) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

/// Reads a whole regular file of at most `limit` bytes (runtime state JSON); nil if it cannot be read
/// or is larger. See ``FileReader``.
func readFileBytes(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
    FileReader.contents(path, limit: limit, truncate: false)
}
