/* SPDX-License-Identifier: GPL-2.0 */
/* fork_exit.bpf.h - part of vigil.bpf.c (one compilation unit; included in order from it).
 * Process lifecycle: tp_btf/sched_process_fork and tp_btf/sched_process_exit. */
#ifndef VIGIL_FORK_EXIT_BPF_H
#define VIGIL_FORK_EXIT_BPF_H

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
    /* The parent (the current task) is inside clone/clone3/fork/vfork: the number is in its
     * saved registers; a 32-bit entry (an ia32 process, int 0x80) marks the record compat. */
    int compat = 0;
    __u32 id = current_syscall_id(parent, &compat);
    if (is_clone_family(id)) {
        ev.syscall = id;
        if (compat)
            ev.hdr.flags |= VIGIL_HF_COMPAT;
    }
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
    if (!wanted(VIGIL_EVT_PROCEXIT))
        return 0;
    struct vigil_config *cfg = get_config();
    if (ignored(cfg, bpf_get_current_pid_tgid() >> 32))
        return 0;
    struct vigil_exit_event ev = {};
    fill_header(&ev.hdr, VIGIL_REC_EXIT, sizeof(ev));
    /* p is a BTF pointer (tp_btf, every kernel): plain loads */
    int code = p->exit_code;
    ev.exit_code = (code >> 8) & 0xff;
    ev.signal = code & 0x7f;
    if (p->signal->live.counter == 0)
        ev.flags |= VIGIL_EXIT_GROUP_DEAD;
    submit(&ev, sizeof(ev), cfg);
    return 0;
}

#endif /* VIGIL_FORK_EXIT_BPF_H */
