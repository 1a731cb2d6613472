// km_forks: creates one child through each clone-family entry, as raw syscalls (glibc's
// fork() is clone), and prints "pid=N fork=C vfork=C clone=C clone3=C ia32fork=C" (C: the
// child's pid, 0 when that entry is not there: clone3 before 5.3, int $0x80 without ia32
// emulation) for the fork-ids check, which expects each child's fork record to name the
// syscall that made it (the id comes from the parent's saved registers: bpf_task_pt_regs on
// 5.15+, the top of the task's stack on 5.10).
// Every child exits at once with status 0 through a raw exit (vfork's child shares the
// parent's stack, so it must not return into C code). Built static and non-PIE.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

struct km_clone_args {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// A raw syscall with up to two arguments whose child (return value 0) exits at once.
static long raw_fork_like(long nr, long a0, long a1) {
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"  // exit(0) in the child
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1)
                     : "rcx", "r11", "rdx", "r10", "r8", "r9", "memory");
    return ret;
}

// i386 fork (eax=2) through int $0x80 from this 64-bit process.
static long ia32_fork(void) {
    long ret;
    __asm__ volatile("int $0x80\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:"
                     : "=a"(ret)
                     : "a"(2L)
                     : "rcx", "r11", "rdi", "r8", "r9", "r10", "memory");
    return ret;
}

static int reap(const char *what, long child) {
    if (child <= 0) return 0;
    int st = 0;
    if (waitpid((pid_t)child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "km_forks: %s child %ld did not exit with 0\n", what, child);
        return 1;
    }
    return 0;
}

int main(void) {
    fflush(stdout);
    long f = raw_fork_like(SYS_fork, 0, 0);
    long v = raw_fork_like(SYS_vfork, 0, 0);
    long c = raw_fork_like(SYS_clone, SIGCHLD, 0);
    struct km_clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    long c3 = raw_fork_like(SYS_clone3, (long)&ca, sizeof ca);
    long i = ia32_fork();
    int bad = 0;
    if (f <= 0) { fprintf(stderr, "km_forks: fork: errno %ld\n", -f); bad = 1; }
    if (v <= 0) { fprintf(stderr, "km_forks: vfork: errno %ld\n", -v); bad = 1; }
    if (c <= 0) { fprintf(stderr, "km_forks: clone: errno %ld\n", -c); bad = 1; }
    if (c3 < 0 && c3 != -ENOSYS) { fprintf(stderr, "km_forks: clone3: errno %ld\n", -c3); bad = 1; }
    if (i < 0 && i != -ENOSYS) { fprintf(stderr, "km_forks: i386 fork: errno %ld\n", -i); bad = 1; }
    bad |= reap("fork", f) | reap("vfork", v) | reap("clone", c) | reap("clone3", c3) | reap("i386 fork", i);
    printf("pid=%d fork=%ld vfork=%ld clone=%ld clone3=%ld ia32fork=%ld\n", (int)getpid(), f > 0 ? f : 0,
           v > 0 ? v : 0, c > 0 ? c : 0, c3 > 0 ? c3 : 0, i > 0 ? i : 0);
    return bad;
}
