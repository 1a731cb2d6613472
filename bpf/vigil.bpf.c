// SPDX-License-Identifier: GPL-2.0
/*
 * vigil.bpf.c - Vigil's kernel side: syscall, exec, fork and exit capture.
 *
 * Hooks (all BTF-typed tracepoints, no kprobes/fentry needed):
 *   tp_btf/sys_exit              emit one vigil_syscall_event per completed wanted syscall
 *                                (arguments from the saved user registers, still intact at exit)
 *   tp_btf/sched_process_exec    emit vigil_exec_event (exe, argv, cwd, cgroup, creds, ...)
 *   tp_btf/sched_process_fork    emit vigil_fork_event
 *   tp_btf/sched_process_exit    emit vigil_exit_event
 *
 * Most syscall records are written in place in a fixed-size ring slot (bpf_ringbuf_reserve,
 * strings read straight into it, bpf_ringbuf_submit; the reader ignores the slot's unused
 * tail); the others, and exec/fork/exit records, are built in a per-CPU scratch buffer and
 * copied into the ring with bpf_ringbuf_output() at their exact size. The reader is woken once per
 * config.wakeup_mask + 1 records of a CPU (it polls every millisecond anyway),
 * so a storm of events costs no wake-up per record.
 *
 * The record layouts and the meaning of str0/str1 are the ABI in
 * Sources/VigilABI/include/vigil_abi.h (per-syscall notes there and in bpf/README.md).
 */
/* vmlinux.h has a zlib typedef named `config`; vigil_abi.h's struct member owns that name. */
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
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
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

#include "maps.bpf.h"
#include "syscalls.bpf.h"
#include "paths.bpf.h"
#include "task.bpf.h"
#include "enforce.bpf.h"
#include "exec.bpf.h"
#include "fork_exit.bpf.h"
#include "io_uring.bpf.h"
