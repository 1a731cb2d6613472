#ifndef VIGIL_CLIBBPF_SHIM_H
#define VIGIL_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* SYS_* syscall numbers: VigilCapture maps them to vigil syscall ids. */
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/mount.h>

/* Formats one libbpf message whatever its length (a verifier log can be megabytes).
 * Returns a malloc'd string (free() it) or NULL. */
static inline char *vigil_vformat(const char *fmt, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *s = (char *)malloc((size_t)n + 1);
    if (!s)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, args);
    return s;
}

/* Parameters of tracepoint `name` in the kernel's BTF (the btf_trace_<name> prototype,
 * context excluded); -1 when the kernel has no such tracepoint. */
static inline int vigil_btf_tracepoint_args(const struct btf *btf, const char *name)
{
    char full[128];
    snprintf(full, sizeof(full), "btf_trace_%s", name);
    int id = btf__find_by_name_kind(btf, full, BTF_KIND_TYPEDEF);
    if (id < 0)
        return -1;
    const struct btf_type *t = btf__type_by_id(btf, id);
    if (!t)
        return -1;
    t = btf__type_by_id(btf, t->type); /* pointer */
    if (!t || !btf_is_ptr(t))
        return -1;
    t = btf__type_by_id(btf, t->type); /* func proto */
    if (!t || !btf_is_func_proto(t))
        return -1;
    return (int)btf_vlen(t) - 1;
}

/* Whether parameter `index` (0 = the first after the context) of tracepoint `name` is a
 * pointer; 0 when it is not or does not exist. */
static inline int vigil_btf_tracepoint_arg_is_ptr(const struct btf *btf, const char *name, int index)
{
    char full[128];
    snprintf(full, sizeof(full), "btf_trace_%s", name);
    int id = btf__find_by_name_kind(btf, full, BTF_KIND_TYPEDEF);
    if (id < 0)
        return 0;
    const struct btf_type *t = btf__type_by_id(btf, id);
    t = t ? btf__type_by_id(btf, t->type) : NULL;
    t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
    if (!t || !btf_is_func_proto(t) || index + 1 >= btf_vlen(t))
        return 0;
    const struct btf_param *p = btf_params(t) + index + 1;
    const struct btf_type *a = btf__type_by_id(btf, p->type);
    while (a && (btf_is_typedef(a) || btf_is_const(a) || btf_is_volatile(a)))
        a = btf__type_by_id(btf, a->type);
    return a && btf_is_ptr(a);
}

/* Whether struct `type` of the kernel's BTF has a member named `member` (at the top
 * level or in an anonymous struct/union member). */
static inline int vigil_btf_has_member(const struct btf *btf, const char *type, const char *member)
{
    int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
    if (id < 0)
        return 0;
    const struct btf_type *t = btf__type_by_id(btf, id);
    const struct btf_member *m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); i++, m++) {
        const char *n = btf__name_by_offset(btf, m->name_off);
        if (n && strcmp(n, member) == 0)
            return 1;
        if (n && n[0] == 0) {
            const struct btf_type *a = btf__type_by_id(btf, m->type);
            if (a && (btf_is_struct(a) || btf_is_union(a))) {
                const struct btf_member *am = btf_members(a);
                for (int j = 0; j < btf_vlen(a); j++, am++) {
                    const char *an = btf__name_by_offset(btf, am->name_off);
                    if (an && strcmp(an, member) == 0)
                        return 1;
                }
            }
        }
    }
    return 0;
}

/* Whether the kernel's BTF has a function named `name`. */
static inline int vigil_btf_has_func(const struct btf *btf, const char *name)
{
    return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}
#endif
