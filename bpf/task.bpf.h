/* SPDX-License-Identifier: GPL-2.0 */
/* task.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Task facts used by exec: controlling tty, pid numbers, overlayfs inode layout. */
#ifndef VIGIL_TASK_BPF_H
#define VIGIL_TASK_BPF_H

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

/* tty_nr for the signal struct of a BTF task pointer: plain loads. */
static __always_inline __u32 tty_nr_btf(struct signal_struct *sig)
{
    struct tty_struct *tty = sig->tty;
    if (!tty)
        return 0;
    struct tty_driver *drv = tty->driver;
    __u32 major = drv->major;
    __u32 minor = drv->minor_start + tty->index;
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

#endif /* VIGIL_TASK_BPF_H */
