/* getppid_storm: makes N getppid(2) calls (a syscall no Vigil rule needs) as fast as
 * it can and prints the rate: the cost every syscall of the node pays for the hooks.
 * Its comm is "vigil_ppidstorm". Usage: getppid_storm [N]      (default 10000000) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    prctl(PR_SET_NAME, "vigil_ppidstorm", 0, 0, 0);
    struct timespec a, b;
    long sum = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid); /* the raw syscall: no libc caching */
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"calls\": %ld, \"check\": %d, \"seconds\": %.4f, \"rate\": %.0f}\n", n, sum != 0, s, n / s);
    return 0;
}
