/* net.c - see net.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int ws_net_listen(const char *host, int port, int backlog, bool reuse_port, ws_err *err)
{
	struct addrinfo hints, *res = NULL;
	char service[16];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	int gai = getaddrinfo(host && *host ? host : NULL, service, &hints, &res);
	if (gai != 0)
		return ws_err_set(err, WS_EINVAL, 0, "cannot resolve host \"%s\": %s", host,
		                  gai_strerror(gai));
	int fd = -1, saved = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1, zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#ifdef SO_REUSEPORT
		if (reuse_port)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
#else
		(void)reuse_port;
#endif
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (set_flags(fd) == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog > 0 ? backlog : 511) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ws_err_set(err, WS_ESYS, saved, "cannot listen on %s:%d: %s", host, port,
		                  strerror(saved));
	return fd;
}

int ws_net_accept(int listen_fd, struct sockaddr_storage *addr)
{
	socklen_t len = sizeof(*addr);
	int fd;
	for (;;) {
#ifdef __linux__
		fd = accept4(listen_fd, (struct sockaddr *)addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
		fd = accept(listen_fd, (struct sockaddr *)addr, &len);
		if (fd >= 0 && set_flags(fd) < 0) {
			close(fd);
			fd = -1;
		}
#endif
		if (fd >= 0)
			break;
		if (errno == EINTR)
			continue;
		/* A connection reset before we accepted it is not our failure; try the next. */
		if (errno == ECONNABORTED)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? WS_EAGAIN : WS_ESYS;
	}
	if (addr->ss_family == AF_INET || addr->ss_family == AF_INET6) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;
}

ssize_t ws_net_read(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? WS_EAGAIN : WS_ESYS;
	}
}

ssize_t ws_net_writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? WS_EAGAIN : WS_ESYS;
	}
}

uint32_t ws_net_unsent(int fd)
{
	int n = 0;
#ifdef __linux__
	if (ioctl(fd, SIOCOUTQ, &n) < 0)
		n = 0;
#else
	(void)fd;
#endif
	return n > 0 ? (uint32_t)n : 0;
}

void ws_net_reset_on_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

int ws_net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	int port = -1;
	char ip[WS_NET_ADDR_MAX];
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	return port;
}

void ws_net_format_addr(const struct sockaddr_storage *addr, char *ip, size_t ip_len, int *port)
{
	ip[0] = '\0';
	*port = 0;
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)ip_len);
		*port = ntohs(a->sin_port);
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
		/* Show IPv4 clients of a dual-stack listener as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, (socklen_t)ip_len);
		else
			inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)ip_len);
		*port = ntohs(a->sin6_port);
	}
}
