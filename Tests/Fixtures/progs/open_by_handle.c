// open_by_handle PATH: reads PATH through name_to_handle_at + open_by_handle_at (no path
// passed to the open) and prints "pid=N fd=N" (kernel tests: fd.name must still be PATH).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: open_by_handle PATH\n"); return 2; }
    struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
    h->handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, argv[1], h, &mount_id, 0) != 0) { perror("name_to_handle_at"); return 1; }
    int mfd = open("/", O_RDONLY | O_DIRECTORY);
    int fd = open_by_handle_at(mfd, h, O_RDONLY);
    if (fd < 0) { perror("open_by_handle_at"); return 1; }
    char buf[64];
    if (read(fd, buf, sizeof buf) < 0) { perror("read"); return 1; }
    printf("pid=%d fd=%d\n", (int)getpid(), fd);
    close(fd);
    close(mfd);
    return 0;
}
