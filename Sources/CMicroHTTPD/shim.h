#ifndef VIGIL_CMHD_SHIM_H
#define VIGIL_CMHD_SHIM_H
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>
/* MHD_start_daemon is variadic; a fixed-argument wrapper for Swift. */
static inline struct MHD_Daemon *vigil_mhd_start(unsigned int flags, uint16_t port,
        MHD_AccessHandlerCallback handler, void *handler_cls, const struct sockaddr *bind_addr) {
    if (bind_addr)
        return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                                MHD_OPTION_SOCK_ADDR, bind_addr, MHD_OPTION_END);
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls, MHD_OPTION_END);
}
/* The port the daemon listens on (useful with port 0). */
static inline uint16_t vigil_mhd_bound_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}
#endif
