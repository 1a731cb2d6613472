import VigilABI
import VigilDecode

/// Maps this architecture's kernel syscall numbers to vigil's architecture-neutral syscall
/// ids (`enum vigil_syscall`), from the number columns of vigil_abi.h's syscall table
/// (``EventTable``). Written into the BPF object's `vigil_select.nr` at start-up (``KernelSelection``).
package enum SyscallTable {
    /// `(kernel nr, vigil id)` pairs for every syscall vigil captures on this architecture.
    package static let entries: [(nr: Int32, id: UInt32)] =
        EventTable.rows.compactMap { r in r.nativeNumber.map { (nr: $0, id: UInt32(r.type.rawValue)) } }

    /// `(i386 nr, vigil id)` pairs: the 32-bit syscalls of an ia32 process or of `int 0x80`
    /// on x86-64. Written at `VIGIL_NR_COMPAT_BASE + nr`; `socketcall` (102) is demultiplexed
    /// in the kernel. The 16-bit uid/gid calls (setuid 23, ...) map to the same ids as their
    /// 32-bit versions.
    package static let compatEntries: [(nr: Int32, id: UInt32)] = {
        #if arch(x86_64)
        return EventTable.rows.flatMap { r in r.i386.map { (nr: $0, id: UInt32(r.type.rawValue)) } }
        #else
        return []
        #endif
    }()

    /// The ids of `vigil_select.nr` (``KernelSelection`` adds the wanted flags): `(key, value)` for every nonzero slot. Keys below
    /// `VIGIL_NR_COMPAT_BASE` hold the native id plus `VIGIL_NR_HAS_COMPAT` when the 32-bit
    /// table has the same number; `VIGIL_NR_COMPAT_BASE + nr` holds the 32-bit id.
    package static func kernelTable() -> [(key: UInt32, value: UInt32)] {
        let base = Int(VIGIL_NR_COMPAT_BASE)
        var slots = [UInt32](repeating: 0, count: Int(VIGIL_NR_MAX))
        for (nr, id) in entries where nr >= 0 && Int(nr) < base { slots[Int(nr)] = id }
        for (nr, id) in compatEntries where nr >= 0 && Int(nr) < base {
            slots[base + Int(nr)] = id
            slots[Int(nr)] |= VIGIL_NR_HAS_COMPAT
        }
        return slots.enumerated().compactMap { $0.element == 0 ? nil : (key: UInt32($0.offset), value: $0.element) }
    }

    /// The vigil id of kernel syscall `nr` (0 when vigil does not capture it).
    package static func vigilID(forKernelNumber nr: Int32) -> UInt32 {
        entries.first { $0.nr == nr }?.id ?? 0
    }
}
