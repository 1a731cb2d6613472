/* SPDX-License-Identifier: GPL-2.0 */
/* enforce.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Enforcement at exec (issue 13): rules compiled by user space into facts and string sets, evaluated once per exec. */
#ifndef VIGIL_ENFORCE_BPF_H
#define VIGIL_ENFORCE_BPF_H

/* ---- enforcement at exec ---------------------------------------------------
 * Rules user space compiled into facts and string sets (vigil_abi.h, VIGIL_ENF_*).
 * Self-contained: own maps, bounded loops only, called once from vigil_exec after
 * the record is built. Kills with bpf_send_signal(SIGKILL) before the new image's
 * first instruction; the record still goes out, marked, so the alert says so. */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vigil_enforce_state);
} enforce_state SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VIGIL_ENF_MAX_RULES);
    __type(key, __u32);
    __type(value, struct vigil_enforce_rule);
} enforce_rules SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct vigil_enforce_key);
    __type(value, __u8);
} enforce_strings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VIGIL_ENF_MAX_PREFIXES);
    __type(key, __u32);
    __type(value, struct vigil_enforce_prefix);
} enforce_prefixes SEC(".maps");

struct enforce_scratch {
    struct vigil_enforce_key path;   /* exe path (first 63 bytes) */
    struct vigil_enforce_key comm;
    struct vigil_enforce_key argv0;
    char cg[256];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct enforce_scratch);
} enforce_scratch_map SEC(".maps");

#define PF_KTHREAD_FLAG 0x00200000

static __always_inline int enf_has(struct vigil_enforce_key *k, __u32 kind, __u32 slot)
{
    k->kind = kind;
    k->slot = slot;
    return bpf_map_lookup_elem(&enforce_strings, k) != 0;
}

/* Whether rule slot `i` fires for the strings in the per-CPU enforce scratch. `ctx_bits`:
 * bit 0 exe path fits (exact tests possible), bit 1 argv[0] fits; `pfx` holds the slot's
 * prefix hits (bit 0 positive, bit 1 negative). Global: verified once. */
__attribute__((noinline)) int vigil_enforce_rule(__u32 i, __u32 facts, __u32 pfx, __u32 ctx_bits)
{
    __u32 zero = 0;
    struct enforce_scratch *es = bpf_map_lookup_elem(&enforce_scratch_map, &zero);
    if (!es)
        return 0;
    __u32 ii = i & (VIGIL_ENF_MAX_RULES - 1);
    struct vigil_enforce_rule *r = bpf_map_lookup_elem(&enforce_rules, &ii);
    if (!r)
        return 0;
    if ((facts & r->require) != r->require || (facts & r->forbid) != 0)
        return 0;
    __u32 sets = r->sets;
    int path_full = ctx_bits & 1, argv_full = ctx_bits & 2;
    if ((sets & (1u << VIGIL_ENF_K_PATH)) && !(path_full && enf_has(&es->path, VIGIL_ENF_K_PATH, ii)))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_PATH_NOT)) && path_full && enf_has(&es->path, VIGIL_ENF_K_PATH_NOT, ii))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_COMM)) && !enf_has(&es->comm, VIGIL_ENF_K_COMM, ii))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_COMM_NOT)) && enf_has(&es->comm, VIGIL_ENF_K_COMM_NOT, ii))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_ARGV0)) && !(argv_full && enf_has(&es->argv0, VIGIL_ENF_K_ARGV0, ii)))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_ARGV0_NOT)) && argv_full && enf_has(&es->argv0, VIGIL_ENF_K_ARGV0_NOT, ii))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_PREFIX)) && !(pfx & 1))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_PREFIX_NOT)) && (pfx & 2))
        return 0;
    return 1;
}

/* Returns the record's enforcement word (0: no enforcing rule fired) for the exec record being
 * built in the scratch buffer. A global (separately verified) function: its cost is verified
 * once, not once per path of the exec program. Arguments are byte offsets into the record. */
__attribute__((noinline)) int vigil_enforce_exec(__u32 argv_off, __u32 args_len, __u32 cg_off, __u32 cg_len)
{
    __u32 zero = 0;
    struct vigil_enforce_state *st = bpf_map_lookup_elem(&enforce_state, &zero);
    if (!st || st->mode == 0 || st->nrules == 0)
        return 0;
    __u8 *rec = scratch();
    struct enforce_scratch *es = bpf_map_lookup_elem(&enforce_scratch_map, &zero);
    if (!rec || !es)
        return 0;
    struct vigil_exec_event *ev = (void *)rec;
    __u32 exe_flags = ev->exe_flags;
    __u32 pidns = ev->pidns_inum;
    argv_off &= SCRATCH_SIZE - 1;
    cg_off &= SCRATCH_SIZE - 1;

    /* Protected: PID 1, kernel threads, Vigil and its parents (checked first: few states). */
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    int protect = tgid == 1 || (BPF_CORE_READ(task, flags) & PF_KTHREAD_FLAG);
#pragma unroll
    for (int k = 0; k < 8; k++)
        protect |= st->protected_tgids[k] == tgid;

    /* The strings, zero-padded keys: exe path (exact tests only when it fits), comm, argv[0]. */
    __builtin_memset(es->path.s, 0, VIGIL_ENF_STR);
    __builtin_memset(es->comm.s, 0, VIGIL_ENF_STR);
    __builtin_memset(es->argv0.s, 0, VIGIL_ENF_STR);
    long pn = bpf_probe_read_kernel_str(es->path.s, VIGIL_ENF_STR, rec + sizeof(struct vigil_exec_event));
    __u32 ctx_bits = (pn > 0 && pn < VIGIL_ENF_STR) ? 1 : 0;
    bpf_get_current_comm(es->comm.s, 16);
    if (args_len > 0) {
        long an = bpf_probe_read_kernel_str(es->argv0.s, VIGIL_ENF_STR, rec + argv_off);
        if (an > 0 && an < VIGIL_ENF_STR)
            ctx_bits |= 2;
    }

    /* Facts. */
    __u32 facts = 0;
    if (exe_flags & VIGIL_EXE_FROM_MEMFD)
        facts |= VIGIL_ENF_F_MEMFD;
    if (exe_flags & VIGIL_EXE_UPPER_LAYER)
        facts |= VIGIL_ENF_F_UPPER;
    if (st->host_pidns && pidns != st->host_pidns) {
        facts |= VIGIL_ENF_F_CONTAINER;
    } else if (cg_len > 8) {
        /* "kubepods" anywhere in the first 240 bytes of the cgroup path (8-byte compares). */
        __builtin_memset(es->cg, 0, sizeof(es->cg));
        bpf_probe_read_kernel_str(es->cg, sizeof(es->cg) - 8, rec + cg_off);
        for (int i = 0; i < (int)sizeof(es->cg) - 16; i++) {
            __u64 w = *(__u64 *)(es->cg + i);
            if (w == 0x73646f706562756bULL) { /* "kubepods", little endian */
                facts |= VIGIL_ENF_F_CONTAINER;
                break;
            }
            if ((__u8)w == 0)
                break;
        }
    }

    /* Prefix hits per slot: bit 2*slot positive, bit 2*slot+1 negative (masked 8-byte compares). */
    __u32 pfx_bits = 0;
    __u32 npfx = st->nprefixes;
    for (__u32 j = 0; j < VIGIL_ENF_MAX_PREFIXES; j++) {
        if (j >= npfx || pn <= 0)
            break;
        __u32 jj = j;
        struct vigil_enforce_prefix *p = bpf_map_lookup_elem(&enforce_prefixes, &jj);
        if (!p)
            continue;
        __u64 diff = 0;
#pragma unroll
        for (int k = 0; k < VIGIL_ENF_STR / 8; k++)
            diff |= (*(__u64 *)(es->path.s + 8 * k) ^ *(__u64 *)(p->s + 8 * k)) & *(__u64 *)(p->mask + 8 * k);
        if (diff == 0)
            pfx_bits |= 1u << (((p->slot & 15) << 1) | (p->negate ? 1 : 0));
    }

    /* First rule slot whose facts and sets all hold. */
    __u32 fired = 0;
    __u32 nrules = st->nrules;
    for (__u32 i = 0; i < VIGIL_ENF_MAX_RULES; i++) {
        if (i >= nrules)
            break;
        if (vigil_enforce_rule(i, facts, (pfx_bits >> (i << 1)) & 3, ctx_bits)) {
            fired = i + 1;
            break;
        }
    }
    if (!fired)
        return 0;

    __u32 outcome;
    if (protect)
        outcome = VIGIL_ENF_OUT_REFUSED_PROTECT;
    else if (enf_has(&es->comm, VIGIL_ENF_K_NEVER_COMM, 0) || ((ctx_bits & 1) && enf_has(&es->path, VIGIL_ENF_K_NEVER_PATH, 0)))
        outcome = VIGIL_ENF_OUT_REFUSED_NEVER;
    else if (st->mode == 2) {
        bpf_send_signal(9 /* SIGKILL */);
        outcome = VIGIL_ENF_OUT_KILLED;
    } else
        outcome = VIGIL_ENF_OUT_WOULD_KILL;
    return (int)((fired & 0xff) | (outcome << 8) | ((st->generation & 0xffff) << 16));
}

#endif /* VIGIL_ENFORCE_BPF_H */
