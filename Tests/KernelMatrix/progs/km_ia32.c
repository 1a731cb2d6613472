// km_ia32 PATH: a 64-bit process that opens PATH through the i386 entry (int $0x80, eax=5
// = i386 open, ebx=path, ecx=flags, edx=mode) and prints "pid=N fd=N flags=N" for the ia32
// check. Built static and non-PIE so the path copy sits below 4 GiB (int $0x80 passes 32-bit
// pointers).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char path[4096];

int main(int argc, char **argv) {
    if (argc != 2 || strlen(argv[1]) >= sizeof path) { fprintf(stderr, "usage: km_ia32 PATH\n"); return 2; }
    strcpy(path, argv[1]);
    if ((unsigned long)path > 0xffffffffUL) { fprintf(stderr, "km_ia32: path above 4 GiB (build non-PIE)\n"); return 2; }
    long ret;
    long flags = O_RDONLY;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(5L), "b"((long)(unsigned long)path), "c"(flags), "d"(0L)
                     : "memory", "r8", "r9", "r10", "r11");
    if (ret < 0) { fprintf(stderr, "km_ia32: i386 open: errno %ld\n", -ret); return 1; }
    printf("pid=%d fd=%ld flags=%ld\n", (int)getpid(), ret, flags);
    close((int)ret);
    return 0;
}
