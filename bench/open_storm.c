/* open_storm: makes N openat(2) calls (each followed by close) as fast as it can
 * and prints the rate. Its comm is "vigil_openstorm" so tracers can filter on it.
 * Usage: open_storm [N] [PATH]      (default 2000000, /etc/hostname) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    const char *path = argc > 2 ? argv[2] : "/etc/hostname";
    prctl(PR_SET_NAME, "vigil_openstorm", 0, 0, 0);
    struct timespec a, b;
    long failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        int fd = openat(AT_FDCWD, path, O_RDONLY);
        if (fd < 0) failed++;
        else close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"opens\": %ld, \"failed\": %ld, \"seconds\": %.4f, \"rate\": %.0f}\n", n, failed, s, n / s);
    return 0;
}
