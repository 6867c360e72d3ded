/* net.h - thin, non-blocking socket helpers for the transport layer: listening, accepting,
 * reading and gathered writing. EINTR is retried here and nowhere else; EAGAIN becomes
 * WS_EAGAIN; other failures return WS_ESYS with errno left as the system set it.
 * Writes use MSG_NOSIGNAL, so a peer that vanished yields EPIPE instead of killing the
 * process with SIGPIPE. */
#ifndef WS_NET_H
#define WS_NET_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define WS_NET_ADDR_MAX 64 /* enough for "[ffff:...:ffff]" text forms */

/* Creates a non-blocking, close-on-exec listening TCP socket bound to host:port (port 0 picks
 * a free port; host may be a name, an IPv4 or an IPv6 address, "::" listens dual-stack).
 * Returns the fd, or a negative WS_E* with err naming the address and the reason. */
int ws_net_listen(const char *host, int port, int backlog, bool reuse_port, ws_err *err);

/* Accepts one connection as a non-blocking, close-on-exec socket with TCP_NODELAY.
 * Returns the fd, WS_EAGAIN when none is pending, or WS_ESYS (errno: EMFILE, ...). */
int ws_net_accept(int listen_fd, struct sockaddr_storage *addr);

/* Reads up to len bytes. Returns the count (> 0), 0 at end of stream, WS_EAGAIN or WS_ESYS. */
ssize_t ws_net_read(int fd, void *buf, size_t len);

/* Writes from iov (at most IOV_MAX entries). Returns bytes written (>= 0), WS_EAGAIN or WS_ESYS. */
ssize_t ws_net_writev(int fd, const struct iovec *iov, int iovcnt);

/* Bytes the kernel still holds for the peer on a connected TCP socket: written but not yet
 * acknowledged (Linux: SIOCOUTQ). 0 when nothing is held, on failure, and where the system
 * cannot tell. */
uint32_t ws_net_unsent(int fd);

/* Makes the next close(2) of fd reset the connection (SO_LINGER 0): the kernel discards what
 * it still holds to send at once and answers with RST, instead of keeping the bytes (and the
 * socket) to deliver them behind a FIN. */
void ws_net_reset_on_close(int fd);

/* The local port a socket is bound to, or -1. */
int ws_net_local_port(int fd);

/* Formats an address as text ("127.0.0.1", "::1") into ip and its port into *port. */
void ws_net_format_addr(const struct sockaddr_storage *addr, char *ip, size_t ip_len, int *port);

#endif
