#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to a raw file descriptor, retrying on short writes and EINTR.
package enum FileDescriptorWriter {
    /// Writes all of `bytes` to `fd`. Returns false on an error other than EINTR.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard var p = bytes.baseAddress else { return true }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            p += n
            left -= n
        }
        return true
    }

    /// Writes a string to `fd`.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ s: String) -> Bool {
        var s = s
        return s.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }
}
