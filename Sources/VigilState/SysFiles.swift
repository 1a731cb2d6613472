#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import VigilCore

/// Small, allocation-conscious file helpers for procfs and /etc (no Foundation).
enum SysFiles {
    /// Reads the first `limit` bytes of a (small) regular file; nil when it cannot be opened or read. See ``FileReader``.
    static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        FileReader.contents(path, limit: limit, truncate: true)
    }

    /// Reads a file as text (invalid UTF-8 repaired).
    static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        read(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The target of a symbolic link (raw bytes decoded as UTF-8).
    static func readLink(_ path: String) -> String? {
        var buf = [Int8](repeating: 0, count: 4097)
        let n = readlink(path, &buf, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `stat` (following links); nil on failure.
    static func statFile(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    /// The names in a directory (without `.` and `..`).
    static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// Clock ticks per second for /proc times.
    static var clockTicks: UInt64 {
        let t = sysconf(Int32(_SC_CLK_TCK))
        return t > 0 ? UInt64(t) : 100
    }
}

/// Finds the cgroup v2 hierarchy from `/proc/self/mountinfo` (never assumed to
/// be at /sys/fs/cgroup: hybrid hosts mount it at /sys/fs/cgroup/unified) and
/// maps cgroup paths to cgroup ids (the directory's inode number, which is what
/// `bpf_get_current_cgroup_id` returns).
package struct CgroupFS: Sendable {
    /// Mount point of the cgroup2 file system, if mounted.
    package let mountPoint: String?

    /// Reads `mountinfo` (default: this process's).
    package init(mountinfo: String = "/proc/self/mountinfo") {
        mountPoint = SysFiles.readText(mountinfo).flatMap(CgroupFS.cgroup2MountPoint(in:))
    }

    /// With an explicit mount point (tests).
    package init(mountPoint: String?) { self.mountPoint = mountPoint }

    /// The cgroup2 mount point in mountinfo text: the first line whose file-system
    /// type (after the ` - ` separator) is `cgroup2`. Octal escapes are decoded.
    package static func cgroup2MountPoint(in text: String) -> String? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let sep = fields.firstIndex(of: "-"), sep + 1 < fields.count, fields.count > 4 else { continue }
            if fields[sep + 1] == "cgroup2" { return unescape(fields[4]) }
        }
        return nil
    }

    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count,
               let v = UInt8(String(decoding: u[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else {
                out.append(u[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The cgroup id of a v2 path relative to the root (`/user.slice/...`); nil when unknown.
    package func cgroupID(path: String) -> UInt64? {
        guard let m = mountPoint else { return nil }
        let full = path.hasPrefix("/") ? m + path : m + "/" + path
        return SysFiles.statFile(full).map { UInt64($0.st_ino) }
    }

    /// The v2 path in `/proc/PID/cgroup` text (the `0::` line).
    package static func v2Path(inProcCgroup text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }
}
