/* floor_loader: loads bench/floor.bpf.c's object and attaches the named programs, prints
 * "attached N" on stdout, then waits for SIGINT/SIGTERM and detaches. When the programs
 * include a minimal capture (min_capture_sys_exit, min_path_sys_exit) it drains their ring (min_ring) every 10 ms
 * meanwhile, like a real consumer, and prints "records N" on stdout when it stops.
 * Usage: floor_loader OBJECT PROGRAM...     (e.g. floor_sys_exit floor_sys_enter) */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static unsigned long long records;

static int count_record(void *ctx, void *data, size_t size)
{
    (void)ctx; (void)data; (void)size;
    records++;
    return 0;
}
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OBJECT PROGRAM...\n", argv[0]);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj) {
        fprintf(stderr, "floor_loader: cannot open %s\n", argv[1]);
        return 1;
    }
    /* Load only the programs asked for. */
    struct bpf_program *p;
    bpf_object__for_each_program(p, obj) {
        int wanted = 0;
        for (int i = 2; i < argc; i++)
            if (strcmp(bpf_program__name(p), argv[i]) == 0) wanted = 1;
        bpf_program__set_autoload(p, wanted);
    }
    int consume = 0;
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "min_", 4) == 0) consume = 1;
    struct bpf_map *min_ring = bpf_object__find_map_by_name(obj, "min_ring");
    if (min_ring && !consume) bpf_map__set_autocreate(min_ring, false);
    if (bpf_object__load(obj)) {
        fprintf(stderr, "floor_loader: cannot load %s\n", argv[1]);
        return 1;
    }
    struct bpf_link *links[16];
    int n = 0;
    for (int i = 2; i < argc && n < 16; i++) {
        p = bpf_object__find_program_by_name(obj, argv[i]);
        if (!p) {
            fprintf(stderr, "floor_loader: no program %s in %s\n", argv[i], argv[1]);
            return 1;
        }
        links[n] = bpf_program__attach(p);
        if (!links[n]) {
            fprintf(stderr, "floor_loader: cannot attach %s\n", argv[i]);
            return 1;
        }
        n++;
    }
    struct ring_buffer *ring = NULL;
    if (consume) {
        ring = min_ring ? ring_buffer__new(bpf_map__fd(min_ring), count_record, NULL, NULL) : NULL;
        if (!ring) {
            fprintf(stderr, "floor_loader: cannot open min_ring\n");
            return 1;
        }
    }
    printf("attached %d\n", n);
    fflush(stdout);
    if (ring) {
        while (!stop) {
            int got = ring_buffer__consume(ring);
            if (got < 0) {
                fprintf(stderr, "floor_loader: ring consume failed: %d\n", got);
                break;
            }
            usleep(10000); /* the program never wakes the reader: drain every 10 ms */
        }
        ring_buffer__consume(ring);
        printf("records %llu\n", records);
        fflush(stdout);
        ring_buffer__free(ring);
    } else {
        while (!stop) pause();
    }
    for (int i = 0; i < n; i++) bpf_link__destroy(links[i]);
    bpf_object__close(obj);
    return 0;
}
