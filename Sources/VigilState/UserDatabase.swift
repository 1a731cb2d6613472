#if canImport(Glibc)
import Glibc
#endif
import VigilCore

/// One `/etc/passwd` entry.
package struct UserEntry: Sendable, Equatable {
    package var name: String
    package var uid: UInt32
    package var gid: UInt32
    /// `user.homedir`.
    package var home: String
    /// `user.shell`.
    package var shell: String
}

/// Users and groups of one root file system (`/etc/passwd`, `/etc/group`),
/// loaded once. Immutable.
package final class UserDatabase: Sendable {
    /// The root directory the files were read from (`/`, or `/proc/PID/root`).
    package let root: String
    package let users: [UInt32: UserEntry]
    package let groups: [UInt32: String]
    let uidsByName: [String: UInt32]

    /// Parses passwd and group file contents.
    package init(root: String = "/", passwd: String, group: String) {
        self.root = root
        var u: [UInt32: UserEntry] = [:]
        var byName: [String: UInt32] = [:]
        for line in passwd.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { continue }
            let name = String(f[0])
            if u[uid] == nil {
                u[uid] = UserEntry(name: name, uid: uid, gid: gid, home: f.count > 5 ? String(f[5]) : "",
                                   shell: f.count > 6 ? String(f[6]) : "")
            }
            if byName[name] == nil { byName[name] = uid }
        }
        var g: [UInt32: String] = [:]
        for line in group.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 3, let gid = UInt32(f[2]) else { continue }
            if g[gid] == nil { g[gid] = String(f[0]) }
        }
        users = u; groups = g; uidsByName = byName
    }

    /// Loads `<root>/etc/passwd` and `<root>/etc/group` (missing files give an empty database).
    package convenience init(root: String) {
        let base = root == "/" ? "" : root
        self.init(root: root, passwd: SysFiles.readText(base + "/etc/passwd", limit: 16 << 20) ?? "",
                  group: SysFiles.readText(base + "/etc/group", limit: 16 << 20) ?? "")
    }

    /// `user.name` of `uid`.
    @inline(__always) package func userName(_ uid: UInt32) -> String? { users[uid]?.name }
    /// `group.name` of `gid`.
    @inline(__always) package func groupName(_ gid: UInt32) -> String? { groups[gid] }
    /// The full entry of `uid`.
    @inline(__always) package func user(_ uid: UInt32) -> UserEntry? { users[uid] }
    /// The uid of a user name (for rule tests that name users).
    package func uid(named name: String) -> UInt32? { uidsByName[name] }
}

/// Resolves user and group names for processes: the host's `/etc/passwd` and
/// `/etc/group`, and for processes in containers their own root's files (read
/// through `/proc/PID/root`, cached per root file and per cgroup). The result is
/// cached on the ``ProcessInfo``, so repeated look-ups are dictionary hits.
/// Owned by the pipeline thread.
package final class UserResolver {
    /// The host's database.
    package private(set) var host: UserDatabase
    let procRoot: String
    let hostRoot: String
    struct FileKey: Hashable { var dev: UInt64; var ino: UInt64; var size: Int64; var mtime: Int64 }
    var byFile: [FileKey: UserDatabase] = [:]
    var byCgroup: [UInt64: UserDatabase] = [:]
    var hostKey: FileKey?
    var lastHostCheckNs: UInt64 = 0
    /// Bound on cached container databases.
    package var maxCached = 1024

    /// - Parameters:
    ///   - hostRoot: the host's root (`/`; tests may point elsewhere).
    ///   - procRoot: where procfs is mounted.
    package init(hostRoot: String = "/", procRoot: String = "/proc") {
        self.hostRoot = hostRoot
        self.procRoot = procRoot
        host = UserDatabase(root: hostRoot)
        hostKey = UserResolver.key(hostRoot == "/" ? "/etc/passwd" : hostRoot + "/etc/passwd")
    }

    static func key(_ passwdPath: String) -> FileKey? {
        guard let st = SysFiles.statFile(passwdPath) else { return nil }
        return FileKey(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size), mtime: Int64(st.st_mtim.tv_sec))
    }

    /// Re-reads the host files if they changed (checked at most every 10 s).
    package func refreshHostIfChanged() {
        let now = Timestamp.monotonicNanoseconds()
        guard now &- lastHostCheckNs >= 10_000_000_000 || lastHostCheckNs == 0 else { return }
        lastHostCheckNs = now
        let k = UserResolver.key(hostRoot == "/" ? "/etc/passwd" : hostRoot + "/etc/passwd")
        if k != hostKey { hostKey = k; host = UserDatabase(root: hostRoot) }
    }

    /// The database that applies to `p` (cached on `p`).
    package func database(for p: ProcessInfo) -> UserDatabase {
        if let db = p.userDatabase { return db }
        let db = lookUp(p)
        p.userDatabase = db
        return db
    }

    func lookUp(_ p: ProcessInfo) -> UserDatabase {
        let root = procRoot + "/" + String(p.pid) + "/root"
        guard let target = SysFiles.readLink(root) else {
            // Gone or not readable: the last database seen for its cgroup, else the host's.
            return byCgroup[p.cgroupID] ?? host
        }
        if target == "/" { return host }
        let db: UserDatabase
        if let k = UserResolver.key(root + "/etc/passwd") {
            if k == hostKey { return host }
            if let cached = byFile[k] {
                db = cached
            } else {
                if byFile.count >= maxCached { byFile.removeAll() }
                db = UserDatabase(root: root)
                byFile[k] = db
            }
        } else {
            db = UserDatabase(root: root, passwd: "", group: "")
        }
        if p.cgroupID != 0 {
            if byCgroup.count >= maxCached { byCgroup.removeAll() }
            byCgroup[p.cgroupID] = db
        }
        return db
    }

    /// `user.name`: the name of `p`'s uid in its root's passwd.
    package func userName(for p: ProcessInfo) -> String? { database(for: p).userName(p.uid) }
    /// `user.name` of another uid seen by `p` (`evt.arg.uid`).
    package func userName(_ uid: UInt32, for p: ProcessInfo) -> String? { database(for: p).userName(uid) }
    /// `group.name`: the name of `p`'s gid.
    package func groupName(for p: ProcessInfo) -> String? { database(for: p).groupName(p.gid) }
    /// `group.name` of another gid seen by `p`.
    package func groupName(_ gid: UInt32, for p: ProcessInfo) -> String? { database(for: p).groupName(gid) }
    /// `user.loginname`: the name of `p`'s login uid (nil when unset).
    package func loginName(for p: ProcessInfo) -> String? {
        p.loginUID == .max ? nil : database(for: p).userName(p.loginUID)
    }
}
