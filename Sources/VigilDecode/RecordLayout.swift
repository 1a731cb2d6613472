import VigilABI

/// Byte offsets of the record fields Vigil reads in place, taken from the ABI structs of
/// vigil_abi.h (never written as literals). Each is a constant after optimisation
/// (`MemoryLayout.offset(of:)` on a stored field folds).
package enum RecordLayout {
    // Header (struct vigil_header).
    @inline(__always) package static var kind: Int { MemoryLayout<vigil_header>.offset(of: \.kind)! }
    @inline(__always) package static var flags: Int { MemoryLayout<vigil_header>.offset(of: \.flags)! }
    @inline(__always) package static var size: Int { MemoryLayout<vigil_header>.offset(of: \.size)! }
    @inline(__always) package static var timestamp: Int { MemoryLayout<vigil_header>.offset(of: \.ts_ns)! }
    @inline(__always) package static var cpu: Int { MemoryLayout<vigil_header>.offset(of: \.cpu)! }
    @inline(__always) package static var pid: Int { MemoryLayout<vigil_header>.offset(of: \.pid)! }
    @inline(__always) package static var tid: Int { MemoryLayout<vigil_header>.offset(of: \.tid)! }
    @inline(__always) package static var ppid: Int { MemoryLayout<vigil_header>.offset(of: \.ppid)! }
    @inline(__always) package static var uid: Int { MemoryLayout<vigil_header>.offset(of: \.uid)! }
    @inline(__always) package static var gid: Int { MemoryLayout<vigil_header>.offset(of: \.gid)! }
    @inline(__always) package static var cgroupID: Int { MemoryLayout<vigil_header>.offset(of: \.cgroup_id)! }
    @inline(__always) package static var comm: Int { MemoryLayout<vigil_header>.offset(of: \.comm)! }
    @inline(__always) package static var headerSize: Int { MemoryLayout<vigil_header>.size }

    // Syscall records (struct vigil_syscall_event).
    @inline(__always) package static var syscallRet: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.ret)! }
    @inline(__always) package static var syscallArgs: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.args)! }
    @inline(__always) package static var syscallID: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.syscall)! }
    @inline(__always) package static var str0Length: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.str0_len)! }
    @inline(__always) package static var str1Length: Int { MemoryLayout<vigil_syscall_event>.offset(of: \.str1_len)! }
    /// The anonymous union (socket tuple or file reference) right after `reserved`.
    @inline(__always) package static var syscallUnion: Int {
        MemoryLayout<vigil_syscall_event>.offset(of: \.reserved)! + MemoryLayout<UInt16>.size
    }
    /// Where str0 starts (`data[]`).
    @inline(__always) package static var syscallData: Int { MemoryLayout<vigil_syscall_event>.size }

    // Exec records (struct vigil_exec_event).
    @inline(__always) package static var execSyscallID: Int { MemoryLayout<vigil_exec_event>.offset(of: \.syscall)! }
    @inline(__always) package static var exeLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.exe_len)! }
    @inline(__always) package static var argsLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.args_len)! }
    @inline(__always) package static var cwdLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.cwd_len)! }
    @inline(__always) package static var cgroupLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.cgroup_len)! }
    @inline(__always) package static var envLength: Int { MemoryLayout<vigil_exec_event>.offset(of: \.env_len)! }
    @inline(__always) package static var exeFlags: Int { MemoryLayout<vigil_exec_event>.offset(of: \.exe_flags)! }
    /// Where the exe path starts (`data[]`).
    @inline(__always) package static var execData: Int { MemoryLayout<vigil_exec_event>.size }

    // Fork records (struct vigil_fork_event).
    @inline(__always) package static var forkSyscallID: Int { MemoryLayout<vigil_fork_event>.offset(of: \.syscall)! }
}
