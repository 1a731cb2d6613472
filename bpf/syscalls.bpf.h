/* SPDX-License-Identifier: GPL-2.0 */
/* syscalls.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Syscall capture: tp_btf/sys_exit emits one vigil_syscall_event per wanted syscall, with the
 * arguments read from the saved user registers at exit (no sys_enter program). */
#ifndef VIGIL_SYSCALLS_BPF_H
#define VIGIL_SYSCALLS_BPF_H

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

/* The file behind `fd` of the current task. On 5.11+ the fd table is reached by direct loads
 * through the task's BTF pointer (one probe read for the slot, whose index is variable). */
static __always_inline struct file *current_fd_file(long fd)
{
    if (fd < 0)
        return NULL;
    if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
        struct task_struct *t = bpf_get_current_task_btf();
        struct fdtable *fdt = t->files->fdt;
        if ((unsigned long)fd >= fdt->max_fds)
            return NULL;
        struct file **arr = fdt->fd;
        __u64 slot = (__u64)arr + (__u64)fd * sizeof(struct file *);
        struct file *f = NULL;
        bpf_probe_read_kernel(&f, sizeof(f), (void *)slot);
        return f;
    }
    return fd_file(current_task(), fd);
}

/* Fills the tuple from the socket behind `fd` of the current task. */
static __always_inline void sock_tuple_file(struct vigil_sock_tuple *t, struct file *f);
static __always_inline void sock_tuple(struct vigil_sock_tuple *t, long fd)
{
    sock_tuple_file(t, current_fd_file(fd));
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
static __always_inline void build_path_current(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt);
static __always_inline __u32 copy_path(__u8 *rec, __u32 off, struct pathbuf *pb);
static __always_inline __u32 path_truncated(struct pathbuf *pb);

/* User-space encoding of a kernel dev_t (new_encode_dev): what stat() returns as st_dev. */
static __always_inline __u32 user_dev(__u32 kdev)
{
    __u32 major = kdev >> 20, minor = kdev & 0xfffff;
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* Inode fields of an opened file, read in one probe read of a span when they lie within
 * 64 bytes of each other (they do on every kernel from 5.10 to 6.18), else one read each. */
static __always_inline void read_inode_ref(struct inode *ino, struct vigil_file_ref *fr)
{
    __u32 o_sb = bpf_core_field_offset(struct inode, i_sb);
    __u32 o_ino = bpf_core_field_offset(struct inode, i_ino);
    __u32 o_nl = bpf_core_field_offset(struct inode, __i_nlink);
    struct super_block *sb = NULL;
    if (o_ino > o_sb && o_nl > o_ino && o_nl + 4 - o_sb <= 64 &&
        bpf_core_field_size(struct inode, i_sb) == 8 && bpf_core_field_size(struct inode, i_ino) == 8 &&
        bpf_core_field_size(struct inode, __i_nlink) == 4) {
        __u64 span[8] = {};
        bpf_probe_read_kernel(span, sizeof(span), (void *)ino + o_sb);
        __u8 *b = (__u8 *)span;
        sb = *(struct super_block **)b;
        fr->ino = *(__u64 *)(b + MASK(o_ino - o_sb, 63 & ~7));
        fr->nlink = *(__u32 *)(b + MASK(o_nl - o_sb, 63 & ~3));
    } else {
        sb = BPF_CORE_READ(ino, i_sb);
        fr->ino = BPF_CORE_READ(ino, i_ino);
        fr->nlink = BPF_CORE_READ(ino, __i_nlink);
    }
    fr->dev = user_dev(BPF_CORE_READ(sb, s_dev));
}

/* Fills `fr` from file `f` and writes f's path (walked from its dentry and mount, as
 * seen from the current task's root) at rec+off. Returns the path's bytes (0 when no path). */
static __always_inline __u32 file_ref(__u8 *rec, __u32 off, struct vigil_file_ref *fr, struct file *f)
{
    if (!f)
        return 0;
    struct path fp = {};
    BPF_CORE_READ_INTO(&fp, f, f_path);
    read_inode_ref(BPF_CORE_READ(f, f_inode), fr);
    fr->flags = VIGIL_FILE_PRESENT;
    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return 0;
    build_path_current(pb, fp.dentry, fp.mnt);
    __u32 n = copy_path(rec, off, pb);
    if (n) {
        fr->flags |= VIGIL_FILE_RESOLVED;
        if (path_truncated(pb))
            fr->flags |= VIGIL_FILE_PATH_TRUNCATED;
    }
    return n;
}

/* Starts a syscall record in the per-CPU scratch buffer: header, result, id, empty strings and
 * tuple (the arguments are the caller's). Used by sys_exit and the io_uring completion. */
static __always_inline struct vigil_syscall_event *syscall_record(__u32 id, long ret, __u16 hflags)
{
    struct vigil_syscall_event *ev = scratch();
    if (!ev)
        return NULL;
    fill_header(&ev->hdr, VIGIL_REC_SYSCALL, 0);
    ev->hdr.flags |= hflags;
    ev->ret = ret;
    ev->syscall = id;
    ev->str0_len = 0;
    ev->str1_len = 0;
    ev->reserved = 0;
    __builtin_memset(&ev->tuple, 0, sizeof(ev->tuple));
    return ev;
}

/* Sends a syscall record whose strings are n0 and n1 bytes long. */
static __always_inline void send_syscall_record(struct vigil_syscall_event *ev, __u32 n0, __u32 n1,
                                                struct vigil_config *cfg)
{
    n0 &= (VIGIL_PATH_MAX * 4 - 1);
    n1 &= (VIGIL_PATH_MAX * 2 - 1);
    ev->str0_len = n0;
    ev->str1_len = n1;
    __u32 size = sizeof(struct vigil_syscall_event) + n0 + n1;
    ev->hdr.size = size;
    if (ev->hdr.flags & VIGIL_HF_TRUNCATED)
        kstat_add(VIGIL_KSTAT_TRUNCATED, 1);
    submit(ev, size, cfg);
}

/* Whether a failed call (result < 0) of event type `id`, 32-bit or not, is dropped: no loaded
 * rule and no state update can use it (VIGIL_INTEREST_DROP_FAILED[_COMPAT], set by the user
 * side from the rules' analysis). One load from global data; the caller counts what it drops. */
static __always_inline int drop_failed(__u32 id, int compat)
{
    return vigil_sel.type[id & (VIGIL_EVENT_TYPE_MAX - 1)] &
           (compat ? VIGIL_INTEREST_DROP_FAILED_COMPAT : VIGIL_INTEREST_DROP_FAILED);
}

/* Every syscall passes here once. An unwanted one costs one load from vigil_sel.nr. The
 * arguments are read from the user registers saved at entry, which still hold them at exit
 * (x86-64: di si dx r10 r8 r9; ia32: bx cx dx si di bp; arm64: orig_x0 x1..x5): no entry
 * program and no per-thread entry map are needed. */
SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
    long nr = SC_NR(regs);
    int compat;
    __u32 id = syscall_id(nr, &compat);
    if (id == 0)
        return 0;
    if (ret < 0 && drop_failed(id, compat)) {
        kstat_add(VIGIL_KSTAT_FILTERED_FAILED, 1);
        return 0;
    }
    struct vigil_config *cfg = get_config();
    if (ignored(cfg, bpf_get_current_pid_tgid() >> 32))
        return 0;
    __u64 args[6];
    if (compat)
        regs_args32(regs, args);
    else
        regs_args(regs, args);
    __u32 cap = capture_of(id);
    if (cap & VIGIL_CAPTURE_DEMUX) {
        /* i386 socketcall(call, u32 args[]): the call's own arguments are in user memory. */
        id = socketcall_id(args[0]);
        if (id == 0 || !wanted(id))
            return 0;
        if (ret < 0 && drop_failed(id, compat)) {
            kstat_add(VIGIL_KSTAT_FILTERED_FAILED, 1);
            return 0;
        }
        __u32 sa[6] = {};
        if (bpf_probe_read_user(sa, sizeof(sa), (const void *)args[1]) != 0)
            return 0;
        for (int i = 0; i < 6; i++)
            args[i] = sa[i];
        cap = capture_of(id);
    }
    /* Successful execs are reported by sched_process_exec, forks by sched_process_fork (the
     * user side never marks those wanted here; checked again for safety). */
    if (((cap & VIGIL_CAPTURE_EXEC_RECORD) && ret == 0) || (cap & VIGIL_CAPTURE_FORK_RECORD))
        return 0;

    struct vigil_syscall_event *ev = syscall_record(id, ret, compat ? VIGIL_HF_COMPAT : 0);
    if (!ev)
        return 0;
    __u8 *rec = (void *)ev;
    struct vigil_header *h = &ev->hdr;
    __builtin_memcpy(ev->args, args, sizeof(ev->args));

    const __u32 base = sizeof(struct vigil_syscall_event);
    __u32 n0 = 0, n1 = 0;
    __u64 *a = ev->args;

    /* What to copy is the row's capture kind (vigil_abi.h, VIGIL_SYSCALLS). */
    switch (cap & VIGIL_CAPTURE_KIND_MASK) {
    case VIGIL_CAPTURE_STR_ARG0:
        n0 = read_user_str(rec, base, a[0], h);
        break;
    case VIGIL_CAPTURE_STR_ARG1:
        n0 = read_user_str(rec, base, a[1], h);
        break;
    case VIGIL_CAPTURE_STR_ARG2:
        n0 = read_user_str(rec, base, a[2], h);
        break;
    case VIGIL_CAPTURE_OPEN_HOW: {
        n0 = read_user_str(rec, base, a[1], h);
        struct open_how_min how = {};
        if (a[2] && bpf_probe_read_user(&how, sizeof(how), (const void *)a[2]) == 0) {
            a[2] = how.flags;
            a[3] = how.mode;
            a[4] = how.resolve;
        }
        break;
    }
    case VIGIL_CAPTURE_STR_ARG0_ARG1:
        n0 = read_user_str(rec, base, a[0], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[1], h);
        break;
    case VIGIL_CAPTURE_STR_ARG1_ARG3:
        n0 = read_user_str(rec, base, a[1], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[3], h);
        break;
    case VIGIL_CAPTURE_STR_ARG0_ARG2:
        n0 = read_user_str(rec, base, a[0], h);
        n1 = read_user_str(rec, base + (n0 & (VIGIL_PATH_MAX * 2 - 1)), a[2], h);
        break;
    case VIGIL_CAPTURE_MOUNT: {
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
    case VIGIL_CAPTURE_SOCKADDR_ARG1:
        n0 = read_user_raw(rec, base, a[1], a[2], h);
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_CAPTURE_SOCKADDR_ARG4:
        n0 = read_user_raw(rec, base, a[4], a[5], h);
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_CAPTURE_MSGHDR_ARG1: {
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
    case VIGIL_CAPTURE_TUPLE_RET:
        if (ret >= 0)
            sock_tuple(&ev->tuple, ret);
        break;
    case VIGIL_CAPTURE_TUPLE_ARG0:
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_CAPTURE_FDPAIR_ARG0:
    case VIGIL_CAPTURE_FDPAIR_ARG3: {
        __u64 p = (cap & VIGIL_CAPTURE_KIND_MASK) == VIGIL_CAPTURE_FDPAIR_ARG3 ? a[3] : a[0];
        int fds[2] = {-1, -1};
        if (ret == 0 && p && bpf_probe_read_user(fds, sizeof(fds), (const void *)p) == 0) {
            a[4] = (__u64)(__s64)fds[0];
            a[5] = (__u64)(__s64)fds[1];
        }
        break;
    }
    case VIGIL_CAPTURE_CAPDATA_ARG1: {
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
    if (ret >= 0 && (cap & VIGIL_CAPTURE_FILE_REF)) {
        n0 &= (VIGIL_PATH_MAX - 1) | VIGIL_PATH_MAX;
        n1 = file_ref(rec, base + n0, &ev->file, current_fd_file(ret));
    }

    send_syscall_record(ev, n0, n1, cfg);
    return 0;
}

#endif /* VIGIL_SYSCALLS_BPF_H */
