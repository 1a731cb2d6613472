// SPDX-License-Identifier: GPL-2.0
/* A program the verifier must reject, after a long log: used by the kernel tests to
 * check that a load failure names a file holding the whole verifier log and prints
 * the tail with the reason. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* BPFCapture sizes this map before loading. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

#define R4(x) x x x x
#define R64(x) R4(R4(R4(x)))

SEC("tp_btf/sys_enter")
int vigil_reject(__u64 *ctx)
{
    volatile __u64 acc = 0;
    R64(acc += bpf_get_prandom_u32();)
    R64(acc += bpf_get_prandom_u32();)
    /* out of the context: the verifier says "invalid bpf_context access" */
    return acc + ctx[4096];
}
