/* SPDX-License-Identifier: GPL-2.0 */
/* exec.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Exec capture: tp_btf/sched_process_exec emits vigil_exec_event (exe, argv, cwd, cgroup, credentials, flags,
 * and the environment while a rule needs it). */
#ifndef VIGIL_EXEC_BPF_H
#define VIGIL_EXEC_BPF_H

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

/* `ino` is a BTF pointer (from the tracepoint's task or binprm): plain loads, no probe reads. */
static __always_inline void inode_times(struct inode *ino, __u64 *ctime, __u64 *mtime)
{
    if (bpf_core_field_exists(ino->i_ctime_sec)) {
        *ctime = ts_ns(ino->i_ctime_sec, ino->i_ctime_nsec);
        *mtime = ts_ns(ino->i_mtime_sec, ino->i_mtime_nsec);
        return;
    }
    struct inode___v67 *i67 = (void *)ino;
    struct inode___v510 *i510 = (void *)ino;
    if (bpf_core_field_exists(i67->__i_ctime))
        *ctime = ts_ns(i67->__i_ctime.tv_sec, i67->__i_ctime.tv_nsec);
    else
        *ctime = ts_ns(i510->i_ctime.tv_sec, i510->i_ctime.tv_nsec);
    if (bpf_core_field_exists(i67->__i_mtime))
        *mtime = ts_ns(i67->__i_mtime.tv_sec, i67->__i_mtime.tv_nsec);
    else
        *mtime = ts_ns(i510->i_mtime.tv_sec, i510->i_mtime.tv_nsec);
}

/* kernel_cap_t: a u64 `val` from 6.3, `__u32 cap[2]` before. */
struct kernel_cap_struct___old {
    __u32 cap[2];
} __attribute__((preserve_access_index));

struct cred___old {
    struct kernel_cap_struct___old cap_effective;
    struct kernel_cap_struct___old cap_permitted;
} __attribute__((preserve_access_index));

/* `cred` is a BTF pointer: plain loads. */
static __always_inline void cred_caps(const struct cred *cred, __u64 *eff, __u64 *prm)
{
    if (bpf_core_field_exists(cred->cap_effective.val)) {
        *eff = cred->cap_effective.val;
        *prm = cred->cap_permitted.val;
        return;
    }
    const struct cred___old *o = (const void *)cred;
    *eff = o->cap_effective.cap[0] | ((__u64)o->cap_effective.cap[1] << 32);
    *prm = o->cap_permitted.cap[0] | ((__u64)o->cap_permitted.cap[1] << 32);
}

/* Room the environment may take in the scratch record: the first form applies while the record
 * so far leaves VIGIL_ENV_MAX bytes, the second (long argv/paths) caps it to VIGIL_ENV_SMALL. */
#define VIGIL_ENV_SMALL 4096

/* Copies `len` (1..cap) bytes of the new image's environment to rec[off]; returns the bytes
 * copied (0 on a failed read). Two call sites with constant caps keep every bound visible to
 * the verifier (off and n are each masked in the register passed, see MASK). */
static __always_inline __u32 copy_env(__u8 *rec, __u32 off, __u64 start, __u64 len, __u32 cap_minus_1)
{
    __u32 n = MASK(len - 1, cap_minus_1) + 1;
    if (bpf_probe_read_user(rec + MASK(off, SCRATCH_SIZE - 1), n, (const void *)start) != 0)
        return 0;
    /* keep the last entry NUL-terminated when cut (masked in the register: off was spilled and
     * its reloaded copy carries a looser bound on some verifiers) */
    rec[MASK(off + n - 1, SCRATCH_SIZE - 1)] = 0;
    return n;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    struct vigil_config *cfg = get_config();
    __u64 pt = bpf_get_current_pid_tgid();
    if (ignored(cfg, pt >> 32))
        return 0;
    /* Which exec syscall: from the task's saved registers (maps.bpf.h; p is the current task). */
    int compat = 0;
    __u32 id = current_syscall_id(p, &compat) == VIGIL_SYS_EXECVEAT ? VIGIL_SYS_EXECVEAT : VIGIL_SYS_EXECVE;
    __u32 otid = (__u32)old_pid;
    if (!wanted(id))
        return 0;

    __u8 *rec = scratch();
    if (!rec)
        return 0;
    /* p is the current task as a BTF pointer (on every kernel: tp_btf arguments are typed):
     * its fields, and the structures they point to, are plain loads, not probe reads. */
    struct task_struct *task = p;
    struct vigil_exec_event *ev = (void *)rec;
    struct vigil_header *h = &ev->hdr;
    fill_header(h, VIGIL_REC_EXEC, 0);
    ev->syscall = id;
    ev->exe_flags = 0;
    ev->old_tid = otid;
    ev->env_len = 0;
    ev->enforcement = 0;

    /* credentials */
    const struct cred *cred = task->cred;
    ev->euid = cred->euid.val;
    ev->egid = cred->egid.val;
    cred_caps(cred, &ev->cap_effective, &ev->cap_permitted);
    ev->loginuid = task->loginuid.val;
    struct signal_struct *sig = task->signal;
    ev->tty = tty_nr_btf(sig);
    ev->start_time_ns = task->start_boottime;

    struct pid *pg = sig->pids[PIDTYPE_PGID_IDX];
    struct pid *ss = sig->pids[PIDTYPE_SID_IDX];
    ev->pgid = pg ? pg->numbers[0].nr : 0;
    ev->sid = ss ? ss->numbers[0].nr : 0;
    /* the pid as its own namespace sees it: plain loads at the host's level (0); in a pid
     * namespace a variable index (numbers[] is declared with one element before 6.x, so no
     * constant index above 0 relocates, and old verifiers refuse a variable one on a BTF
     * pointer), so probe reads */
    struct pid *tp = task->thread_pid;
    __u32 level = tp->level;
    if (level == 0) {
        ev->vpid = tp->numbers[0].nr;
        ev->pidns_inum = tp->numbers[0].ns->ns.inum;
    } else {
        ev->vpid = BPF_CORE_READ(tp, numbers[level & 31].nr);
        ev->pidns_inum = BPF_CORE_READ(tp, numbers[level & 31].ns, ns.inum);
    }

    /* the executable (mm->exe_file, as /proc/PID/exe) */
    struct file *exe = task->mm->exe_file;
    if (!exe)
        exe = bprm->file;
    struct inode *ino = exe->f_inode;
    ev->exe_ino = ino->i_ino;
    inode_times(ino, &ev->exe_ctime_ns, &ev->exe_mtime_ns);

    /* overlay upper layer: the overlay inode has an upper dentry */
    /* (overlayfs may be a module whose BTF is absent: the type check is resolved at load time) */
    if (bpf_core_type_exists(struct ovl_inode___vigil) && ino->i_sb->s_magic == OVERLAYFS_SUPER_MAGIC) {
        struct ovl_inode___vigil *oi =
            (void *)ino - bpf_core_field_offset(struct ovl_inode___vigil, vfs_inode);
        if (BPF_CORE_READ(oi, __upperdentry))
            ev->exe_flags |= VIGIL_EXE_UPPER_LAYER;
    }
    /* memfd: unlinked file named "memfd:..." */
    struct dentry *exe_dentry = exe->f_path.dentry;
    if (ino->__i_nlink == 0) {
        char pfx[6] = {};
        bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(exe_dentry, d_name.name));
        if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':')
            ev->exe_flags |= VIGIL_EXE_FROM_MEMFD;
    }
    /* writable by the executing user (euid/egid vs owner and mode) */
    {
        umode_t mode = ino->i_mode;
        __u32 iuid = ino->i_uid.val;
        __u32 igid = ino->i_gid.val;
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
        build_path_task(pb, exe_dentry, exe->f_path.mnt, task);
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
        struct mm_struct *mm = task->mm;
        __u64 start = mm->arg_start;
        __u64 end = mm->arg_end;
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
    struct fs_struct *fs = task->fs;
    build_path_task(pb, fs->pwd.dentry, fs->pwd.mnt, task);
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
    off += cg_len;

    /* environment from the new mm, only while a loaded rule needs it (max_env_bytes != 0) */
    __u32 env_len = 0;
    __u32 env_max = cfg ? cfg->max_env_bytes : 0;
    if (env_max) {
        if (env_max > VIGIL_ENV_MAX)
            env_max = VIGIL_ENV_MAX;
        struct mm_struct *mm = task->mm;
        __u64 start = mm->env_start;
        __u64 end = mm->env_end;
        __u64 len = end > start ? end - start : 0;
        ev->exe_flags |= VIGIL_EXE_ENV_CAPTURED;
        if (len > env_max) {
            len = env_max;
            ev->exe_flags |= VIGIL_EXE_ENV_TRUNCATED;
        }
        if (len > 0 && off <= SCRATCH_SIZE - VIGIL_ENV_MAX) {
            env_len = copy_env(rec, off, start, len, VIGIL_ENV_MAX - 1);
        } else if (len > 0 && off <= SCRATCH_SIZE - VIGIL_ENV_SMALL) {
            if (len > VIGIL_ENV_SMALL) {
                len = VIGIL_ENV_SMALL;
                ev->exe_flags |= VIGIL_EXE_ENV_TRUNCATED;
            }
            env_len = copy_env(rec, off, start, len, VIGIL_ENV_SMALL - 1);
        } else if (len > 0) {
            ev->exe_flags |= VIGIL_EXE_ENV_TRUNCATED; /* no room left at all */
        }
        if (len > 0 && env_len == 0 && !(ev->exe_flags & VIGIL_EXE_ENV_TRUNCATED)) {
            h->flags |= VIGIL_HF_READ_FAILED;
            kstat_add(VIGIL_KSTAT_READ_FAILED, 1);
        }
    }
    if (env_len > VIGIL_ENV_MAX)
        env_len = VIGIL_ENV_MAX;
    off += env_len;
    ev->env_len = env_len;

    ev->exe_len = exe_len;
    ev->args_len = args_len;
    ev->cwd_len = cwd_len;
    ev->cgroup_len = cg_len;
    if (ev->exe_flags & (VIGIL_EXE_ARGS_TRUNCATED | VIGIL_EXE_PATH_TRUNCATED | VIGIL_EXE_CWD_TRUNCATED |
                         VIGIL_EXE_CGROUP_TRUNCATED | VIGIL_EXE_ENV_TRUNCATED)) {
        h->flags |= VIGIL_HF_TRUNCATED;
        kstat_add(VIGIL_KSTAT_TRUNCATED, 1);
    }
    ev->enforcement = (__u32)vigil_enforce_exec(base + exe_len, args_len);
    h->size = off;
    submit(rec, off, cfg);
    return 0;
}

#endif /* VIGIL_EXEC_BPF_H */
