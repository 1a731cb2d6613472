/* SPDX-License-Identifier: GPL-2.0 */
/* enforce.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Enforcement at exec (issue 13): rules compiled by user space into facts and string sets, evaluated once per exec. */
#ifndef VIGIL_ENFORCE_BPF_H
#define VIGIL_ENFORCE_BPF_H

/* ---- enforcement at exec ---------------------------------------------------
 * Rules user space compiled into facts and string sets (vigil_abi.h, VIGIL_ENF_*).
 * Self-contained: own maps, bounded loops only, called once from vigil_exec after
 * the record is built. Kills with bpf_send_signal(SIGKILL) before the new image's
 * first instruction; the record still goes out, marked, so the alert says so.
 * The work is split into global (separately verified) functions so the verifier
 * checks each loop body once whatever the kernel. */

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
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VIGIL_ENF_MAX_RULES);
    __type(key, __u32);
    __type(value, struct vigil_enforce_bucket);
} enforce_buckets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, VIGIL_ENF_MAX_STRINGS);
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
    struct vigil_enforce_key path;   /* exe path (first 255 bytes) */
    struct vigil_enforce_key comm;
    struct vigil_enforce_key argv0;
    struct vigil_enforce_key base;   /* the exe's file name (first 15 bytes), for the never-list */
    __u8 pfx[VIGIL_ENF_MAX_RULES];   /* per slot: bit 0 a positive prefix hit, bit 1 a negative one */
    char comp[VIGIL_ENF_STR + 16];   /* one cgroup name (8-byte reads past its end stay inside) */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct enforce_scratch);
} enforce_scratch_map SEC(".maps");

#define PF_KTHREAD_FLAG 0x00200000

/* ctx bits of vigil_enforce_rule. */
#define ENF_PATH_FULL  1   /* the whole exe path is in es->path: exact tests possible */
#define ENF_ARGV_FULL  2   /* the whole argv[0] is in es->argv0 */
#define ENF_PATH_KNOWN 4   /* the record's exe path is whole (not truncated, read): prefix tests possible */
#define ENF_ARGV_KNOWN 8   /* the record has an argv[0] */

static __always_inline int enf_has(struct vigil_enforce_key *k, __u32 kind, __u32 slot)
{
    k->kind = kind;
    k->slot = slot;
    return bpf_map_lookup_elem(&enforce_strings, k) != 0;
}

/* Whether rule slot `i` fires for the strings in the per-CPU enforce scratch. Global: verified once. */
__attribute__((noinline)) int vigil_enforce_rule(__u32 i, __u32 facts, __u32 ctx_bits)
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
    int path_full = ctx_bits & ENF_PATH_FULL, argv_full = ctx_bits & ENF_ARGV_FULL;
    int path_known = ctx_bits & ENF_PATH_KNOWN, argv_known = ctx_bits & ENF_ARGV_KNOWN;
    const __u32 path_sets = (1u << VIGIL_ENF_K_PATH) | (1u << VIGIL_ENF_K_PATH_NOT) | (1u << VIGIL_ENF_K_PREFIX) |
                            (1u << VIGIL_ENF_K_PREFIX_NOT);
    const __u32 argv_sets = (1u << VIGIL_ENF_K_ARGV0) | (1u << VIGIL_ENF_K_ARGV0_NOT);
    /* A test on a string the kernel does not have whole never fires (user space decides). */
    if (((sets & path_sets) && !path_known) || ((sets & argv_sets) && !argv_known))
        return 0;
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
    __u8 pfx = es->pfx[MASK(ii, VIGIL_ENF_MAX_RULES - 1)];
    if ((sets & (1u << VIGIL_ENF_K_PREFIX)) && !(pfx & 1))
        return 0;
    if ((sets & (1u << VIGIL_ENF_K_PREFIX_NOT)) && (pfx & 2))
        return 0;
    return 1;
}

/* Prefix entry `j` against the exe path in the scratch: on a hit, marks its slot in es->pfx. */
__attribute__((noinline)) int vigil_enforce_prefix(__u32 j)
{
    __u32 zero = 0;
    struct enforce_scratch *es = bpf_map_lookup_elem(&enforce_scratch_map, &zero);
    if (!es)
        return 0;
    __u32 jj = j & (VIGIL_ENF_MAX_PREFIXES - 1);
    struct vigil_enforce_prefix *p = bpf_map_lookup_elem(&enforce_prefixes, &jj);
    if (!p)
        return 0;
    __u32 len = p->len;
    __u64 diff = 0;
    for (int k = 0; k < VIGIL_ENF_STR / 8; k++) {
        if (k * 8 >= len)
            break;
        diff |= (*(__u64 *)(es->path.s + 8 * k) ^ *(__u64 *)(p->s + 8 * k)) & *(__u64 *)(p->mask + 8 * k);
    }
    if (diff != 0)
        return 0;
    es->pfx[p->slot & (VIGIL_ENF_MAX_RULES - 1)] |= p->negate ? 2 : 1;
    return 1;
}

/* ---- container or host, from the cgroup v2 names (CgroupPathParser's reading) ----
 * A container's cgroup is a runtime scope `cri-containerd-|crio-|docker-|libpod-<hex id>.scope`
 * or `libpod-<hex id>`, at any depth; a bare `<hex id>` or `crio-<hex id>` is one only under a
 * kubepods pod, docker or libpod_parent (cgroupfs driver): the kernel leaves those undecided. */
#define ENF_C8(a, b, c, d, e, f, g, h)                                                                          \
    ((__u64)(__u8)(a) | (__u64)(__u8)(b) << 8 | (__u64)(__u8)(c) << 16 | (__u64)(__u8)(d) << 24 |                \
     (__u64)(__u8)(e) << 32 | (__u64)(__u8)(f) << 40 | (__u64)(__u8)(g) << 48 | (__u64)(__u8)(h) << 56)
#define ENF_MASK(n) ((n) >= 8 ? ~0ULL : ((1ULL << (8 * (n))) - 1))

/* High bit of each byte of `x` set when the byte is 0-9 or a-f (lower case, as Falco's ids). */
static __always_inline __u64 enf_hex_bytes(__u64 x)
{
    const __u64 L = 0x0101010101010101ULL, H = 0x8080808080808080ULL;
    __u64 high = x & H; /* non-ASCII: not hex */
    x &= ~H;
    __u64 digit = (L * (127 + 0x3a) - x) & ~x & (x + L * (127 - 0x2f)) & H;
    __u64 af = (L * (127 + 0x67) - x) & ~x & (x + L * (127 - 0x60)) & H;
    return (digit | af) & ~high;
}

/* Whether es->comp[start, start + n) is a hex id of 12 to 128 characters. */
static __always_inline int enf_hex_id(const char *c, __u32 start, __u32 n)
{
    if (n < 12 || n > 128)
        return 0;
    __u64 bad = 0;
    for (int k = 0; k < 16; k++) {
        if (k * 8 >= n)
            break;
        __u64 w = *(__u64 *)(c + MASK(start + 8 * k, VIGIL_ENF_STR - 1));
        __u32 left = n - 8 * k;
        __u64 m = left >= 8 ? ~0ULL : ((1ULL << (8 * left)) - 1);
        w = (w & m) | (0x3030303030303030ULL & ~m);
        bad |= ~enf_hex_bytes(w) & 0x8080808080808080ULL;
    }
    return bad == 0;
}

/* es->comp holds one cgroup name of `len` bytes: 0 not a container's, 1 a container's,
 * 2 a container's only in some parents (undecided here). */
__attribute__((noinline)) int vigil_enforce_cg_name(__u32 len)
{
    __u32 zero = 0;
    struct enforce_scratch *es = bpf_map_lookup_elem(&enforce_scratch_map, &zero);
    if (!es || len == 0 || len >= VIGIL_ENF_STR)
        return 0;
    const char *c = es->comp;
    /* The NUL at c[len] never equals a literal's letter: a shorter name cannot match. */
    __u64 w0 = *(__u64 *)c, w1 = *(__u64 *)(c + 8);
    __u32 plen = 0, libpod = 0;
    if (w0 == ENF_C8('c', 'r', 'i', '-', 'c', 'o', 'n', 't') && (w1 & ENF_MASK(7)) == ENF_C8('a', 'i', 'n', 'e', 'r', 'd', '-', 0))
        plen = 15;
    else if ((w0 & ENF_MASK(5)) == ENF_C8('c', 'r', 'i', 'o', '-', 0, 0, 0))
        plen = 5;
    else if ((w0 & ENF_MASK(7)) == ENF_C8('d', 'o', 'c', 'k', 'e', 'r', '-', 0))
        plen = 7;
    else if ((w0 & ENF_MASK(7)) == ENF_C8('l', 'i', 'b', 'p', 'o', 'd', '-', 0)) {
        plen = 7;
        libpod = 1;
    }
    int scope = 0;
    if (len >= 8) {
        __u64 tail = *(__u64 *)(c + MASK(len - 8, VIGIL_ENF_STR - 1));
        scope = (tail >> 16) == (ENF_C8('.', 's', 'c', 'o', 'p', 'e', 0, 0));
    }
    if (scope)
        return plen && len > plen + 6 && enf_hex_id(c, plen, len - plen - 6) ? 1 : 0;
    if (libpod && enf_hex_id(c, 7, len - 7))
        return 1;
    if (enf_hex_id(c, 0, len) || (plen == 5 && enf_hex_id(c, 5, len - 5)))
        return 2;
    return 0;
}

/* VIGIL_ENF_F_CONTAINER or VIGIL_ENF_F_HOST for the current task, 0 when undecided: walks
 * the task's cgroup v2 names from the leaf to the root (at most 16 levels). */
__attribute__((noinline)) int vigil_enforce_container(void)
{
    __u32 zero = 0;
    struct enforce_scratch *es = bpf_map_lookup_elem(&enforce_scratch_map, &zero);
    if (!es)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
    int undecided = 0;
    for (int d = 0; d < 16; d++) {
        if (!kn)
            return 0;
        struct kernfs_node *parent = kn_parent(kn);
        if (!parent) /* the root: every name read */
            return undecided ? 0 : VIGIL_ENF_F_HOST;
        long n = bpf_probe_read_kernel_str(es->comp, VIGIL_ENF_STR, BPF_CORE_READ(kn, name));
        if (n <= 1)
            undecided = 1;
        else {
            int r = vigil_enforce_cg_name((__u32)(n - 1));
            if (r == 1)
                return VIGIL_ENF_F_CONTAINER;
            if (r == 2)
                undecided = 1;
        }
        kn = parent;
    }
    return 0;
}

/* Takes one kill from slot's bucket (GCRA); 0 when the rate limit refuses it. Racing CPUs may
 * both pass on the same nanosecond (no atomic compare-and-swap on 5.10): the limit is per rule,
 * a little over on concurrent execs, not a hard cap. */
static __always_inline int enf_take(__u32 slot, struct vigil_enforce_state *st)
{
    __u64 period = st->period_ns;
    if (period == 0)
        return 1;
    __u32 s = slot & (VIGIL_ENF_MAX_RULES - 1);
    struct vigil_enforce_bucket *b = bpf_map_lookup_elem(&enforce_buckets, &s);
    if (!b)
        return 1;
    __u64 now = bpf_ktime_get_ns();
    __u64 tat = b->tat_ns;
    if (tat < now)
        tat = now;
    if (tat - now > st->tau_ns) {
        b->limited += 1; /* racy like the bucket (no fetch-less atomics on 5.10 with this clang) */
        return 0;
    }
    b->tat_ns = tat + period;
    return 1;
}

/* Whether the never-list holds the current task: comm or the exe's file name (first 15 bytes),
 * or the exe path (first 255 bytes; a path not read is refused too). */
static __always_inline int enf_never(struct enforce_scratch *es, struct task_struct *task, __u32 ctx_bits)
{
    if (enf_has(&es->comm, VIGIL_ENF_K_NEVER_COMM, 0))
        return 1;
    if (!(ctx_bits & ENF_PATH_KNOWN) || enf_has(&es->path, VIGIL_ENF_K_NEVER_PATH, 0))
        return 1;
    __builtin_memset(es->base.s, 0, VIGIL_ENF_STR);
    bpf_probe_read_kernel_str(es->base.s, 16, BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name));
    return enf_has(&es->base, VIGIL_ENF_K_NEVER_COMM, 0);
}

/* Returns the record's enforcement word (0: no enforcing rule fired) for the exec record being
 * built in the scratch buffer. A global (separately verified) function: its cost is verified
 * once, not once per path of the exec program. Arguments are byte offsets into the record. */
__attribute__((noinline)) int vigil_enforce_exec(__u32 argv_off, __u32 args_len)
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
    __u32 exe_len = ev->exe_len;
    argv_off &= SCRATCH_SIZE - 1;

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
    __builtin_memset(es->pfx, 0, sizeof(es->pfx));
    long pn = bpf_probe_read_kernel_str(es->path.s, VIGIL_ENF_STR, rec + sizeof(struct vigil_exec_event));
    __u32 ctx_bits = 0;
    if (pn > 1 && exe_len > 1 && !(exe_flags & VIGIL_EXE_PATH_TRUNCATED)) {
        ctx_bits |= ENF_PATH_KNOWN;
        if (exe_len <= VIGIL_ENF_STR && pn == exe_len)
            ctx_bits |= ENF_PATH_FULL;
    }
    bpf_get_current_comm(es->comm.s, 16);
    if (args_len > 0) {
        ctx_bits |= ENF_ARGV_KNOWN;
        long an = bpf_probe_read_kernel_str(es->argv0.s, VIGIL_ENF_STR, rec + argv_off);
        if (an > 0 && an < VIGIL_ENF_STR)
            ctx_bits |= ENF_ARGV_FULL;
    }

    /* Facts. */
    __u32 facts = 0;
    if (exe_flags & VIGIL_EXE_FROM_MEMFD)
        facts |= VIGIL_ENF_F_MEMFD;
    if (exe_flags & VIGIL_EXE_UPPER_LAYER)
        facts |= VIGIL_ENF_F_UPPER;
    __u32 need = st->cgroup_need;
    if ((st->flags & VIGIL_ENF_S_CGROUP) && (facts & need) == need)
        facts |= (__u32)vigil_enforce_container();

    /* Prefix hits per slot (es->pfx). */
    __u32 npfx = st->nprefixes;
    if (ctx_bits & ENF_PATH_KNOWN) {
        for (__u32 j = 0; j < VIGIL_ENF_MAX_PREFIXES; j++) {
            if (j >= npfx)
                break;
            vigil_enforce_prefix(j);
        }
    }

    /* First rule slot whose facts and sets all hold. */
    __u32 fired = 0;
    __u32 nrules = st->nrules;
    for (__u32 i = 0; i < VIGIL_ENF_MAX_RULES; i++) {
        if (i >= nrules)
            break;
        if (vigil_enforce_rule(i, facts, ctx_bits)) {
            fired = i + 1;
            break;
        }
    }
    if (!fired)
        return 0;

    __u32 outcome;
    if (protect)
        outcome = VIGIL_ENF_OUT_REFUSED_PROTECT;
    else if (enf_never(es, task, ctx_bits))
        outcome = VIGIL_ENF_OUT_REFUSED_NEVER;
    else if (!enf_take(fired - 1, st))
        outcome = VIGIL_ENF_OUT_RATE_LIMITED;
    else if (st->mode == 2) {
        bpf_send_signal(9 /* SIGKILL */);
        outcome = VIGIL_ENF_OUT_KILLED;
    } else
        outcome = VIGIL_ENF_OUT_WOULD_KILL;
    return (int)((fired & 0xff) | (outcome << 8) | ((st->generation & 0xffff) << 16));
}

#endif /* VIGIL_ENFORCE_BPF_H */
