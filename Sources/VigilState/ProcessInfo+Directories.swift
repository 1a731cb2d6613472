import VigilDecode

extension ProcessInfo {
    /// The path of fd `fd` when the table knows it as an absolute path; nil for an unknown
    /// fd, a negative or out-of-range number, or a name that is not a path (a socket, a pipe).
    package func absolutePath(ofFD fd: Int64) -> String? {
        guard fd >= 0, fd <= Int64(Int32.max), let d = fds[Int32(fd)], d.name.hasPrefix("/") else { return nil }
        return d.name
    }

    /// The directory a relative path is resolved against: the path of directory fd `dirfd`
    /// (an `*at` call's argument), or the cwd when there is none or it is `AT_FDCWD`. Nil when
    /// unknown.
    package func baseDirectory(dirfd: Int64?) -> String? {
        if let dirfd, dirfd != LinuxConstants.atFDCWD { return absolutePath(ofFD: dirfd) }
        return cwd.isEmpty ? nil : cwd
    }
}
