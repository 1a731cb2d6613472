#if canImport(Glibc)
import Glibc
#endif
import CLibBPF
import VigilABI
import VigilCore

/// What the running kernel offers that Vigil's BPF programs depend on, read from the
/// kernel's BTF before loading. The programs themselves adapt through CO-RE (field
/// existence checks resolved by libbpf at load time); where a tracepoint's arguments
/// differ between kernels, the object carries one program per form and
/// ``select(in:)`` keeps the one this kernel takes (`bpf_program__set_autoload`).
/// The probe result is logged once at start-up ("kernel features"), so a report from
/// a node says which path was taken.
package struct KernelFeatures: Sendable {
    /// `uname -r`.
    package var release = ""
    /// Whether the kernel's BTF could be read (needed by every program).
    package var btf = false
    /// Layout of the inode times read for `proc.exe` ctime/mtime: "sec/nsec" (6.11+),
    /// "__i_ctime" (6.6-6.10) or "timespec64" (older).
    package var inodeTimes = "unknown"
    /// Layout of kernel_cap_t: "u64" (6.3+) or "u32[2]".
    package var capabilities = "unknown"
    /// Arguments of `sched_process_exit` (1 up to 6.15, 2 after); only the first is used.
    package var processExitArgs = -1
    /// Whether 32-bit x86 syscalls can happen (IA32 emulation built in).
    package var ia32 = false
    /// Which io_uring completion program fits: "cqe" (the result in the request, 5.19+),
    /// "res-arg" (the request and the result as tracepoint arguments, about 5.11-5.18), or
    /// "none" (no io_uring_complete tracepoint, or one without the request, as on 5.10:
    /// io_uring operations are then not reported; io_uring_setup still is).
    package var ioUringComplete = "none"

    /// Whether the kernel has the kfunc `bpf_rdonly_cast` (6.2+) and the BPF JIT is on (kfunc
    /// calls need it): the file a successful open returned is then reached and its path walked
    /// with direct loads (`vigil_kernel_features.rdonly_cast`).
    package var rdonlyCast = false

    /// Programs that exist in one variant per kernel form, and the variant names.
    static let ioUringPrograms = ["cqe": "vigil_uring_complete", "res-arg": "vigil_uring_complete_old"]

    package init() {}

    /// Reads the running kernel's BTF.
    package static func probe() -> KernelFeatures {
        var f = KernelFeatures()
        var u = utsname()
        if uname(&u) == 0 {
            f.release = withUnsafeBytes(of: u.release) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        guard let btf = btf__load_vmlinux_btf() else { return f }
        defer { btf__free(btf) }
        f.btf = true
        if vigil_btf_has_member(btf, "inode", "i_ctime_sec") != 0 {
            f.inodeTimes = "sec/nsec"
        } else if vigil_btf_has_member(btf, "inode", "__i_ctime") != 0 {
            f.inodeTimes = "__i_ctime"
        } else if vigil_btf_has_member(btf, "inode", "i_ctime") != 0 {
            f.inodeTimes = "timespec64"
        }
        // Up to 6.2 kernel_cap_t is `struct kernel_cap_struct { __u32 cap[2]; }`; from 6.3 an
        // unnamed struct holding a u64 `val`.
        f.capabilities = vigil_btf_has_member(btf, "kernel_cap_struct", "cap") != 0 ? "u32[2]" : "u64"
        f.processExitArgs = Int(vigil_btf_tracepoint_args(btf, "sched_process_exit"))
        f.ia32 = vigil_btf_has_func(btf, "__ia32_sys_openat") != 0
        // io_uring_complete: (ctx, user_data, res, cflags) up to 5.10 (no request: operations
        // cannot be told apart, "none"), (ctx, req, user_data, res, cflags) later, (ctx, req, cqe)
        // from 6.5; the request holds the result from 5.19 (req->cqe.res).
        let completeArgs = vigil_btf_tracepoint_args(btf, "io_uring_complete")
        if completeArgs >= 2 && vigil_btf_tracepoint_arg_is_ptr(btf, "io_uring_complete", 1) != 0 {
            if vigil_btf_has_member(btf, "io_kiocb", "cqe") != 0 {
                f.ioUringComplete = "cqe"
            } else if completeArgs >= 4 {
                f.ioUringComplete = "res-arg"
            }
        }
        // A kfunc call needs the JIT: with net.core.bpf_jit_enable = 0 the flag stays off.
        let jitOff = (try? FileReader.readText("/proc/sys/net/core/bpf_jit_enable", limit: 64))?.hasPrefix("0") ?? false
        f.rdonlyCast = vigil_btf_has_func(btf, "bpf_rdonly_cast") != 0 && !jitOff
        return f
    }

    /// The object's kernel feature flags (`vigil_kernel_features`, section VIGIL_KERNEL_SECTION:
    /// read-only data, so they must be set before load). An object without the section (an older
    /// build) is left as it is.
    package func setFlags(in object: OpaquePointer) throws {
        guard let map = bpf_object__find_map_by_name(object, VIGIL_KERNEL_SECTION) else { return }
        var flags = vigil_kernel_features()
        flags.rdonly_cast = rdonlyCast ? 1 : 0
        let r = bpf_map__set_initial_value(map, &flags, MemoryLayout<vigil_kernel_features>.size)
        if r != 0 { throw CaptureError.mapFailed(map: VIGIL_KERNEL_SECTION, errno: -r) }
    }

    /// Turns off the programs of `object` that do not fit this kernel (before load).
    package func select(in object: OpaquePointer) {
        for (form, name) in Self.ioUringPrograms {
            guard let p = bpf_object__find_program_by_name(object, name) else { continue }
            bpf_program__set_autoload(p, form == ioUringComplete)
        }
    }

    /// The probe result as log fields.
    package var logFields: [(String, String)] {
        [("kernel", release), ("btf", btf ? "yes" : "no"), ("inode_times", inodeTimes),
         ("capabilities", capabilities), ("sched_process_exit_args", String(processExitArgs)),
         ("ia32", ia32 ? "yes" : "no"), ("io_uring", ioUringComplete),
         ("rdonly_cast", rdonlyCast ? "yes" : "no"),
         ("loops", "global functions (no bpf_loop needed)")]
    }
}
