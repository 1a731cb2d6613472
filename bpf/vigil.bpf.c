// SPDX-License-Identifier: GPL-2.0
/*
 * vigil.bpf.c - Vigil's kernel side: syscall, exec, fork and exit capture.
 *
 * Hooks (all BTF-typed tracepoints, no kprobes/fentry needed):
 *   tp_btf/sys_enter             save the arguments of wanted syscalls (per-tid LRU map)
 *   tp_btf/sys_exit              emit one vigil_syscall_event per completed wanted syscall
 *   tp_btf/sched_process_exec    emit vigil_exec_event (exe, argv, cwd, cgroup, creds, ...)
 *   tp_btf/sched_process_fork    emit vigil_fork_event
 *   tp_btf/sched_process_exit    emit vigil_exit_event
 *
 * Records are built in a per-CPU scratch buffer and copied into the ring with
 * bpf_ringbuf_output() at their exact size. The reader is woken only when at
 * least config.wakeup_bytes are waiting (it polls every millisecond anyway),
 * so a storm of events costs no wake-up per record.
 *
 * The record layouts and the meaning of str0/str1 are the ABI in
 * Sources/VigilABI/include/vigil_abi.h (per-syscall notes there and in bpf/README.md).
 */
/* vmlinux.h has a zlib typedef named `config`; the map below owns that name. */
#define config vmlinux_zlib_config
#include "vmlinux.h"
#undef config
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define PIDTYPE_PGID_IDX 2
#define PIDTYPE_SID_IDX 3

/* Size of the per-CPU record scratch buffer (and the largest record). */
#define SCRATCH_SIZE 32768
/* Path builder: paths are assembled backwards ending at PATH_END. */
#define PATHBUF_SIZE 8192
#define PATH_END (VIGIL_PATH_MAX - 1)
#define NAME_MAX_LEN 255
/* Components plus mount crossings walked for one path. */
#define PATH_WALK_MAX 128
/* Interest map size: vigil syscall ids and the procexit type (100). */
#define INTEREST_MAX 128
#define INTEREST_PROCEXIT 100

/* ---- maps ---------------------------------------------------------------- */

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024); /* user space may resize before load */
} events SEC(".maps");

/* kernel syscall nr -> vigil syscall id (0 = not a syscall vigil knows). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, VIGIL_NR_MAX);
    __type(key, __u32);
    __type(value, __u32);
} syscall_ids SEC(".maps");

/* vigil syscall id / event type -> VIGIL_INTEREST_* flags. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, INTEREST_MAX);
    __type(key, __u32);
    __type(value, __u32);
} interest SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct vigil_config);
} config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VIGIL_KSTAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} kstats SEC(".maps");

/* Arguments saved at sys_enter, keyed by tid. */
struct entry {
    __u64 args[6];
    __u32 id;        /* vigil syscall id (socketcall already demultiplexed) */
    __u16 pending;   /* 1 between sys_enter and sys_exit */
    __u16 hflags;    /* header flags known at entry (VIGIL_HF_COMPAT) */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct entry);
} entries SEC(".maps");

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
    struct dentry *root_dentry;
    struct vfsmount *root_mnt;
    struct kernfs_node *kn;
    __u32 pos;        /* start of the path so far in buf */
    __u32 truncated;
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

static __always_inline int wanted(__u32 id)
{
    __u32 *flags = bpf_map_lookup_elem(&interest, &id);
    return flags && (*flags & VIGIL_INTEREST_WANTED);
}

static __always_inline struct vigil_config *get_config(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&config, &zero);
}

/* Whether events of the current process are dropped (the agent itself). */
static __always_inline int ignored(struct vigil_config *cfg, __u32 tgid)
{
    return cfg && cfg->ignore_agent && cfg->agent_tgid == tgid;
}

/* syscall_ids[nr]: the native vigil id in the low 16 bits, VIGIL_NR_HAS_COMPAT when the
 * 32-bit table has an entry at VIGIL_NR_COMPAT_BASE + nr. */
static __always_inline __u32 syscall_entry(__u32 key)
{
    __u32 *v = bpf_map_lookup_elem(&syscall_ids, &key);
    return v ? *v : 0;
}

/* The current task. bpf_get_current_task_btf() needs 5.11; this works from 4.8 and
 * every field is read through CO-RE (BPF_CORE_READ), so one program fits all kernels. */
static __always_inline struct task_struct *current_task(void)
{
    return (struct task_struct *)bpf_get_current_task();
}

static __always_inline void fill_header(struct vigil_header *h, __u16 kind, __u32 size)
{
    struct task_struct *task = current_task();
    __u64 pt = bpf_get_current_pid_tgid();
    __u64 ug = bpf_get_current_uid_gid();
    h->kind = kind;
    h->flags = 0;
    h->size = size;
    h->ts_ns = bpf_ktime_get_boot_ns();
    h->cpu = bpf_get_smp_processor_id();
    h->pid = pt >> 32;
    h->tid = (__u32)pt;
    h->ppid = BPF_CORE_READ(task, real_parent, tgid);
    h->uid = (__u32)ug;
    h->gid = ug >> 32;
    h->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Sends `size` bytes of `rec` to the ring, waking the reader only when enough waits. */
static __always_inline void submit(void *rec, __u32 size, struct vigil_config *cfg)
{
    __u64 flags = BPF_RB_NO_WAKEUP;
    if (!cfg || cfg->wakeup_bytes == 0)
        flags = 0;
    else if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg->wakeup_bytes)
        flags = BPF_RB_FORCE_WAKEUP;
    if (size > SCRATCH_SIZE)
        size = SCRATCH_SIZE;
    if (size < sizeof(struct vigil_header))
        return;
    if (bpf_ringbuf_output(&events, rec, size, flags) == 0)
        kstat_add(VIGIL_KSTAT_SUBMITTED, 1);
    else
        kstat_add(VIGIL_KSTAT_RING_FULL, 1);
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

#if defined(__TARGET_ARCH_x86)
#define TS_COMPAT 0x0002
/* Whether the current syscall is a 32-bit one: an ia32 process, or int 0x80 from a
 * 64-bit one (the entry code sets TS_COMPAT in thread_info.status for both). A direct
 * load through the BTF task pointer where the kernel has bpf_get_current_task_btf
 * (5.11+; resolved at load time, the other branch is dead code), a probe read before. */
static __always_inline int in_compat_syscall(void)
{
    if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
        struct task_struct *bt = bpf_get_current_task_btf();
        return (bt->thread_info.status & TS_COMPAT) != 0;
    }
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
static __always_inline int in_compat_syscall(void) { return 0; }
static __always_inline void regs_args32(struct pt_regs *regs, __u64 *a) { regs_args(regs, a); }
#endif

/* The vigil id of syscall `nr` and whether it is a 32-bit one. A syscall neither table
 * knows costs one array lookup (no compat check). */
static __always_inline __u32 syscall_id(long nr, int *compat)
{
    *compat = 0;
    if (nr < 0 || nr >= VIGIL_NR_COMPAT_BASE)
        return 0;
    __u32 v = syscall_entry((__u32)nr);
    if (v == 0)
        return 0;
    if (in_compat_syscall()) {
        *compat = 1;
        return (v & VIGIL_NR_HAS_COMPAT) ? syscall_entry((__u32)nr + VIGIL_NR_COMPAT_BASE) : 0;
    }
    return v & 0xffff;
}

/* i386 socketcall(call, args): the vigil id of `call` (0 for calls vigil does not capture). */
static __always_inline __u32 socketcall_id(__u64 call)
{
    switch (call) {
    case 1: return VIGIL_SYS_SOCKET;
    case 2: return VIGIL_SYS_BIND;
    case 3: return VIGIL_SYS_CONNECT;
    case 4: return VIGIL_SYS_LISTEN;
    case 5: return VIGIL_SYS_ACCEPT;
    case 8: return VIGIL_SYS_SOCKETPAIR;
    case 11: return VIGIL_SYS_SENDTO;
    case 12: return VIGIL_SYS_RECVFROM;
    case 16: return VIGIL_SYS_SENDMSG;
    case 17: return VIGIL_SYS_RECVMSG;
    case 18: return VIGIL_SYS_ACCEPT4;
    default: return 0;
    }
}

static __always_inline int is_clone_family(__u32 id)
{
    return id == VIGIL_SYS_CLONE || id == VIGIL_SYS_CLONE3 || id == VIGIL_SYS_FORK || id == VIGIL_SYS_VFORK;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(vigil_sys_enter, struct pt_regs *regs, long nr)
{
    int compat;
    __u32 id = syscall_id(nr, &compat);
    if (id == 0)
        return 0;
    __u64 args[6];
    if (compat)
        regs_args32(regs, args);
    else
        regs_args(regs, args);
    if (id == VIGIL_SYS_SOCKETCALL) {
        /* socketcall(call, u32 args[]): the call's own arguments are in user memory. */
        id = socketcall_id(args[0]);
        if (id == 0)
            return 0;
        __u32 sa[6] = {};
        if (bpf_probe_read_user(sa, sizeof(sa), (const void *)args[1]) != 0)
            return 0;
        for (int i = 0; i < 6; i++)
            args[i] = sa[i];
    }
    /* Clone-family entries are saved for the fork record's syscall id. */
    if (!wanted(id))
        return 0;
    struct vigil_config *cfg = get_config();
    __u64 pt = bpf_get_current_pid_tgid();
    if (ignored(cfg, pt >> 32))
        return 0;
    __u32 tid = (__u32)pt;
    struct entry *e = bpf_map_lookup_elem(&entries, &tid);
    if (e) {
        __builtin_memcpy(e->args, args, sizeof(args));
        e->id = id;
        e->pending = 1;
        e->hflags = compat ? VIGIL_HF_COMPAT : 0;
        return 0;
    }
    struct entry ne = {};
    __builtin_memcpy(ne.args, args, sizeof(args));
    ne.id = id;
    ne.pending = 1;
    ne.hflags = compat ? VIGIL_HF_COMPAT : 0;
    if (bpf_map_update_elem(&entries, &tid, &ne, BPF_ANY) != 0)
        kstat_add(VIGIL_KSTAT_ENTRY_FULL, 1);
    return 0;
}

/* Reads a user string into rec+off (at most VIGIL_PATH_MAX). Returns bytes stored. */
static __always_inline __u32 read_user_str(__u8 *rec, __u32 off, __u64 uptr, struct vigil_header *h)
{
    if (uptr == 0)
        return 0;
    if (off > SCRATCH_SIZE - VIGIL_PATH_MAX)
        return 0;
    long n = bpf_probe_read_user_str(rec + off, VIGIL_PATH_MAX, (const void *)uptr);
    if (n <= 0) {
        h->flags |= VIGIL_HF_READ_FAILED;
        kstat_add(VIGIL_KSTAT_READ_FAILED, 1);
        return 0;
    }
    if (n >= VIGIL_PATH_MAX)
        h->flags |= VIGIL_HF_TRUNCATED;
    return (__u32)n;
}

/* Reads a raw user buffer (sockaddr) of `len` bytes, at most VIGIL_SOCKADDR_MAX. */
static __always_inline __u32 read_user_raw(__u8 *rec, __u32 off, __u64 uptr, __u64 len, struct vigil_header *h)
{
    if (uptr == 0 || len == 0)
        return 0;
    if (len > VIGIL_SOCKADDR_MAX) {
        len = VIGIL_SOCKADDR_MAX;
        h->flags |= VIGIL_HF_TRUNCATED;
    }
    if (off > SCRATCH_SIZE - VIGIL_SOCKADDR_MAX)
        return 0;
    /* The size register itself must carry the bound: older verifiers (6.1) do not
     * carry a compare over to a copy of the register clang may pass instead. */
    __u32 n = MASK(len, 2 * VIGIL_SOCKADDR_MAX - 1);
    if (bpf_probe_read_user(rec + MASK(off, SCRATCH_SIZE - 1), n, (const void *)uptr) != 0) {
        h->flags |= VIGIL_HF_READ_FAILED;
        kstat_add(VIGIL_KSTAT_READ_FAILED, 1);
        return 0;
    }
    return n;
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
    if (fd < 0)
        return NULL;
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt)
        return NULL;
    unsigned int max = BPF_CORE_READ(fdt, max_fds);
    if ((unsigned long)fd >= max)
        return NULL;
    struct file **arr = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
    return f;
}

/* Fills the tuple from the socket behind `fd` of the current task. */
static __always_inline void sock_tuple_file(struct vigil_sock_tuple *t, struct file *f);
static __always_inline void sock_tuple(struct vigil_sock_tuple *t, long fd)
{
    sock_tuple_file(t, fd_file(current_task(), fd));
}

/* Fills the tuple from socket file `f`. */
static __always_inline void sock_tuple_file(struct vigil_sock_tuple *t, struct file *f)
{
    if (!f)
        return;
    umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
    if ((mode & S_IFMT) != S_IFSOCK)
        return;
    struct socket *sock = BPF_CORE_READ(f, private_data);
    if (!sock)
        return;
    struct sock *sk = BPF_CORE_READ(sock, sk);
    if (!sk)
        return;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    t->family = family;
    t->l4proto = (__u8)BPF_CORE_READ(sk, sk_protocol);
    t->sock_type = (__u8)BPF_CORE_READ(sk, sk_type);
    if (family == AF_INET) {
        __u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(t->saddr, &s, 4);
        __builtin_memcpy(t->daddr, &d, 4);
    } else if (family == AF_INET6) {
        BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
    } else {
        return;
    }
    t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

struct user_msghdr_min {
    void *msg_name;
    int msg_namelen;
};

struct open_how_min {
    __u64 flags;
    __u64 mode;
    __u64 resolve;
};

struct cap_data_min {
    __u32 effective;
    __u32 permitted;
    __u32 inheritable;
};

struct pathbuf;
static __always_inline struct pathbuf *get_pathbuf(void);
static __always_inline void build_path(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt,
                                       struct task_struct *task);
static __always_inline __u32 copy_path(__u8 *rec, __u32 off, struct pathbuf *pb);
static __always_inline __u32 path_truncated(struct pathbuf *pb);

/* User-space encoding of a kernel dev_t (new_encode_dev): what stat() returns as st_dev. */
static __always_inline __u32 user_dev(__u32 kdev)
{
    __u32 major = kdev >> 20, minor = kdev & 0xfffff;
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* Fills `fr` from file `f` and writes f's path (walked from its dentry and mount, as
 * seen from the task's root) at rec+off. Returns the path's bytes (0 when no path). */
static __always_inline __u32 file_ref(__u8 *rec, __u32 off, struct vigil_file_ref *fr, struct file *f)
{
    if (!f)
        return 0;
    struct inode *ino = BPF_CORE_READ(f, f_inode);
    fr->ino = BPF_CORE_READ(ino, i_ino);
    fr->dev = user_dev(BPF_CORE_READ(ino, i_sb, s_dev));
    fr->nlink = BPF_CORE_READ(ino, __i_nlink);
    fr->flags = VIGIL_FILE_PRESENT;
    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return 0;
    build_path(pb, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), current_task());
    __u32 n = copy_path(rec, off, pb);
    if (n) {
        fr->flags |= VIGIL_FILE_RESOLVED;
        if (path_truncated(pb))
            fr->flags |= VIGIL_FILE_PATH_TRUNCATED;
    }
    return n;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
    long nr = SC_NR(regs);
    int compat;
    __u32 id = syscall_id(nr, &compat);
    if (id == 0)
        return 0;
    if (id == VIGIL_SYS_SOCKETCALL) {
        /* demultiplexed at entry */
        __u32 t = (__u32)bpf_get_current_pid_tgid();
        struct entry *se = bpf_map_lookup_elem(&entries, &t);
        if (!se || !se->pending)
            return 0;
        id = se->id;
    }
    if (!wanted(id))
        return 0;
    /* Successful execs are reported by sched_process_exec. */
    if ((id == VIGIL_SYS_EXECVE || id == VIGIL_SYS_EXECVEAT) && ret == 0)
        return 0;
    /* The child's side of fork/clone is reported by sched_process_fork. */
    if (is_clone_family(id))
        return 0;
    struct vigil_config *cfg = get_config();
    __u64 pt = bpf_get_current_pid_tgid();
    if (ignored(cfg, pt >> 32))
        return 0;
    __u32 tid = (__u32)pt;
    struct entry *e = bpf_map_lookup_elem(&entries, &tid);
    if (!e || !e->pending || e->id != id) {
        kstat_add(VIGIL_KSTAT_ENTRY_MISSING, 1);
        return 0;
    }
    e->pending = 0;

    __u8 *rec = scratch();
    if (!rec)
        return 0;
    struct vigil_syscall_event *ev = (void *)rec;
    struct vigil_header *h = &ev->hdr;
    fill_header(h, VIGIL_REC_SYSCALL, 0);
    h->flags |= e->hflags & VIGIL_HF_COMPAT;
    ev->ret = ret;
    __builtin_memcpy(ev->args, e->args, sizeof(ev->args));
    ev->syscall = id;
    ev->str0_len = 0;
    ev->str1_len = 0;
    ev->reserved = 0;
    __builtin_memset(&ev->tuple, 0, sizeof(ev->tuple));

    const __u32 base = sizeof(struct vigil_syscall_event);
    __u32 n0 = 0, n1 = 0;
    __u64 *a = ev->args;

    switch (id) {
    case VIGIL_SYS_OPEN:
    case VIGIL_SYS_CREAT:
    case VIGIL_SYS_UNLINK:
    case VIGIL_SYS_RMDIR:
    case VIGIL_SYS_CHMOD:
    case VIGIL_SYS_MKDIR:
    case VIGIL_SYS_CHDIR:
    case VIGIL_SYS_CHROOT:
    case VIGIL_SYS_UMOUNT2:
    case VIGIL_SYS_MEMFD_CREATE:
    case VIGIL_SYS_EXECVE:
        n0 = read_user_str(rec, base, a[0], h);
        break;
    case VIGIL_SYS_OPENAT:
    case VIGIL_SYS_UNLINKAT:
    case VIGIL_SYS_FCHMODAT:
    case VIGIL_SYS_MKDIRAT:
    case VIGIL_SYS_EXECVEAT:
    case VIGIL_SYS_FINIT_MODULE:
        n0 = read_user_str(rec, base, a[1], h);
        break;
    case VIGIL_SYS_OPENAT2: {
        n0 = read_user_str(rec, base, a[1], h);
        struct open_how_min how = {};
        if (a[2] && bpf_probe_read_user(&how, sizeof(how), (const void *)a[2]) == 0) {
            a[2] = how.flags;
            a[3] = how.mode;
            a[4] = how.resolve;
        }
        break;
    }
    case VIGIL_SYS_INIT_MODULE:
        n0 = read_user_str(rec, base, a[2], h);
        break;
    case VIGIL_SYS_LINK:
    case VIGIL_SYS_SYMLINK:
    case VIGIL_SYS_RENAME:
        n0 = read_user_str(rec, base, a[0], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[1], h);
        break;
    case VIGIL_SYS_LINKAT:
    case VIGIL_SYS_RENAMEAT:
    case VIGIL_SYS_RENAMEAT2:
        n0 = read_user_str(rec, base, a[1], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[3], h);
        break;
    case VIGIL_SYS_SYMLINKAT:
        n0 = read_user_str(rec, base, a[0], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[2], h);
        break;
    case VIGIL_SYS_MOUNT: {
        /* str0 = source NUL fstype NUL, str1 = target */
        __u32 s = read_user_str(rec, base, a[0], h);
        if (s == 0) {
            rec[base] = 0;
            s = 1;
        }
        __u32 off = base + (s & (VIGIL_PATH_MAX * 2 - 1));
        __u32 f = read_user_str(rec, off, a[2], h);
        if (f == 0) {
            if (off < SCRATCH_SIZE)
                rec[off & (SCRATCH_SIZE - 1)] = 0;
            f = 1;
        }
        n0 = s + f;
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 4 - 1)), a[1], h);
        break;
    }
    case VIGIL_SYS_CONNECT:
    case VIGIL_SYS_BIND:
        n0 = read_user_raw(rec, base, a[1], a[2], h);
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_SYS_SENDTO:
        n0 = read_user_raw(rec, base, a[4], a[5], h);
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_SYS_SENDMSG: {
        struct user_msghdr_min m = {};
        if (h->flags & VIGIL_HF_COMPAT) {
            __u32 cm[2] = {}; /* compat_msghdr: u32 msg_name, int msg_namelen */
            if (a[1] && bpf_probe_read_user(cm, sizeof(cm), (const void *)a[1]) == 0) {
                m.msg_name = (void *)(unsigned long)cm[0];
                m.msg_namelen = (int)cm[1];
            }
        } else if (a[1]) {
            bpf_probe_read_user(&m, sizeof(m), (const void *)a[1]);
        }
        if (m.msg_name && m.msg_namelen > 0)
            n0 = read_user_raw(rec, base, (__u64)m.msg_name, (__u64)m.msg_namelen, h);
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    }
    case VIGIL_SYS_ACCEPT:
    case VIGIL_SYS_ACCEPT4:
        if (ret >= 0)
            sock_tuple(&ev->tuple, ret);
        break;
    case VIGIL_SYS_LISTEN:
    case VIGIL_SYS_RECVFROM:
    case VIGIL_SYS_RECVMSG:
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_SYS_PIPE:
    case VIGIL_SYS_PIPE2:
    case VIGIL_SYS_SOCKETPAIR: {
        __u64 p = id == VIGIL_SYS_SOCKETPAIR ? a[3] : a[0];
        int fds[2] = {-1, -1};
        if (ret == 0 && p && bpf_probe_read_user(fds, sizeof(fds), (const void *)p) == 0) {
            a[4] = (__u64)(__s64)fds[0];
            a[5] = (__u64)(__s64)fds[1];
        }
        break;
    }
    case VIGIL_SYS_CAPSET: {
        struct cap_data_min d[2] = {};
        if (a[1] && bpf_probe_read_user(d, sizeof(d), (const void *)a[1]) == 0) {
            a[2] = (__u64)d[0].effective | ((__u64)d[1].effective << 32);
            a[3] = (__u64)d[0].permitted | ((__u64)d[1].permitted << 32);
        }
        break;
    }
    default:
        break;
    }

    /* The file an open returned: inode, device, and its path walked from the dentry. */
    if (ret >= 0 && (id == VIGIL_SYS_OPEN || id == VIGIL_SYS_OPENAT || id == VIGIL_SYS_OPENAT2 ||
                     id == VIGIL_SYS_CREAT || id == VIGIL_SYS_OPEN_BY_HANDLE_AT)) {
        n0 &= (VIGIL_PATH_MAX - 1) | VIGIL_PATH_MAX;
        n1 = file_ref(rec, base + n0, &ev->file, fd_file(current_task(), ret));
    }

    n0 &= (VIGIL_PATH_MAX * 4 - 1);
    n1 &= (VIGIL_PATH_MAX * 2 - 1);
    ev->str0_len = n0;
    ev->str1_len = n1;
    __u32 size = base + n0 + n1;
    h->size = size;
    if (h->flags & VIGIL_HF_TRUNCATED)
        kstat_add(VIGIL_KSTAT_TRUNCATED, 1);
    submit(rec, size, cfg);
    return 0;
}

/* ---- paths ---------------------------------------------------------------- */

static __always_inline struct mount *real_mount(struct vfsmount *m)
{
    return (struct mount *)((void *)m - bpf_core_field_offset(struct mount, mnt));
}

static __always_inline struct pathbuf *get_pathbuf(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&pathbuf_map, &zero);
}

/* One step of the dentry walk: prepend "/name" or cross a mount. 1 = stop. */
static __always_inline long walk_step(__u32 idx)
{
    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return 1;
    struct walk_state *w = &pb->w;
    struct dentry *d = w->dentry;
    struct vfsmount *vm = w->vfsmnt;
    if (!d || !vm)
        return 1;
    if (d == w->root_dentry && vm == w->root_mnt)
        return 1;
    struct dentry *mnt_root = BPF_CORE_READ(vm, mnt_root);
    struct dentry *parent = BPF_CORE_READ(d, d_parent);
    int stop_after = 0;
    if (d == mnt_root || d == parent) {
        /* Disconnected (pseudo file systems such as memfd's): keep the name and stop,
         * so a memfd exe reads "/memfd:NAME" as in /proc/PID/exe. */
        if (d != mnt_root)
            stop_after = 1;
    }
    if (!stop_after && (d == mnt_root || d == parent)) {
        struct mount *m = real_mount(vm);
        struct mount *mp = BPF_CORE_READ(m, mnt_parent);
        if (mp == m || !mp)
            return 1; /* global root */
        w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
        w->vfsmnt = (struct vfsmount *)((void *)mp + bpf_core_field_offset(struct mount, mnt));
        return 0;
    }
    const unsigned char *name = BPF_CORE_READ(d, d_name.name);
    __u32 len = BPF_CORE_READ(d, d_name.len);
    if (len > NAME_MAX_LEN)
        len = NAME_MAX_LEN;
    __u32 pos = w->pos;
    if (pos > PATH_END || pos < len + 1) {
        w->truncated = 1;
        return 1;
    }
    pos -= len;
    bpf_probe_read_kernel(pb->buf + MASK(pos, VIGIL_PATH_MAX - 1), MASK(len, NAME_MAX_LEN), name);
    pos -= 1;
    pb->buf[pos & (VIGIL_PATH_MAX - 1)] = '/';
    w->pos = pos;
    w->dentry = parent;
    return stop_after;
}

/* The loops are global (non-static) functions: the verifier checks each once, on its
 * own, and a caller sees one call whose result is any int. That keeps the programs
 * small to verify, and needs neither bpf_loop (5.17+) nor unrolling, so the same
 * object loads on 5.10 and on 6.18. The walk state is in the per-CPU pathbuf. */
__attribute__((noinline)) int vigil_walk_path(void)
{
    for (__u32 i = 0; i < PATH_WALK_MAX; i++) {
        if (walk_step(i))
            return 0;
    }
    struct pathbuf *pb = get_pathbuf();
    if (pb)
        pb->w.truncated = 1;
    return 0;
}

/* Builds the path of (dentry, vfsmnt) as seen from the task's root into
 * pb->buf; the string runs from pb->w.pos to PATH_END (the NUL). */
static __always_inline void build_path(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt,
                                       struct task_struct *task)
{
    pb->buf[PATH_END] = 0;
    pb->w.dentry = dentry;
    pb->w.vfsmnt = vfsmnt;
    pb->w.root_dentry = BPF_CORE_READ(task, fs, root.dentry);
    pb->w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
    pb->w.pos = PATH_END;
    pb->w.truncated = 0;
    vigil_walk_path();
    if (pb->w.pos >= PATH_END) {
        pb->w.pos = PATH_END - 1;
        pb->buf[PATH_END - 1] = '/';
    }
}

static __always_inline __u32 path_truncated(struct pathbuf *pb)
{
    return pb->w.truncated;
}

/* Copies pb->buf[pos..PATH_END] (NUL included) to rec+off. Returns bytes copied. */
static __always_inline __u32 copy_path(__u8 *rec, __u32 off, struct pathbuf *pb)
{
    __u32 pos = pb->w.pos;
    if (pos > PATH_END)
        return 0;
    __u32 len = VIGIL_PATH_MAX - pos;
    if (len > VIGIL_PATH_MAX)
        return 0;
    if (off > SCRATCH_SIZE - VIGIL_PATH_MAX)
        return 0;
    len = MASK(len - 1, VIGIL_PATH_MAX - 1) + 1;
    if (bpf_probe_read_kernel(rec + MASK(off, SCRATCH_SIZE - 1), len, pb->buf + MASK(pos, VIGIL_PATH_MAX - 1)) != 0)
        return 0;
    return len;
}

/* Cgroup v2 path: kernfs walk from the task's default-hierarchy cgroup. */
struct kernfs_node___old {
    struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
    if (bpf_core_field_exists(kn->__parent))
        return BPF_CORE_READ(kn, __parent);
    struct kernfs_node___old *o = (void *)kn;
    return BPF_CORE_READ(o, parent);
}

#define CG_MIN_POS (PATH_END - (VIGIL_CGROUP_PATH_MAX - 1))

static __always_inline long cg_step(__u32 idx)
{
    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return 1;
    struct walk_state *w = &pb->w;
    struct kernfs_node *kn = w->kn;
    if (!kn)
        return 1;
    struct kernfs_node *parent = kn_parent(kn);
    if (!parent)
        return 1; /* the root's own name is not part of the path */
    if (idx >= VIGIL_CGROUP_DEPTH) {
        w->truncated = 1;
        return 1;
    }
    /* Names are NUL-terminated: read into a slot below pos, then move the
     * name so that it ends right before pos. */
    __u32 pos = w->pos;
    if (pos > PATH_END || pos < NAME_MAX_LEN + 1 + CG_MIN_POS) {
        w->truncated = 1;
        return 1;
    }
    __u32 start = pos - NAME_MAX_LEN - 1;
    const char *name = BPF_CORE_READ(kn, name);
    long n = bpf_probe_read_kernel_str(pb->buf + MASK(start, VIGIL_PATH_MAX - 1), NAME_MAX_LEN + 1, name);
    if (n <= 1)
        return 1;
    __u32 len = (__u32)(n - 1) & NAME_MAX_LEN;
    __u32 dst = pos - len;
    if (dst != start)
        bpf_probe_read_kernel(pb->buf + MASK(dst, VIGIL_PATH_MAX - 1), len, pb->buf + MASK(start, VIGIL_PATH_MAX - 1));
    pos = dst - 1;
    pb->buf[pos & (VIGIL_PATH_MAX - 1)] = '/';
    w->pos = pos;
    w->kn = parent;
    return 0;
}

/* The cgroup walk loop (see vigil_walk_path). */
__attribute__((noinline)) int vigil_walk_cgroup(void)
{
    for (__u32 i = 0; i < VIGIL_CGROUP_DEPTH + 1; i++) {
        if (cg_step(i))
            break;
    }
    return 0;
}

/* Builds the cgroup path relative to the cgroup root ("a/b/c", "/" for the root). */
static __always_inline void build_cgroup_path(struct pathbuf *pb, struct task_struct *task)
{
    pb->buf[PATH_END] = 0;
    pb->w.kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
    pb->w.pos = PATH_END;
    pb->w.truncated = 0;
    vigil_walk_cgroup();
    if (pb->w.pos >= PATH_END) {
        pb->w.pos = PATH_END - 1;
        pb->buf[PATH_END - 1] = '/';
    } else {
        pb->w.pos += 1; /* drop the leading '/' */
    }
}

/* ---- exec ----------------------------------------------------------------- */

static __always_inline __u32 tty_nr(struct task_struct *task)
{
    struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
    if (!tty)
        return 0;
    __u32 major = BPF_CORE_READ(tty, driver, major);
    __u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

static __always_inline __u32 pid_nr_level0(struct pid *p)
{
    return p ? BPF_CORE_READ(p, numbers[0].nr) : 0;
}

struct ovl_inode___vigil {
    struct inode vfs_inode;
    struct dentry *__upperdentry;
} __attribute__((preserve_access_index));

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

/* Inode time layouts: 6.11+ i_{c,m}time_sec/_nsec; 6.7-6.10 __i_{c,m}time; 6.6 __i_ctime
 * and i_mtime; up to 6.5 i_ctime and i_mtime (struct timespec64). */
struct inode___v67 {
    struct timespec64 __i_mtime;
    struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v510 {
    struct timespec64 i_mtime;
    struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __u64 ts_ns(__s64 sec, long nsec)
{
    return (__u64)sec * 1000000000ull + (__u64)nsec;
}

static __always_inline void inode_times(struct inode *ino, __u64 *ctime, __u64 *mtime)
{
    if (bpf_core_field_exists(ino->i_ctime_sec)) {
        *ctime = ts_ns(BPF_CORE_READ(ino, i_ctime_sec), BPF_CORE_READ(ino, i_ctime_nsec));
        *mtime = ts_ns(BPF_CORE_READ(ino, i_mtime_sec), BPF_CORE_READ(ino, i_mtime_nsec));
        return;
    }
    struct inode___v67 *i67 = (void *)ino;
    struct inode___v510 *i510 = (void *)ino;
    if (bpf_core_field_exists(i67->__i_ctime))
        *ctime = ts_ns(BPF_CORE_READ(i67, __i_ctime.tv_sec), BPF_CORE_READ(i67, __i_ctime.tv_nsec));
    else
        *ctime = ts_ns(BPF_CORE_READ(i510, i_ctime.tv_sec), BPF_CORE_READ(i510, i_ctime.tv_nsec));
    if (bpf_core_field_exists(i67->__i_mtime))
        *mtime = ts_ns(BPF_CORE_READ(i67, __i_mtime.tv_sec), BPF_CORE_READ(i67, __i_mtime.tv_nsec));
    else
        *mtime = ts_ns(BPF_CORE_READ(i510, i_mtime.tv_sec), BPF_CORE_READ(i510, i_mtime.tv_nsec));
}

/* kernel_cap_t: a u64 `val` from 6.3, `__u32 cap[2]` before. */
struct kernel_cap_struct___old {
    __u32 cap[2];
} __attribute__((preserve_access_index));

struct cred___old {
    struct kernel_cap_struct___old cap_effective;
    struct kernel_cap_struct___old cap_permitted;
} __attribute__((preserve_access_index));

static __always_inline void cred_caps(const struct cred *cred, __u64 *eff, __u64 *prm)
{
    if (bpf_core_field_exists(cred->cap_effective.val)) {
        *eff = BPF_CORE_READ(cred, cap_effective.val);
        *prm = BPF_CORE_READ(cred, cap_permitted.val);
        return;
    }
    struct cred___old *o = (void *)cred;
    *eff = BPF_CORE_READ(o, cap_effective.cap[0]) | ((__u64)BPF_CORE_READ(o, cap_effective.cap[1]) << 32);
    *prm = BPF_CORE_READ(o, cap_permitted.cap[0]) | ((__u64)BPF_CORE_READ(o, cap_permitted.cap[1]) << 32);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    struct vigil_config *cfg = get_config();
    __u64 pt = bpf_get_current_pid_tgid();
    if (ignored(cfg, pt >> 32))
        return 0;
    /* Which exec syscall: from the caller's saved sys_enter entry. */
    __u32 id = VIGIL_SYS_EXECVE;
    __u32 otid = (__u32)old_pid;
    struct entry *e = bpf_map_lookup_elem(&entries, &otid);
    if (e && e->pending && (e->id == VIGIL_SYS_EXECVE || e->id == VIGIL_SYS_EXECVEAT)) {
        id = e->id;
        e->pending = 0;
    }
    if (!wanted(id))
        return 0;

    __u8 *rec = scratch();
    if (!rec)
        return 0;
    struct task_struct *task = current_task();
    struct vigil_exec_event *ev = (void *)rec;
    struct vigil_header *h = &ev->hdr;
    fill_header(h, VIGIL_REC_EXEC, 0);
    ev->syscall = id;
    ev->exe_flags = 0;
    ev->old_tid = otid;
    ev->reserved16 = 0;
    ev->enforcement = 0;

    /* credentials */
    const struct cred *cred = BPF_CORE_READ(task, cred);
    ev->euid = BPF_CORE_READ(cred, euid.val);
    ev->egid = BPF_CORE_READ(cred, egid.val);
    cred_caps(cred, &ev->cap_effective, &ev->cap_permitted);
    ev->loginuid = BPF_CORE_READ(task, loginuid.val);
    ev->tty = tty_nr(task);
    ev->start_time_ns = BPF_CORE_READ(task, start_boottime);

    struct signal_struct *sig = BPF_CORE_READ(task, signal);
    ev->pgid = pid_nr_level0(BPF_CORE_READ(sig, pids[PIDTYPE_PGID_IDX]));
    ev->sid = pid_nr_level0(BPF_CORE_READ(sig, pids[PIDTYPE_SID_IDX]));
    struct pid *tp = BPF_CORE_READ(task, thread_pid);
    __u32 level = BPF_CORE_READ(tp, level);
    ev->vpid = BPF_CORE_READ(tp, numbers[level & 31].nr);
    ev->pidns_inum = BPF_CORE_READ(tp, numbers[level & 31].ns, ns.inum);

    /* the executable (mm->exe_file, as /proc/PID/exe) */
    struct file *exe = BPF_CORE_READ(task, mm, exe_file);
    if (!exe)
        exe = BPF_CORE_READ(bprm, file);
    struct inode *ino = BPF_CORE_READ(exe, f_inode);
    ev->exe_ino = BPF_CORE_READ(ino, i_ino);
    inode_times(ino, &ev->exe_ctime_ns, &ev->exe_mtime_ns);

    /* overlay upper layer: the overlay inode has an upper dentry */
    struct super_block *sb = BPF_CORE_READ(ino, i_sb);
    /* (overlayfs may be a module whose BTF is absent: the type check is resolved at load time) */
    if (bpf_core_type_exists(struct ovl_inode___vigil) && BPF_CORE_READ(sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
        struct ovl_inode___vigil *oi =
            (void *)ino - bpf_core_field_offset(struct ovl_inode___vigil, vfs_inode);
        if (BPF_CORE_READ(oi, __upperdentry))
            ev->exe_flags |= VIGIL_EXE_UPPER_LAYER;
    }
    /* memfd: unlinked file named "memfd:..." */
    struct dentry *exe_dentry = BPF_CORE_READ(exe, f_path.dentry);
    if (BPF_CORE_READ(ino, __i_nlink) == 0) {
        char pfx[6] = {};
        bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(exe_dentry, d_name.name));
        if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':')
            ev->exe_flags |= VIGIL_EXE_FROM_MEMFD;
    }
    /* writable by the executing user (euid/egid vs owner and mode) */
    {
        umode_t mode = BPF_CORE_READ(ino, i_mode);
        __u32 iuid = BPF_CORE_READ(ino, i_uid.val);
        __u32 igid = BPF_CORE_READ(ino, i_gid.val);
        int w = 0;
        if (ev->euid == 0)
            w = 1;
        else if (ev->euid == iuid)
            w = mode & 0200;
        else if (ev->egid == igid)
            w = mode & 0020;
        else
            w = mode & 0002;
        if (w)
            ev->exe_flags |= VIGIL_EXE_WRITABLE;
    }

    /* A 32-bit x86 image: bprm->buf holds the ELF header of the file loaded last
     * (the interpreter, for a script). */
    {
        __u8 eh[20] = {};
        bpf_probe_read_kernel(eh, sizeof(eh), __builtin_preserve_access_index(&bprm->buf));
        if (eh[0] == 0x7f && eh[1] == 'E' && eh[2] == 'L' && eh[3] == 'F' && eh[4] == 1 /* ELFCLASS32 */ &&
            eh[18] == 3 && eh[19] == 0 /* EM_386 */)
            ev->exe_flags |= VIGIL_EXE_IA32;
    }

    const __u32 base = sizeof(struct vigil_exec_event);

    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return 0;

    /* exe path */
    __u32 exe_len = 0;
    if (ev->exe_flags & VIGIL_EXE_FROM_MEMFD) {
        /* memfd: no usable dentry walk (pseudo dentry); write it as /proc/PID/exe and
         * Falco show it: "/memfd:NAME (deleted)" (the dentry name already holds "memfd:NAME"). */
        rec[base] = '/';
        long n = bpf_probe_read_kernel_str(rec + base + 1, NAME_MAX_LEN + 1,
                                           BPF_CORE_READ(exe_dentry, d_name.name));
        if (n > 0) {
            __u32 nl = MASK(n - 1, NAME_MAX_LEN); /* name length without the NUL */
            __builtin_memcpy(rec + base + 1 + nl, " (deleted)", sizeof(" (deleted)"));
            exe_len = 1 + nl + sizeof(" (deleted)");
        } else {
            rec[base + 1] = 0;
            exe_len = 2;
            h->flags |= VIGIL_HF_READ_FAILED;
        }
    } else {
        build_path(pb, exe_dentry, BPF_CORE_READ(exe, f_path.mnt), task);
        exe_len = copy_path(rec, base, pb);
        if (pb->w.truncated)
            ev->exe_flags |= VIGIL_EXE_PATH_TRUNCATED;
    }
    if (exe_len > VIGIL_PATH_MAX)
        exe_len = VIGIL_PATH_MAX;
    __u32 off = base + exe_len;

    /* argv from the new mm */
    __u32 args_len = 0;
    {
        struct mm_struct *mm = BPF_CORE_READ(task, mm);
        __u64 start = BPF_CORE_READ(mm, arg_start);
        __u64 end = BPF_CORE_READ(mm, arg_end);
        __u32 max = cfg ? cfg->max_args_bytes : VIGIL_ARGS_DEFAULT;
        if (max == 0 || max > VIGIL_ARGS_MAX)
            max = VIGIL_ARGS_MAX;
        __u64 len = end > start ? end - start : 0;
        if (len > max) {
            len = max;
            ev->exe_flags |= VIGIL_EXE_ARGS_TRUNCATED;
        }
        if (len > VIGIL_ARGS_MAX)
            len = VIGIL_ARGS_MAX;
        if (len > 0 && off <= base + VIGIL_PATH_MAX) {
            /* 1..VIGIL_ARGS_MAX in the size register itself (see read_user_raw) */
            __u32 n = MASK(len - 1, VIGIL_ARGS_MAX - 1) + 1;
            if (bpf_probe_read_user(rec + MASK(off, SCRATCH_SIZE - 1), n, (const void *)start) == 0) {
                args_len = n;
                /* keep the last argument NUL-terminated when cut */
                __u32 last = off + args_len - 1;
                if (last < SCRATCH_SIZE)
                    rec[last & (SCRATCH_SIZE - 1)] = 0;
            } else {
                h->flags |= VIGIL_HF_READ_FAILED;
                kstat_add(VIGIL_KSTAT_READ_FAILED, 1);
            }
        }
    }
    if (args_len > VIGIL_ARGS_MAX)
        args_len = VIGIL_ARGS_MAX;
    off += args_len;

    /* cwd */
    build_path(pb, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), task);
    __u32 cwd_len = 0;
    if (off <= base + VIGIL_PATH_MAX + VIGIL_ARGS_MAX)
        cwd_len = copy_path(rec, off, pb);
    if (pb->w.truncated)
        ev->exe_flags |= VIGIL_EXE_CWD_TRUNCATED;
    if (cwd_len > VIGIL_PATH_MAX)
        cwd_len = VIGIL_PATH_MAX;
    off += cwd_len;

    /* cgroup v2 path */
    build_cgroup_path(pb, task);
    __u32 cg_len = 0;
    if (off <= base + 2 * VIGIL_PATH_MAX + VIGIL_ARGS_MAX)
        cg_len = copy_path(rec, off, pb);
    if (pb->w.truncated)
        ev->exe_flags |= VIGIL_EXE_CGROUP_TRUNCATED;
    if (cg_len > VIGIL_CGROUP_PATH_MAX)
        cg_len = 0;
    __u32 cg_off = off;
    off += cg_len;

    ev->exe_len = exe_len;
    ev->args_len = args_len;
    ev->cwd_len = cwd_len;
    ev->cgroup_len = cg_len;
    if (ev->exe_flags & (VIGIL_EXE_ARGS_TRUNCATED | VIGIL_EXE_PATH_TRUNCATED | VIGIL_EXE_CWD_TRUNCATED |
                         VIGIL_EXE_CGROUP_TRUNCATED)) {
        h->flags |= VIGIL_HF_TRUNCATED;
        kstat_add(VIGIL_KSTAT_TRUNCATED, 1);
    }
    ev->enforcement = (__u32)vigil_enforce_exec(base + exe_len, args_len, cg_off, cg_len);
    h->size = off;
    submit(rec, off, cfg);
    return 0;
}

/* ---- fork / exit ------------------------------------------------------------ */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child)
{
    if (!wanted(VIGIL_SYS_CLONE))
        return 0;
    struct vigil_config *cfg = get_config();
    __u64 pt = bpf_get_current_pid_tgid();
    if (ignored(cfg, pt >> 32))
        return 0;
    struct vigil_fork_event ev = {};
    fill_header(&ev.hdr, VIGIL_REC_FORK, sizeof(ev));
    ev.child_pid = child->tgid;
    ev.child_tid = child->pid;
    if (child->tgid == parent->tgid)
        ev.flags |= VIGIL_FORK_THREAD;
    __u32 tid = (__u32)pt;
    struct entry *e = bpf_map_lookup_elem(&entries, &tid);
    if (e && e->pending && is_clone_family(e->id))
        ev.syscall = e->id;
    ev.child_start_time_ns = child->start_boottime;
    submit(&ev, sizeof(ev), cfg);
    return 0;
}

/* sched_process_exit has one argument up to 6.15 and (p, group_dead) after; only the
 * first is read. The tracepoint fires after do_exit() decremented signal->live, so a
 * zero count says this was the last thread, on every kernel. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *p)
{
    __u64 pt = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)pt;
    bpf_map_delete_elem(&entries, &tid);
    if (!wanted(INTEREST_PROCEXIT))
        return 0;
    struct vigil_config *cfg = get_config();
    if (ignored(cfg, pt >> 32))
        return 0;
    struct vigil_exit_event ev = {};
    fill_header(&ev.hdr, VIGIL_REC_EXIT, sizeof(ev));
    int code = BPF_CORE_READ(p, exit_code);
    ev.exit_code = (code >> 8) & 0xff;
    ev.signal = code & 0x7f;
    if (BPF_CORE_READ(p, signal, live.counter) == 0)
        ev.flags |= VIGIL_EXIT_GROUP_DEAD;
    submit(&ev, sizeof(ev), cfg);
    return 0;
}

/* ---- io_uring ----------------------------------------------------------------- */

/* Operations submitted through io_uring never pass the syscall tracepoints. The
 * security-relevant ones are reported at completion (io_uring_complete, on every
 * kernel since 5.5), as records of the matching syscall with VIGIL_HF_IO_URING:
 * opens with the file the kernel opened (inode, device, path walked from the dentry),
 * connects and accepts with the socket tuple. The path as written is gone by then
 * (the kernel frees it after the open), so str0 is empty. */
#define IORING_OP_ACCEPT 13
#define IORING_OP_CONNECT 16
#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28
#define AT_FDCWD_U64 ((__u64)(__s64)-100)

/* The request's open data (struct io_open, first in the request on every kernel). */
struct io_open___vigil {
    struct file *file;
    int dfd;
    __u32 file_slot;
    struct open_how how;
} __attribute__((preserve_access_index));

struct io_kiocb___vigil {
    struct file *file;
    __u8 opcode;
} __attribute__((preserve_access_index));

static __always_inline void sock_tuple_file(struct vigil_sock_tuple *t, struct file *f);

static __always_inline int uring_done(void *req, long res)
{
    if (!req)
        return 0;
    struct io_kiocb___vigil *r = req;
    __u8 op = BPF_CORE_READ(r, opcode);
    __u32 id;
    switch (op) {
    case IORING_OP_OPENAT: id = VIGIL_SYS_OPENAT; break;
    case IORING_OP_OPENAT2: id = VIGIL_SYS_OPENAT2; break;
    case IORING_OP_CONNECT: id = VIGIL_SYS_CONNECT; break;
    case IORING_OP_ACCEPT: id = VIGIL_SYS_ACCEPT; break;
    default: return 0;
    }
    if (!wanted(id))
        return 0;
    struct vigil_config *cfg = get_config();
    if (ignored(cfg, bpf_get_current_pid_tgid() >> 32))
        return 0;
    __u8 *rec = scratch();
    if (!rec)
        return 0;
    struct vigil_syscall_event *ev = (void *)rec;
    struct vigil_header *h = &ev->hdr;
    fill_header(h, VIGIL_REC_SYSCALL, 0);
    h->flags |= VIGIL_HF_IO_URING;
    ev->ret = res;
    __builtin_memset(ev->args, 0, sizeof(ev->args));
    ev->syscall = id;
    ev->str0_len = 0;
    ev->str1_len = 0;
    ev->reserved = 0;
    __builtin_memset(&ev->tuple, 0, sizeof(ev->tuple));
    const __u32 base = sizeof(struct vigil_syscall_event);
    __u32 n1 = 0;
    if (id == VIGIL_SYS_OPENAT || id == VIGIL_SYS_OPENAT2) {
        struct io_open___vigil *o = req;
        ev->args[0] = AT_FDCWD_U64;  /* the path below is absolute */
        ev->args[2] = BPF_CORE_READ(o, how.flags);
        ev->args[3] = BPF_CORE_READ(o, how.mode);
        ev->args[4] = BPF_CORE_READ(o, how.resolve);
        /* A fixed-file open (file_slot set) installs no fd: nothing to resolve. */
        if (res >= 0 && BPF_CORE_READ(o, file_slot) == 0)
            n1 = file_ref(rec, base, &ev->file, fd_file(current_task(), res));
    } else if (id == VIGIL_SYS_CONNECT) {
        ev->args[0] = (__u64)-1;
        sock_tuple_file(&ev->tuple, BPF_CORE_READ(r, file));
    } else {
        ev->args[0] = (__u64)-1;
        if (res >= 0)
            sock_tuple(&ev->tuple, res);
    }
    n1 &= (VIGIL_PATH_MAX * 2 - 1);
    ev->str1_len = n1;
    __u32 size = base + n1;
    h->size = size;
    submit(rec, size, cfg);
    return 0;
}

/* 5.19+: the result is in the request (req->cqe.res). */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(vigil_uring_complete, void *ring, void *req)
{
    struct io_kiocb *r = req;
    if (!r)
        return 0;
    return uring_done(req, BPF_CORE_READ(r, cqe.res));
}

/* 5.5-5.18: the result is the tracepoint's fourth argument. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(vigil_uring_complete_old, void *ring, void *req, __u64 user_data, int res)
{
    return uring_done(req, res);
}
