#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP address text through the C library (`inet_pton`/`inet_ntop`), so every place that
/// reads or prints an address (rules, socket names, the web server) agrees with glibc:
/// dotted IPv4, RFC 5952 IPv6 (`::1`, `fe80::1`, `::ffff:1.2.3.4`).
package enum IPText {
    /// `AF_INET`.
    package static let inet = UInt16(AF_INET)
    /// `AF_INET6`.
    package static let inet6 = UInt16(AF_INET6)

    /// Parses dotted IPv4 or IPv6 text into network-order bytes (4 or 16 of them).
    package static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Longest text ``write(family:address:into:)`` produces (`INET6_ADDRSTRLEN` with its NUL).
    package static let maxLength = 46

    /// Writes the text of the address at `address` (4 bytes for `AF_INET`, 16 for `AF_INET6`)
    /// at `out` (room for ``maxLength`` bytes); returns its length, 0 for other families.
    @inline(__always)
    package static func write(family: UInt16, address: UnsafeRawPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        guard family == inet || family == inet6 else { return 0 }
        return out.withMemoryRebound(to: CChar.self, capacity: maxLength) { c -> Int in
            guard inet_ntop(Int32(family), address, c, socklen_t(maxLength)) != nil else { return 0 }
            return strlen(c)
        }
    }

    /// The text of the address at `address`; empty for other families.
    package static func string(family: UInt16, address: UnsafeRawPointer) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { buf in
            let n = write(family: family, address: address, into: buf.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buf[0..<n]), as: UTF8.self)
        }
    }
}
