import CLibBPF
import Testing
import VigilABI
import VigilCapture

/// The `syscall_ids` map content: native ids, the 32-bit table above VIGIL_NR_COMPAT_BASE,
/// and the flag that lets syscalls neither table knows skip the compat check.
@Suite struct SyscallTableTests {
    @Test func kernelTableHoldsNativeAndI386NumbersAndTheCompatFlag() {
        let t = Dictionary(uniqueKeysWithValues: SyscallTable.kernelTable().map { ($0.key, $0.value) })
        let base = UInt32(VIGIL_NR_COMPAT_BASE)
        #if arch(x86_64)
        // openat: native 257; i386 295.
        #expect(t[257].map { $0 & 0xffff } == VIGIL_SYS_OPENAT.rawValue)
        #expect(t[base + 295] == VIGIL_SYS_OPENAT.rawValue)
        // i386 open is 5 (native 5 is fstat, not captured): only the compat flag natively.
        #expect(t[5] == VIGIL_NR_HAS_COMPAT)
        #expect(t[base + 5] == VIGIL_SYS_OPEN.rawValue)
        // socketcall is demultiplexed in the kernel.
        #expect(t[base + 102] == VIGIL_SYS_SOCKETCALL.rawValue)
        // getppid (110) is in neither table: one lookup and out, no compat check.
        #expect(t[110] == nil)
        #expect(t[UInt32(SYS_open_by_handle_at)].map { $0 & 0xffff } == VIGIL_SYS_OPEN_BY_HANDLE_AT.rawValue)
        #expect(t[UInt32(SYS_io_uring_setup)].map { $0 & 0xffff } == VIGIL_SYS_IO_URING_SETUP.rawValue)
        #endif
        #expect(t.keys.allSatisfy { $0 < UInt32(VIGIL_NR_MAX) })
    }
}
