/*
 * vigil_abi.h - the one event ABI shared by the BPF programs (bpf/vigil.bpf.c)
 * and the Swift user side (through the VigilABI C target).
 *
 * Every record in the ring buffer starts with `struct vigil_header`. The
 * header's `kind` says which body follows (enum vigil_record_kind). Syscall
 * records carry vigil's own, architecture-neutral syscall id (enum
 * vigil_syscall); the user side maps kernel syscall numbers to these ids and
 * writes that table into the `syscall_ids` map at start-up.
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
/* Size of the syscall-number -> vigil id table. Native numbers use 0..511; 32-bit
 * (ia32, int 0x80) numbers use VIGIL_NR_COMPAT_BASE + nr. */
#define VIGIL_NR_MAX 1024
#define VIGIL_NR_COMPAT_BASE 512
/* Bit of a native entry saying the 32-bit table has an entry for the same number. */
#define VIGIL_NR_HAS_COMPAT (1u << 16)
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
#define VIGIL_HF_COMPAT      (1u << 2) /* a 32-bit syscall (ia32 process or int 0x80): i386 numbers and registers */
#define VIGIL_HF_IO_URING    (1u << 3) /* an operation submitted through io_uring, reported at its completion */

/* Vigil's own syscall ids (evt.type). Stable across architectures. */
enum vigil_syscall {
    VIGIL_SYS_UNKNOWN = 0,
    VIGIL_SYS_OPEN = 1,
    VIGIL_SYS_OPENAT = 2,
    VIGIL_SYS_OPENAT2 = 3,
    VIGIL_SYS_CREAT = 4,
    VIGIL_SYS_LINK = 5,
    VIGIL_SYS_LINKAT = 6,
    VIGIL_SYS_SYMLINK = 7,
    VIGIL_SYS_SYMLINKAT = 8,
    VIGIL_SYS_RENAME = 9,
    VIGIL_SYS_RENAMEAT = 10,
    VIGIL_SYS_RENAMEAT2 = 11,
    VIGIL_SYS_UNLINK = 12,
    VIGIL_SYS_UNLINKAT = 13,
    VIGIL_SYS_RMDIR = 14,
    VIGIL_SYS_CHMOD = 15,
    VIGIL_SYS_FCHMOD = 16,
    VIGIL_SYS_FCHMODAT = 17,
    VIGIL_SYS_MKDIR = 18,
    VIGIL_SYS_MKDIRAT = 19,
    VIGIL_SYS_CHDIR = 20,
    VIGIL_SYS_FCHDIR = 21,
    VIGIL_SYS_SOCKET = 22,
    VIGIL_SYS_CONNECT = 23,
    VIGIL_SYS_ACCEPT = 24,
    VIGIL_SYS_ACCEPT4 = 25,
    VIGIL_SYS_BIND = 26,
    VIGIL_SYS_LISTEN = 27,
    VIGIL_SYS_SENDTO = 28,
    VIGIL_SYS_SENDMSG = 29,
    VIGIL_SYS_RECVFROM = 30,
    VIGIL_SYS_RECVMSG = 31,
    VIGIL_SYS_DUP = 32,
    VIGIL_SYS_DUP2 = 33,
    VIGIL_SYS_DUP3 = 34,
    VIGIL_SYS_CLOSE = 35,
    VIGIL_SYS_SETUID = 36,
    VIGIL_SYS_SETGID = 37,
    VIGIL_SYS_SETRESUID = 38,
    VIGIL_SYS_SETRESGID = 39,
    VIGIL_SYS_CAPSET = 40,
    VIGIL_SYS_PTRACE = 41,
    VIGIL_SYS_INIT_MODULE = 42,
    VIGIL_SYS_FINIT_MODULE = 43,
    VIGIL_SYS_MOUNT = 44,
    VIGIL_SYS_UMOUNT2 = 45,
    VIGIL_SYS_SETNS = 46,
    VIGIL_SYS_UNSHARE = 47,
    VIGIL_SYS_MEMFD_CREATE = 48,
    VIGIL_SYS_BPF = 49,
    VIGIL_SYS_KILL = 50,
    VIGIL_SYS_EXECVE = 51,   /* only failed execs arrive as syscall records */
    VIGIL_SYS_EXECVEAT = 52,
    VIGIL_SYS_CLONE = 53,
    VIGIL_SYS_CLONE3 = 54,
    VIGIL_SYS_FORK = 55,
    VIGIL_SYS_VFORK = 56,
    VIGIL_SYS_USERFAULTFD = 57,
    VIGIL_SYS_PRCTL = 58,
    VIGIL_SYS_TKILL = 59,
    VIGIL_SYS_TGKILL = 60,
    VIGIL_SYS_PIPE = 61,
    VIGIL_SYS_PIPE2 = 62,
    VIGIL_SYS_SOCKETPAIR = 63,
    VIGIL_SYS_FCNTL = 64,
    VIGIL_SYS_CHROOT = 65,
    VIGIL_SYS_SETREUID = 66,
    VIGIL_SYS_SETREGID = 67,
    VIGIL_SYS_OPEN_BY_HANDLE_AT = 68,
    VIGIL_SYS_IO_URING_SETUP = 69,
    VIGIL_SYS_SOCKETCALL = 70, /* i386 socketcall: demultiplexed in the kernel, never in a record */
    VIGIL_SYS_MAX = 96,
};

/* Interest flags per vigil syscall id (map `interest`). */
#define VIGIL_INTEREST_WANTED 1u

/* Per-CPU kernel counters (map `kstats`, index = enum vigil_kstat). */
enum vigil_kstat {
    VIGIL_KSTAT_SUBMITTED = 0,        /* records written to the ring */
    VIGIL_KSTAT_RING_FULL = 1,        /* records lost: ring reserve/output failed */
    VIGIL_KSTAT_TRUNCATED = 2,        /* records with VIGIL_HF_TRUNCATED */
    VIGIL_KSTAT_ENTRY_MISSING = 3,    /* sys_exit with no saved sys_enter args */
    VIGIL_KSTAT_ENTRY_FULL = 4,       /* sys_enter args could not be saved (map full) */
    VIGIL_KSTAT_READ_FAILED = 5,      /* user/kernel memory reads that failed */
    VIGIL_KSTAT_MAX = 8,
};

/* Start-up configuration written by the user side (map `config`, key 0). */
struct vigil_config {
    __u32 agent_tgid;        /* the agent's own process */
    __u32 ignore_agent;      /* 1: drop the agent's own events in the kernel */
    __u32 max_args_bytes;    /* argv bytes to copy on exec (<= VIGIL_ARGS_MAX) */
    __u32 wakeup_bytes;      /* wake the reader only when this much data waits (0: every record) */
    __u32 max_env_bytes;     /* environment bytes to copy on exec (<= VIGIL_ENV_MAX); 0: none (no rule needs proc.env) */
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
 * One completed syscall: arguments saved at sys_enter, result at sys_exit.
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
/* ---- enforcement at exec (maps enforce_state, enforce_rules, enforce_strings, enforce_prefixes) ----
 * vigil_exec_event.enforcement = slot + 1 (bits 0-7) | outcome << 8 (VIGIL_ENF_OUT_*) | generation << 16.
 */
#define VIGIL_ENF_MAX_RULES    16
#define VIGIL_ENF_MAX_PREFIXES 16
#define VIGIL_ENF_STR          64   /* string slot: at most 63 bytes and a NUL */
#define VIGIL_ENF_OUT_KILLED          1
#define VIGIL_ENF_OUT_WOULD_KILL      2
#define VIGIL_ENF_OUT_REFUSED_NEVER   3
#define VIGIL_ENF_OUT_REFUSED_PROTECT 4
/* Facts (vigil_enforce_rule.require / forbid). */
#define VIGIL_ENF_F_MEMFD      (1u << 0)
#define VIGIL_ENF_F_UPPER      (1u << 1)
#define VIGIL_ENF_F_CONTAINER  (1u << 2)
/* Per-rule string sets (vigil_enforce_rule.sets: which the rule uses; bit n = kind n). */
enum vigil_enf_kind {
    VIGIL_ENF_K_PATH = 0, VIGIL_ENF_K_PATH_NOT = 1, VIGIL_ENF_K_COMM = 2, VIGIL_ENF_K_COMM_NOT = 3,
    VIGIL_ENF_K_ARGV0 = 4, VIGIL_ENF_K_ARGV0_NOT = 5, VIGIL_ENF_K_PREFIX = 6, VIGIL_ENF_K_PREFIX_NOT = 7,
    VIGIL_ENF_K_NEVER_COMM = 8, VIGIL_ENF_K_NEVER_PATH = 9,
};
struct vigil_enforce_state {
    __u32 mode;              /* 0 off, 1 dry-run (mark only), 2 enforce (SIGKILL) */
    __u32 nrules;            /* rules in enforce_rules[0..nrules) */
    __u32 nprefixes;         /* entries in enforce_prefixes[0..nprefixes) */
    __u32 generation;        /* copied into the record (low 16 bits) */
    __u32 host_pidns;        /* the host's pid namespace inode: another one means a container */
    __u32 protected_tgids[8];/* never killed (Vigil, its parents); 0 = unused */
};
struct vigil_enforce_rule {
    __u32 require;           /* VIGIL_ENF_F_* that must hold */
    __u32 forbid;            /* VIGIL_ENF_F_* that must not hold */
    __u32 sets;              /* 1 << VIGIL_ENF_K_* for each string set the rule tests */
    __u32 reserved;
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
    __u32 len;               /* bytes compared (<= VIGIL_ENF_STR - 1) */
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
#endif

#endif /* VIGIL_ABI_H */
