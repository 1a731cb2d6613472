import Testing
@testable import VigilRules

/// `evt.arg.NAME` of a path argument reads as the path it names, as Falco's does: a
/// relative path is joined to its directory fd's path (or the cwd) and normalised, so a
/// rule on `evt.arg.newpath pmatch (/usr/bin)` sees `cd /usr/bin && mv /tmp/x ./evil`.
@Suite struct PathArgumentTests {
    @Test func relativePathsResolveAgainstTheCwd() {
        let ev = event("""
        type: renameat2
        res: 0
        args: {olddirfd: AT_FDCWD, oldpath: ../../tmp/p, newdirfd: AT_FDCWD, newpath: ./evil, flags: 0}
        process: {pid: 710, exepath: /usr/bin/mv, cwd: /usr/local/bin}
        """)
        #expect(matches("evt.arg.newpath = /usr/local/bin/evil", ev))
        #expect(matches("evt.arg.oldpath = /usr/tmp/p", ev))
        #expect(matches("evt.arg.newpath pmatch (/usr/local/bin)", ev))
        let unlink = event("""
        type: unlink
        res: 0
        args: {path: .bash_history}
        process: {pid: 711, exepath: /usr/bin/rm, cwd: /root}
        """)
        #expect(matches("evt.arg.path = /root/.bash_history", unlink))
    }

    @Test func relativePathsResolveAgainstTheirDirectoryFd() {
        let ev = event("""
        type: renameat2
        res: 0
        args: {olddirfd: AT_FDCWD, oldpath: p, newdirfd: 7, newpath: evil, flags: 0}
        process: {pid: 712, exepath: /usr/local/sbin/mover, cwd: /tmp}
        fd: {num: 7, type: directory, name: /usr/bin}
        """)
        #expect(matches("evt.arg.newpath = /usr/bin/evil", ev))
        #expect(matches("evt.arg.oldpath = /tmp/p", ev))
        let link = event("""
        type: symlinkat
        res: 0
        args: {target: ../etc/shadow, linkdirfd: 7, linkpath: s}
        process: {pid: 713, exepath: /usr/bin/ln, cwd: /tmp}
        fd: {num: 7, type: directory, name: /var/www}
        """)
        #expect(matches("evt.arg.linkpath = /var/www/s", link))
        // A symlink's target names a file relative to the link's directory.
        #expect(matches("evt.arg.target = /var/etc/shadow", link))
    }

    @Test func nonNormalAbsolutePathsAreNormalised() {
        let ev = event("""
        type: renameat2
        res: 0
        args: {olddirfd: AT_FDCWD, oldpath: /tmp/p, newdirfd: AT_FDCWD, newpath: //usr/./lib/../bin//evil, flags: 0}
        process: {pid: 714, exepath: /usr/bin/mv, cwd: /tmp}
        """)
        #expect(matches("evt.arg.newpath = /usr/bin/evil", ev))
    }

    @Test func anUnknownDirectoryFdLeavesThePathAsGiven() {
        let ev = event("""
        type: renameat2
        res: 0
        args: {olddirfd: AT_FDCWD, oldpath: /tmp/p, newdirfd: 9, newpath: evil, flags: 0}
        process: {pid: 715, exepath: /usr/bin/mv, cwd: /tmp}
        """)
        #expect(matches("evt.arg.newpath = evil", ev))
    }

    /// The links the kernel follows below /proc/self (thread-self, the process's own pid):
    /// root, cwd and fd/N lead where they point, so a rename through them reads as the file made.
    @Test func procSelfLinksAreFollowed() {
        func renamed(to newpath: String, pid: Int = 720) -> SyntheticEvent {
            event("""
            type: renameat2
            res: 0
            args: {olddirfd: AT_FDCWD, oldpath: /tmp/p, newdirfd: AT_FDCWD, newpath: "\(newpath)", flags: 0}
            process: {pid: \(pid), exepath: /usr/bin/mv, cwd: /usr/local/bin}
            fd: {num: 7, type: directory, name: /usr/bin}
            """)
        }
        #expect(matches("evt.arg.newpath = /usr/bin/evil", renamed(to: "/proc/self/root/usr/bin/evil")))
        #expect(matches("evt.arg.newpath = /usr/local/bin/evil", renamed(to: "/proc/self/cwd/evil")))
        #expect(matches("evt.arg.newpath = /usr/local/bin/evil", renamed(to: "/proc/self/cwd/./../bin/evil")))
        #expect(matches("evt.arg.newpath = /usr/bin/evil", renamed(to: "/proc/thread-self/fd/7/evil")))
        #expect(matches("evt.arg.newpath = /usr/bin/evil", renamed(to: "//proc/721/fd/7//evil", pid: 721)))
        #expect(matches("evt.arg.newpath = /usr/bin/evil", renamed(to: "../../../proc/self/root/usr/bin/evil")))
        // Another process's links, /proc files that are not links, and unknown fds stay as given.
        #expect(matches("evt.arg.newpath = /proc/1/root/usr/bin/evil", renamed(to: "/proc/1/root/usr/bin/evil")))
        #expect(matches("evt.arg.newpath = /proc/self/status", renamed(to: "/proc/self/status")))
        #expect(matches("evt.arg.newpath = /proc/self/fd/9/evil", renamed(to: "/proc/self/fd/9/evil")))
    }

    /// A new symlink's target reads as the file it will name: normalised when absolute
    /// (`/.`, `//etc/shadow`, `/etc/./sudoers`), below the link's directory when relative.
    @Test func symlinkTargetsNameTheFileTheLinkWillReach() {
        func symlink(_ target: String, _ linkpath: String) -> SyntheticEvent {
            event("""
            type: symlinkat
            res: 0
            args: {target: "\(target)", linkdirfd: AT_FDCWD, linkpath: "\(linkpath)"}
            process: {pid: 730, exepath: /usr/bin/ln, cwd: /tmp/a}
            """)
        }
        #expect(matches("evt.arg.target = /", symlink("/.", "/tmp/a/r")))
        #expect(matches("evt.arg.target = /etc/shadow", symlink("//etc/shadow", "/tmp/a/s")))
        #expect(matches("evt.arg.target = /etc/sudoers", symlink("/etc/./sudoers", "s")))
        #expect(matches("evt.arg.target = /etc/shadow", symlink("../../etc/shadow", "/tmp/a/s")))
        #expect(matches("evt.arg.target = /etc/shadow", symlink("../../etc/shadow", "s")))
        #expect(matches("evt.arg.target = /tmp/a/x", symlink("x", "./s")))
        // /proc/self in a target is the reader's: not followed.
        #expect(matches("evt.arg.target = /proc/self/root/etc/shadow", symlink("/proc/self/root/etc/shadow", "s")))
        #expect(matches("evt.arg.target = /etc/shadow", symlink("/etc/shadow", "s")))
    }
}
