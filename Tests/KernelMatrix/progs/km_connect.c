// km_connect: listens on 127.0.0.1 (ephemeral port), connects to it and prints
// "pid=N fd=N port=N" for the connect check.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0) { perror("km_connect: listen"); return 1; }
    socklen_t len = sizeof a;
    if (getsockname(l, (struct sockaddr *)&a, &len) != 0) { perror("km_connect: getsockname"); return 1; }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0) { perror("km_connect: connect"); return 1; }
    int s = accept(l, NULL, NULL);
    printf("pid=%d fd=%d port=%d\n", (int)getpid(), c, ntohs(a.sin_port));
    close(s); close(c); close(l);
    return 0;
}
