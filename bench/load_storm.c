/* load_storm: open("/dev/null") + close at a paced rate for a duration (background syscall load:
 * two captured events per iteration). Usage: load_storm EVENTS_PER_SECOND SECONDS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double rate = argc > 1 ? atof(argv[1]) : 100000; /* events per second */
    double secs = argc > 2 ? atof(argv[2]) : 10;
    double per_iter = 2.0;                            /* openat + close */
    double start = now(), end = start + secs;
    long iters = 0;
    while (1) {
        for (int k = 0; k < 100; k++) {
            int fd = open("/dev/null", O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
        iters += 100;
        double t = now();
        if (t >= end)
            break;
        double due = start + iters * per_iter / rate;
        if (due > t)
            usleep((useconds_t)((due - t) * 1e6));
    }
    double s = now() - start;
    printf("{\"events\": %ld, \"seconds\": %.3f, \"rate\": %.0f}\n", (long)(iters * per_iter), s, iters * per_iter / s);
    return 0;
}
