/* exec_storm: N times fork + exec of /bin/true with a marker argument, waiting
 * for each child; prints the rate. Usage: exec_storm [N] [MARKER] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000;
    const char *marker = argc > 2 ? argv[2] : "vigil-exec-storm";
    struct timespec a, b;
    long failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/true", "/bin/true", marker, (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"execs\": %ld, \"failed\": %ld, \"seconds\": %.4f, \"rate\": %.0f}\n", n, failed, s, n / s);
    return 0;
}
