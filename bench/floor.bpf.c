/* The floor of the kernel-cost benchmark (bench/kernel_cost.py): empty programs at the
 * raw syscall tracepoints. What a syscall pays with one of them attached is the least
 * any tracer hooking every syscall can cost; Vigil's cost is reported against it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
    return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
    return 0;
}
