// km_exit CODE [ARGS...]: prints "pid=N" and exits with CODE. Exec'd with a marker argv by
// the exec check (the argv is compared exactly with the captured execve event).
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("pid=%d\n", (int)getpid());
    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 0;
}
