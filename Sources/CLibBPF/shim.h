#ifndef VIGIL_CLIBBPF_SHIM_H
#define VIGIL_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#endif
