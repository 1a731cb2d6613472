/* pidfd system calls (glibc's wrappers are not visible to Swift's Glibc module). */
#ifndef VIGIL_PIDFD_H
#define VIGIL_PIDFD_H
#include <sys/types.h>

/* pidfd_open(2): a file descriptor that refers to process `pid`; -1 and errno on failure. */
int vigil_pidfd_open(pid_t pid, unsigned int flags);
/* pidfd_send_signal(2) without siginfo; -1 and errno on failure. */
int vigil_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
#endif
