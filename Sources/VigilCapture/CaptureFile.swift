#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VigilABI
import VigilCore
import VigilDecode

/// Vigil's capture file format (`vigil trace --write FILE`, `--read FILE`).
///
/// A 32-byte header, then records, each a little-endian `UInt32` length followed
/// by that many bytes of one raw ABI record:
/// ```
/// offset 0  "VIGILCAP"            magic
///        8  UInt32 ABI version    VIGIL_ABI_VERSION of the writer
///       12  UInt32 header size    32
///       16  UInt64 boot-to-wall   CLOCK_REALTIME - CLOCK_BOOTTIME at write time (ns)
///       24  UInt64 reserved       0
/// ```
package enum CaptureFileFormat {
    package static let magic: [UInt8] = Array("VIGILCAP".utf8)
    package static let headerSize = 32
    /// Largest record accepted when reading.
    package static let maxRecord = 1 << 20
}

/// Why a capture file could not be read or written; names the file and place.
package struct CaptureFileError: Error, Sendable, CustomStringConvertible {
    package let path: String
    package let offset: Int?
    package let reason: String
    package var description: String {
        if let offset { return "\(path): byte offset \(offset): \(reason)" }
        return "\(path): \(reason)"
    }
}

/// A consumer that writes records to a capture file (buffered; flushed per batch).
package final class CaptureFileWriter: RecordConsumer {
    package let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// The first write error, if any (writing stops after it).
    package private(set) var error: CaptureFileError?
    /// Records written.
    package private(set) var recordsWritten: UInt64 = 0

    /// Creates (truncates) `path` and writes the header.
    package init(path: String, bootToWallOffsetNs: UInt64 = Timestamp.bootToWallOffset()) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CaptureFileError(path: path, offset: nil, reason: "cannot create: \(errnoText(errno))") }
        buffer.reserveCapacity(1 << 16)
        buffer += CaptureFileFormat.magic
        append(UInt32(VIGIL_ABI_VERSION))
        append(UInt32(CaptureFileFormat.headerSize))
        append(bootToWallOffsetNs)
        append(UInt64(0))
        flush()
        if let error { throw error }
    }

    deinit { finish(); close(fd) }

    private func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) }
    }

    package func consume(_ event: Event) { write(event.bytes) }

    /// Appends one raw record as it is (valid or not: files for tests of the reader's checks).
    package func write(_ record: UnsafeRawBufferPointer) {
        append(UInt32(record.count))
        buffer.append(contentsOf: record)
        recordsWritten &+= 1
        if buffer.count >= 1 << 16 { flush() }
    }

    package func endOfBatch() { flush() }
    package func finish() { flush() }

    private func flush() {
        guard !buffer.isEmpty else { return }
        if error == nil {
            let ok = buffer.withUnsafeBytes { FileDescriptorWriter.writeAll(fd, $0) }
            if !ok { error = CaptureFileError(path: path, offset: nil, reason: "write failed: \(errnoText(errno))") }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Reads a capture file and delivers its records on the calling thread.
package final class CaptureFileSource: RecordSource, @unchecked Sendable {
    package let path: String
    package let abiVersion: UInt32
    package let bootToWallOffsetNs: UInt64
    private let fd: Int32
    private let counter = RecordCounter()
    private let stopRequested = Atomic<Bool>(false)

    /// Opens `path` and checks its header (magic, ABI version).
    package init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CaptureFileError(path: path, offset: nil, reason: "cannot open: \(errnoText(errno))") }
        self.fd = fd
        var hdr = [UInt8](repeating: 0, count: CaptureFileFormat.headerSize)
        let n = hdr.withUnsafeMutableBytes { CaptureFileSource.readFull(fd, $0) }
        guard n == CaptureFileFormat.headerSize, Array(hdr[0..<8]) == CaptureFileFormat.magic else {
            close(fd)
            throw CaptureFileError(path: path, offset: 0, reason: "not a vigil capture file (bad magic or short header)")
        }
        let v = hdr.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        let hsize = hdr.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) }
        guard v == UInt32(VIGIL_ABI_VERSION) else {
            close(fd)
            throw CaptureFileError(path: path, offset: 8, reason: "event ABI version \(v) is not supported (this vigil reads version \(VIGIL_ABI_VERSION))")
        }
        guard hsize == UInt32(CaptureFileFormat.headerSize) else {
            close(fd)
            throw CaptureFileError(path: path, offset: 12, reason: "unexpected header size \(hsize)")
        }
        abiVersion = v
        bootToWallOffsetNs = hdr.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) }
    }

    deinit { close(fd) }

    static func readFull(_ fd: Int32, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        var got = 0
        while got < buf.count {
            let r = read(fd, buf.baseAddress! + got, buf.count - got)
            if r < 0 { if errno == EINTR { continue }; return got == 0 ? -1 : got }
            if r == 0 { break }
            got += r
        }
        return got
    }

    /// Delivers all records. Throws a ``CaptureFileError`` naming the byte offset of
    /// a truncated or oversized record (the records before it are delivered).
    package func run<C: RecordConsumer>(_ consumer: C) throws {
        defer { counter.publish(); consumer.finish() }
        var offset = CaptureFileFormat.headerSize
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var have = 0   // bytes in chunk
        var start = 0  // first unconsumed byte in chunk
        var eof = false
        while !stopRequested.load(ordering: .relaxed) {
            // Deliver every complete record in the chunk.
            var delivered = false
            while have - start >= 4 {
                let len = chunk.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
                if len > CaptureFileFormat.maxRecord || len < 1 {
                    throw CaptureFileError(path: path, offset: offset, reason: "invalid record length \(len)")
                }
                if have - start - 4 < len { break }
                chunk.withUnsafeBytes { raw in
                    let rec = UnsafeRawBufferPointer(rebasing: raw[(start + 4)..<(start + 4 + len)])
                    if let e = counter.admit(rec) { consumer.consume(e) }
                }
                start += 4 + len
                offset += 4 + len
                delivered = true
            }
            if delivered { consumer.endOfBatch(); counter.publish() }
            if eof {
                if have - start > 0 {
                    throw CaptureFileError(path: path, offset: offset, reason: "truncated record (\(have - start) bytes left at end of file)")
                }
                return
            }
            // Move the partial record to the front and read more.
            if start > 0 {
                let rest = have - start
                chunk.withUnsafeMutableBytes { p in
                    if rest > 0 { memmove(p.baseAddress!, p.baseAddress! + start, rest) }
                }
                have = rest
                start = 0
            }
            if have == chunk.count { chunk += [UInt8](repeating: 0, count: chunk.count) }
            let n = chunk.withUnsafeMutableBytes { p in
                CaptureFileSource.readFull(fd, UnsafeMutableRawBufferPointer(rebasing: p[have...]))
            }
            if n < 0 { throw CaptureFileError(path: path, offset: offset, reason: "read failed: \(errnoText(errno))") }
            if n == 0 { eof = true }
            have += n
        }
    }

    package func stop() { stopRequested.store(true, ordering: .releasing) }
    package func stats() -> CaptureStats { counter.snapshot() }
}
