import VigilABI

/// Byte offsets of the record fields Vigil reads in place, taken from the ABI structs of
/// vigil_abi.h (never written as literals). Each is a constant after optimisation
/// (`MemoryLayout.offset(of:)` on a stored field folds).
package enum RecordLayout {
    // Header (struct vigil_header).
    @inlinable package static var kind: Int { MemoryLayout<vigil_header>.offset(of: \.kind)! }
    @inlinable package static var flags: Int { MemoryLayout<vigil_header>.offset(of: \.flags)! }
    @inlinable package static var size: Int { MemoryLayout<vigil_header>.offset(of: \.size)! }
    @inlinable package static var timestamp: Int { MemoryLayout<vigil_header>.offset(of: \.ts_ns)! }
    @inlinable package static var cpu: Int { MemoryLayout<vigil_header>.offset(of: \.cpu)! }
    @inlinable package static var pid: Int { MemoryLayout<vigil_header>.offset(of: \.pid)! }
    @inlinable package static var tid: Int { MemoryLayout<vigil_header>.offset(of: \.tid)! }
    @inlinable package static var ppid: Int { MemoryLayout<vigil_header>.offset(of: \.ppid)! }
    @inlinable package static var uid: Int { MemoryLayout<vigil_header>.offset(of: \.uid)! }
    @inlinable package static var gid: Int { MemoryLayout<vigil_header>.offset(of: \.gid)! }
    @inlinable package static var cgroupID: Int { MemoryLayout<vigil_header>.offset(of: \.cgroup_id)! }
    @inlinable package static var comm: Int { MemoryLayout<vigil_header>.offset(of: \.comm)! }
    @inlinable package static var headerSize: Int { MemoryLayout<vigil_header>.size }

    // Syscall records (struct vigil_syscall_event).
    @inlinable package static var syscallRet: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.ret)! }
    @inlinable package static var syscallArgs: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.args)! }
    @inlinable package static var syscallID: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.syscall)! }
    @inlinable package static var str0Length: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.str0_len)! }
    @inlinable package static var str1Length: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.str1_len)! }
    /// The anonymous union (socket tuple or file reference) right after `reserved`.
    @inlinable package static var syscallUnion: Int {
        MemoryLayout<vigil_syscall_event>.offset(of: \.reserved)! + MemoryLayout<UInt16>.size
    }
    /// Where str0 starts (`data[]`).
    @inlinable package static var syscallData: Int { MemoryLayout<vigil_syscall_event>.size }

    // Exec records (struct vigil_exec_event).
    @inlinable package static var execSyscallID: Int { MemoryLayout<vigil_exec_event>.offset(of: \.syscall)! }
    @inlinable package static var exeLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.exe_len)! }
    @inlinable package static var argsLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.args_len)! }
    @inlinable package static var cwdLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.cwd_len)! }
    @inlinable package static var cgroupLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.cgroup_len)! }
    @inlinable package static var envLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.env_len)! }
    @inlinable package static var exeFlags: Int { MemoryLayout<vigil_exec_event>.offset(of: \.exe_flags)! }
    /// Where the exe path starts (`data[]`).
    @inlinable package static var execData: Int { MemoryLayout<vigil_exec_event>.size }

    // Fork records (struct vigil_fork_event).
    @inlinable package static var forkSyscallID: Int { MemoryLayout<vigil_fork_event>.offset(of: \.syscall)! }
}
