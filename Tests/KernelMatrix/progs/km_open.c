// km_open PATH: openat(AT_FDCWD, PATH, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0640) and prints
// "pid=N fd=N flags=N mode=N" for the open check.
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: km_open PATH\n"); return 2; }
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    int mode = 0640;
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], flags, mode);
    if (fd < 0) { perror("km_open: openat"); return 1; }
    printf("pid=%d fd=%ld flags=%d mode=%d\n", (int)getpid(), fd, flags, mode);
    close((int)fd);
    return 0;
}
