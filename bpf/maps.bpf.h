/* SPDX-License-Identifier: GPL-2.0 */
/* maps.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Maps, the global selection data (vigil_sel), the small helpers every program uses (ring submit,
 * config, kernel counters), syscall argument access and the syscall id lookup. */
#ifndef VIGIL_MAPS_BPF_H
#define VIGIL_MAPS_BPF_H

/* ---- maps ---------------------------------------------------------------- */

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024); /* user space may resize before load */
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VIGIL_KSTAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} kstats SEC(".maps");

/* Per CPU: 1 when this CPU woke the reader at a wake-up check and no check since found the
 * ring below config.wakeup_bytes (ring_flags), else 0. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} wake_state SEC(".maps");

/* What to capture and the configuration (vigil_abi.h): global data, written by user space
 * through the section's map after load and on every change; read with plain loads. */
struct vigil_select vigil_sel SEC(VIGIL_SELECT_SECTION) = {};

/* Kernel features (vigil_abi.h): set by user space before load, constants to the verifier. */
const volatile struct vigil_kernel_features vigil_kernel SEC(VIGIL_KERNEL_SECTION) = {};

/* The kfunc behind vigil_kernel.rdonly_cast (6.2+): `obj` as a read-only pointer to the kernel
 * type `btf_id`, whose fields are then direct loads. Weak: unresolved on older kernels, where
 * the flag is 0 and every call is dead code the verifier removes. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

struct scratch {
    __u8 buf[SCRATCH_SIZE];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct scratch);
} scratch_map SEC(".maps");

/* State of one backwards path walk. It lives in the map value, not on the
 * stack, so that the verifier sees the same (unknown) state on every loop
 * iteration and the walk loops (global functions, below) verify quickly. */
struct walk_state {
    struct dentry *dentry;
    struct vfsmount *vfsmnt;
    struct dentry *mnt_root;  /* vfsmnt->mnt_root, read once per mount */
    struct dentry *root_dentry;
    struct vfsmount *root_mnt;
    struct kernfs_node *kn;
    __u32 pos;        /* start of the path so far in buf */
    __u32 truncated;
    __u8 span[128];   /* a dentry's d_parent, d_name and inline name, read at once (walk_step) */
};

struct pathbuf {
    struct walk_state w;
    __u8 buf[PATHBUF_SIZE];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pathbuf);
} pathbuf_map SEC(".maps");

/* ---- small helpers ------------------------------------------------------- */

/* x & m, with the compiler unable to drop the mask (the verifier needs it). */
#define MASK(x, m) ({ __u32 __v = (__u32)(x); asm volatile("" : "+r"(__v)); __v & (m); })

static __always_inline void kstat_add(__u32 idx, __u64 n)
{
    __u64 *v = bpf_map_lookup_elem(&kstats, &idx);
    if (v)
        *v += n;
}

/* Whether records of event type `id` (a vigil syscall id, or VIGIL_EVT_PROCEXIT) are wanted. */
static __always_inline int wanted(__u32 id)
{
    return vigil_sel.type[id & (VIGIL_EVENT_TYPE_MAX - 1)] & VIGIL_INTEREST_WANTED;
}

static __always_inline struct vigil_config *get_config(void)
{
    return &vigil_sel.config;
}

/* Whether events of the current process are dropped (the agent itself). */
static __always_inline int ignored(struct vigil_config *cfg, __u32 tgid)
{
    return cfg && cfg->ignore_agent && cfg->agent_tgid == tgid;
}

/* vigil_sel.nr[key]: the vigil id in the low 16 bits and VIGIL_NR_* flags. */
static __always_inline __u32 syscall_entry(__u32 key)
{
    return vigil_sel.nr[key & (VIGIL_NR_MAX - 1)];
}

/* The current task. bpf_get_current_task_btf() needs 5.11; this works from 4.8 and
 * every field is read through CO-RE (BPF_CORE_READ), so one program fits all kernels. */
static __always_inline struct task_struct *current_task(void)
{
    return (struct task_struct *)bpf_get_current_task();
}

/* Whether the kernel has bpf_get_current_task_btf (5.11+; resolved at load, so the other branch
 * of a test on it is dead code): the current task's fields are then direct loads through its
 * BTF pointer, much cheaper than a helper call or a probe read each. */
#define HAVE_TASK_BTF() bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

/* The record header from the BTF task pointer `t` (the current task; 5.11+): one helper call
 * (the boot clock); pid, tid, parent, real uid/gid, comm and the cgroup v2 id are loads. The
 * cgroup id is what bpf_get_current_cgroup_id returns (the kernfs id of the task's cgroup on
 * the default hierarchy), without the helper's call. */
static __always_inline void fill_header_task(struct vigil_header *h, __u16 kind, __u32 size, struct task_struct *t)
{
    h->kind = kind;
    h->flags = 0;
    h->size = size;
    h->ts_ns = bpf_ktime_get_boot_ns();
    h->cpu = bpf_get_smp_processor_id();
    h->pid = t->tgid;
    h->tid = t->pid;
    h->ppid = t->real_parent->tgid;
    const struct cred *c = t->cred;
    h->uid = c->uid.val;
    h->gid = c->gid.val;
    h->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
    /* comm is NUL-terminated and NUL-padded within its 16 bytes (set_task_comm). */
    __u64 *dst = (__u64 *)h->comm;
    dst[0] = *(__u64 *)&t->comm[0];
    dst[1] = *(__u64 *)&t->comm[8];
}

/* The record header: who (pid, tid, parent, real uid/gid, comm, cgroup), when and where. On
 * kernels with bpf_get_current_task_btf (5.11+) it is fill_header_task; 5.10 takes the helpers
 * and probe reads. */
static __always_inline void fill_header(struct vigil_header *h, __u16 kind, __u32 size)
{
    if (HAVE_TASK_BTF()) {
        fill_header_task(h, kind, size, bpf_get_current_task_btf());
        return;
    }
    __u64 pt = bpf_get_current_pid_tgid();
    h->kind = kind;
    h->flags = 0;
    h->size = size;
    h->ts_ns = bpf_ktime_get_boot_ns();
    h->cpu = bpf_get_smp_processor_id();
    h->pid = pt >> 32;
    h->tid = (__u32)pt;
    h->cgroup_id = bpf_get_current_cgroup_id();
    struct task_struct *task = current_task();
    __u64 ug = bpf_get_current_uid_gid();
    h->ppid = BPF_CORE_READ(task, real_parent, tgid);
    h->uid = (__u32)ug;
    h->gid = ug >> 32;
    bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Ring flags for the next record of this CPU, whose count of submitted records is *n: no
 * wake-up, except that once per wakeup_mask + 1 records of a CPU the ring's unread bytes are
 * checked (bpf_ringbuf_query) and the reader is woken when they have risen to
 * config.wakeup_bytes: once per crossing and CPU (wake_state), not at every check while they
 * stay above (the reader is then awake, or runnable and behind: another wake-up would only
 * cost). The reader polls on its own (every poll interval at most), so a lone record never
 * waits longer than that; the wake-up is for a reader asleep in its poll while a burst fills the
 * ring. A forced wake-up is an irq_work self-IPI, which in a VM exits to the hypervisor: one per
 * 1,024 records of a CPU (the previous rule) cost ~10 ns a record in the open storm.
 * wakeup_mask 0: the kernel's default (a wake-up whenever the reader has caught up). */
static __always_inline __u64 ring_flags(__u64 *n, struct vigil_config *cfg)
{
    __u32 mask = cfg ? cfg->wakeup_mask : 0;
    if (mask == 0 || !n)
        return 0;
    if (((*n + 1) & mask) != 0)
        return BPF_RB_NO_WAKEUP;
    __u32 zero = 0;
    __u64 *woke = bpf_map_lookup_elem(&wake_state, &zero);
    if (!woke)
        return BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < cfg->wakeup_bytes) {
        *woke = 0;
        return BPF_RB_NO_WAKEUP;
    }
    if (*woke)
        return BPF_RB_NO_WAKEUP;
    *woke = 1;
    return BPF_RB_FORCE_WAKEUP;
}

/* Sends `size` bytes of `rec` to the ring (a copy), woken as ring_flags says. */
static __always_inline void submit(void *rec, __u32 size, struct vigil_config *cfg)
{
    if (size > SCRATCH_SIZE)
        size = SCRATCH_SIZE;
    if (size < sizeof(struct vigil_header))
        return;
    __u32 idx = VIGIL_KSTAT_SUBMITTED;
    __u64 *n = bpf_map_lookup_elem(&kstats, &idx);
    if (bpf_ringbuf_output(&events, rec, size, ring_flags(n, cfg)) == 0) {
        if (n)
            *n += 1;
    } else {
        kstat_add(VIGIL_KSTAT_RING_FULL, 1);
    }
}

static __always_inline void *scratch(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* ---- syscall arguments ---------------------------------------------------- */

#if defined(__TARGET_ARCH_x86)
#define SC_NR(regs) ((regs)->orig_ax)
static __always_inline void regs_args(struct pt_regs *regs, __u64 *a)
{
    a[0] = regs->di; a[1] = regs->si; a[2] = regs->dx;
    a[3] = regs->r10; a[4] = regs->r8; a[5] = regs->r9;
}
#elif defined(__TARGET_ARCH_arm64)
#define SC_NR(regs) ((regs)->syscallno)
static __always_inline void regs_args(struct pt_regs *regs, __u64 *a)
{
    a[0] = regs->orig_x0; a[1] = regs->regs[1]; a[2] = regs->regs[2];
    a[3] = regs->regs[3]; a[4] = regs->regs[4]; a[5] = regs->regs[5];
}
#else
#error "unsupported architecture: define __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

/* The current task's BTF pointer on 5.11+ (bpf_get_current_task_btf), NULL on 5.10, where
 * every use of it is in a dead HAVE_TASK_BTF() branch. */
static __always_inline struct task_struct *current_task_btf(void)
{
    if (HAVE_TASK_BTF())
        return bpf_get_current_task_btf();
    return NULL;
}

#if defined(__TARGET_ARCH_x86)
#define TS_COMPAT 0x0002
/* Whether the current syscall is a 32-bit one: an ia32 process, or int 0x80 from a
 * 64-bit one (the entry code sets TS_COMPAT in thread_info.status for both). `bt` is the
 * current task's BTF pointer where the kernel has bpf_get_current_task_btf (5.11+: a direct
 * load), NULL before (a probe read). */
static __always_inline int in_compat_syscall_of(struct task_struct *bt)
{
    if (HAVE_TASK_BTF())
        return (bt->thread_info.status & TS_COMPAT) != 0;
    struct task_struct *t = current_task();
    return (BPF_CORE_READ(t, thread_info.status) & TS_COMPAT) != 0;
}
/* i386 argument registers: ebx, ecx, edx, esi, edi, ebp (32-bit, zero-extended). */
static __always_inline void regs_args32(struct pt_regs *regs, __u64 *a)
{
    a[0] = (__u32)regs->bx; a[1] = (__u32)regs->cx; a[2] = (__u32)regs->dx;
    a[3] = (__u32)regs->si; a[4] = (__u32)regs->di; a[5] = (__u32)regs->bp;
}
#else
static __always_inline int in_compat_syscall_of(struct task_struct *bt) { return 0; }
static __always_inline void regs_args32(struct pt_regs *regs, __u64 *a) { regs_args(regs, a); }
#endif

static __always_inline int in_compat_syscall(void)
{
    return in_compat_syscall_of(current_task_btf());
}

/* The vigil id of syscall `nr` when it is wanted (0 otherwise), and whether it is a 32-bit
 * one. A syscall nobody wants costs one load from global data (no helper call); a wanted one
 * also sets *task to the current task's BTF pointer (current_task_btf: one helper call, which
 * the caller reuses). */
static __always_inline __u32 syscall_id(long nr, int *compat, struct task_struct **task)
{
    *compat = 0;
    if (nr < 0 || nr >= VIGIL_NR_COMPAT_BASE)
        return 0;
    __u32 v = syscall_entry((__u32)nr);
    if ((v & (VIGIL_NR_WANTED | VIGIL_NR_COMPAT_WANTED)) == 0)
        return 0;
    struct task_struct *t = current_task_btf();
    *task = t;
    if (in_compat_syscall_of(t)) {
        *compat = 1;
        if (!(v & VIGIL_NR_COMPAT_WANTED))
            return 0;
        v = syscall_entry((__u32)nr + VIGIL_NR_COMPAT_BASE);
        return (v & VIGIL_NR_WANTED) ? (v & VIGIL_NR_ID_MASK) : 0;
    }
    return (v & VIGIL_NR_WANTED) ? (v & VIGIL_NR_ID_MASK) : 0;
}

/* Whether saved registers are a user context (the registers a syscall entry saved), not
 * something else read from where they would be. x86-64: the user code segment (__USER_CS 0x33,
 * or __USER32_CS 0x23 for the 32-bit entries), the user stack segment (__USER_DS 0x2b) and a
 * user instruction pointer; arm64: EL0 (PSR_MODE_MASK bits 0, also for AArch32 user mode). */
#if defined(__TARGET_ARCH_x86)
#define USER_REGS(cs, ss, ip, pstate) \
    (((cs) == 0x33 || (cs) == 0x23) && (ss) == 0x2b && (ip) < 0x0100000000000000ull)
#else
#define USER_REGS(cs, ss, ip, pstate) (((pstate) & 0xf) == 0)
#endif
#if defined(__TARGET_ARCH_x86)
#define REGS_USER(r) USER_REGS((r)->cs, (r)->ss, (r)->ip, 0)
#else
#define REGS_USER(r) USER_REGS(0, 0, 0, (r)->pstate)
#endif

/* The kernel stack sizes task_pt_regs() can sit below on 5.10 (no bpf_task_pt_regs):
 * THREAD_SIZE is 16 KiB on x86-64 and arm64 and doubles with KASAN (KASAN_STACK_ORDER,
 * KASAN_THREAD_SHIFT). The kernel's BTF does not carry THREAD_SIZE, so each is tried in turn
 * and the registers found there must pass REGS_USER: a wrong size reads the middle of the
 * stack (or a guard page, a failed read), which does not hold a user segment pair. */
#define KERNEL_THREAD_SIZE 16384
#define KERNEL_THREAD_SIZE_KASAN 32768

/* The saved user registers of task `t` on 5.10: the top of its kernel stack minus one
 * pt_regs (x86-64 has no padding above them). 0 when neither stack size holds them. */
static __always_inline int stack_top_regs(struct task_struct *t, struct pt_regs *r)
{
    void *stack = BPF_CORE_READ(t, stack);
    if (!stack)
        return 0;
    if (bpf_probe_read_kernel(r, sizeof(*r), (struct pt_regs *)(stack + KERNEL_THREAD_SIZE) - 1) == 0 &&
        REGS_USER(r))
        return 1;
    if (bpf_probe_read_kernel(r, sizeof(*r), (struct pt_regs *)(stack + KERNEL_THREAD_SIZE_KASAN) - 1) == 0 &&
        REGS_USER(r))
        return 1;
    return 0;
}

/* The vigil id (wanted or not) of the syscall task `t` is in, read from its saved user
 * registers (task_pt_regs), and whether it is a 32-bit one: what sched_process_fork and
 * sched_process_exec run inside. `t` must be the current task (the tracepoint's task
 * argument: the forking parent, the execing task), so TS_COMPAT says how it entered. 0 for
 * kernel threads, registers that are not a user context (an io_uring worker) and syscalls
 * vigil does not know. 5.15+: bpf_task_pt_regs (resolved at load, the other branch is dead
 * code); 5.10: the top of the task's kernel stack (stack_top_regs). */
#define PF_KTHREAD_FLAG 0x00200000
static __always_inline __u32 current_syscall_id(struct task_struct *t, int *compat)
{
    *compat = 0;
    if (t->flags & PF_KTHREAD_FLAG)
        return 0;
    long nr = -1;
    if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
        struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
        if (!regs || !REGS_USER(regs))
            return 0;
        nr = SC_NR(regs);
    } else {
        struct pt_regs r = {};
        if (!stack_top_regs(t, &r))
            return 0;
        nr = SC_NR(&r);
    }
    if (nr < 0 || nr >= VIGIL_NR_COMPAT_BASE)
        return 0;
    __u32 v = syscall_entry((__u32)nr);
    if (in_compat_syscall()) {
        *compat = 1;
        v = (v & VIGIL_NR_HAS_COMPAT) ? syscall_entry((__u32)nr + VIGIL_NR_COMPAT_BASE) : 0;
    }
    return v & VIGIL_NR_ID_MASK;
}

/* The capture of vigil syscall `id` (VIGIL_CAPTURE_* kind and flags): the row's column in
 * vigil_abi.h's VIGIL_SYSCALLS, expanded here (clang turns the switch into a table load). */
#define VIGIL_CAPTURE_ENTRY(ID, value, name, x86_64, i386, i386_old, arm64, socketcall, capture, ...) \
    [value] = (capture),
/* Read-only data (.rodata, frozen at load): one load per lookup. A switch over the ids compiles
 * to a tree of compares (BPF has no jump tables), about eight branches per record. */
static const volatile __u32 capture_table[VIGIL_EVENT_TYPE_MAX] = {
    VIGIL_SYSCALLS(VIGIL_CAPTURE_ENTRY)
};
static __always_inline __u32 capture_of(__u32 id)
{
    return capture_table[id & (VIGIL_EVENT_TYPE_MAX - 1)];
}

/* i386 socketcall(call, args): the vigil id of `call` (0 for calls vigil does not capture),
 * from the rows' socketcall column. */
#define VIGIL_SOCKETCALL_ROW(ID, value, name, x86_64, i386, i386_old, arm64, socketcall, ...) \
    if ((socketcall) != 0 && call == (socketcall)) return (value);
static __always_inline __u32 socketcall_id(__u64 call)
{
    VIGIL_SYSCALLS(VIGIL_SOCKETCALL_ROW)
    return 0;
}

static __always_inline int is_clone_family(__u32 id)
{
    return (capture_of(id) & VIGIL_CAPTURE_FORK_RECORD) != 0;
}

#endif /* VIGIL_MAPS_BPF_H */
