// failed_opens MISSING N [EXISTING]: N failed openat and N failed openat2 of MISSING (each
// must fail with ENOENT), then, when EXISTING is given, one successful openat and one
// successful openat2 of it. Exit 0 when every call did what it should. Used by the kernel
// tests of the failed-call filter (openat2 has no libc wrapper a Swift test could call).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long open2(const char *path) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY;
    return syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: failed_opens MISSING N [EXISTING]\n"); return 2; }
    int n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
        if (openat(AT_FDCWD, argv[1], O_RDONLY) >= 0 || errno != ENOENT) { fprintf(stderr, "openat did not fail with ENOENT\n"); return 1; }
        if (open2(argv[1]) >= 0 || errno != ENOENT) { fprintf(stderr, "openat2 did not fail with ENOENT\n"); return 1; }
    }
    if (argc > 3) {
        int fd = openat(AT_FDCWD, argv[3], O_RDONLY);
        if (fd < 0) { perror("openat"); return 1; }
        close(fd);
        long fd2 = open2(argv[3]);
        if (fd2 < 0) { perror("openat2"); return 1; }
        close((int)fd2);
    }
    return 0;
}
