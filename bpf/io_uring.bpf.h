/* SPDX-License-Identifier: GPL-2.0 */
/* io_uring.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * io_uring: operations reported at tp_btf/io_uring_complete (they never pass the syscall tracepoints). */
#ifndef VIGIL_IO_URING_BPF_H
#define VIGIL_IO_URING_BPF_H

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
    if (res < 0 && drop_failed(id, 0)) {
        kstat_add(VIGIL_KSTAT_FILTERED_FAILED, 1);
        return 0;
    }
    struct vigil_config *cfg = get_config();
    if (ignored(cfg, bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct vigil_syscall_event *ev = syscall_record(id, res, VIGIL_HF_IO_URING);
    if (!ev)
        return 0;
    __u8 *rec = (void *)ev;
    __builtin_memset(ev->args, 0, sizeof(ev->args));
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
            n1 = file_ref(rec, base, &ev->file, current_fd_file(res));
    } else if (id == VIGIL_SYS_CONNECT) {
        ev->args[0] = (__u64)-1;
        sock_tuple_file(&ev->tuple, BPF_CORE_READ(r, file));
    } else {
        ev->args[0] = (__u64)-1;
        if (res >= 0)
            sock_tuple(&ev->tuple, res);
    }
    send_syscall_record(ev, 0, n1, cfg);
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

#endif /* VIGIL_IO_URING_BPF_H */
