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

/* The least a capture of one syscall with its path can cost (bench/kernel_cost.py's open
 * storm): for every openat on the node, one 184-byte ring record with a boot-clock
 * timestamp, the task id, the result and the path as passed (bpf_probe_read_user_str).
 * Nothing else: no selection table, no process header, no counters, and no wake-up (each
 * would be an interrupt; floor_loader drains the ring every 10 ms instead, Vigil's default
 * poll interval). Vigil's vigil_sys_exit per captured failed open is reported against it. */
struct min_capture_record {
    __u64 ts;
    __u64 pid_tgid;
    __s64 ret;
    __u32 id;
    __u32 len;
    char path[152];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 << 20);
} min_ring SEC(".maps");

static __always_inline int min_capture(struct pt_regs *regs, long ret, bool with_clock)
{
    if (regs->orig_ax != 257) /* __NR_openat on x86-64 */
        return 0;
    struct min_capture_record *r = bpf_ringbuf_reserve(&min_ring, sizeof(*r), 0);
    if (!r)
        return 0;
    r->ts = with_clock ? bpf_ktime_get_boot_ns() : 0;
    r->pid_tgid = bpf_get_current_pid_tgid();
    r->ret = ret;
    r->id = 257;
    long n = bpf_probe_read_user_str(r->path, sizeof(r->path), (const void *)regs->si);
    r->len = n > 0 ? n : 0;
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(min_capture_sys_exit, struct pt_regs *regs, long ret)
{
    return min_capture(regs, ret, true);
}

/* The same without the timestamp: the path read and the ring record alone. */
SEC("tp_btf/sys_exit")
int BPF_PROG(min_path_sys_exit, struct pt_regs *regs, long ret)
{
    return min_capture(regs, ret, false);
}
