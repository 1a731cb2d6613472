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
        // A symlink's target is its content (relative to the link), never resolved.
        #expect(matches("evt.arg.target = ../etc/shadow", link))
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
}
