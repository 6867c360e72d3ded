/* test_net.c - src/net.c over real loopback sockets: listening on 127.0.0.1 and ::1 (skipped,
 * with a line saying so, where IPv6 is unavailable) and dual-stack "::", port 0, non-blocking
 * and close-on-exec descriptors, accepting with the peer's address, reads and gathered writes
 * (EAGAIN, end of stream, EPIPE without SIGPIPE), SO_REUSEPORT, the kernel's unsent count, reset
 * on close, the local port, address formatting, and the errors of a bad host, port or address. */
#include "unit.h"

#include "err.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>

static bool is_nonblocking(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static bool is_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* A blocking client connected to family's loopback at port. */
static int connect_to(int family, int port)
{
	int fd = socket(family, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The local port of a socket, as the system reports it. */
static int sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
	                               : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Accepts, waiting up to a second for the connection to arrive. */
static int accept_wait(int lfd, struct sockaddr_storage *addr)
{
	for (int i = 0; i < 1000; i++) {
		int fd = ws_net_accept(lfd, addr);
		if (fd != WS_EAGAIN)
			return fd;
		usleep(1000);
	}
	return WS_EAGAIN;
}

static void test_listen_accept_v4(void)
{
	ws_err err = {0};
	int lfd = ws_net_listen("127.0.0.1", 0, 16, false, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	int port = ws_net_local_port(lfd);
	UNIT_CHECK(port > 0 && port == sock_port(lfd), "port %d", port);
	UNIT_CHECK(is_nonblocking(lfd) && is_cloexec(lfd), "listener flags");
	struct sockaddr_storage addr;
	UNIT_CHECK(ws_net_accept(lfd, &addr) == WS_EAGAIN, "nothing pending");

	int cfd = connect_to(AF_INET, port);
	CU_ASSERT_FATAL(cfd >= 0);
	int sfd = accept_wait(lfd, &addr);
	CU_ASSERT_FATAL(sfd >= 0);
	UNIT_CHECK(is_nonblocking(sfd) && is_cloexec(sfd), "accepted flags");
	int one = 0;
	socklen_t len = sizeof(one);
	getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, &len);
	UNIT_CHECK(one != 0, "TCP_NODELAY");
	char ip[WS_NET_ADDR_MAX];
	int peer_port;
	ws_net_format_addr(&addr, ip, sizeof(ip), &peer_port);
	UNIT_CHECK(strcmp(ip, "127.0.0.1") == 0 && peer_port == sock_port(cfd), "peer %s:%d", ip,
	           peer_port);
	close(cfd);
	close(sfd);
	close(lfd);
}

static void test_listen_v6(void)
{
	ws_err err = {0};
	int lfd = ws_net_listen("::1", 0, 16, false, &err);
	if (lfd < 0) {
		printf("skip ::1: IPv6 loopback unavailable (%s)\n", err.msg);
		return;
	}
	int port = ws_net_local_port(lfd);
	int cfd = connect_to(AF_INET6, port);
	CU_ASSERT_FATAL(cfd >= 0);
	struct sockaddr_storage addr;
	int sfd = accept_wait(lfd, &addr);
	CU_ASSERT_FATAL(sfd >= 0);
	char ip[WS_NET_ADDR_MAX];
	int peer_port;
	ws_net_format_addr(&addr, ip, sizeof(ip), &peer_port);
	UNIT_CHECK(addr.ss_family == AF_INET6 && strcmp(ip, "::1") == 0 && peer_port == sock_port(cfd),
	           "peer %s:%d", ip, peer_port);
	close(cfd);
	close(sfd);
	close(lfd);

	/* "::" listens dual-stack: an IPv4 client shows as plain IPv4. */
	lfd = ws_net_listen("::", 0, 16, false, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	cfd = connect_to(AF_INET, ws_net_local_port(lfd));
	CU_ASSERT_FATAL(cfd >= 0);
	sfd = accept_wait(lfd, &addr);
	CU_ASSERT_FATAL(sfd >= 0);
	ws_net_format_addr(&addr, ip, sizeof(ip), &peer_port);
	UNIT_CHECK(addr.ss_family == AF_INET6 && strcmp(ip, "127.0.0.1") == 0 &&
	               peer_port == sock_port(cfd),
	           "v4-mapped peer %s:%d", ip, peer_port);
	close(cfd);
	close(sfd);
	close(lfd);
}

/* A connected pair through a loopback listener: *c the client (blocking), *s the accepted
 * side (non-blocking). */
static void tcp_pair(int *c, int *s)
{
	ws_err err;
	struct sockaddr_storage addr;
	int lfd = ws_net_listen("127.0.0.1", 0, 4, false, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	*c = connect_to(AF_INET, ws_net_local_port(lfd));
	*s = accept_wait(lfd, &addr);
	close(lfd);
	CU_ASSERT_FATAL(*c >= 0 && *s >= 0);
}

static void test_read_writev(void)
{
	int c, s;
	tcp_pair(&c, &s);
	uint8_t buf[64];
	UNIT_CHECK(ws_net_read(s, buf, sizeof(buf)) == WS_EAGAIN, "nothing to read");
	struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
	UNIT_CHECK(ws_net_writev(s, iov, 3) == 13, "writev gathers");
	ssize_t n = 0;
	while (n < 13) {
		ssize_t r = read(c, buf + n, sizeof(buf) - (size_t)n);
		if (r <= 0)
			break;
		n += r;
	}
	UNIT_CHECK(n == 13 && memcmp(buf, "one two three", 13) == 0, "client got %zd", n);
	UNIT_CHECK(write(c, "ping", 4) == 4, "client writes");
	n = WS_EAGAIN;
	for (int i = 0; i < 1000 && n == WS_EAGAIN; i++) {
		n = ws_net_read(s, buf, sizeof(buf));
		if (n == WS_EAGAIN)
			usleep(1000);
	}
	UNIT_CHECK(n == 4 && memcmp(buf, "ping", 4) == 0, "read %zd", n);
	close(c);
	n = WS_EAGAIN;
	for (int i = 0; i < 1000 && n == WS_EAGAIN; i++) {
		n = ws_net_read(s, buf, sizeof(buf));
		if (n == WS_EAGAIN)
			usleep(1000);
	}
	UNIT_CHECK(n == 0, "end of stream: %zd", n);
	/* Writing to a peer that is gone fails with EPIPE (or a reset), not SIGPIPE. */
	struct sigaction old, dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, &old);
	ssize_t w = 0;
	int err_no = 0;
	for (int i = 0; i < 100 && w >= 0; i++) {
		struct iovec one = {"x", 1};
		w = ws_net_writev(s, &one, 1);
		err_no = errno;
		usleep(1000);
	}
	sigaction(SIGPIPE, &old, NULL);
	UNIT_CHECK(w == WS_ESYS && (err_no == EPIPE || err_no == ECONNRESET), "w %zd errno %d", w,
	           err_no);
	close(s);
	UNIT_CHECK(ws_net_read(s, buf, 1) == WS_ESYS && errno == EBADF, "bad fd");
}

static void test_unsent_and_backpressure(void)
{
	int c, s;
	tcp_pair(&c, &s);
	UNIT_CHECK(ws_net_unsent(s) == 0, "nothing held");
	static uint8_t chunk[65536];
	struct iovec iov = {chunk, sizeof(chunk)};
	size_t total = 0;
	ssize_t w;
	while ((w = ws_net_writev(s, &iov, 1)) > 0)
		total += (size_t)w;
	UNIT_CHECK(w == WS_EAGAIN && total > 0, "filled after %zu bytes: %zd", total, w);
#ifdef __linux__
	uint32_t unsent = ws_net_unsent(s);
	UNIT_CHECK(unsent > 0 && unsent <= total, "unsent %u of %zu", unsent, total);
#endif
	int p[2];
	UNIT_CHECK(pipe(p) == 0, "pipe");
	UNIT_CHECK(ws_net_unsent(p[1]) == 0 && ws_net_unsent(-1) == 0, "0 where it cannot tell");
	close(p[0]);
	close(p[1]);
	close(c);
	close(s);
}

static void test_reset_on_close(void)
{
	int c, s;
	tcp_pair(&c, &s);
	ws_net_reset_on_close(s);
	struct linger lg = {0};
	socklen_t len = sizeof(lg);
	getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len);
	UNIT_CHECK(lg.l_onoff == 1 && lg.l_linger == 0, "SO_LINGER 0");
	UNIT_CHECK(write(s, "unread", 6) == 6, "write");
	close(s);
	usleep(20000);
	char buf[16];
	ssize_t r;
	do
		r = read(c, buf, sizeof(buf));
	while (r > 0);
	UNIT_CHECK(r < 0 && errno == ECONNRESET, "peer sees a reset: %zd errno %d", r, errno);
	close(c);
}

static void test_reuse_port(void)
{
	ws_err err = {0};
	int a = ws_net_listen("127.0.0.1", 0, 4, true, &err);
	CU_ASSERT_FATAL(a >= 0);
	int port = ws_net_local_port(a);
	int one = 0;
	socklen_t len = sizeof(one);
#ifdef SO_REUSEPORT
	getsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, &len);
	UNIT_CHECK(one != 0, "SO_REUSEPORT set");
	int b = ws_net_listen("127.0.0.1", port, 4, true, &err);
	UNIT_CHECK(b >= 0 && ws_net_local_port(b) == port, "second listener on %d: %s", port, err.msg);
	if (b >= 0)
		close(b);
#endif
	/* Without it, the port is taken. */
	int c = ws_net_listen("127.0.0.1", port, 4, false, &err);
	UNIT_CHECK(c == WS_ESYS && err.code == WS_ESYS && err.sys == EADDRINUSE, "c %d sys %d", c,
	           err.sys);
	char want[64];
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d", port);
	UNIT_CHECK(strstr(err.msg, want) != NULL, "msg '%s'", err.msg);
	if (c >= 0)
		close(c);
	close(a);
	int d = ws_net_listen("127.0.0.1", 0, 4, false, &err);
	len = sizeof(one);
	getsockopt(d, SOL_SOCKET, SO_REUSEPORT, &one, &len);
	UNIT_CHECK(one == 0, "not set unless asked");
	close(d);
}

static void test_errors(void)
{
	ws_err err = {0};
	int rc = ws_net_listen("host.invalid", 8080, 4, false, &err);
	UNIT_CHECK(rc == WS_EINVAL && err.code == WS_EINVAL &&
	               strstr(err.msg, "cannot resolve host \"host.invalid\"") != NULL,
	           "bad host: %d '%s'", rc, err.msg);
	memset(&err, 0, sizeof(err));
	rc = ws_net_listen("127.0.0.1", -1, 4, false, &err);
	UNIT_CHECK(rc == WS_EINVAL && strstr(err.msg, "cannot resolve host \"127.0.0.1\"") != NULL,
	           "bad port: %d '%s'", rc, err.msg);
	/* An address of no local interface (TEST-NET-1). */
	memset(&err, 0, sizeof(err));
	rc = ws_net_listen("192.0.2.1", 0, 4, false, &err);
	UNIT_CHECK(rc == WS_ESYS && err.sys == EADDRNOTAVAIL &&
	               strstr(err.msg, "cannot listen on 192.0.2.1:0") != NULL,
	           "foreign address: %d %d '%s'", rc, err.sys, err.msg);
	UNIT_CHECK(ws_net_listen("host.invalid", 1, 4, false, NULL) == WS_EINVAL, "err may be NULL");
	struct sockaddr_storage addr;
	UNIT_CHECK(ws_net_accept(-1, &addr) == WS_ESYS, "accept on a bad fd");
	UNIT_CHECK(ws_net_local_port(-1) == -1, "local port of a bad fd");
}

static void test_format_addr(void)
{
	struct sockaddr_storage ss;
	char ip[WS_NET_ADDR_MAX];
	int port;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(443);
	inet_pton(AF_INET, "10.1.2.3", &a4->sin_addr);
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	UNIT_CHECK(strcmp(ip, "10.1.2.3") == 0 && port == 443, "v4 %s:%d", ip, port);

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(65535);
	inet_pton(AF_INET6, "2001:db8::1", &a6->sin6_addr);
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	UNIT_CHECK(strcmp(ip, "2001:db8::1") == 0 && port == 65535, "v6 %s:%d", ip, port);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &a6->sin6_addr);
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	UNIT_CHECK(strcmp(ip, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == 0, "longest %s", ip);
	inet_pton(AF_INET6, "::ffff:192.168.0.9", &a6->sin6_addr);
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	UNIT_CHECK(strcmp(ip, "192.168.0.9") == 0, "v4-mapped %s", ip);

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	strcpy(ip, "stale");
	port = 7;
	ws_net_format_addr(&ss, ip, sizeof(ip), &port);
	UNIT_CHECK(ip[0] == '\0' && port == 0, "other families: empty, 0");
}

static const CU_TestInfo tests[] = {
    {"listen on 127.0.0.1 port 0, accept, peer address", test_listen_accept_v4},
    {"listen on ::1 and dual-stack ::", test_listen_v6},
    {"read and writev: EAGAIN, end of stream, EPIPE", test_read_writev},
    {"backpressure and the unsent count", test_unsent_and_backpressure},
    {"reset on close", test_reset_on_close},
    {"SO_REUSEPORT", test_reuse_port},
    {"errors: bad host, port, address, descriptor", test_errors},
    {"address formatting", test_format_addr},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("net", tests);
}
