import Testing
import VigilABI
import VigilDecode

/// The shared header's layout as Swift sees it must match what the BPF C sees
/// (the C side checks the same numbers with _Static_assert).
@Suite struct ABILayoutTests {
    @Test func recordSizes() {
        #expect(MemoryLayout<vigil_header>.size == 64)
        #expect(MemoryLayout<vigil_sock_tuple>.size == 40)
        #expect(MemoryLayout<vigil_syscall_event>.size == 168)
        #expect(MemoryLayout<vigil_exec_event>.size == 168)
        #expect(MemoryLayout<vigil_fork_event>.size == 88)
        #expect(MemoryLayout<vigil_exit_event>.size == 80)
    }

    @Test func headerOffsets() {
        #expect(MemoryLayout<vigil_header>.offset(of: \.kind) == 0)
        #expect(MemoryLayout<vigil_header>.offset(of: \.size) == 4)
        #expect(MemoryLayout<vigil_header>.offset(of: \.ts_ns) == 8)
        #expect(MemoryLayout<vigil_header>.offset(of: \.pid) == 20)
        #expect(MemoryLayout<vigil_header>.offset(of: \.tid) == 24)
        #expect(MemoryLayout<vigil_header>.offset(of: \.ppid) == 28)
        #expect(MemoryLayout<vigil_header>.offset(of: \.cgroup_id) == 40)
        #expect(MemoryLayout<vigil_header>.offset(of: \.comm) == 48)
    }

    @Test func bodyOffsets() {
        #expect(MemoryLayout<vigil_syscall_event>.offset(of: \.ret) == 64)
        #expect(MemoryLayout<vigil_syscall_event>.offset(of: \.args) == 72)
        #expect(MemoryLayout<vigil_syscall_event>.offset(of: \.syscall) == 120)
        #expect(MemoryLayout<vigil_syscall_event>.offset(of: \.str0_len) == 122)
        // The socket tuple and the file reference share the bytes after `reserved` (an anonymous union).
        #expect(MemoryLayout<vigil_syscall_event>.offset(of: \.reserved) == 126)
        #expect(MemoryLayout<vigil_syscall_event>.size == 168)
        var ev = vigil_syscall_event()
        ev.tuple.family = 0x1234
        ev.file.ino = 0x0102_0304_0506_0708
        ev.file.nlink = 3
        withUnsafeBytes(of: &ev) { raw in
            #expect(raw.loadUnaligned(fromByteOffset: 128, as: UInt64.self) == 0x0102_0304_0506_0708)
            #expect(raw.loadUnaligned(fromByteOffset: 140, as: UInt32.self) == 0)         // file.flags
            #expect(raw.loadUnaligned(fromByteOffset: 144, as: UInt32.self) == 3)         // file.nlink
        }
        #expect(MemoryLayout<vigil_file_ref>.size == MemoryLayout<vigil_sock_tuple>.size)
        #expect(MemoryLayout<vigil_exec_event>.offset(of: \.syscall) == 64)
        #expect(MemoryLayout<vigil_exec_event>.offset(of: \.exe_len) == 66)
        #expect(MemoryLayout<vigil_exec_event>.offset(of: \.cap_effective) == 96)
        #expect(MemoryLayout<vigil_exec_event>.offset(of: \.start_time_ns) == 136)
        #expect(MemoryLayout<vigil_exec_event>.offset(of: \.cgroup_len) == 160)
        #expect(MemoryLayout<vigil_fork_event>.offset(of: \.syscall) == 76)
        #expect(MemoryLayout<vigil_exit_event>.offset(of: \.exit_code) == 64)
    }

    /// The offsets the decoder reads, derived from the structs (not written as literals).
    @Test func decoderOffsetsFollowTheStructs() {
        #expect(RecordLayout.kind == 0 && RecordLayout.size == 4 && RecordLayout.pid == 20 && RecordLayout.comm == 48)
        #expect(RecordLayout.syscallID == 120 && RecordLayout.str0Length == 122 && RecordLayout.str1Length == 124)
        #expect(RecordLayout.syscallUnion == 128 && RecordLayout.syscallData == 168)
        #expect(RecordLayout.exeLength == 66 && RecordLayout.cgroupLength == 160 && RecordLayout.execData == 168)
        #expect(RecordLayout.forkSyscallID == 76)
    }

    @Test func encodeDecodeRoundTrip() throws {
        let h = RecordEncoder.Header(pid: 42, ppid: 1, uid: 1000, cgroupID: 77, comm: "cat")
        let bytes = RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: 3, args: [UInt64(bitPattern: -100), 0, 0o644], str0: "/etc/shadow")
        let r = OwnedRecord(bytes: bytes).withEvent { e in
            (e.type.name, e.pid, e.ret, e.str0.vigilString, e.comm.vigilString, e.cgroupID)
        }
        let v = try r.get()
        #expect(v.0 == "openat")
        #expect(v.1 == 42)
        #expect(v.2 == 3)
        #expect(v.3 == "/etc/shadow")
        #expect(v.4 == "cat")
        #expect(v.5 == 77)
    }

    /// A syscall record written in place in a ring slot: the slot (fixed part plus
    /// VIGIL_SYSCALL_SLOT_ROOM string bytes) is a whole number of 8-byte words, as ring
    /// records are, and holds a record whose strings use the whole room.
    @Test func ringSlotLayout() throws {
        let slot = MemoryLayout<vigil_syscall_event>.size + Int(VIGIL_SYSCALL_SLOT_ROOM)
        #expect(slot % 8 == 0)
        #expect(Int(VIGIL_SYSCALL_SLOT_ROOM) < Int(VIGIL_PATH_MAX))
        let h = RecordEncoder.Header(pid: 42, comm: "cat")
        let path = "/" + String(repeating: "p", count: Int(VIGIL_SYSCALL_SLOT_ROOM) - 2)  // with its NUL: the whole room
        let rec = RecordEncoder.syscall(h, type: EventType(name: "openat")!, ret: -2, args: [UInt64(bitPattern: -100)], str0: path)
        #expect(rec.count == slot)
        let v = try OwnedRecord(bytes: rec).withEvent { $0.str0.vigilString }.get()
        #expect(v == path)
    }
}
