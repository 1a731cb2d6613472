/* SPDX-License-Identifier: GPL-2.0 */
/* paths.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Path building: the backwards dentry walk (file paths as seen from the task's root) and the cgroup v2 kernfs walk. */
#ifndef VIGIL_PATHS_BPF_H
#define VIGIL_PATHS_BPF_H

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

/* d_parent and d_name of a dentry, read together when they are adjacent (every kernel from
 * 5.10 to 6.18: `struct dentry *d_parent; struct qstr d_name;`), else one read each. */
struct dentry_link {
    struct dentry *parent;
    __u64 hash_len;               /* qstr: hash in the low 32 bits, length in the high 32 */
    const unsigned char *name;
};

static __always_inline void read_dentry_link(struct dentry *d, struct dentry_link *l)
{
    __u32 po = bpf_core_field_offset(struct dentry, d_parent);
    __u32 no = bpf_core_field_offset(struct dentry, d_name);
    if (no == po + 8 && bpf_core_field_size(struct dentry, d_name) == 16) {
        bpf_probe_read_kernel(l, sizeof(*l), (void *)d + po);
        return;
    }
    l->parent = BPF_CORE_READ(d, d_parent);
    l->hash_len = (__u64)BPF_CORE_READ(d, d_name.len) << 32;
    l->name = BPF_CORE_READ(d, d_name.name);
}

/* The inline name store of a dentry before 6.14 (then `union shortname_store d_shortname`). */
struct dentry___iname {
    unsigned char d_iname[32];
} __attribute__((preserve_access_index));

/* Bytes of a dentry read at once by walk_step: from 40 bytes before its inline name store to the
 * store's end (d_parent and d_name lie in between on every kernel from 5.10 to 6.18). */
#define DENTRY_SPAN 96
#define INLINE_NAME_WORDS 5 /* 40 bytes: the longest inline name (DNAME_INLINE_LEN) */

/* Where walk_step's span starts (*lo) and the inline name store (*io) lies in a dentry, when the
 * layout allows one read of DENTRY_SPAN bytes for d_parent, d_name and the inline name (CO-RE
 * constants: the tests fold at load). 0: read them apart (read_dentry_link). */
static __always_inline int dentry_span_layout(__u32 *lo, __u32 *io)
{
    __u32 po = bpf_core_field_offset(struct dentry, d_parent);
    __u32 no = bpf_core_field_offset(struct dentry, d_name);
    __u32 isz;
    if (no != po + 8 || bpf_core_field_size(struct dentry, d_name) != 16)
        return 0;
    if (bpf_core_field_exists(struct dentry, d_shortname)) {
        *io = bpf_core_field_offset(struct dentry, d_shortname);
        isz = bpf_core_field_size(struct dentry, d_shortname);
    } else if (bpf_core_field_exists(struct dentry___iname, d_iname)) {
        *io = bpf_core_field_offset(struct dentry___iname, d_iname);
        isz = bpf_core_field_size(struct dentry___iname, d_iname);
    } else {
        return 0;
    }
    if (*io < 8 * INLINE_NAME_WORDS || isz > 8 * INLINE_NAME_WORDS)
        return 0;
    *lo = *io - 8 * INLINE_NAME_WORDS;
    if (po < *lo || no + 16 > *io || *io + isz - *lo > DENTRY_SPAN)
        return 0;
    return 1;
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
    struct dentry *mnt_root = w->mnt_root;
    struct dentry_link l = {};
    __u32 lo = 0, io = 0;
    int span = dentry_span_layout(&lo, &io);
    if (span) {
        /* One read for d_parent, d_name and the inline name (a short name lives in the dentry:
         * most path components), instead of one for the link and one for the name. */
        bpf_probe_read_kernel(w->span, DENTRY_SPAN, (void *)d + lo);
        __u32 po = bpf_core_field_offset(struct dentry, d_parent) - lo;
        l.parent = *(struct dentry **)(w->span + MASK(po, 63));
        l.hash_len = *(__u64 *)(w->span + MASK(po + 8, 63));
        l.name = *(const unsigned char **)(w->span + MASK(po + 16, 63));
    } else {
        read_dentry_link(d, &l);
    }
    struct dentry *parent = l.parent;
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
        struct vfsmount *pvm = (struct vfsmount *)((void *)mp + bpf_core_field_offset(struct mount, mnt));
        w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
        w->vfsmnt = pvm;
        w->mnt_root = BPF_CORE_READ(pvm, mnt_root);
        return 0;
    }
    const unsigned char *name = l.name;
    __u32 len = l.hash_len >> 32;
    if (len > NAME_MAX_LEN)
        len = NAME_MAX_LEN;
    __u32 pos = w->pos;
    if (pos > PATH_END || pos < len + 1) {
        w->truncated = 1;
        return 1;
    }
    if (span && name == (const unsigned char *)d + io && len < 8 * INLINE_NAME_WORDS &&
        pos >= 8 * INLINE_NAME_WORDS) {
        /* The name is in the span already: five 8-byte copies put the 40 span bytes that end
         * with it at buf[pos - 40, pos). The bytes before the name fall where the '/' and the
         * parent's name go next (or before the path's start): nothing built is overwritten. */
        __u32 src = MASK(len, 63); /* the name starts 40 bytes into the span */
        __u32 dst = MASK(pos - 8 * INLINE_NAME_WORDS, VIGIL_PATH_MAX - 1);
        for (int k = 0; k < INLINE_NAME_WORDS; k++)
            *(__u64 *)(pb->buf + dst + 8 * k) = *(__u64 *)(w->span + src + 8 * k);
        pos -= len;
    } else {
        pos -= len;
        bpf_probe_read_kernel(pb->buf + MASK(pos, VIGIL_PATH_MAX - 1), MASK(len, NAME_MAX_LEN), name);
    }
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

/* ---- the direct-load walk (5.11+) ------------------------------------------------------------
 * Where the kernel has bpf_get_current_task_btf, a successful open's file is reached from the task
 * through BTF pointers (open_file_btf), and the walk up its own mount is made of direct loads
 * through them: d_parent, d_name and the inline name store of each dentry are plain loads (each an
 * exception-handled load, no helper call), a probe read is left only for names too long for the
 * inline store. Mount crossings are direct loads too where the kernel has bpf_rdonly_cast (6.2+;
 * before, the first crossing hands over); a disconnected dentry and paths deeper than
 * BTF_WALK_MAX steps hand over to the probe-read walk above, from the dentry reached: the result
 * is the same path, byte for byte. */
#define BTF_WALK_MAX 32

/* Where the inline name store lies in a dentry (*io) and its size (*isz), CO-RE constants. 0 when
 * the kernel has neither d_shortname (6.14+) nor d_iname, or a store larger than the span. */
static __always_inline int inline_name_layout(__u32 *io, __u32 *isz)
{
    if (bpf_core_field_exists(struct dentry, d_shortname)) {
        *io = bpf_core_field_offset(struct dentry, d_shortname);
        *isz = bpf_core_field_size(struct dentry, d_shortname);
    } else if (bpf_core_field_exists(struct dentry___iname, d_iname)) {
        *io = bpf_core_field_offset(struct dentry___iname, d_iname);
        *isz = bpf_core_field_size(struct dentry___iname, d_iname);
    } else {
        return 0;
    }
    return *isz <= 8 * INLINE_NAME_WORDS && *isz >= 8;
}

/* build_path_task for a dentry and mount reached through BTF pointers from the current task `t`
 * (5.11+ only: every caller tests HAVE_TASK_BTF()). */
static __always_inline void build_path_btf(struct pathbuf *pb, struct dentry *d, struct vfsmount *vm,
                                           struct task_struct *t)
{
    struct walk_state *w = &pb->w;
    struct fs_struct *fs = t->fs;
    struct dentry *root_d = fs->root.dentry;
    struct vfsmount *root_m = fs->root.mnt;
    struct dentry *mnt_root = vm->mnt_root;
    w->root_dentry = root_d;
    w->root_mnt = root_m;
    pb->buf[PATH_END] = 0;
    w->pos = PATH_END;
    w->truncated = 0;
    __u32 io = 0, isz = 0;
    int inl = inline_name_layout(&io, &isz);
    __u32 i;
    for (i = 0; i < BTF_WALK_MAX; i++) {
        if (!d || (d == root_d && vm == root_m))
            goto done;
        struct dentry *parent = d->d_parent;
        if (d == mnt_root) {
            /* The root of a mount: go on from where it is mounted. With bpf_rdonly_cast the
             * mount holding `vm` is cast back to its type (container_of is a negative offset the
             * verifier takes only as a kfunc's ignored argument); before 6.2 the probe-read walk
             * crosses it. */
            if (!vigil_kernel.rdonly_cast)
                break;
            struct mount *m = bpf_rdonly_cast((void *)vm - bpf_core_field_offset(struct mount, mnt),
                                              bpf_core_type_id_kernel(struct mount));
            struct mount *mp = m->mnt_parent;
            if (!mp || mp == m)
                goto done; /* the global root */
            d = m->mnt_mountpoint;
            vm = &mp->mnt;
            mnt_root = vm->mnt_root;
            continue;
        }
        if (d == parent)
            break; /* a disconnected dentry: the probe-read walk keeps its name and stops */
        /* The length alone (a 4-byte load): 6.1's verifier takes the 8-byte hash_len for the
         * union's first member, the 4-byte hash, and rejects the load. */
        __u32 len = d->d_name.len;
        const unsigned char *name = d->d_name.name;
        if (len > NAME_MAX_LEN)
            len = NAME_MAX_LEN;
        /* Read back from the map (a volatile load: the compiler would keep it in a register):
         * every iteration starts from the same verifier state, whichever way the last one went. */
        __u32 pos = *(volatile __u32 *)&w->pos;
        if (pos > PATH_END || pos < len + 1) {
            w->truncated = 1;
            goto done;
        }
        if (inl && name == (const unsigned char *)d + io && len < isz && pos >= 8 * INLINE_NAME_WORDS) {
            /* The inline name, word by word into the span at 40, then the 40 span bytes that end
             * with it to buf[pos - 40, pos) (as walk_step: the bytes before the name land where
             * the '/' and the parent's name go next). */
#pragma unroll
            for (int k = 0; k < INLINE_NAME_WORDS; k++) {
                if (8 * k < isz)
                    *(__u64 *)(w->span + 8 * INLINE_NAME_WORDS + 8 * k) = *(__u64 *)((void *)d + io + 8 * k);
            }
            __u32 src = MASK(len, 63);
            __u32 dst = MASK(pos - 8 * INLINE_NAME_WORDS, VIGIL_PATH_MAX - 1);
#pragma unroll
            for (int k = 0; k < INLINE_NAME_WORDS; k++)
                *(__u64 *)(pb->buf + dst + 8 * k) = *(__u64 *)(w->span + src + 8 * k);
        } else {
            bpf_probe_read_kernel(pb->buf + MASK(pos - len, VIGIL_PATH_MAX - 1), MASK(len, NAME_MAX_LEN), name);
        }
        pos -= len + 1;
        pb->buf[pos & (VIGIL_PATH_MAX - 1)] = '/';
        w->pos = pos;
        d = parent;
    }
    /* Not done here: the probe-read walk goes on from this dentry. */
    w->dentry = d;
    w->vfsmnt = vm;
    w->mnt_root = mnt_root;
    vigil_walk_path();
done:
    if (w->pos >= PATH_END) {
        w->pos = PATH_END - 1;
        pb->buf[PATH_END - 1] = '/';
    }
}

/* Walks pb->w from (dentry, vfsmnt) up to (root_dentry, root_mnt) already set in pb->w. */
static __always_inline void walk_from(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt)
{
    pb->buf[PATH_END] = 0;
    pb->w.dentry = dentry;
    pb->w.vfsmnt = vfsmnt;
    pb->w.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
    pb->w.pos = PATH_END;
    pb->w.truncated = 0;
    vigil_walk_path();
    if (pb->w.pos >= PATH_END) {
        pb->w.pos = PATH_END - 1;
        pb->buf[PATH_END - 1] = '/';
    }
}

/* Builds the path of (dentry, vfsmnt) as seen from the task's root into
 * pb->buf; the string runs from pb->w.pos to PATH_END (the NUL). */
static __always_inline void build_path(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt,
                                       struct task_struct *task)
{
    pb->w.root_dentry = BPF_CORE_READ(task, fs, root.dentry);
    pb->w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
    walk_from(pb, dentry, vfsmnt);
}

/* build_path for the current task, whose BTF pointer is `t` on 5.11+ (NULL on 5.10): its root
 * is then read with direct loads. */
static __always_inline void build_path_task(struct pathbuf *pb, struct dentry *dentry, struct vfsmount *vfsmnt,
                                            struct task_struct *t)
{
    if (HAVE_TASK_BTF()) {
        struct fs_struct *fs = t->fs;
        pb->w.root_dentry = fs->root.dentry;
        pb->w.root_mnt = fs->root.mnt;
        walk_from(pb, dentry, vfsmnt);
        return;
    }
    build_path(pb, dentry, vfsmnt, current_task());
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

/* copy_path for a record offset below SCRATCH_SIZE / 2 (the resolved path of an open, after the
 * user path): a path of up to SHORT_PATH_WORDS words (NUL included) is copied with 8-byte loads
 * and stores, not a probe read (the bytes after the NUL that the last word carries land past the
 * record's end); longer ones take copy_path. */
#define SHORT_PATH_WORDS 16
static __always_inline __u32 copy_short_path(__u8 *rec, __u32 off, struct pathbuf *pb)
{
    __u32 pos = pb->w.pos;
    if (pos > PATH_END || off >= SCRATCH_SIZE / 2)
        return copy_path(rec, off, pb);
    __u32 len = VIGIL_PATH_MAX - pos;
    if (len > 8 * SHORT_PATH_WORDS)
        return copy_path(rec, off, pb);
    __u32 o = MASK(off, SCRATCH_SIZE / 2 - 1);
    __u32 p = MASK(pos, VIGIL_PATH_MAX - 1);
#pragma unroll
    for (int k = 0; k < SHORT_PATH_WORDS; k++) {
        if (8 * k >= len)
            break;
        *(__u64 *)(rec + o + 8 * k) = *(__u64 *)(pb->buf + p + 8 * k);
    }
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

/* A kernfs node's parent and name, in one read when they are adjacent (every kernel from 5.10
 * to 6.18 without lockdep: `parent` (`__parent` 6.15+), then `name`), else one read each. */
static __always_inline struct kernfs_node *kn_parent_name(struct kernfs_node *kn, const char **name)
{
    __u32 po = bpf_core_field_exists(kn->__parent) ? bpf_core_field_offset(kn->__parent)
                                                   : bpf_core_field_offset(struct kernfs_node___old, parent);
    __u32 no = bpf_core_field_offset(kn->name);
    if (no == po + 8) {
        __u64 pair[2] = {};
        bpf_probe_read_kernel(pair, sizeof(pair), (void *)kn + po);
        *name = (const char *)pair[1];
        return (struct kernfs_node *)pair[0];
    }
    *name = BPF_CORE_READ(kn, name);
    return kn_parent(kn);
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
    const char *name = NULL;
    struct kernfs_node *parent = kn_parent_name(kn, &name);
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

#endif /* VIGIL_PATHS_BPF_H */
