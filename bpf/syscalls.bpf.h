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
    if (n >= VIGIL_PATH_MAX) {
        /* The buffer is full: the string was cut unless it is exactly VIGIL_PATH_MAX - 1 bytes
         * (the longest path the kernel takes), i.e. unless its next byte is its NUL. */
        char next = 1;
        bpf_probe_read_user(&next, 1, (const void *)(uptr + VIGIL_PATH_MAX - 1));
        if (next != 0)
            h->flags |= VIGIL_HF_TRUNCATED;
    }
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

/* The file behind `fd` of the current task, whose BTF pointer is `t` on 5.11+ (NULL on 5.10):
 * there the fd table is reached by direct loads (one probe read for the slot, whose index is
 * variable). */
static __always_inline struct file *task_fd_file(struct task_struct *t, long fd)
{
    if (fd < 0)
        return NULL;
    if (HAVE_TASK_BTF()) {
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

/* The file behind `fd` of the current task. */
static __always_inline struct file *current_fd_file(long fd)
{
    return task_fd_file(current_task_btf(), fd);
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
static __always_inline void build_path_task(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt,
                                            struct task_struct *t);
static __always_inline __u32 copy_path(__u8 *rec, __u32 off, struct pathbuf *pb);
static __always_inline __u32 copy_short_path(__u8 *rec, __u32 off, struct pathbuf *pb);
static __always_inline __u32 path_truncated(struct pathbuf *pb);
static __always_inline void build_path_btf(struct pathbuf *pb, struct dentry *d, struct vfsmount *vm,
                                           struct task_struct *t);

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

/* f->f_path into *fp and f->f_inode, in one probe read of a 64-byte span of the file when both
 * lie within it (every kernel from 5.10 to 6.18: adjacent before 6.12, 48 bytes apart after),
 * else one read each. */
static __always_inline struct inode *read_file_path(struct file *f, struct path *fp)
{
    __u32 op = bpf_core_field_offset(struct file, f_path);
    __u32 oi = bpf_core_field_offset(struct file, f_inode);
    __u32 lo = op < oi ? op : oi;
    __u32 hi = op < oi ? oi + 8 : op + 16;
    if (bpf_core_field_size(struct file, f_path) == 16 && bpf_core_field_size(struct file, f_inode) == 8 &&
        hi - lo <= 64 && lo + 64 <= bpf_core_type_size(struct file) &&
        bpf_core_field_offset(struct path, mnt) == 0 && bpf_core_field_offset(struct path, dentry) == 8) {
        __u64 span[8] = {};
        bpf_probe_read_kernel(span, sizeof(span), (void *)f + lo);
        __u8 *b = (__u8 *)span;
        fp->mnt = *(struct vfsmount **)(b + MASK(op - lo, 63 & ~7));
        fp->dentry = *(struct dentry **)(b + MASK(op - lo + 8, 63 & ~7));
        return *(struct inode **)(b + MASK(oi - lo, 63 & ~7));
    }
    BPF_CORE_READ_INTO(fp, f, f_path);
    return BPF_CORE_READ(f, f_inode);
}

/* Fills `fr` from file `f` (inode, device, link count) and builds f's path (walked from its
 * dentry and mount, as seen from the current task's root) in the per-CPU path buffer, which
 * it returns (NULL when there is no file or no buffer). `t`: as for task_fd_file. */
static __always_inline struct pathbuf *file_ref_path(struct vigil_file_ref *fr, struct file *f, struct task_struct *t)
{
    if (!f)
        return NULL;
    struct path fp = {};
    read_inode_ref(read_file_path(f, &fp), fr);
    fr->flags = VIGIL_FILE_PRESENT;
    struct pathbuf *pb = get_pathbuf();
    if (!pb)
        return NULL;
    build_path_task(pb, fp.dentry, fp.mnt, t);
    return pb;
}

/* The file behind `fd` of the current task `t` as a BTF pointer (5.11+: every caller tests
 * HAVE_TASK_BTF()), or NULL (the caller takes task_fd_file). Where the kernel has
 * bpf_rdonly_cast (6.2+), any open descriptor. Before, only when the task's table is the
 * embedded one (files->fd_array: a table never grown past 64 descriptors, which a process
 * forked by one that held a higher descriptor does not have) and fd < 64: the verifier takes
 * only constant offsets into a BTF object, so the slot's address is built from fd's bits, one
 * constant step each (asm: the compiler must not fold them into fd * 8). */
static __always_inline struct file *open_file_btf(struct task_struct *t, long fd)
{
    if (fd < 0)
        return NULL;
    struct files_struct *files = t->files;
    if (!files)
        return NULL;
    if (vigil_kernel.rdonly_cast) {
        /* 6.2+: any descriptor. */
        struct fdtable *fdt = files->fdt;
        if (!fdt || (unsigned long)fd >= fdt->max_fds)
            return NULL;
        /* The slot (a variable index) through a cast too: struct kiocb starts with a struct
         * file pointer (ki_filp), so the slot's load is a plain (fault-checked) load instead of
         * a probe-read helper call, and the file comes out as an untrusted BTF pointer. */
        struct kiocb *slot = bpf_rdonly_cast((void *)((__u64)fdt->fd + (__u64)fd * sizeof(struct file *)),
                                             bpf_core_type_id_kernel(struct kiocb));
        return slot->ki_filp;
    }
    if (fd >= 64 || bpf_core_field_size(struct files_struct, fd_array) != 64 * 8)
        return NULL;
    struct fdtable *fdt = files->fdt;
    if (!fdt || (void *)fdt->fd != (void *)files->fd_array)
        return NULL;
    void *slot = (void *)files->fd_array;
    /* A fresh value (not a copy of fd): the bit tests below narrow it alone, so the 64 ways
     * through them end in one verifier state once it is dead. */
    __u32 bits = MASK(fd, 63);
    if (bits & 32)
        asm volatile("%0 += 256" : "+r"(slot));
    if (bits & 16)
        asm volatile("%0 += 128" : "+r"(slot));
    if (bits & 8)
        asm volatile("%0 += 64" : "+r"(slot));
    if (bits & 4)
        asm volatile("%0 += 32" : "+r"(slot));
    if (bits & 2)
        asm volatile("%0 += 16" : "+r"(slot));
    if (bits & 1)
        asm volatile("%0 += 8" : "+r"(slot));
    return *(struct file **)slot;
}

/* file_ref_path for the file of a successful open (fd `fd` of the current task `t`): on 5.11+ with
 * direct loads through BTF pointers where open_file_btf finds it (inode, device, link count, and
 * build_path_btf's walk), else as file_ref_path. */
static __always_inline struct pathbuf *open_file_ref_path(struct vigil_file_ref *fr, long fd, struct task_struct *t)
{
    if (HAVE_TASK_BTF()) {
        struct file *f = open_file_btf(t, fd);
        if (f) {
            struct inode *ino = f->f_inode;
            struct dentry *d = f->f_path.dentry;
            struct vfsmount *vm = f->f_path.mnt;
            if (!ino || !d || !vm)
                return file_ref_path(fr, task_fd_file(t, fd), t);
            fr->ino = ino->i_ino;
            fr->nlink = ino->__i_nlink;
            struct super_block *sb = ino->i_sb;
            fr->dev = sb ? user_dev(sb->s_dev) : 0;
            fr->flags = VIGIL_FILE_PRESENT;
            struct pathbuf *pb = get_pathbuf();
            if (!pb)
                return NULL;
            build_path_btf(pb, d, vm, t);
            return pb;
        }
    }
    return file_ref_path(fr, task_fd_file(t, fd), t);
}

/* Copies the path built in `pb` to rec+off and flags `fr` (resolved, truncated). Returns the
 * path's bytes (0 when no path). */
static __always_inline __u32 file_ref_copy(__u8 *rec, __u32 off, struct vigil_file_ref *fr, struct pathbuf *pb)
{
    if (!pb)
        return 0;
    __u32 n = copy_short_path(rec, off, pb);
    if (n) {
        fr->flags |= VIGIL_FILE_RESOLVED;
        if (path_truncated(pb))
            fr->flags |= VIGIL_FILE_PATH_TRUNCATED;
    }
    return n;
}

/* Fills `fr` from file `f` and writes f's path at rec+off. Returns the path's bytes. */
static __always_inline __u32 file_ref(__u8 *rec, __u32 off, struct vigil_file_ref *fr, struct file *f)
{
    return file_ref_copy(rec, off, fr, file_ref_path(fr, f, current_task_btf()));
}

/* The fixed part of a syscall record: header, result, id, empty strings and tuple (the
 * arguments are the caller's). `t` is the current task's BTF pointer on 5.11+ (NULL on 5.10).
 * Every byte of it is written: a record written in place in the ring starts from whatever an
 * earlier record left there. */
static __always_inline void syscall_fixed(struct vigil_syscall_event *ev, __u32 id, long ret, __u16 hflags,
                                          struct task_struct *t)
{
    if (HAVE_TASK_BTF())
        fill_header_task(&ev->hdr, VIGIL_REC_SYSCALL, 0, t);
    else
        fill_header(&ev->hdr, VIGIL_REC_SYSCALL, 0);
    ev->hdr.flags = hflags;
    ev->ret = ret;
    /* syscall, str0_len, str1_len, reserved (one aligned 8-byte word at offset 120, little
     * endian: the id in its low 16 bits) and the 40-byte tuple/file union after it: six 8-byte
     * stores. Field by field, clang merges them into one 46-byte run starting 2-byte aligned and
     * writes it as twenty-three 2-byte stores. */
    _Static_assert(__builtin_offsetof(struct vigil_syscall_event, syscall) % 8 == 0 &&
                   __builtin_offsetof(struct vigil_syscall_event, tuple) ==
                       __builtin_offsetof(struct vigil_syscall_event, syscall) + 8 &&
                   sizeof(ev->tuple) == 40, "syscall..tuple: six aligned u64");
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the id is the word's low 16 bits");
    __u64 *u = __builtin_assume_aligned((__u8 *)ev + __builtin_offsetof(struct vigil_syscall_event, syscall), 8);
    u[0] = (__u16)id;
    u[1] = 0;
    u[2] = 0;
    u[3] = 0;
    u[4] = 0;
    u[5] = 0;
}

/* Starts a syscall record in the per-CPU scratch buffer: the fixed part (the arguments are the
 * caller's). Used by the io_uring completion. */
static __always_inline struct vigil_syscall_event *syscall_record(__u32 id, long ret, __u16 hflags)
{
    struct vigil_syscall_event *ev = scratch();
    if (!ev)
        return NULL;
    syscall_fixed(ev, id, ret, hflags, current_task_btf());
    return ev;
}

/* Sends a syscall record (built in the scratch buffer) whose strings are n0 and n1 bytes long. */
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

/* Fix-ups of the fixed part that read user or kernel memory (not strings): openat2's open_how,
 * the socket tuple of an fd, the fd pair of pipe/socketpair, capget/capset's masks. */
static __always_inline void syscall_fixups(struct vigil_syscall_event *ev, __u32 kind, long ret)
{
    __u64 *a = ev->args;
    switch (kind) {
    case VIGIL_CAPTURE_OPEN_HOW: {
        struct open_how_min how = {};
        if (a[2] && bpf_probe_read_user(&how, sizeof(how), (const void *)a[2]) == 0) {
            a[2] = how.flags;
            a[3] = how.mode;
            a[4] = how.resolve;
        }
        break;
    }
    case VIGIL_CAPTURE_SOCKADDR_ARG1:
    case VIGIL_CAPTURE_SOCKADDR_ARG4:
    case VIGIL_CAPTURE_MSGHDR_ARG1:
    case VIGIL_CAPTURE_TUPLE_ARG0:
        sock_tuple(&ev->tuple, (long)a[0]);
        break;
    case VIGIL_CAPTURE_TUPLE_RET:
        if (ret >= 0)
            sock_tuple(&ev->tuple, ret);
        break;
    case VIGIL_CAPTURE_FDPAIR_ARG0:
    case VIGIL_CAPTURE_FDPAIR_ARG3: {
        __u64 p = kind == VIGIL_CAPTURE_FDPAIR_ARG3 ? a[3] : a[0];
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
}

/* ---- records written in place in the ring ------------------------------------------------
 * Most syscall records (every kind with at most one user string: failed opens, unlink, chmod,
 * the fd and socket calls ...) are written straight into a fixed-size ring slot
 * (bpf_ringbuf_reserve, the string read into it, bpf_ringbuf_submit): no scratch buffer and no
 * second copy. The slot has SLOT_ROOM (VIGIL_SYSCALL_SLOT_ROOM, vigil_abi.h) bytes for the
 * string; the record's hdr.size says how much of the slot it uses (the ring record is the whole
 * slot: the reader ignores the tail after hdr.size). A string that does not fit (it fills the
 * room) is not cut: the slot is discarded and the record built in the scratch buffer instead,
 * with strings up to VIGIL_PATH_MAX. Successful opens, whose record also carries the path
 * resolved from the dentry, are built in the scratch buffer and sent at their exact size: in
 * a slot they measured no faster, and would take two rooms of ring space. The room is small so
 * that a slot takes little more ring space than an exact-size record of a typical path (the
 * ring's capacity in records is what a slow reader's drops depend on). */
#define SLOT_ROOM VIGIL_SYSCALL_SLOT_ROOM
#define SLOT_SIZE (sizeof(struct vigil_syscall_event) + SLOT_ROOM)
_Static_assert(SLOT_SIZE % 8 == 0, "ring slot: a whole number of 8-byte words");

/* Which argument holds the only user string of capture kind `kind` (0..2), 3 for kinds
 * without one, -1 for the kinds written in the scratch buffer (two strings, raw buffers). */
static __always_inline int slot_string_arg(__u32 kind)
{
    switch (kind) {
    case VIGIL_CAPTURE_STR_ARG0: return 0;
    case VIGIL_CAPTURE_STR_ARG1:
    case VIGIL_CAPTURE_OPEN_HOW: return 1;
    case VIGIL_CAPTURE_STR_ARG2: return 2;
    case VIGIL_CAPTURE_NONE:
    case VIGIL_CAPTURE_TUPLE_RET:
    case VIGIL_CAPTURE_TUPLE_ARG0:
    case VIGIL_CAPTURE_FDPAIR_ARG0:
    case VIGIL_CAPTURE_FDPAIR_ARG3:
    case VIGIL_CAPTURE_CAPDATA_ARG1: return 3;
    default: return -1;
    }
}

/* Writes the record of syscall `id` in place in the ring. Returns 1 when it is done (sent, or
 * lost to a full ring and counted), 0 when it is built in the scratch buffer instead (a kind
 * with two strings or a raw buffer, a successful open, a string that does not fit the slot):
 * nothing was sent. */
static __always_inline int send_in_place(__u32 id, long ret, __u32 cap, __u64 *args, __u16 hflags,
                                         struct task_struct *t, struct vigil_config *cfg)
{
    __u32 kind = cap & VIGIL_CAPTURE_KIND_MASK;
    int sarg = slot_string_arg(kind);
    if (sarg < 0 || (ret >= 0 && (cap & VIGIL_CAPTURE_FILE_REF)))
        return 0;
    /* A record without a string (close, the fd and socket calls ...) takes only the fixed part
     * of ring space: the slot's room is for the string. */
    struct vigil_syscall_event *ev = sarg == 3 ? bpf_ringbuf_reserve(&events, sizeof(*ev), 0)
                                               : bpf_ringbuf_reserve(&events, SLOT_SIZE, 0);
    if (!ev) {
        kstat_add(VIGIL_KSTAT_RING_FULL, 1);
        return 1;
    }
    syscall_fixed(ev, id, ret, hflags, t);
    __builtin_memcpy(ev->args, args, sizeof(ev->args));
    __u32 n0 = 0;
    __u64 uptr = sarg == 0 ? args[0] : sarg == 1 ? args[1] : sarg == 2 ? args[2] : 0;
    if (uptr) {
        long n = bpf_probe_read_user_str(ev->data, SLOT_ROOM, (const void *)uptr);
        if (n >= SLOT_ROOM) {
            /* May be longer than the slot: the scratch record reads it whole. */
            bpf_ringbuf_discard(ev, BPF_RB_NO_WAKEUP);
            return 0;
        }
        if (n <= 0) {
            ev->hdr.flags |= VIGIL_HF_READ_FAILED;
            kstat_add(VIGIL_KSTAT_READ_FAILED, 1);
        } else {
            n0 = (__u32)n;
        }
    }
    syscall_fixups(ev, kind, ret);
    ev->str0_len = n0;
    ev->hdr.size = sizeof(*ev) + n0;
    __u32 idx = VIGIL_KSTAT_SUBMITTED;
    __u64 *cnt = bpf_map_lookup_elem(&kstats, &idx);
    bpf_ringbuf_submit(ev, ring_flags(cnt, cfg));
    if (cnt)
        *cnt += 1;
    return 1;
}

/* Whether a successful open of type `id` with arguments `a` is sent without the path as passed:
 * open or openat (flags in a[1], a[2]) of access mode O_RDONLY whose type carries
 * VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY (no loaded rule can read that path of a read-only open).
 * The caller checks that the kernel resolved the opened file's path. */
static __always_inline int omit_open_name(__u32 id, __u64 *a)
{
    /* Constant indexes: older verifiers (6.12 and before) do not narrow id from the compares. */
    __u8 interest;
    __u64 flags;
    if (id == VIGIL_SYS_OPEN) {
        interest = vigil_sel.type[VIGIL_SYS_OPEN];
        flags = a[1];
    } else if (id == VIGIL_SYS_OPENAT) {
        interest = vigil_sel.type[VIGIL_SYS_OPENAT];
        flags = a[2];
    } else {
        return 0;
    }
    return (interest & VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY) && (flags & O_ACCMODE) == O_RDONLY;
}

/* The scratch record: kinds with two strings or a raw buffer, and strings too long for a ring
 * slot (each up to VIGIL_PATH_MAX), built in the per-CPU scratch buffer and copied to the ring.
 * A separate (static, not inlined) BPF function: sys_exit reaches it from two places (records
 * never written in place, and a slot whose string did not fit), and the verifier checks one
 * copy of it instead of two. `id_hflags`: the vigil id in the low 16 bits, the header flags in
 * the high 16 (a BPF function takes at most five arguments). */
static __attribute__((noinline)) int send_scratch(__u32 id_hflags, long ret, __u32 cap, __u64 *args,
                                                  struct task_struct *t)
{
    __u32 id = id_hflags & 0xffff;
    __u16 hflags = id_hflags >> 16;
    struct vigil_config *cfg = get_config();
    struct vigil_syscall_event *ev = scratch();
    if (!ev)
        return 0;
    syscall_fixed(ev, id, ret, hflags, t);
    __u8 *rec = (void *)ev;
    struct vigil_header *h = &ev->hdr;
    __builtin_memcpy(ev->args, args, sizeof(ev->args));

    const __u32 base = sizeof(struct vigil_syscall_event);
    __u32 n0 = 0, n1 = 0;
    __u64 *a = ev->args;
    __u32 kind = cap & VIGIL_CAPTURE_KIND_MASK;
    struct pathbuf *pb = NULL;
    if (ret >= 0 && (cap & VIGIL_CAPTURE_FILE_REF))
        pb = open_file_ref_path(&ev->file, ret, t);

    /* What to copy is the row's capture kind (vigil_abi.h, VIGIL_SYSCALLS). A successful
     * read-only open or openat whose path the walk resolved goes without the path as passed
     * where no loaded rule can read it (VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY): str0 empty. */
    __u32 strings = pb && omit_open_name(id, a) ? VIGIL_CAPTURE_NONE : kind;
    switch (strings) {
    case VIGIL_CAPTURE_STR_ARG0:
        n0 = read_user_str(rec, base, a[0], h);
        break;
    case VIGIL_CAPTURE_STR_ARG1:
    case VIGIL_CAPTURE_OPEN_HOW:
        n0 = read_user_str(rec, base, a[1], h);
        break;
    case VIGIL_CAPTURE_STR_ARG2:
        n0 = read_user_str(rec, base, a[2], h);
        break;
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
        break;
    case VIGIL_CAPTURE_SOCKADDR_ARG4:
        n0 = read_user_raw(rec, base, a[4], a[5], h);
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
        break;
    }
    default:
        break;
    }
    syscall_fixups(ev, kind, ret);

    /* The file an open returned: inode, device, and its path walked from the dentry (built
     * first, before the strings: fewer verifier states reach the walk), copied after str0. */
    if (pb) {
        n0 &= (VIGIL_PATH_MAX - 1) | VIGIL_PATH_MAX;
        n1 = file_ref_copy(rec, base + n0, &ev->file, pb);
        /* No resolved path after all: the path as passed is read (open: a[0], openat: a[1]). */
        if (n1 == 0 && strings != kind)
            n0 = read_user_str(rec, base, kind == VIGIL_CAPTURE_STR_ARG0 ? a[0] : a[1], h);
    }

    send_syscall_record(ev, n0, n1, cfg);
    return 0;
}

/* Whether a failed call (result < 0) of event type `id`, 32-bit or not, is dropped: no loaded
 * rule and no state update can use it (VIGIL_INTEREST_DROP_FAILED[_COMPAT], set by the user
 * side from the rules' analysis). One load from global data; the caller counts what it drops. */
static __always_inline int drop_failed(__u32 id, int compat)
{
    return vigil_sel.type[id & (VIGIL_EVENT_TYPE_MAX - 1)] &
           (compat ? VIGIL_INTEREST_DROP_FAILED_COMPAT : VIGIL_INTEREST_DROP_FAILED);
}

/* ---- failed opens filtered by their path ---------------------------------------------------
 * Where the loaded rules can match a failed open only for a few exact absolute paths (a rule on
 * failed opens of /proc/kcore, say), the type carries VIGIL_INTEREST_FAILED_PATHS[_COMPAT] and
 * vigil_sel.failed_path holds those paths: a failed call is dropped (and counted) only when its
 * path, as passed, is provably none of them. The user side names a file by its path normalised
 * against the cwd or the dirfd (fd.name), which the kernel cannot do: so a path is compared only
 * when it is absolute and already normal, and anything else is sent (the user side decides). */
#define BYTES_OF(c) (0x0101010101010101ull * (__u8)(c))
#define LOW7_BITS 0x7f7f7f7f7f7f7f7full
/* 0x80 in each byte of x that is zero, 0 in the others (exact: no borrow between bytes). */
static __always_inline __u64 zero_bytes(__u64 x)
{
    return ~(((x & LOW7_BITS) + LOW7_BITS) | x | LOW7_BITS);
}

/* Whether the failed open of the user path `uptr` must be sent: 1 unless the path is a normal
 * absolute path of at most VIGIL_FAILED_PATH_LEN bytes that equals no vigil_sel.failed_path
 * entry. Sent: an unreadable or empty path, a relative one, one that may be longer than the
 * bound (the read filled the buffer), and every path with a "/" followed by "/", "." or its end
 * (stricter than normal: "/.hidden" is sent too). The path is read into the stack, NUL-padded
 * to the entries' 64 bytes, and compared as eight words per entry. A separate BPF function: its
 * 64-byte buffer is not on sys_exit's own stack, which with send_scratch and the path walk below
 * it must stay within the verifier's 512 bytes. */
static __attribute__((noinline)) int failed_path_sent(__u64 uptr)
{
    __u64 w[VIGIL_FAILED_PATH_BYTES / 8] = {};
    if (uptr == 0)
        return 1;
    long n = bpf_probe_read_user_str(w, sizeof(w), (const void *)uptr);
    if (n < 2 || n > VIGIL_FAILED_PATH_LEN + 1)
        return 1;
    if ((w[0] & 0xff) != '/')
        return 1;
    __u64 odd = 0;
#pragma unroll
    for (int i = 0; i < VIGIL_FAILED_PATH_BYTES / 8; i++) {
        __u64 x = w[i];
        /* The byte after each byte of x (the next word's first one after x's last). */
        __u64 y = (x >> 8) | (i + 1 < VIGIL_FAILED_PATH_BYTES / 8 ? w[i + 1] << 56 : 0);
        __u64 slash = zero_bytes(x ^ BYTES_OF('/'));
        __u64 next = zero_bytes(y ^ BYTES_OF('/')) | zero_bytes(y ^ BYTES_OF('.')) | zero_bytes(y);
        odd |= slash & next;
    }
    if (odd)
        return 1;
#pragma unroll
    for (int j = 0; j < VIGIL_FAILED_PATH_MAX; j++) {
        const __u64 *e = vigil_sel.failed_path[j];
        if (e[0] == w[0] && e[1] == w[1] && e[2] == w[2] && e[3] == w[3] &&
            e[4] == w[4] && e[5] == w[5] && e[6] == w[6] && e[7] == w[7])
            return 1;
    }
    return 0;
}

/* Whether a failed call (result < 0) of type `id` is dropped by its path: the type filters its
 * failures by path for this kind of call (VIGIL_INTEREST_FAILED_PATHS[_COMPAT]) and
 * failed_path_sent says no. The path is the capture kind's only string (the open family). */
static __always_inline int failed_path_dropped(__u32 id, int compat, __u32 cap, __u64 *args)
{
    __u8 flags = vigil_sel.type[id & (VIGIL_EVENT_TYPE_MAX - 1)];
    if (!(flags & (compat ? VIGIL_INTEREST_FAILED_PATHS_COMPAT : VIGIL_INTEREST_FAILED_PATHS)))
        return 0;
    int sarg = slot_string_arg(cap & VIGIL_CAPTURE_KIND_MASK);
    if (sarg < 0 || sarg > 2)
        return 0;
    return !failed_path_sent(sarg == 0 ? args[0] : sarg == 1 ? args[1] : args[2]);
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
    struct task_struct *t = NULL;
    __u32 id = syscall_id(nr, &compat, &t);
    if (id == 0)
        return 0;
    if (ret < 0 && drop_failed(id, compat)) {
        kstat_add(VIGIL_KSTAT_FILTERED_FAILED, 1);
        return 0;
    }
    struct vigil_config *cfg = get_config();
    __u32 tgid = HAVE_TASK_BTF() ? t->tgid : bpf_get_current_pid_tgid() >> 32;
    if (ignored(cfg, tgid))
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

    if (ret < 0 && failed_path_dropped(id, compat, cap, args)) {
        kstat_add(VIGIL_KSTAT_FILTERED_FAILED_PATH, 1);
        return 0;
    }

    __u16 hflags = compat ? VIGIL_HF_COMPAT : 0;
    if (send_in_place(id, ret, cap, args, hflags, t, cfg))
        return 0;
    send_scratch(id | ((__u32)hflags << 16), ret, cap, args, t);
    return 0;
}

#endif /* VIGIL_SYSCALLS_BPF_H */
