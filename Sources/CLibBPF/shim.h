#ifndef VIGIL_CLIBBPF_SHIM_H
#define VIGIL_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
/* SYS_* syscall numbers: VigilCapture maps them to vigil syscall ids. */
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#endif
