import VigilABI
import VigilCore

/// An IPv4 or IPv6 address held by value (16 bytes, IPv4 in the first 4), so
/// socket state needs no heap storage.
package struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// `AF_INET` (2) or `AF_INET6` (10); 0 when unset.
    package var family: UInt16
    /// The address bytes in network order, as two native-endian loads.
    package var storage: (UInt64, UInt64)

    /// The unset address.
    package static let none = IPAddress(family: 0, storage: (0, 0))

    package init(family: UInt16, storage: (UInt64, UInt64)) { self.family = family; self.storage = storage }

    /// From 16 raw bytes (IPv4 in the first 4, rest ignored for IPv4).
    package init(family: UInt16, bytes p: UnsafeRawPointer) {
        self.family = family
        if family == LinuxConstants.AF_INET {
            storage = (UInt64(p.loadUnaligned(as: UInt32.self)), 0)
        } else {
            storage = (p.loadUnaligned(as: UInt64.self), p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// From a byte array (4 bytes: IPv4, 16 bytes: IPv6); nil for other lengths.
    package init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = bytes.withUnsafeBytes { IPAddress(family: LinuxConstants.AF_INET, bytes: $0.baseAddress!) }
        case 16: self = bytes.withUnsafeBytes { IPAddress(family: LinuxConstants.AF_INET6, bytes: $0.baseAddress!) }
        default: return nil
        }
    }

    /// Parses dotted IPv4 (`10.0.0.1`) or IPv6 text (`::1`, `fe80::1`, `::ffff:1.2.3.4`) with `inet_pton`.
    package init?(_ text: String) {
        guard let b = IPText.parse(text) else { return nil }
        self.init(bytes: b)
    }

    /// The address bytes: 4 for IPv4, 16 for IPv6, empty when unset.
    package var bytes: [UInt8] {
        var s = storage
        let all = withUnsafeBytes(of: &s) { Array($0) }
        switch family {
        case LinuxConstants.AF_INET: return Array(all.prefix(4))
        case LinuxConstants.AF_INET6: return all
        default: return []
        }
    }

    /// Whether this is an IPv6 address that maps an IPv4 one (`::ffff:a.b.c.d`).
    package var isV4Mapped: Bool {
        guard family == LinuxConstants.AF_INET6 else { return false }
        let b = bytes
        return b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xff && b[11] == 0xff
    }

    /// Whether the address is all zeroes (unspecified).
    package var isUnspecified: Bool { storage.0 == 0 && storage.1 == 0 }

    /// Whether this is a loopback address (127/8, ::1).
    package var isLoopback: Bool {
        let b = bytes
        switch family {
        case LinuxConstants.AF_INET: return b[0] == 127
        case LinuxConstants.AF_INET6: return b[0..<15].allSatisfy { $0 == 0 } && b[15] == 1
        default: return false
        }
    }

    /// Text form: dotted quad, or RFC 5952 IPv6 (`::1`); empty when unset.
    package var description: String {
        var out = ""
        write(into: &out)
        return out
    }

    /// Appends the text form to `out` (`inet_ntop`).
    package func write(into out: inout String) {
        var s = storage
        out += withUnsafeBytes(of: &s) { IPText.string(family: family, address: $0.baseAddress!) }
    }

    /// Writes the text form at `p` (room for ``IPText/maxLength`` bytes); returns the length.
    @inline(__always) func writeText(into p: UnsafeMutablePointer<UInt8>) -> Int {
        var s = storage
        return withUnsafeBytes(of: &s) { IPText.write(family: family, address: $0.baseAddress!, into: p) }
    }

    /// Writes `v` in decimal at `p`; returns the length (at most 20).
    @inline(__always) static func writeDecimal(_ v: UInt64, into p: UnsafeMutablePointer<UInt8>) -> Int {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { d in
            var x = v, k = 0
            repeat { d[k] = UInt8(48 + x % 10); x /= 10; k += 1 } while x > 0
            for i in 0..<k { p[i] = d[k - 1 - i] }
            return k
        }
    }

    /// Falco's socket name `cip:cport->sip:sport`, built with one allocation.
    package static func endpointsText(client: (IPAddress, UInt16), server: (IPAddress, UInt16)) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * IPText.maxLength + 16) { buf in
            let p = buf.baseAddress!
            var n = client.0.writeText(into: p)
            p[n] = UInt8(ascii: ":"); n += 1
            n += writeDecimal(UInt64(client.1), into: p + n)
            p[n] = UInt8(ascii: "-"); p[n + 1] = UInt8(ascii: ">"); n += 2
            n += server.0.writeText(into: p + n)
            p[n] = UInt8(ascii: ":"); n += 1
            n += writeDecimal(UInt64(server.1), into: p + n)
            return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
        }
    }

    package static func == (a: IPAddress, b: IPAddress) -> Bool {
        a.family == b.family && a.storage.0 == b.storage.0 && a.storage.1 == b.storage.1
    }

    package func hash(into h: inout Hasher) {
        h.combine(family); h.combine(storage.0); h.combine(storage.1)
    }
}

/// A socket address decoded from a raw `sockaddr` (connect/bind/sendto
/// arguments). For `AF_UNIX` the path points into the record.
package struct SocketAddress {
    /// Address family (`AF_INET`, `AF_INET6`, `AF_UNIX`, ...).
    package var family: UInt16
    /// IP address for inet families.
    package var ip: IPAddress
    /// Port, host byte order.
    package var port: UInt16
    /// Unix socket path bytes (without NULs; an abstract socket's leading NUL is shown as `@`).
    package var path: UnsafeRawBufferPointer
    /// Whether the unix path is abstract (leading NUL in the sockaddr).
    package var isAbstract: Bool

    /// Decodes a raw sockaddr; nil when too short for its family.
    package init?(raw: UnsafeRawBufferPointer) {
        guard raw.count >= 2, let base = raw.baseAddress else { return nil }
        family = base.loadUnaligned(as: UInt16.self)
        ip = .none; port = 0; path = UnsafeRawBufferPointer(start: nil, count: 0); isAbstract = false
        switch family {
        case LinuxConstants.AF_INET:
            guard raw.count >= 8 else { return nil }
            port = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            ip = IPAddress(family: family, bytes: base + 4)
        case LinuxConstants.AF_INET6:
            guard raw.count >= 24 else { return nil }
            port = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            ip = IPAddress(family: family, bytes: base + 8)
        case LinuxConstants.AF_UNIX:
            var start = 2
            if raw.count > 2 && raw[2] == 0 { isAbstract = true; start = 3 }
            var end = start
            while end < raw.count && raw[end] != 0 { end += 1 }
            path = UnsafeRawBufferPointer(rebasing: raw[start..<end])
        default:
            break
        }
    }

    /// Falco's text: `1.2.3.4:80`, `::1:80`, the unix path (`@name` for abstract), or the family name.
    package var description: String {
        var out = ""
        write(into: &out)
        return out
    }

    /// Appends the text form to `out`.
    package func write(into out: inout String) {
        switch family {
        case LinuxConstants.AF_INET, LinuxConstants.AF_INET6:
            ip.write(into: &out); out += ":"; out += String(port)
        case LinuxConstants.AF_UNIX:
            if isAbstract { out += "@" }
            out += String(decoding: path, as: UTF8.self)
        default:
            let name = FlagSet.socketDomain.table.render(UInt64(family))
            out += name.isEmpty ? "family \(family)" : name
        }
    }

    /// Encodes a raw sockaddr from text: `1.2.3.4:80`, `[::1]:80` or `::1:80`
    /// (last colon separates the port), or a unix path starting with `/` or `@`.
    package static func encode(_ text: String) -> [UInt8]? {
        if text.hasPrefix("/") || text.hasPrefix("@") {
            var b: [UInt8] = [UInt8(LinuxConstants.AF_UNIX & 0xff), 0]
            if text.hasPrefix("@") { b.append(0); b += Array(text.utf8.dropFirst()) } else { b += Array(text.utf8); b.append(0) }
            return b
        }
        guard let (ip, port) = parseEndpoint(text) else { return nil }
        var b: [UInt8]
        if ip.family == LinuxConstants.AF_INET {
            b = [UInt8](repeating: 0, count: 16)
            b[0] = UInt8(LinuxConstants.AF_INET); b[2] = UInt8(port >> 8); b[3] = UInt8(port & 0xff)
            b.replaceSubrange(4..<8, with: ip.bytes)
        } else {
            b = [UInt8](repeating: 0, count: 28)
            b[0] = UInt8(LinuxConstants.AF_INET6); b[2] = UInt8(port >> 8); b[3] = UInt8(port & 0xff)
            b.replaceSubrange(8..<24, with: ip.bytes)
        }
        return b
    }

    /// Parses `ip:port` (`[v6]:port` or `v6:port` with the last colon before the port).
    package static func parseEndpoint(_ text: String) -> (IPAddress, UInt16)? {
        var t = Substring(text)
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            let host = String(t[t.index(after: t.startIndex)..<close])
            t = t[t.index(after: close)...]
            guard t.hasPrefix(":"), let port = UInt16(t.dropFirst()), let ip = IPAddress(host) else { return nil }
            return (ip, port)
        }
        guard let colon = t.lastIndex(of: ":"), let port = UInt16(t[t.index(after: colon)...]),
              let ip = IPAddress(String(t[..<colon])) else { return nil }
        return (ip, port)
    }
}

/// The socket's own addresses as the kernel reported them (`vigil_sock_tuple`).
package struct SocketTuple {
    /// Address family; 0 when the record has no tuple.
    package var family: UInt16
    /// `IPPROTO_TCP` (6), `IPPROTO_UDP` (17), ... (0 unknown).
    package var l4proto: UInt8
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ...
    package var sockType: UInt8
    /// Local address and port (host order).
    package var localIP: IPAddress
    package var localPort: UInt16
    /// Remote address and port (host order).
    package var remoteIP: IPAddress
    package var remotePort: UInt16

    /// From the ABI struct.
    package init(_ t: vigil_sock_tuple) {
        family = t.family; l4proto = t.l4proto; sockType = t.sock_type
        localPort = t.sport; remotePort = t.dport
        var tt = t
        let fam = t.family
        localIP = withUnsafeBytes(of: &tt.saddr) { IPAddress(family: fam, bytes: $0.baseAddress!) }
        remoteIP = withUnsafeBytes(of: &tt.daddr) { IPAddress(family: fam, bytes: $0.baseAddress!) }
        if fam != LinuxConstants.AF_INET && fam != LinuxConstants.AF_INET6 { localIP = .none; remoteIP = .none }
    }

    /// Whether the record carried a tuple.
    package var isPresent: Bool { family != 0 }

    /// Falco's tuple text `client->server`: for the server side (accepted
    /// sockets) the remote end is the client.
    package func text(serverSide: Bool) -> String {
        var out = ""
        guard family == LinuxConstants.AF_INET || family == LinuxConstants.AF_INET6 else {
            if family == LinuxConstants.AF_UNIX { out = "unix" }
            return out
        }
        let (cip, cport, sip, sport) = serverSide ? (remoteIP, remotePort, localIP, localPort)
                                                  : (localIP, localPort, remoteIP, remotePort)
        cip.write(into: &out); out += ":" + String(cport) + "->"
        sip.write(into: &out); out += ":" + String(sport)
        return out
    }

    /// Layer-4 protocol name (`tcp`, `udp`, `icmp`, `raw`), or empty when unknown.
    package var l4protoName: String {
        switch l4proto {
        case 6: "tcp"
        case 17: "udp"
        case 1, 58: "icmp"
        case 255: "raw"
        default: sockType == 3 ? "raw" : ""
        }
    }

    /// Encodes the ABI struct from values (tests, synthetic input).
    package static func encode(family: UInt16, l4proto: UInt8, sockType: UInt8 = 1,
                              local: (IPAddress, UInt16), remote: (IPAddress, UInt16)) -> vigil_sock_tuple {
        var t = vigil_sock_tuple()
        t.family = family; t.l4proto = l4proto; t.sock_type = sockType
        t.sport = local.1; t.dport = remote.1
        let lb = local.0.bytes, rb = remote.0.bytes
        withUnsafeMutableBytes(of: &t.saddr) { p in for (i, b) in lb.enumerated() where i < 16 { p[i] = b } }
        withUnsafeMutableBytes(of: &t.daddr) { p in for (i, b) in rb.enumerated() where i < 16 { p[i] = b } }
        return t
    }

    /// Parses Falco's `cip:cport->sip:sport` into an ABI tuple; `serverSide`
    /// says which end is local (accept: the server end).
    package static func parse(_ text: String, l4proto: UInt8 = 6, serverSide: Bool = false) -> vigil_sock_tuple? {
        guard let r = text.firstRange(of: "->") else { return nil }
        guard let c = SocketAddress.parseEndpoint(String(text[..<r.lowerBound])),
              let s = SocketAddress.parseEndpoint(String(text[r.upperBound...])),
              c.0.family == s.0.family else { return nil }
        return encode(family: c.0.family, l4proto: l4proto, sockType: l4proto == 17 ? 2 : 1,
                      local: serverSide ? s : c, remote: serverSide ? c : s)
    }
}
