// km_fork CODE: fork()s a child that exits with CODE; the parent waits for it and prints
// "pid=N child=N status=N" for the fork/exit check.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int code = argc > 1 ? atoi(argv[1]) : 7;
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) { perror("km_fork: fork"); return 1; }
    if (c == 0) _exit(code);
    int st = 0;
    if (waitpid(c, &st, 0) != c) { perror("km_fork: waitpid"); return 1; }
    printf("pid=%d child=%d status=%d\n", (int)getpid(), (int)c, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
