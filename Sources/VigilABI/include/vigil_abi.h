/*
 * vigil_abi.h - the one event ABI shared by the BPF programs (bpf/vigil.bpf.c)
 * and the Swift user side (through the VigilABI C target).
 *
 * Every record in the ring buffer starts with `struct vigil_header`. The
 * header's `kind` says which body follows (enum vigil_record_kind). Syscall
 * records carry vigil's own, architecture-neutral syscall id (enum
 * vigil_syscall); the user side maps kernel syscall numbers to these ids and
 * writes that table into `vigil_select.nr` (global data of the BPF object) at start-up.
 *
 * Layout rules: fixed-width types only, every field naturally aligned, no
 * implicit padding (checked by _Static_assert below and by Swift tests).
 * Variable-length data (strings, argv, sockaddrs) follows the fixed body in
 * `data[]`; the fixed body says how long each part is.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIGIL_ABI_VERSION 1

#define VIGIL_COMM_LEN 16
/* Longest path copied for one string argument (bytes, including the NUL). */
#define VIGIL_PATH_MAX 4096
/* Default and hard maximum of argv bytes copied for an exec. */
#define VIGIL_ARGS_DEFAULT 4096
#define VIGIL_ARGS_MAX 16384
/* Default and hard maximum of environment bytes copied for an exec (only while a loaded rule
 * needs proc.env: vigil_config.max_env_bytes is 0 otherwise). */
#define VIGIL_ENV_DEFAULT 4096
#define VIGIL_ENV_MAX 16384
/* Longest raw sockaddr copied (sizeof(struct sockaddr_storage)). */
#define VIGIL_SOCKADDR_MAX 128
/* String bytes of a syscall record written in place in a ring slot: the kernel reserves
 * sizeof(struct vigil_syscall_event) + VIGIL_SYSCALL_SLOT_ROOM bytes and reads the record's one
 * string straight into them, so a ring record can be longer than its header's `size` (the
 * reader ignores the slot's unused tail). Records whose strings do not fit, records with two
 * strings or a raw buffer and successful opens are sent at their exact size (strings up to
 * VIGIL_PATH_MAX each). bpf/syscalls.bpf.h, "records written in place". */
#define VIGIL_SYSCALL_SLOT_ROOM 128
/* Size of the syscall-number -> vigil id table (vigil_select.nr). Native numbers use 0..511;
 * 32-bit (ia32, int 0x80) numbers use VIGIL_NR_COMPAT_BASE + nr. */
#define VIGIL_NR_MAX 1024
#define VIGIL_NR_COMPAT_BASE 512
/* A slot of vigil_select.nr: the vigil id in the low 16 bits, and these flags. */
#define VIGIL_NR_ID_MASK 0xffffu
/* Native slot: the 32-bit table has an entry for the same number. */
#define VIGIL_NR_HAS_COMPAT (1u << 16)
/* The slot's syscall is wanted: sys_exit sends a record for it. */
#define VIGIL_NR_WANTED (1u << 17)
/* Native slot: the 32-bit syscall of the same number is wanted (see its own slot). */
#define VIGIL_NR_COMPAT_WANTED (1u << 18)
/* Cgroup path components copied on exec (from the leaf upwards). */
#define VIGIL_CGROUP_DEPTH 8
#define VIGIL_CGROUP_PATH_MAX 1024

/* Record kinds: which body follows the header. */
enum vigil_record_kind {
    VIGIL_REC_NONE = 0,
    VIGIL_REC_SYSCALL = 1, /* struct vigil_syscall_event: one completed syscall */
    VIGIL_REC_EXEC = 2,    /* struct vigil_exec_event: a successful execve/execveat */
    VIGIL_REC_FORK = 3,    /* struct vigil_fork_event: a new process or thread */
    VIGIL_REC_EXIT = 4,    /* struct vigil_exit_event: a thread or process exited */
    VIGIL_REC_MAX = 5,
};

/* Header flags. */
#define VIGIL_HF_TRUNCATED   (1u << 0) /* some variable data was cut to fit */
#define VIGIL_HF_READ_FAILED (1u << 1) /* some user or kernel memory could not be read */
#define VIGIL_HF_COMPAT      (1u << 2) /* a 32-bit syscall (ia32 process or int 0x80): i386 numbers and registers; on a fork record, the parent's clone-family call */
#define VIGIL_HF_IO_URING    (1u << 3) /* an operation submitted through io_uring, reported at its completion */

/*
 * ---- the syscall table: one row per event type vigil knows --------------------------
 *
 * Every fact about a syscall lives in its row; everything else is derived from the rows:
 * enum vigil_syscall below, the BPF side (what sys_exit copies, socketcall), and on the
 * Swift side (through vigil_event_rows() in abi.c) the kernel-number maps (SyscallTable),
 * Falco's event names (EventType), the argument schema (SyscallSchema, and from it the
 * argument encoder and evt.arg.* fields), `vigil trace --kinds` groups and the events the
 * process table needs (RuleLoading.stateEventTypes). Adding a syscall is one row plus its
 * tests (bpf/README.md, "Adding a syscall").
 *
 * X(ID, value, name, x86_64, i386, i386_old, arm64, socketcall, capture, groups, state, arguments)
 *   ID          VIGIL_SYS_<ID> in enum vigil_syscall
 *   value       the id (evt.type's number, stable across architectures and releases; < VIGIL_SYS_MAX)
 *   name        Falco's event name (evt.type); "" for an entry that is never a record
 *   x86_64      the x86-64 syscall number (arch/x86/entry/syscalls/syscall_64.tbl), -1 if none
 *   i386        the i386 number (syscall_32.tbl; ia32 processes and int 0x80 on x86-64), -1 if none
 *   i386_old    an older i386 number for the same call (the 16-bit uid calls, fcntl before fcntl64), -1 if none
 *   arm64       the arm64 number (asm-generic/unistd.h), -1 if none
 *   socketcall  the i386 socketcall(2) call number (SYS_SOCKET = 1, ...), 0 if none
 *   capture     what the kernel side stores beyond args[] and ret: one VIGIL_CAPTURE_* kind,
 *               plus VIGIL_CAPTURE_* flags
 *   groups      VIGIL_GROUP_* bits: the `vigil trace --kinds` groups the event belongs to
 *   state       VIGIL_STATE_* bits: what the process table does with the event
 *   arguments   Falco's parameters in Falco's order (evt.arg[N], evt.arg.NAME), space separated,
 *               each `name:format=source`:
 *                 format: fd errno int uint hex octal uid gid pid path string argv mode sockaddr
 *                         tuple, or flags(SET) with SET a case of the Swift FlagSet (openFlags, ...)
 *                 source: ret, arg(N) (args[N]), arg32(N) (low 32 bits of args[N], sign-extended),
 *                         str0, str1, str0Second (the second string packed in str0), tuple,
 *                         field(F) (an exec/fork/exit record field, Swift RecordField F),
 *                         unavailable (known to Falco, not captured)
 */

/* capture kinds (low 8 bits): which user memory sys_exit copies into the record. */
#define VIGIL_CAPTURE_NONE          0u  /* args[] and ret only */
#define VIGIL_CAPTURE_STR_ARG0      1u  /* str0 = user string at args[0] */
#define VIGIL_CAPTURE_STR_ARG1      2u  /* str0 = user string at args[1] */
#define VIGIL_CAPTURE_STR_ARG2      3u  /* str0 = user string at args[2] */
#define VIGIL_CAPTURE_STR_ARG0_ARG1 4u  /* str0 = string at args[0], str1 = string at args[1] */
#define VIGIL_CAPTURE_STR_ARG1_ARG3 5u  /* str0 = string at args[1], str1 = string at args[3] */
#define VIGIL_CAPTURE_STR_ARG0_ARG2 6u  /* str0 = string at args[0], str1 = string at args[2] */
#define VIGIL_CAPTURE_OPEN_HOW      7u  /* openat2: str0 = string at args[1]; args[2..4] = how.flags, how.mode, how.resolve */
#define VIGIL_CAPTURE_MOUNT         8u  /* str0 = source NUL fstype NUL (args[0], args[2]), str1 = target (args[1]) */
#define VIGIL_CAPTURE_SOCKADDR_ARG1 9u  /* str0 = raw sockaddr at args[1], args[2] bytes; tuple of fd args[0] */
#define VIGIL_CAPTURE_SOCKADDR_ARG4 10u /* str0 = raw sockaddr at args[4], args[5] bytes; tuple of fd args[0] */
#define VIGIL_CAPTURE_MSGHDR_ARG1   11u /* str0 = msg_name of the msghdr at args[1] (compat layout for ia32); tuple of fd args[0] */
#define VIGIL_CAPTURE_TUPLE_RET     12u /* tuple of the returned fd (server side: accept) */
#define VIGIL_CAPTURE_TUPLE_ARG0    13u /* tuple of fd args[0] */
#define VIGIL_CAPTURE_FDPAIR_ARG0   14u /* args[4], args[5] = the two fds written at args[0] (on success) */
#define VIGIL_CAPTURE_FDPAIR_ARG3   15u /* args[4], args[5] = the two fds written at args[3] (on success) */
#define VIGIL_CAPTURE_CAPDATA_ARG1  16u /* args[2], args[3] = effective, permitted of the cap data at args[1] (64-bit masks) */
#define VIGIL_CAPTURE_KIND_MASK     0xffu
/* capture flags. */
#define VIGIL_CAPTURE_FILE_REF      (1u << 8)  /* on success, `file` and str1 describe the returned fd's file (open family) */
#define VIGIL_CAPTURE_EXEC_RECORD   (1u << 9)  /* a successful call arrives as a vigil_exec_event, a failed one as a syscall record */
#define VIGIL_CAPTURE_FORK_RECORD   (1u << 10) /* arrives as a vigil_fork_event (the id read from the parent's registers), never as a syscall record */
#define VIGIL_CAPTURE_DEMUX         (1u << 11) /* i386 socketcall: demultiplexed at sys_exit, never in a record */

/* `vigil trace --kinds` groups. */
#define VIGIL_GROUP_OPEN      (1u << 0) /* "open" */
#define VIGIL_GROUP_EXEC      (1u << 1) /* "exec" */
#define VIGIL_GROUP_FORK      (1u << 2) /* "fork" (also "clone") */
#define VIGIL_GROUP_EXIT      (1u << 3) /* "exit" */
#define VIGIL_GROUP_FILE      (1u << 4) /* "file" */
#define VIGIL_GROUP_NETWORK   (1u << 5) /* "network" */
#define VIGIL_GROUP_PROCESS   (1u << 6) /* "process" */
#define VIGIL_GROUP_PRIVILEGE (1u << 7) /* "privilege" */

/* What the process table does with an event. */
#define VIGIL_STATE_PROCESS (1u << 0) /* process lifecycle: exec, fork, exit */
#define VIGIL_STATE_FD      (1u << 1) /* adds, removes or changes fd table entries */
#define VIGIL_STATE_CWD     (1u << 2) /* changes the cwd */
#define VIGIL_STATE_CREDS   (1u << 3) /* changes effective ids or capabilities */
#define VIGIL_STATE_USES_FD (1u << 4) /* reads the fd table for its fd argument (fd.* fields) */
#define VIGIL_STATE_FAILED  (1u << 5) /* a failed call (result < 0) can change the table too: never dropped in the kernel */
#define VIGIL_STATE_ALWAYS  (1u << 7) /* the agent asks the kernel for it whatever the rules say */

/* Parameters shared by several rows. */
#define VIGIL_ARGUMENTS_EXEC \
    "res:errno=ret exe:string=field(execExe) args:argv=field(execArgs) tid:pid=field(tid) pid:pid=field(pid) " \
    "ptid:pid=field(ppid) cwd:path=field(execCwd) tty:uint=field(execTTY) pgid:pid=field(execPgid) " \
    "loginuid:uid=field(execLoginUID) flags:flags(execFlags)=field(execFlags) " \
    "cap_permitted:flags(capabilities)=field(execCapPermitted) cap_effective:flags(capabilities)=field(execCapEffective) " \
    "exe_ino:uint=field(execExeIno) exe_ino_ctime:uint=field(execExeCtime) exe_ino_mtime:uint=field(execExeMtime) " \
    "uid:uid=field(uid) trusted_exepath:path=field(execExePath) filename:path=str0 comm:string=field(comm) " \
    "cgroups:string=field(execCgroupPath) gid:gid=field(gid)"
#define VIGIL_ARGUMENTS_CLONE \
    "res:pid=field(forkChildTid) tid:pid=field(tid) pid:pid=field(pid) ptid:pid=field(ppid) " \
    "flags:flags(cloneFlags)=field(forkFlags) uid:uid=field(uid) gid:gid=field(gid) " \
    "child_pid:pid=field(forkChildPid) child_tid:pid=field(forkChildTid)"
#define VIGIL_ARGUMENTS_INODE "dev:hex=unavailable ino:uint=unavailable"

#define VIGIL_SYSCALLS(X) \
    /* Files. */ \
    X(OPEN, 1, "open", 2, 5, -1, -1, 0, \
      VIGIL_CAPTURE_STR_ARG0 | VIGIL_CAPTURE_FILE_REF, VIGIL_GROUP_OPEN | VIGIL_GROUP_FILE, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret name:path=str0 flags:flags(openFlags)=arg(1) mode:octal=arg(2) " VIGIL_ARGUMENTS_INODE) \
    X(OPENAT, 2, "openat", 257, 295, -1, 56, 0, \
      VIGIL_CAPTURE_STR_ARG1 | VIGIL_CAPTURE_FILE_REF, VIGIL_GROUP_OPEN | VIGIL_GROUP_FILE, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret dirfd:fd=arg32(0) name:path=str0 flags:flags(openFlags)=arg(2) mode:octal=arg(3) " VIGIL_ARGUMENTS_INODE) \
    X(OPENAT2, 3, "openat2", 437, 437, -1, 437, 0, \
      VIGIL_CAPTURE_OPEN_HOW | VIGIL_CAPTURE_FILE_REF, VIGIL_GROUP_OPEN | VIGIL_GROUP_FILE, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret dirfd:fd=arg32(0) name:path=str0 flags:flags(openFlags)=arg(2) mode:octal=arg(3) " \
      "resolve:flags(resolveFlags)=arg(4) " VIGIL_ARGUMENTS_INODE) \
    X(CREAT, 4, "creat", 85, 8, -1, -1, 0, \
      VIGIL_CAPTURE_STR_ARG0 | VIGIL_CAPTURE_FILE_REF, VIGIL_GROUP_OPEN | VIGIL_GROUP_FILE, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret name:path=str0 mode:octal=arg(1) " VIGIL_ARGUMENTS_INODE) \
    X(LINK, 5, "link", 86, 9, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret oldpath:path=str0 newpath:path=str1") \
    X(LINKAT, 6, "linkat", 265, 303, -1, 37, 0, VIGIL_CAPTURE_STR_ARG1_ARG3, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret olddir:fd=arg32(0) oldpath:path=str0 newdir:fd=arg32(2) newpath:path=str1 flags:flags(atFlags)=arg(4)") \
    X(SYMLINK, 7, "symlink", 88, 83, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret target:path=str0 linkpath:path=str1") \
    X(SYMLINKAT, 8, "symlinkat", 266, 304, -1, 36, 0, VIGIL_CAPTURE_STR_ARG0_ARG2, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret target:path=str0 linkdirfd:fd=arg32(1) linkpath:path=str1") \
    X(RENAME, 9, "rename", 82, 38, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret oldpath:path=str0 newpath:path=str1") \
    X(RENAMEAT, 10, "renameat", 264, 302, -1, 38, 0, VIGIL_CAPTURE_STR_ARG1_ARG3, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret olddirfd:fd=arg32(0) oldpath:path=str0 newdirfd:fd=arg32(2) newpath:path=str1") \
    X(RENAMEAT2, 11, "renameat2", 316, 353, -1, 276, 0, VIGIL_CAPTURE_STR_ARG1_ARG3, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret olddirfd:fd=arg32(0) oldpath:path=str0 newdirfd:fd=arg32(2) newpath:path=str1 " \
      "flags:flags(renameFlags)=arg(4)") \
    X(UNLINK, 12, "unlink", 87, 10, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0") \
    X(UNLINKAT, 13, "unlinkat", 263, 301, -1, 35, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret dirfd:fd=arg32(0) name:path=str0 flags:flags(atFlags)=arg(2)") \
    X(RMDIR, 14, "rmdir", 84, 40, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0") \
    X(CHMOD, 15, "chmod", 90, 15, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret filename:path=str0 mode:mode=arg(1)") \
    X(FCHMOD, 16, "fchmod", 91, 94, -1, 52, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_FILE, VIGIL_STATE_USES_FD, \
      "res:errno=ret fd:fd=arg32(0) mode:mode=arg(1)") \
    X(FCHMODAT, 17, "fchmodat", 268, 306, -1, 53, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret dirfd:fd=arg32(0) filename:path=str0 mode:mode=arg(2)") \
    X(MKDIR, 18, "mkdir", 83, 39, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0 mode:octal=arg(1)") \
    X(MKDIRAT, 19, "mkdirat", 258, 296, -1, 34, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret dirfd:fd=arg32(0) path:path=str0 mode:octal=arg(2)") \
    X(CHDIR, 20, "chdir", 80, 12, -1, 49, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, VIGIL_STATE_CWD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret path:path=str0") \
    X(FCHDIR, 21, "fchdir", 81, 133, -1, 50, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_FILE, \
      VIGIL_STATE_CWD | VIGIL_STATE_USES_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd:fd=arg32(0)") \
    /* Sockets. */ \
    X(SOCKET, 22, "socket", 41, 359, -1, 198, 1, VIGIL_CAPTURE_NONE, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret domain:flags(socketDomain)=arg(0) type:flags(socketType)=arg(1) proto:uint=arg(2)") \
    X(CONNECT, 23, "connect", 42, 362, -1, 203, 3, VIGIL_CAPTURE_SOCKADDR_ARG1, VIGIL_GROUP_NETWORK, \
      VIGIL_STATE_FD | VIGIL_STATE_FAILED | VIGIL_STATE_ALWAYS, \
      "res:errno=ret tuple:tuple=tuple fd:fd=arg32(0) addr:sockaddr=str0") \
    X(ACCEPT, 24, "accept", 43, -1, -1, 202, 5, VIGIL_CAPTURE_TUPLE_RET, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret tuple:tuple=tuple") \
    X(ACCEPT4, 25, "accept4", 288, 364, -1, 242, 18, VIGIL_CAPTURE_TUPLE_RET, VIGIL_GROUP_NETWORK, \
      VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret tuple:tuple=tuple flags:flags(socketFlags)=arg(3)") \
    X(BIND, 26, "bind", 49, 361, -1, 200, 2, VIGIL_CAPTURE_SOCKADDR_ARG1, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret addr:sockaddr=str0 fd:fd=arg32(0)") \
    X(LISTEN, 27, "listen", 50, 363, -1, 201, 4, VIGIL_CAPTURE_TUPLE_ARG0, VIGIL_GROUP_NETWORK, \
      VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd:fd=arg32(0) backlog:int=arg32(1)") \
    X(SENDTO, 28, "sendto", 44, 369, -1, 206, 11, VIGIL_CAPTURE_SOCKADDR_ARG4, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_FAILED, \
      "res:errno=ret fd:fd=arg32(0) size:uint=arg(2) tuple:tuple=tuple addr:sockaddr=str0") \
    X(SENDMSG, 29, "sendmsg", 46, 370, -1, 211, 16, VIGIL_CAPTURE_MSGHDR_ARG1, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_FAILED, \
      "res:errno=ret fd:fd=arg32(0) tuple:tuple=tuple addr:sockaddr=str0") \
    X(RECVFROM, 30, "recvfrom", 45, 371, -1, 207, 12, VIGIL_CAPTURE_TUPLE_ARG0, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_FAILED, \
      "res:errno=ret fd:fd=arg32(0) size:uint=arg(2) tuple:tuple=tuple") \
    X(RECVMSG, 31, "recvmsg", 47, 372, -1, 212, 17, VIGIL_CAPTURE_TUPLE_ARG0, VIGIL_GROUP_NETWORK, VIGIL_STATE_FD | VIGIL_STATE_FAILED, \
      "res:errno=ret fd:fd=arg32(0) tuple:tuple=tuple") \
    /* fds. */ \
    X(DUP, 32, "dup", 32, 41, -1, 23, 0, VIGIL_CAPTURE_NONE, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:fd=ret oldfd:fd=arg32(0)") \
    X(DUP2, 33, "dup2", 33, 63, -1, -1, 0, VIGIL_CAPTURE_NONE, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:fd=ret oldfd:fd=arg32(0) newfd:fd=arg32(1)") \
    X(DUP3, 34, "dup3", 292, 330, -1, 24, 0, VIGIL_CAPTURE_NONE, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:fd=ret oldfd:fd=arg32(0) newfd:fd=arg32(1) flags:flags(fdFlags)=arg(2)") \
    X(CLOSE, 35, "close", 3, 6, -1, 57, 0, VIGIL_CAPTURE_NONE, 0, VIGIL_STATE_FD | VIGIL_STATE_FAILED | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd:fd=arg32(0)") \
    /* Privileges, processes, kernel. */ \
    X(SETUID, 36, "setuid", 105, 213, 23, 146, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret uid:uid=arg(0)") \
    X(SETGID, 37, "setgid", 106, 214, 46, 144, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret gid:gid=arg(0)") \
    X(SETRESUID, 38, "setresuid", 117, 208, 164, 147, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret ruid:uid=arg(0) euid:uid=arg(1) suid:uid=arg(2)") \
    X(SETRESGID, 39, "setresgid", 119, 210, 170, 149, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret rgid:gid=arg(0) egid:gid=arg(1) sgid:gid=arg(2)") \
    X(CAPSET, 40, "capset", 126, 185, -1, 91, 0, VIGIL_CAPTURE_CAPDATA_ARG1, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret cap_inheritable:hex=unavailable cap_permitted:flags(capabilities)=arg(3) " \
      "cap_effective:flags(capabilities)=arg(2)") \
    X(PTRACE, 41, "ptrace", 101, 26, -1, 117, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret request:flags(ptraceRequest)=arg(0) pid:pid=arg32(1) addr:hex=arg(2) data:hex=arg(3)") \
    X(INIT_MODULE, 42, "init_module", 175, 128, -1, 105, 0, VIGIL_CAPTURE_STR_ARG2, VIGIL_GROUP_PRIVILEGE, 0, \
      "res:errno=ret img:hex=arg(0) length:uint=arg(1) uargs:string=str0") \
    X(FINIT_MODULE, 43, "finit_module", 313, 350, -1, 273, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_USES_FD, \
      "res:errno=ret fd:fd=arg32(0) uargs:string=str0 flags:flags(moduleFlags)=arg(2)") \
    X(MOUNT, 44, "mount", 165, 21, -1, 40, 0, VIGIL_CAPTURE_MOUNT, VIGIL_GROUP_PRIVILEGE, 0, \
      "res:errno=ret dev:string=str0 dir:path=str1 type:string=str0Second flags:flags(mountFlags)=arg(3)") \
    X(UMOUNT2, 45, "umount2", 166, 52, -1, 39, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_PRIVILEGE, 0, \
      "res:errno=ret name:path=str0 flags:flags(umountFlags)=arg(1)") \
    X(SETNS, 46, "setns", 308, 346, -1, 268, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, VIGIL_STATE_USES_FD, \
      "res:errno=ret fd:fd=arg32(0) nstype:flags(cloneFlags)=arg(1)") \
    X(UNSHARE, 47, "unshare", 272, 310, -1, 97, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, 0, \
      "res:errno=ret flags:flags(cloneFlags)=arg(0)") \
    X(MEMFD_CREATE, 48, "memfd_create", 319, 356, -1, 279, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, \
      VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "fd:fd=ret name:string=str0 flags:flags(memfdFlags)=arg(1)") \
    X(BPF, 49, "bpf", 321, 357, -1, 280, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, VIGIL_STATE_FD, \
      "res_or_fd:errno=ret cmd:flags(bpfCommand)=arg(0)") \
    X(KILL, 50, "kill", 62, 37, -1, 129, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret pid:pid=arg32(0) sig:flags(signal)=arg(1)") \
    X(EXECVE, 51, "execve", 59, 11, -1, 221, 0, VIGIL_CAPTURE_STR_ARG0 | VIGIL_CAPTURE_EXEC_RECORD, \
      VIGIL_GROUP_EXEC | VIGIL_GROUP_PROCESS, VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, \
      VIGIL_ARGUMENTS_EXEC) \
    X(EXECVEAT, 52, "execveat", 322, 358, -1, 281, 0, VIGIL_CAPTURE_STR_ARG1 | VIGIL_CAPTURE_EXEC_RECORD, \
      VIGIL_GROUP_EXEC | VIGIL_GROUP_PROCESS, VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, \
      VIGIL_ARGUMENTS_EXEC " dirfd:fd=arg32(0) pathname:path=str0") \
    X(CLONE, 53, "clone", 56, 120, -1, 220, 0, VIGIL_CAPTURE_FORK_RECORD, VIGIL_GROUP_FORK | VIGIL_GROUP_PROCESS, \
      VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, VIGIL_ARGUMENTS_CLONE) \
    X(CLONE3, 54, "clone3", 435, 435, -1, 435, 0, VIGIL_CAPTURE_FORK_RECORD, VIGIL_GROUP_FORK | VIGIL_GROUP_PROCESS, \
      VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, VIGIL_ARGUMENTS_CLONE) \
    X(FORK, 55, "fork", 57, 2, -1, -1, 0, VIGIL_CAPTURE_FORK_RECORD, VIGIL_GROUP_FORK | VIGIL_GROUP_PROCESS, \
      VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, VIGIL_ARGUMENTS_CLONE) \
    X(VFORK, 56, "vfork", 58, 190, -1, -1, 0, VIGIL_CAPTURE_FORK_RECORD, VIGIL_GROUP_FORK | VIGIL_GROUP_PROCESS, \
      VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, VIGIL_ARGUMENTS_CLONE) \
    X(USERFAULTFD, 57, "userfaultfd", 323, 374, -1, 282, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, VIGIL_STATE_FD, \
      "res:fd=ret flags:flags(userfaultfdFlags)=arg(0)") \
    X(PRCTL, 58, "prctl", 157, 172, -1, 167, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret option:flags(prctlOption)=arg(0) arg2_str:string=unavailable arg2_int:int=arg(1)") \
    X(TKILL, 59, "tkill", 200, 238, -1, 130, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret tid:pid=arg32(0) sig:flags(signal)=arg(1)") \
    X(TGKILL, 60, "tgkill", 234, 270, -1, 131, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret pid:pid=arg32(0) tid:pid=arg32(1) sig:flags(signal)=arg(2)") \
    X(PIPE, 61, "pipe", 22, 42, -1, -1, 0, VIGIL_CAPTURE_FDPAIR_ARG0, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd1:fd=arg32(4) fd2:fd=arg32(5) ino:uint=unavailable") \
    X(PIPE2, 62, "pipe2", 293, 331, -1, 59, 0, VIGIL_CAPTURE_FDPAIR_ARG0, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd1:fd=arg32(4) fd2:fd=arg32(5) ino:uint=unavailable flags:flags(fdFlags)=arg(1)") \
    X(SOCKETPAIR, 63, "socketpair", 53, 360, -1, 199, 8, VIGIL_CAPTURE_FDPAIR_ARG3, VIGIL_GROUP_NETWORK, \
      VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:errno=ret fd1:fd=arg32(4) fd2:fd=arg32(5) domain:flags(socketDomain)=arg(0) " \
      "type:flags(socketType)=arg(1) proto:uint=arg(2)") \
    X(FCNTL, 64, "fcntl", 72, 221, 55, 25, 0, VIGIL_CAPTURE_NONE, 0, VIGIL_STATE_FD | VIGIL_STATE_ALWAYS, \
      "res:fd=ret fd:fd=arg32(0) cmd:flags(fcntlCommand)=arg(1)") \
    X(CHROOT, 65, "chroot", 161, 61, -1, 51, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0") \
    X(SETREUID, 66, "setreuid", 113, 203, 70, 145, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret ruid:uid=arg(0) euid:uid=arg(1)") \
    X(SETREGID, 67, "setregid", 114, 204, 71, 143, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PRIVILEGE, \
      VIGIL_STATE_CREDS | VIGIL_STATE_ALWAYS, \
      "res:errno=ret rgid:gid=arg(0) egid:gid=arg(1)") \
    /* Opens a file from a handle (name_to_handle_at): no path is passed; fd.name is the path of \
     * the file the kernel opened. */ \
    X(OPEN_BY_HANDLE_AT, 68, "open_by_handle_at", 304, 342, -1, 265, 0, VIGIL_CAPTURE_NONE | VIGIL_CAPTURE_FILE_REF, 0, \
      VIGIL_STATE_FD, \
      "fd:fd=ret mountfd:fd=arg32(0) flags:flags(openFlags)=arg(2) path:path=str1") \
    X(IO_URING_SETUP, 69, "io_uring_setup", 425, 425, -1, 425, 0, VIGIL_CAPTURE_NONE, 0, 0, \
      "res:errno=ret entries:uint=arg(0) params:hex=arg(1)") \
    /* fchmodat with flags (Linux 6.6+; glibc 2.39's fchmodat uses it; ENOSYS on older kernels). With \
     * AT_EMPTY_PATH and an empty filename it changes the mode of dirfd's file. */ \
    X(FCHMODAT2, 71, "fchmodat2", 452, 452, -1, 452, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_FILE, VIGIL_STATE_USES_FD, \
      "res:errno=ret dirfd:fd=arg32(0) filename:path=str0 mode:mode=arg(2) flags:flags(atFlags)=arg(3)") \
    /* truncate and ftruncate; i386 programs call truncate64/ftruncate64, whose 64-bit length is \
     * split over two registers: for them `length` is its low 32 bits. */ \
    X(TRUNCATE, 72, "truncate", 76, 193, 92, 45, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0 length:uint=arg(1)") \
    X(FTRUNCATE, 73, "ftruncate", 77, 194, 93, 46, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_FILE, VIGIL_STATE_USES_FD, \
      "res:errno=ret fd:fd=arg32(0) length:uint=arg(1)") \
    /* process_vm_writev(pid, local_iov, liovcnt, remote_iov, riovcnt, flags): writes another \
     * process's memory without ptrace; the iovecs are not read. */ \
    X(PROCESS_VM_WRITEV, 74, "process_vm_writev", 311, 348, -1, 271, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_PROCESS, 0, \
      "res:errno=ret pid:pid=arg32(0) liovcnt:uint=arg(2) riovcnt:uint=arg(4) flags:uint=arg(5)") \
    /* mknod/mknodat: device nodes, FIFOs and sockets; `mode` carries the file type (S_IFCHR 020000, \
     * S_IFBLK 060000), `dev` the device number. arm64 has only mknodat. */ \
    X(MKNOD, 75, "mknod", 133, 14, -1, -1, 0, VIGIL_CAPTURE_STR_ARG0, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret path:path=str0 mode:octal=arg(1) dev:hex=arg(2)") \
    X(MKNODAT, 76, "mknodat", 259, 297, -1, 33, 0, VIGIL_CAPTURE_STR_ARG1, VIGIL_GROUP_FILE, 0, \
      "res:errno=ret dirfd:fd=arg32(0) path:path=str0 mode:octal=arg(2) dev:hex=arg(3)") \
    /* i386 socketcall(call, args): demultiplexed at sys_exit into the call's own id. */ \
    X(SOCKETCALL, 70, "", -1, 102, -1, -1, 0, VIGIL_CAPTURE_DEMUX, 0, 0, "")

/* Event types that are not syscalls (same row shape). */
#define VIGIL_RECORD_EVENTS(X) \
    /* A task exited (struct vigil_exit_event). */ \
    X(PROCEXIT, 100, "procexit", -1, -1, -1, -1, 0, VIGIL_CAPTURE_NONE, VIGIL_GROUP_EXIT | VIGIL_GROUP_PROCESS, \
      VIGIL_STATE_PROCESS | VIGIL_STATE_ALWAYS, \
      "status:int=field(exitStatus) ret:int=field(exitCode) sig:flags(signal)=field(exitSignal) core:uint=field(exitCore)")

/* Vigil's own syscall ids (evt.type), one per row of VIGIL_SYSCALLS. Stable across architectures. */
#define VIGIL_SYSCALL_ENUM_ROW(ID, value, ...) VIGIL_SYS_##ID = value,
enum vigil_syscall {
    VIGIL_SYS_UNKNOWN = 0,
    VIGIL_SYSCALLS(VIGIL_SYSCALL_ENUM_ROW)
    VIGIL_SYS_MAX = 96,
};

/* Event type ids (evt.type): syscall ids below VIGIL_SYS_MAX, the other event types
 * (VIGIL_RECORD_EVENTS) from VIGIL_SYS_MAX up to VIGIL_EVENT_TYPE_MAX. vigil_select.type
 * and every per-type table have VIGIL_EVENT_TYPE_MAX entries. */
#define VIGIL_EVENT_ENUM_ROW(ID, value, ...) VIGIL_EVT_##ID = value,
enum vigil_event_type {
    VIGIL_RECORD_EVENTS(VIGIL_EVENT_ENUM_ROW)
    VIGIL_EVENT_TYPE_MAX = 128,
};

/* Interest flags per event type id (vigil_select.type, VIGIL_EVENT_TYPE_MAX entries). */
#define VIGIL_INTEREST_WANTED 1u
/* A failed call of this type (result < 0) is dropped before any record is built, and counted
 * (VIGIL_KSTAT_FILTERED_FAILED): no loaded rule and no state update can use it. _DROP_FAILED
 * covers native syscalls and io_uring completions, _DROP_FAILED_COMPAT 32-bit syscalls (rules
 * can tell them apart with evt.is_compat). Never set on socketcall, whose calls are checked
 * after the demultiplexing. */
#define VIGIL_INTEREST_DROP_FAILED 2u
#define VIGIL_INTEREST_DROP_FAILED_COMPAT 4u
/* A failed call of this type (an open with its path as the row's only string) is sent only when
 * its path is not provably outside vigil_select.failed_path: it is dropped before any record is
 * built, and counted (VIGIL_KSTAT_FILTERED_FAILED_PATH), only when the path as passed is a normal
 * absolute path (no "//", no segment starting with ".", no trailing "/") of at most
 * VIGIL_FAILED_PATH_LEN bytes that equals no entry of vigil_select.failed_path. Set by the user
 * side where the loaded rules can match a failed call of the type only for those exact paths.
 * _FAILED_PATHS covers native syscalls (io_uring completions carry no path: their failures are
 * sent), _FAILED_PATHS_COMPAT 32-bit syscalls. Never together with the _DROP_FAILED flag of the
 * same kind of call. */
#define VIGIL_INTEREST_FAILED_PATHS 8u
#define VIGIL_INTEREST_FAILED_PATHS_COMPAT 16u
/* Set only on open and openat (native and 32-bit calls): no loaded rule can read the path as
 * passed (str0) of a successful read-only open of this type (access mode O_RDONLY), so such a
 * call whose file the kernel resolved (VIGIL_FILE_RESOLVED, str1 a path of at most
 * VIGIL_SYSCALL_SLOT_ROOM bytes) is sent with str0 empty (str0_len 0) and the user string is not
 * read. Every other call of the type, and every call without the flag, carries str0 as usual.
 * Set by the user side from the rules' analysis (`RuleSet.openNameWriteOnlyTypes`); never by
 * `vigil trace`. */
#define VIGIL_INTEREST_OPEN_NAME_WRITE_ONLY 32u

/* The failed-path filter's set (vigil_select.failed_path): at most VIGIL_FAILED_PATH_MAX paths
 * of at most VIGIL_FAILED_PATH_LEN bytes, each NUL-padded to VIGIL_FAILED_PATH_BYTES; an unused
 * entry is all zero (it equals no path the filter compares: those start with "/"). */
#define VIGIL_FAILED_PATH_MAX 16
#define VIGIL_FAILED_PATH_BYTES 64
#define VIGIL_FAILED_PATH_LEN 62 /* VIGIL_FAILED_PATH_BYTES - 2: a read of the whole entry that fills it may be cut */

/* Per-CPU kernel counters (map `kstats`, index = enum vigil_kstat). */
enum vigil_kstat {
    VIGIL_KSTAT_SUBMITTED = 0,        /* records written to the ring */
    VIGIL_KSTAT_RING_FULL = 1,        /* records lost: ring reserve/output failed */
    VIGIL_KSTAT_TRUNCATED = 2,        /* records with VIGIL_HF_TRUNCATED */
    VIGIL_KSTAT_FILTERED_FAILED = 3,  /* failed calls dropped in the kernel (VIGIL_INTEREST_DROP_FAILED): filtered, not lost */
    /* 4 is unused (it counted sys_enter entries, gone since arguments are read at sys_exit) */
    VIGIL_KSTAT_READ_FAILED = 5,      /* user/kernel memory reads that failed */
    VIGIL_KSTAT_FILTERED_FAILED_PATH = 6, /* failed opens dropped in the kernel by their path (VIGIL_INTEREST_FAILED_PATHS): filtered, not lost */
    VIGIL_KSTAT_MAX = 8,
};

/* Configuration written by the user side (vigil_select.config). */
struct vigil_config {
    __u32 agent_tgid;        /* the agent's own process */
    __u32 ignore_agent;      /* 1: drop the agent's own events in the kernel */
    __u32 max_args_bytes;    /* argv bytes to copy on exec (<= VIGIL_ARGS_MAX) */
    __u32 wakeup_mask;       /* when a CPU's submitted-record count & mask == 0 (a power of two minus
                              * one), check the ring's unread bytes against wakeup_bytes; 0: the
                              * kernel's default wake-up (whenever the reader has caught up) */
    __u32 max_env_bytes;     /* environment bytes to copy on exec (<= VIGIL_ENV_MAX); 0: none (no rule needs proc.env) */
    __u32 wakeup_bytes;      /* wake the reader when this many bytes are unread (checked as wakeup_mask says) */
};

/*
 * What the kernel captures: global data of the BPF object (section VIGIL_SELECT_SECTION, one
 * array map holding this struct), written by the user side through that map (mmap) after load and
 * on every change, read by the programs with plain loads (no map-lookup helper calls).
 */
#define VIGIL_SELECT_SECTION ".data.vigil"
struct vigil_select {
    struct vigil_config config;
    __u32 nr[VIGIL_NR_MAX];      /* kernel syscall number -> id | VIGIL_NR_* flags; 0 = unknown */
    __u8 type[VIGIL_EVENT_TYPE_MAX]; /* event type id -> VIGIL_INTEREST_* (exec, fork, exit, io_uring, socketcall) */
    /* The paths whose failed opens are sent under VIGIL_INTEREST_FAILED_PATHS[_COMPAT]: each
     * NUL-padded to VIGIL_FAILED_PATH_BYTES (compared as eight words), unused entries zero. */
    __u64 failed_path[VIGIL_FAILED_PATH_MAX][VIGIL_FAILED_PATH_BYTES / 8];
};

/*
 * What the running kernel offers that the programs can use, set by the user side from the
 * kernel's BTF BEFORE load (section VIGIL_KERNEL_SECTION: read-only data, frozen at load, so the
 * verifier drops every branch a flag rules out and never sees a call the kernel lacks).
 */
#define VIGIL_KERNEL_SECTION ".rodata.vigil_kernel"
struct vigil_kernel_features {
    __u32 rdonly_cast;           /* 1: the kfunc bpf_rdonly_cast exists (6.2+): a file found by a
                                  * probe read is walked with direct loads (bpf/paths.bpf.h) */
    __u32 reserved;
};

/* Common header of every record. 64 bytes. */
struct vigil_header {
    __u16 kind;          /* enum vigil_record_kind */
    __u16 flags;         /* VIGIL_HF_* */
    __u32 size;          /* whole record, header included */
    __u64 ts_ns;         /* CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns) */
    __u32 cpu;
    __u32 pid;           /* thread group id (user-space pid) */
    __u32 tid;           /* thread id */
    __u32 ppid;          /* real parent's thread group id */
    __u32 uid;           /* real uid */
    __u32 gid;           /* real gid */
    __u64 cgroup_id;     /* cgroup v2 id (bpf_get_current_cgroup_id) */
    char comm[VIGIL_COMM_LEN];
};

/* Socket addresses read from the kernel socket (connect, accept, bind, ...). */
struct vigil_sock_tuple {
    __u16 family;        /* AF_INET, AF_INET6, AF_UNIX; 0 when absent */
    __u8 l4proto;        /* IPPROTO_TCP, IPPROTO_UDP, ... (0 unknown) */
    __u8 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, ... */
    __u16 sport;         /* local port, host byte order */
    __u16 dport;         /* remote port, host byte order */
    __u8 saddr[16];      /* local address (IPv4 in the first 4 bytes) */
    __u8 daddr[16];      /* remote address */
};

/* The file an open-family syscall (or io_uring open) returned, read from the kernel's
 * struct file at exit. Same size as the socket tuple it shares space with. */
struct vigil_file_ref {
    __u64 ino;           /* inode number */
    __u32 dev;           /* device of the file system, user-space encoding (as stat's st_dev) */
    __u32 flags;         /* VIGIL_FILE_* */
    __u32 nlink;         /* hard links to the inode (more than 1: the same file has other names) */
    __u8 reserved[20];
};

/* vigil_file_ref flags. */
#define VIGIL_FILE_PRESENT  (1u << 0) /* ino and dev are set */
#define VIGIL_FILE_RESOLVED (1u << 1) /* str1 holds the path of the opened file (dentry walk from the task's root) */
#define VIGIL_FILE_PATH_TRUNCATED (1u << 2) /* that path was cut (too deep or too long) */

/*
 * One completed syscall, from sys_exit: the arguments as the registers hold them at exit
 * (the entry values on x86-64 and arm64), and the result.
 * For the open family (open, openat, openat2, creat, open_by_handle_at) that
 * succeed, `file` replaces `tuple`: the inode and device of the opened file, and
 * str1 holds the file's path walked from the dentry (what the kernel opened,
 * whatever the path as written in str0 went through: /proc/PID/root, symlinks,
 * "..", a file handle).
 * data[] holds up to two strings or buffers: str0 at data[0], str1 right after.
 * Each length counts the bytes stored (for strings, including the NUL); 0 = absent.
 * What str0/str1 mean depends on the syscall (the user side's syscall table):
 * paths for file syscalls, a raw sockaddr for connect/bind/sendto/sendmsg, ...
 */
struct vigil_syscall_event {
    struct vigil_header hdr;
    __s64 ret;
    __u64 args[6];
    __u16 syscall;       /* enum vigil_syscall */
    __u16 str0_len;
    __u16 str1_len;
    __u16 reserved;
    union {
        struct vigil_sock_tuple tuple; /* socket syscalls */
        struct vigil_file_ref file;    /* open family */
    };
    __u8 data[];
};

/* Exec flags. */
#define VIGIL_EXE_UPPER_LAYER     (1u << 0) /* exe file on an overlayfs upper layer */
#define VIGIL_EXE_FROM_MEMFD      (1u << 1) /* exe is a memfd (fileless) */
#define VIGIL_EXE_ARGS_TRUNCATED  (1u << 2)
#define VIGIL_EXE_PATH_TRUNCATED  (1u << 3)
#define VIGIL_EXE_CWD_TRUNCATED   (1u << 4)
#define VIGIL_EXE_WRITABLE        (1u << 5) /* exe file writable by the executing user */
#define VIGIL_EXE_CGROUP_TRUNCATED (1u << 6)
#define VIGIL_EXE_IA32            (1u << 7) /* the program image is a 32-bit x86 ELF (its syscalls are ia32) */
#define VIGIL_EXE_ENV_CAPTURED    (1u << 8) /* the environment was copied (env_len bytes, possibly 0) */
#define VIGIL_EXE_ENV_TRUNCATED   (1u << 9) /* the environment was cut to max_env_bytes (or to the room left) */

/*
 * A successful exec (from sched_process_exec). data[] = exe path (NUL
 * terminated, exe_len bytes), then argv (args_len bytes, each argument NUL
 * terminated), then cwd (cwd_len bytes, NUL terminated), then the task's
 * cgroup v2 path relative to the cgroup root (cgroup_len bytes, NUL
 * terminated, e.g. "kubepods.slice/kubepods-besteffort.slice/.../cri-containerd-<id>.scope";
 * up to VIGIL_CGROUP_DEPTH components from the leaf; "/" for the root). With the
 * header's cgroup_id this lets user space attribute a container's first exec
 * in-band, before any file-system lookup. Then, when VIGIL_EXE_ENV_CAPTURED is set, the
 * environment of the new image (mm->env_start..env_end: env_len bytes, each entry NUL
 * terminated; the last one NUL terminated even when cut).
 */
/* ---- enforcement at exec (maps enforce_state, enforce_rules, enforce_strings, enforce_prefixes, enforce_buckets) ----
 * vigil_exec_event.enforcement = slot + 1 (bits 0-7) | outcome << 8 (VIGIL_ENF_OUT_*) | generation << 16.
 */
#define VIGIL_ENF_MAX_RULES    64   /* rule slots (power of two) */
#define VIGIL_ENF_MAX_PREFIXES 64   /* exe path prefixes across all slots (power of two) */
#define VIGIL_ENF_MAX_STRINGS  4096 /* members of all string sets and never-lists */
#define VIGIL_ENF_STR          256  /* string slot: at most 255 bytes and a NUL */
#define VIGIL_ENF_OUT_KILLED          1
#define VIGIL_ENF_OUT_WOULD_KILL      2
#define VIGIL_ENF_OUT_REFUSED_NEVER   3
#define VIGIL_ENF_OUT_REFUSED_PROTECT 4
#define VIGIL_ENF_OUT_RATE_LIMITED    5   /* the rule's token bucket was empty: not killed */
/* Facts (vigil_enforce_rule.require / forbid). CONTAINER and HOST are both clear when the
 * cgroup path cannot be read as either for certain (user space then decides). */
#define VIGIL_ENF_F_MEMFD      (1u << 0)
#define VIGIL_ENF_F_UPPER      (1u << 1)
#define VIGIL_ENF_F_CONTAINER  (1u << 2)
#define VIGIL_ENF_F_HOST       (1u << 3)
/* vigil_enforce_state.flags */
#define VIGIL_ENF_S_CGROUP     (1u << 0)  /* some rule tests CONTAINER or HOST: read the cgroup */
/* Per-rule string sets (vigil_enforce_rule.sets: which the rule uses; bit n = kind n). */
enum vigil_enf_kind {
    VIGIL_ENF_K_PATH = 0, VIGIL_ENF_K_PATH_NOT = 1, VIGIL_ENF_K_COMM = 2, VIGIL_ENF_K_COMM_NOT = 3,
    VIGIL_ENF_K_ARGV0 = 4, VIGIL_ENF_K_ARGV0_NOT = 5, VIGIL_ENF_K_PREFIX = 6, VIGIL_ENF_K_PREFIX_NOT = 7,
    /* never-lists (slot 0): exe names (first 15 bytes, compared with comm and the exe's file name)
     * and exe paths (first 255 bytes); a longer name or path is refused by its prefix. */
    VIGIL_ENF_K_NEVER_COMM = 8, VIGIL_ENF_K_NEVER_PATH = 9,
};
struct vigil_enforce_state {
    __u32 mode;              /* 0 off, 1 dry-run (mark only), 2 enforce (SIGKILL) */
    __u32 nrules;            /* rules in enforce_rules[0..nrules) */
    __u32 nprefixes;         /* entries in enforce_prefixes[0..nprefixes) */
    __u32 generation;        /* copied into the record (low 16 bits) */
    __u32 flags;             /* VIGIL_ENF_S_* */
    __u32 protected_tgids[8];/* never killed (Vigil, its parents); 0 = unused */
    __u32 cgroup_need;       /* VIGIL_ENF_F_* every rule testing CONTAINER/HOST also requires:
                              * the cgroup is read only for execs that have them */
    /* Rate limit per rule slot (GCRA, the token bucket of enforcement.rate_limit): one kill
     * every period_ns, bursts of up to tau_ns / period_ns + 1. period_ns 0: no limit. */
    __u64 period_ns;
    __u64 tau_ns;
};
struct vigil_enforce_rule {
    __u32 require;           /* VIGIL_ENF_F_* that must hold */
    __u32 forbid;            /* VIGIL_ENF_F_* that must not hold */
    __u32 sets;              /* 1 << VIGIL_ENF_K_* for each string set the rule tests */
    __u32 reserved;
};
/* enforce_buckets[slot]: the rule's theoretical arrival time (bpf_ktime_get_ns) and how many
 * kills the limit refused; kept across reloads for a rule that keeps its name. */
struct vigil_enforce_bucket {
    __u64 tat_ns;
    __u64 limited;
};
/* Key of enforce_strings: (kind, rule slot or 0 for never-lists, zero-padded string). */
struct vigil_enforce_key {
    __u32 kind;
    __u32 slot;
    char s[VIGIL_ENF_STR];
};
struct vigil_enforce_prefix {
    __u32 slot;
    __u32 negate;
    __u32 len;               /* bytes compared (1 .. VIGIL_ENF_STR - 1) */
    __u32 reserved;
    char s[VIGIL_ENF_STR];   /* the prefix, zero-padded */
    __u8 mask[VIGIL_ENF_STR];/* 0xff for each of the len bytes compared, 0 after */
};

struct vigil_exec_event {
    struct vigil_header hdr;
    __u16 syscall;           /* VIGIL_SYS_EXECVE or VIGIL_SYS_EXECVEAT */
    __u16 exe_len;
    __u16 args_len;
    __u16 cwd_len;
    __u32 exe_flags;         /* VIGIL_EXE_* */
    __u32 loginuid;          /* audit login uid (UINT32_MAX when unset) */
    __u32 tty;               /* controlling tty as tty_nr ((major << 8) | minor, with minor high bits as in /proc/PID/stat); 0 none */
    __u32 old_tid;           /* tid that called exec (differs when a non-leader thread execs) */
    __u32 euid;
    __u32 egid;
    __u64 cap_effective;
    __u64 cap_permitted;
    __u64 exe_ino;
    __u64 exe_ctime_ns;      /* exe inode ctime, ns since epoch */
    __u64 exe_mtime_ns;      /* exe inode mtime, ns since epoch */
    __u64 start_time_ns;     /* process start, CLOCK_BOOTTIME ns (task->start_boottime) */
    __u32 pgid;              /* process group id (in the pid namespace of the agent) */
    __u32 sid;               /* session id */
    __u32 vpid;              /* pid as seen inside the process's own pid namespace */
    __u32 pidns_inum;        /* pid namespace inode number */
    __u16 cgroup_len;        /* bytes of the cgroup path in data[] (NUL included) */
    __u16 env_len;           /* bytes of the environment in data[] after the cgroup path (VIGIL_EXE_ENV_CAPTURED) */
    __u32 enforcement;       /* VIGIL_ENF_RECORD: what the exec program's enforcement did (0: nothing) */
    __u8 data[];
};

/* Fork flags. */
#define VIGIL_FORK_THREAD (1u << 0) /* the child is a thread (CLONE_THREAD) */

/* A new task (from sched_process_fork; the header describes the parent). */
struct vigil_fork_event {
    struct vigil_header hdr;
    __u32 child_pid;         /* child thread group id */
    __u32 child_tid;
    __u32 flags;             /* VIGIL_FORK_* */
    __u16 syscall;           /* VIGIL_SYS_CLONE/CLONE3/FORK/VFORK when known, else 0 */
    __u16 reserved;
    __u64 child_start_time_ns;
};

/* Exit flags. */
#define VIGIL_EXIT_GROUP_DEAD (1u << 0) /* last thread: the process is gone */

/* A task exited (from sched_process_exit; the header describes it). */
struct vigil_exit_event {
    struct vigil_header hdr;
    __s32 exit_code;         /* (status >> 8) & 0xff */
    __s32 signal;            /* terminating signal, 0 if none */
    __u32 flags;             /* VIGIL_EXIT_* */
    __u32 reserved;
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct vigil_header) == 64, "vigil_header must be 64 bytes");
_Static_assert(sizeof(struct vigil_sock_tuple) == 40, "vigil_sock_tuple must be 40 bytes");
_Static_assert(sizeof(struct vigil_file_ref) == 40, "vigil_file_ref must be 40 bytes");
_Static_assert(sizeof(struct vigil_syscall_event) == 168, "vigil_syscall_event must be 168 bytes");
_Static_assert(sizeof(struct vigil_exec_event) == 168, "vigil_exec_event must be 168 bytes");
_Static_assert(sizeof(struct vigil_fork_event) == 88, "vigil_fork_event must be 88 bytes");
_Static_assert(sizeof(struct vigil_exit_event) == 80, "vigil_exit_event must be 80 bytes");
_Static_assert(sizeof(struct vigil_select) == sizeof(struct vigil_config) + 4 * VIGIL_NR_MAX + VIGIL_EVENT_TYPE_MAX +
               VIGIL_FAILED_PATH_MAX * VIGIL_FAILED_PATH_BYTES, "vigil_select has no padding");
_Static_assert(VIGIL_FAILED_PATH_LEN == VIGIL_FAILED_PATH_BYTES - 2 && VIGIL_FAILED_PATH_BYTES % 8 == 0, "failed_path entry bounds");
#define VIGIL_ASSERT_SYSCALL_ROW(ID, value, ...) \
    _Static_assert((value) > 0 && (value) < VIGIL_SYS_MAX, "VIGIL_SYS_" #ID ": id outside 1..VIGIL_SYS_MAX-1");
#define VIGIL_ASSERT_EVENT_ROW(ID, value, ...) \
    _Static_assert((value) >= VIGIL_SYS_MAX && (value) < VIGIL_EVENT_TYPE_MAX, "VIGIL_EVT_" #ID ": id outside VIGIL_SYS_MAX..VIGIL_EVENT_TYPE_MAX-1");
VIGIL_SYSCALLS(VIGIL_ASSERT_SYSCALL_ROW)
VIGIL_RECORD_EVENTS(VIGIL_ASSERT_EVENT_ROW)
#endif

#if !defined(__bpf__)
/* One row of VIGIL_SYSCALLS or VIGIL_RECORD_EVENTS, for user space (Sources/VigilABI/abi.c);
 * the fields are the row's columns. */
struct vigil_event_row {
    const char *name;
    const char *arguments;
    __s32 nr_x86_64;
    __s32 nr_i386;
    __s32 nr_i386_old;
    __s32 nr_arm64;
    __u32 socketcall;
    __u32 capture;
    __u32 groups;
    __u32 state;
    __u32 id;
};
/* Every row of VIGIL_SYSCALLS then VIGIL_RECORD_EVENTS; *count is set to their number. */
const struct vigil_event_row *vigil_event_rows(__u32 *count);
#endif

#endif /* VIGIL_ABI_H */
