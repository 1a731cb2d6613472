import VigilABI

/// Why a ring-buffer record could not be decoded.
package enum DecodeError: Error, Sendable, Equatable {
    /// Shorter than its fixed part.
    case tooShort(kind: UInt16, length: Int)
    /// The header's `size` disagrees with the record length.
    case sizeMismatch(declared: Int, actual: Int)
    /// Unknown record kind.
    case unknownKind(UInt16)
    /// Variable-length parts run past the end of the record.
    case payloadOverrun(kind: UInt16)
}

/// A decoded event: a typed view over one ring-buffer record, read in place.
///
/// An `Event` does not own its bytes: it is valid only while the record it points
/// at is (inside the ring-buffer callback, or while a ``OwnedRecord`` is alive).
/// Every accessor reads the record directly; nothing is copied or allocated
/// until a caller asks for a `String`.
package struct Event {
    /// Start of the record (its `vigil_header`).
    package let base: UnsafeRawPointer
    /// Length of the record in bytes.
    package let length: Int

    /// Validates `record` and returns a view over it: the one check every record gets
    /// (sources count its outcome; nothing validates a record again). The header's `size`
    /// must equal the record's length, the kind must be known, the fixed body must fit and
    /// the variable parts its lengths announce must end inside the record.
    @inline(__always)
    package static func decode(_ record: UnsafeRawBufferPointer) -> Result<Event, DecodeError> {
        guard let base = record.baseAddress, record.count >= RecordLayout.headerSize else {
            return .failure(.tooShort(kind: 0, length: record.count))
        }
        let kind = base.loadUnaligned(fromByteOffset: RecordLayout.kind, as: UInt16.self)
        let n = Int(base.loadUnaligned(fromByteOffset: RecordLayout.size, as: UInt32.self))
        if n != record.count {
            return .failure(.sizeMismatch(declared: n, actual: record.count))
        }
        @inline(__always) func u16(_ offset: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
        switch UInt32(kind) {
        case VIGIL_REC_SYSCALL.rawValue:
            let fixed = RecordLayout.syscallData
            guard n >= fixed else { return .failure(.tooShort(kind: kind, length: n)) }
            guard fixed + u16(RecordLayout.str0Length) + u16(RecordLayout.str1Length) <= n else {
                return .failure(.payloadOverrun(kind: kind))
            }
        case VIGIL_REC_EXEC.rawValue:
            let fixed = RecordLayout.execData
            guard n >= fixed else { return .failure(.tooShort(kind: kind, length: n)) }
            let parts = u16(RecordLayout.exeLength) + u16(RecordLayout.argsLength) + u16(RecordLayout.cwdLength)
                + u16(RecordLayout.cgroupLength) + u16(RecordLayout.envLength)
            guard fixed + parts <= n else { return .failure(.payloadOverrun(kind: kind)) }
        case VIGIL_REC_FORK.rawValue:
            guard n >= MemoryLayout<vigil_fork_event>.size else { return .failure(.tooShort(kind: kind, length: n)) }
        case VIGIL_REC_EXIT.rawValue:
            guard n >= MemoryLayout<vigil_exit_event>.size else { return .failure(.tooShort(kind: kind, length: n)) }
        default:
            return .failure(.unknownKind(kind))
        }
        return .success(Event(base: base, length: n))
    }

    /// Validates a record read from the kernel's ring buffer: ``decode(_:)`` of its first
    /// `size` bytes. The kernel writes most syscall records in place in a fixed-size ring slot
    /// (`SLOT_SIZE` in bpf/syscalls.bpf.h), so a ring record may be longer than its header's
    /// `size`; the slot's unused tail is not part of the event. Records from other sources
    /// (capture files, synthetic input) carry their exact size and go through ``decode(_:)``.
    @inline(__always)
    package static func decodeRingRecord(_ record: UnsafeRawBufferPointer) -> Result<Event, DecodeError> {
        if let base = record.baseAddress, record.count >= RecordLayout.headerSize {
            let n = Int(base.loadUnaligned(fromByteOffset: RecordLayout.size, as: UInt32.self))
            if n < record.count { return decode(UnsafeRawBufferPointer(start: base, count: n)) }
        }
        return decode(record)
    }

    /// The record's bytes (header included).
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    @inline(__always) init(base: UnsafeRawPointer, length: Int) { self.base = base; self.length = length }

    @inline(__always) func load<T>(_ offset: Int, _: T.Type) -> T { base.loadUnaligned(fromByteOffset: offset, as: T.self) }

    // MARK: header

    /// Record kind (`VIGIL_REC_*`).
    @inline(__always) package var recordKind: UInt16 { load(RecordLayout.kind, UInt16.self) }
    /// Header flags (`VIGIL_HF_*`).
    @inline(__always) package var headerFlags: UInt16 { load(RecordLayout.flags, UInt16.self) }
    /// Whether some variable data was cut to fit.
    package var isTruncated: Bool { headerFlags & UInt16(VIGIL_HF_TRUNCATED) != 0 }
    /// CLOCK_BOOTTIME nanoseconds.
    @inline(__always) package var timestampBootNs: UInt64 { load(RecordLayout.timestamp, UInt64.self) }
    @inline(__always) package var cpu: UInt32 { load(RecordLayout.cpu, UInt32.self) }
    /// Thread group id (user-space pid).
    @inline(__always) package var pid: UInt32 { load(RecordLayout.pid, UInt32.self) }
    @inline(__always) package var tid: UInt32 { load(RecordLayout.tid, UInt32.self) }
    @inline(__always) package var ppid: UInt32 { load(RecordLayout.ppid, UInt32.self) }
    @inline(__always) package var uid: UInt32 { load(RecordLayout.uid, UInt32.self) }
    @inline(__always) package var gid: UInt32 { load(RecordLayout.gid, UInt32.self) }
    @inline(__always) package var cgroupID: UInt64 { load(RecordLayout.cgroupID, UInt64.self) }
    /// The task's comm (up to 15 bytes, without the NUL).
    package var comm: UnsafeRawBufferPointer { cString(at: RecordLayout.comm, max: Int(VIGIL_COMM_LEN)) }

    /// Falco's `evt.type`.
    @inline(__always) package var type: EventType {
        switch UInt32(recordKind) {
        case VIGIL_REC_SYSCALL.rawValue: return EventType(rawValue: load(RecordLayout.syscallID, UInt16.self))
        case VIGIL_REC_EXEC.rawValue: return EventType(rawValue: load(RecordLayout.execSyscallID, UInt16.self))
        case VIGIL_REC_FORK.rawValue:
            let s = load(RecordLayout.forkSyscallID, UInt16.self)
            return EventType(rawValue: s == 0 ? UInt16(VIGIL_SYS_CLONE.rawValue) : s)
        case VIGIL_REC_EXIT.rawValue: return .procexit
        default: return EventType(rawValue: 0)
        }
    }

    // MARK: syscall records

    /// Whether this is a completed-syscall record (``ret``, ``arg(_:)``, ``str0``, ``str1``, ``tuple``).
    package var isSyscall: Bool { recordKind == UInt16(VIGIL_REC_SYSCALL.rawValue) }
    /// The syscall's return value (0 for exec records).
    @inline(__always) package var ret: Int64 { isSyscall ? load(RecordLayout.syscallRet, Int64.self) : 0 }
    /// Raw argument `i` (0...5), read from the saved user registers at sys_exit.
    @inline(__always) package func arg(_ i: Int) -> UInt64 { isSyscall && i >= 0 && i < 6 ? load(RecordLayout.syscallArgs + 8 * i, UInt64.self) : 0 }
    /// First string/buffer argument (meaning depends on the syscall); empty when absent.
    package var str0: UnsafeRawBufferPointer {
        guard isSyscall else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return stripNUL(RecordLayout.syscallData, Int(load(RecordLayout.str0Length, UInt16.self)))
    }
    /// Second string/buffer argument; empty when absent.
    package var str1: UnsafeRawBufferPointer {
        guard isSyscall else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return stripNUL(RecordLayout.syscallData + Int(load(RecordLayout.str0Length, UInt16.self)), Int(load(RecordLayout.str1Length, UInt16.self)))
    }
    /// Raw bytes of str0 including any trailing NUL (for sockaddrs and buffers).
    package var str0Raw: UnsafeRawBufferPointer {
        guard isSyscall else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + RecordLayout.syscallData, count: Int(load(RecordLayout.str0Length, UInt16.self)))
    }
    /// Raw bytes of str1.
    package var str1Raw: UnsafeRawBufferPointer {
        guard isSyscall else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + RecordLayout.syscallData + Int(load(RecordLayout.str0Length, UInt16.self)), count: Int(load(RecordLayout.str1Length, UInt16.self)))
    }
    /// A 32-bit syscall (an ia32 process, or `int 0x80`): `evt.is_compat`.
    package var isCompat: Bool { headerFlags & UInt16(VIGIL_HF_COMPAT) != 0 }
    /// An operation submitted through io_uring (reported at its completion): `evt.is_io_uring`.
    package var isIoUring: Bool { headerFlags & UInt16(VIGIL_HF_IO_URING) != 0 }
    /// The file an open-family syscall returned (flags 0 when absent: failed opens, other syscalls).
    package var fileRef: vigil_file_ref {
        guard isSyscall, isOpen else { return vigil_file_ref() }
        return load(RecordLayout.syscallUnion, vigil_file_ref.self)
    }
    /// The path of the file the kernel opened (walked from its dentry at exit), when the
    /// record has one; empty otherwise.
    package var openedPath: UnsafeRawBufferPointer {
        guard isSyscall, isOpen, fileRef.flags & UInt32(VIGIL_FILE_RESOLVED) != 0 else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return str1
    }
    /// Socket addresses read from the kernel socket (family 0 when absent).
    package var tuple: vigil_sock_tuple {
        guard isSyscall else { return vigil_sock_tuple() }
        return load(RecordLayout.syscallUnion, vigil_sock_tuple.self)
    }

    // MARK: exec records

    /// Whether this is a successful exec.
    package var isExec: Bool { recordKind == UInt16(VIGIL_REC_EXEC.rawValue) }
    /// Exec: the executable's path.
    package var exePath: UnsafeRawBufferPointer { isExec ? stripNUL(RecordLayout.execData, Int(load(RecordLayout.exeLength, UInt16.self))) : .init(start: nil, count: 0) }
    /// Exec: argv as NUL-separated bytes (each argument NUL terminated).
    package var argvRaw: UnsafeRawBufferPointer {
        isExec ? UnsafeRawBufferPointer(start: base + RecordLayout.execData + Int(load(RecordLayout.exeLength, UInt16.self)), count: Int(load(RecordLayout.argsLength, UInt16.self))) : .init(start: nil, count: 0)
    }
    /// Exec: the working directory.
    package var cwd: UnsafeRawBufferPointer {
        isExec ? stripNUL(RecordLayout.execData + Int(load(RecordLayout.exeLength, UInt16.self)) + Int(load(RecordLayout.argsLength, UInt16.self)), Int(load(RecordLayout.cwdLength, UInt16.self))) : .init(start: nil, count: 0)
    }
    /// Exec: the cgroup v2 path relative to the cgroup root (see vigil_abi.h).
    package var cgroupPath: UnsafeRawBufferPointer {
        isExec ? stripNUL(RecordLayout.execData + Int(load(RecordLayout.exeLength, UInt16.self)) + Int(load(RecordLayout.argsLength, UInt16.self)) + Int(load(RecordLayout.cwdLength, UInt16.self)), Int(load(RecordLayout.cgroupLength, UInt16.self))) : .init(start: nil, count: 0)
    }
    /// Exec: the environment as NUL-separated `NAME=value` entries (each NUL terminated), empty
    /// when not captured (see ``environmentCaptured``).
    package var environmentRaw: UnsafeRawBufferPointer {
        guard isExec else { return .init(start: nil, count: 0) }
        let off = RecordLayout.execData + Int(load(RecordLayout.exeLength, UInt16.self)) + Int(load(RecordLayout.argsLength, UInt16.self))
            + Int(load(RecordLayout.cwdLength, UInt16.self)) + Int(load(RecordLayout.cgroupLength, UInt16.self))
        return UnsafeRawBufferPointer(start: base + off, count: Int(load(RecordLayout.envLength, UInt16.self)))
    }
    /// Exec: whether the kernel copied the environment (a loaded rule needed it).
    package var environmentCaptured: Bool { isExec && load(RecordLayout.exeFlags, UInt32.self) & UInt32(VIGIL_EXE_ENV_CAPTURED) != 0 }
    /// Exec: whether the environment was cut.
    package var environmentTruncated: Bool { isExec && load(RecordLayout.exeFlags, UInt32.self) & UInt32(VIGIL_EXE_ENV_TRUNCATED) != 0 }
    /// Exec: the fixed part of the record.
    package var execInfo: vigil_exec_event {
        isExec ? load(0, vigil_exec_event.self) : vigil_exec_event()
    }

    // MARK: fork and exit records

    /// Fork: the fixed record.
    package var forkInfo: vigil_fork_event {
        recordKind == UInt16(VIGIL_REC_FORK.rawValue) ? load(0, vigil_fork_event.self) : vigil_fork_event()
    }
    /// Exit: the fixed record.
    package var exitInfo: vigil_exit_event {
        recordKind == UInt16(VIGIL_REC_EXIT.rawValue) ? load(0, vigil_exit_event.self) : vigil_exit_event()
    }

    // MARK: helpers

    @inline(__always) func stripNUL(_ offset: Int, _ len: Int) -> UnsafeRawBufferPointer {
        guard len > 0, offset + len <= length else { return UnsafeRawBufferPointer(start: base + min(offset, length), count: 0) }
        var n = len
        while n > 0 && base.load(fromByteOffset: offset + n - 1, as: UInt8.self) == 0 { n -= 1 }
        return UnsafeRawBufferPointer(start: base + offset, count: n)
    }

    @inline(__always) func cString(at offset: Int, max: Int) -> UnsafeRawBufferPointer {
        var n = 0
        while n < max && base.load(fromByteOffset: offset + n, as: UInt8.self) != 0 { n += 1 }
        return UnsafeRawBufferPointer(start: base + offset, count: n)
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as a String (invalid UTF-8 repaired with U+FFFD).
    package var vigilString: String { String(decoding: self, as: UTF8.self) }
}
