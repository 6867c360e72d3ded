/* bus.c - see bus.h. Messages are encoded once into a chunk and parsed in place from the
 * channel's input buffer; every multi-byte field is read and written with memcpy, because a
 * message inside a stream starts wherever the previous one ended.
 * A channel reads with recvmsg (so descriptors sent along arrive in ch->fds), bounds the work
 * of one readiness callback, and writes its ring of chunk references with one sendmsg per
 * batch (sendmsg rather than writev for MSG_NOSIGNAL). Callbacks may pause or free the
 * channel: `dispatching` marks that a callback is running, and ws_bus_chan_free then only
 * sets `freed`; the outermost frame frees once the callback has returned. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bus.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE is set on the socket instead (BSD, macOS) */
#endif
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0 /* FD_CLOEXEC is set after receiving instead */
#endif

#if defined(IOV_MAX) && IOV_MAX < 64
#define IOV_BATCH IOV_MAX
#else
#define IOV_BATCH 64
#endif
#define FDS_PER_READ 8 /* descriptors accepted per recvmsg; the kernel closes any beyond */
#define READ_MIN     (64u * 1024)
#define READ_BUDGET  (1024u * 1024) /* per readiness callback: a busy channel must not starve */
#define READS_MAX    16

/* Offsets in the header; `zero` keeps target and the ids 8-byte aligned in a chunk. */
#define OFF_TYPE     4
#define OFF_FLAGS    5
#define OFF_CODE     6
#define OFF_ORIGIN   8
#define OFF_ZERO     12
#define OFF_TARGET   16
#define OFF_N_EXCEPT 24
#define OFF_ROOM_LEN 28
#define MIN_SIZE     (WS_BUS_HEADER - 4) /* `size` does not count itself */

_Static_assert(FDS_PER_READ <= sizeof(((ws_bus_chan *)0)->fds) / sizeof(int), "fd FIFO");

/* ---- encoding ---- */

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static ws_chunk *encode(uint8_t type, uint8_t flags, uint16_t code, uint32_t origin,
                        uint64_t target, const void *except, uint32_t n_except, const char *room,
                        uint32_t room_len, const uint8_t *data, size_t len)
{
	if (type == 0 || type >= WS_BUS_TYPE_MAX || (n_except && !except) || (room_len && !room) ||
	    (len && !data))
		return NULL;
	/* Each term is below 2^36, so the sum cannot wrap in 64 bits. */
	if (len > WS_BUS_MAX_MESSAGE)
		return NULL;
	uint64_t size = MIN_SIZE + (uint64_t)n_except * 8 + room_len + len;
	if (size > WS_BUS_MAX_MESSAGE)
		return NULL;
	ws_chunk *c = ws_chunk_new(4 + (size_t)size);
	if (!c)
		return NULL;
	uint8_t *p = c->data;
	put_u32(p, (uint32_t)size);
	p[OFF_TYPE] = type;
	p[OFF_FLAGS] = flags;
	memcpy(p + OFF_CODE, &code, sizeof(code));
	put_u32(p + OFF_ORIGIN, origin);
	put_u32(p + OFF_ZERO, 0);
	memcpy(p + OFF_TARGET, &target, sizeof(target));
	put_u32(p + OFF_N_EXCEPT, n_except);
	put_u32(p + OFF_ROOM_LEN, room_len);
	p += WS_BUS_HEADER;
	if (n_except)
		memcpy(p, except, (size_t)n_except * 8);
	p += (size_t)n_except * 8;
	if (room_len)
		memcpy(p, room, room_len);
	p += room_len;
	if (len)
		memcpy(p, data, len);
	return c;
}

ws_chunk *ws_bus_encode(const ws_bus_msg *m)
{
	return encode(m->type, m->flags, m->code, m->origin, m->target, m->except, m->n_except, m->room,
	              m->room_len, m->data, m->len);
}

ws_chunk *ws_bus_encode_ids(uint8_t type, uint8_t flags, uint16_t code, uint32_t origin,
                            uint64_t target, const uint64_t *except, uint32_t n_except,
                            const char *room, uint32_t room_len, const uint8_t *data, size_t len)
{
	return encode(type, flags, code, origin, target, except, n_except, room, room_len, data, len);
}

ssize_t ws_bus_parse(const uint8_t *p, size_t n, ws_bus_msg *m)
{
	if (n < 4)
		return 0;
	uint32_t size = get_u32(p);
	/* Checked as soon as the field is in, so garbage is refused before anything is buffered
	 * for it; every check below depends only on bytes already present, so a longer prefix
	 * never turns a verdict around. */
	if (size < MIN_SIZE || size > WS_BUS_MAX_MESSAGE)
		return WS_EPROTO;
	if (n < WS_BUS_HEADER)
		return 0;
	uint8_t type = p[OFF_TYPE];
	uint32_t n_except = get_u32(p + OFF_N_EXCEPT);
	uint32_t room_len = get_u32(p + OFF_ROOM_LEN);
	if (type == 0 || type >= WS_BUS_TYPE_MAX)
		return WS_EPROTO;
	if ((uint64_t)n_except * 8 + room_len > size - MIN_SIZE)
		return WS_EPROTO;
	size_t total = 4 + (size_t)size;
	if (n < total)
		return 0;
	m->type = type;
	m->flags = p[OFF_FLAGS];
	memcpy(&m->code, p + OFF_CODE, sizeof(m->code));
	m->origin = get_u32(p + OFF_ORIGIN);
	memcpy(&m->target, p + OFF_TARGET, sizeof(m->target));
	m->n_except = n_except;
	m->except = p + WS_BUS_HEADER;
	m->room = (const char *)m->except + (size_t)n_except * 8;
	m->room_len = room_len;
	m->data = (const uint8_t *)m->room + room_len;
	m->len = total - (size_t)(m->data - p);
	return (ssize_t)total;
}

uint64_t ws_bus_except(const ws_bus_msg *m, uint32_t i)
{
	uint64_t id;
	memcpy(&id, m->except + (size_t)i * 8, sizeof(id));
	return id;
}

/* ---- descriptors ---- */

static void set_cloexec(int fd)
{
	if (MSG_CMSG_CLOEXEC == 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void set_nosigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
	(void)fd;
#endif
}

/* Control buffer for FDS_PER_READ descriptors, aligned for struct cmsghdr. */
typedef union cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(FDS_PER_READ * sizeof(int))];
} cmsg_buf;

/* Hands every descriptor in msg's control data to put(ctx, fd), which owns it from then on. */
static void collect_fds(struct msghdr *msg, void (*put)(void *ctx, int fd), void *ctx)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const uint8_t *data = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, data + i * sizeof(int), sizeof(fd));
			set_cloexec(fd);
			put(ctx, fd);
		}
	}
}

static void attach_fd(struct msghdr *msg, cmsg_buf *cb, int fd)
{
	memset(cb, 0, sizeof(*cb));
	msg->msg_control = cb->buf;
	msg->msg_controllen = CMSG_SPACE(sizeof(int));
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
}

/* ---- channel: callbacks that may free ---- */

static void release(ws_bus_chan *ch, bool forked);
static void drop_output(ws_bus_chan *ch);

/* enter() and leave() run around every user callback; only the outermost pair may destroy. */
static bool enter(ws_bus_chan *ch)
{
	bool outer = !ch->dispatching;
	ch->dispatching = true;
	return outer;
}

/* Returns true when the channel was freed during the callback: the caller then touches it no
 * more (the outermost frame has destroyed it, or will once it unwinds). */
static bool leave(ws_bus_chan *ch, bool outer)
{
	bool gone = ch->freed;
	if (outer) {
		ch->dispatching = false;
		if (gone)
			release(ch, false);
	}
	return gone;
}

/* Reports the end once: stops watching, drops what can no longer be delivered either way. */
static bool report_eof(ws_bus_chan *ch, int err)
{
	if (ch->eof)
		return ch->freed;
	ch->eof = true;
	ws_loop_io_stop(ch->loop, &ch->io);
	drop_output(ch);
	/* Inside on_msg the message still points into the input; dispatch releases it later. */
	if (!ch->dispatching)
		ws_buf_release(&ch->in);
	bool outer = enter(ch);
	ch->on_eof(ch, err, ch->arg);
	return leave(ch, outer);
}

/* Requests reading unless paused, and writability if asked. A channel with nothing to
 * watch is taken out of the loop, because epoll and poll report a hang-up even for an io
 * that asked for no events, which would wake a paused channel every turn. */
static int watch(ws_bus_chan *ch, bool write)
{
	unsigned ev = (ch->paused ? 0 : WS_IO_READ) | (write ? WS_IO_WRITE : 0);
	if (ch->eof || ch->freed || ev == 0) {
		ws_loop_io_stop(ch->loop, &ch->io);
		return 0;
	}
	if (ch->io.active)
		return ws_loop_io_set(ch->loop, &ch->io, ev);
	return ws_loop_io_start(ch->loop, &ch->io, ch->io.fd, ev, ch->io.cb);
}

static bool wants_write(const ws_bus_chan *ch)
{
	return ch->io.active && (ch->io.events & WS_IO_WRITE);
}

/* ---- channel: input ---- */

/* Delivers the complete messages buffered, in order, until paused. Returns true when the
 * channel is gone (freed, or reported as ended). */
static bool dispatch(ws_bus_chan *ch)
{
	while (!ch->paused && !ch->eof && !ch->freed && ws_buf_avail(&ch->in)) {
		ws_bus_msg m;
		ssize_t rc = ws_bus_parse(ch->in.ptr + ch->in.head, ws_buf_avail(&ch->in), &m);
		if (rc == 0)
			return false;
		if (rc < 0)
			return report_eof(ch, WS_EPROTO);
		bool outer = enter(ch);
		ch->on_msg(ch, &m, ch->arg);
		ws_buf_consume(&ch->in, (size_t)rc);
		if (leave(ch, outer))
			return true;
	}
	if (ch->eof)
		ws_buf_release(&ch->in);
	return ch->eof || ch->freed;
}

static void put_chan_fd(void *ctx, int fd)
{
	ws_bus_chan *ch = ctx;
	if (ch->n_fds < sizeof(ch->fds) / sizeof(ch->fds[0]))
		ch->fds[ch->n_fds++] = fd;
	else
		close(fd); /* nobody takes them: a full FIFO means the peer sent more than agreed */
}

/* How much to read next: the rest of a large message at once, else READ_MIN. */
static size_t read_size(const ws_bus_chan *ch)
{
	size_t avail = ws_buf_avail(&ch->in);
	if (avail < 4)
		return READ_MIN;
	size_t total = 4 + (size_t)get_u32(ch->in.ptr + ch->in.head);
	size_t want = total > avail ? total - avail : 0;
	if (want < READ_MIN)
		return READ_MIN;
	return want < READ_BUDGET ? want : READ_BUDGET;
}

/* Reads until the socket is empty or the budget is spent (the loop is level-triggered, so
 * the rest comes next turn), dispatching after each read. Returns true when gone. */
static bool read_input(ws_bus_chan *ch)
{
	size_t budget = READ_BUDGET;
	for (int reads = 0; reads < READS_MAX && budget; reads++) {
		if (ch->paused || ch->eof || ch->freed)
			break;
		if (ws_buf_reserve(&ch->in, read_size(ch)) < 0)
			return report_eof(ch, WS_ENOMEM);
		struct iovec iov = {ch->in.ptr + ch->in.len, ch->in.cap - ch->in.len};
		cmsg_buf cb;
		struct msghdr msg;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cb.buf;
		msg.msg_controllen = sizeof(cb.buf);
		ssize_t r = recvmsg(ch->io.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return report_eof(ch, WS_ESYS);
		}
		collect_fds(&msg, put_chan_fd, ch);
		if (r == 0)
			/* Every complete message was dispatched after its read, so bytes left over are
			 * a message cut short. */
			return report_eof(ch, ws_buf_avail(&ch->in) ? WS_EPROTO : 0);
		ch->in.len += (size_t)r;
		budget -= (size_t)r < budget ? (size_t)r : budget;
		if (dispatch(ch))
			return true;
	}
	/* An idle channel holds no input buffer. */
	if (ws_buf_avail(&ch->in) == 0)
		ws_buf_release(&ch->in);
	return false;
}

/* ---- channel: output ---- */

static void drop_output(ws_bus_chan *ch)
{
	while (ch->out_count) {
		ws_bus_out *o = &ch->out[ch->out_head];
		ws_chunk_unref(o->chunk);
		if (o->fd >= 0)
			close(o->fd);
		ch->out_head = (ch->out_head + 1) % ch->out_cap;
		ch->out_count--;
	}
	ws_free(ch->out);
	ch->out = NULL;
	ch->out_cap = ch->out_head = 0;
	ch->out_off = ch->out_bytes = 0;
}

static int push(ws_bus_chan *ch, ws_chunk *chunk, int fd)
{
	if (ch->out_count == ch->out_cap) {
		if (ch->out_cap > UINT32_MAX / 2)
			return WS_ENOMEM;
		uint32_t cap = ch->out_cap ? ch->out_cap * 2 : 8;
		ws_bus_out *ring = ws_malloc(cap * sizeof(*ring));
		if (!ring)
			return WS_ENOMEM;
		for (uint32_t i = 0; i < ch->out_count; i++)
			ring[i] = ch->out[(ch->out_head + i) % ch->out_cap];
		ws_free(ch->out);
		ch->out = ring;
		ch->out_head = 0;
		ch->out_cap = cap;
	}
	ws_bus_out *o = &ch->out[(ch->out_head + ch->out_count) % ch->out_cap];
	o->chunk = ws_chunk_ref(chunk);
	o->fd = fd;
	ch->out_count++;
	ch->out_bytes += chunk->len;
	return 0;
}

/* Marks `w` bytes from the head of the ring as written (and empty chunks with them). */
static void advance(ws_bus_chan *ch, size_t w)
{
	ch->out_bytes -= w;
	while (ch->out_count) {
		ws_bus_out *o = &ch->out[ch->out_head];
		size_t rest = o->chunk->len - ch->out_off;
		if (w < rest) {
			ch->out_off += w;
			return;
		}
		w -= rest;
		ch->out_off = 0;
		ws_chunk_unref(o->chunk);
		ch->out_head = (ch->out_head + 1) % ch->out_cap;
		ch->out_count--;
	}
}

/* One sendmsg: the head entry alone with its descriptor, or plain entries up to the next one
 * that carries a descriptor (it must start a sendmsg of its own to travel with its first
 * byte). Returns bytes written, WS_EAGAIN, WS_ECLOSED (peer gone) or WS_ESYS. */
static ssize_t write_batch(ws_bus_chan *ch, size_t *total)
{
	struct iovec iov[IOV_BATCH];
	struct msghdr msg;
	cmsg_buf cb;
	int n = 0;
	ws_bus_out *head = &ch->out[ch->out_head];

	memset(&msg, 0, sizeof(msg));
	*total = 0;
	for (uint32_t i = 0; i < ch->out_count && n < IOV_BATCH; i++) {
		ws_bus_out *o = &ch->out[(ch->out_head + i) % ch->out_cap];
		if (i > 0 && (o->fd >= 0 || head->fd >= 0))
			break;
		size_t skip = i == 0 ? ch->out_off : 0;
		iov[n].iov_base = o->chunk->data + skip;
		iov[n].iov_len = o->chunk->len - skip;
		*total += iov[n++].iov_len;
	}
	if (head->fd >= 0)
		attach_fd(&msg, &cb, head->fd);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n;
	for (;;) {
		ssize_t w = sendmsg(ch->io.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w >= 0) {
			if (w > 0 && head->fd >= 0) {
				/* The descriptor went with the first byte; the peer has its own copy. */
				close(head->fd);
				head->fd = -1;
			}
			return w;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WS_EAGAIN;
		return errno == EPIPE || errno == ECONNRESET ? WS_ECLOSED : WS_ESYS;
	}
}

/* Writes until the ring is empty or the kernel refuses. Returns 0 (all written), WS_EAGAIN,
 * or WS_ECLOSED / WS_ESYS with the output dropped (it can never be delivered). */
static int write_out(ws_bus_chan *ch)
{
	while (ch->out_count) {
		size_t total;
		ssize_t w = write_batch(ch, &total);
		if (w < 0) {
			if (w != WS_EAGAIN) {
				int saved = errno;
				drop_output(ch);
				errno = saved;
			}
			return (int)w;
		}
		advance(ch, (size_t)w);
		if ((size_t)w < total)
			return WS_EAGAIN;
	}
	return 0;
}

/* Returns true when the channel is gone. */
static bool flush_now(ws_bus_chan *ch)
{
	int rc = write_out(ch);
	if (rc == 0 || rc == WS_EAGAIN) {
		if (watch(ch, rc == WS_EAGAIN) < 0)
			return report_eof(ch, WS_ESYS);
		return false;
	}
	if (rc == WS_ESYS)
		return report_eof(ch, WS_ESYS);
	/* The peer is gone. A reading channel still has its last messages and then EOF in the
	 * kernel, and reports the end after delivering them; a paused one reports it now. */
	if (ch->paused)
		return report_eof(ch, WS_ECLOSED);
	return watch(ch, false) < 0 ? report_eof(ch, WS_ESYS) : false;
}

/* ---- channel: public ---- */

static void on_io(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)loop;
	ws_bus_chan *ch = (ws_bus_chan *)io;
	/* Read first: on a hang-up the peer's last messages are still in the kernel. */
	if ((events & (WS_IO_READ | WS_IO_ERROR)) && !ch->paused && read_input(ch))
		return;
	if ((events & (WS_IO_WRITE | WS_IO_ERROR)) && !ch->eof && wants_write(ch))
		flush_now(ch);
}

ws_bus_chan *ws_bus_chan_new(ws_loop *loop, int fd, size_t max_out, ws_bus_msg_cb on_msg,
                             ws_bus_eof_cb on_eof, void *arg)
{
	ws_bus_chan *ch = ws_calloc(1, sizeof(*ch));
	if (!ch) {
		close(fd);
		return NULL;
	}
	ch->io.slot = -1;
	ch->loop = loop;
	ch->on_msg = on_msg;
	ch->on_eof = on_eof;
	ch->arg = arg;
	ch->max_out = max_out;
	set_nosigpipe(fd);
	if (ws_loop_io_start(loop, &ch->io, fd, WS_IO_READ, on_io) < 0) {
		close(fd);
		ws_free(ch);
		return NULL;
	}
	return ch;
}

/* forked: in a child process, where the loop's readiness set is still the parent's. */
static void release(ws_bus_chan *ch, bool forked)
{
	if (!forked)
		ws_loop_io_stop(ch->loop, &ch->io);
	close(ch->io.fd);
	for (unsigned i = 0; i < ch->n_fds; i++)
		close(ch->fds[i]);
	drop_output(ch);
	ws_buf_release(&ch->in);
	ws_free(ch);
}

void ws_bus_chan_free(ws_bus_chan *ch)
{
	if (!ch)
		return;
	if (ch->dispatching) {
		/* A callback is running on this channel: the frame that called it frees it. */
		ch->freed = true;
		ws_loop_io_stop(ch->loop, &ch->io);
		return;
	}
	release(ch, false);
}

void ws_bus_chan_free_forked(ws_bus_chan *ch)
{
	if (ch)
		release(ch, true);
}

int ws_bus_chan_queue(ws_bus_chan *ch, ws_chunk *chunk)
{
	if (ch->eof || ch->freed)
		return WS_ECLOSED;
	if (ch->max_out && ch->out_bytes >= ch->max_out)
		return WS_ETOOBIG;
	return push(ch, chunk, -1);
}

int ws_bus_chan_queue_fd(ws_bus_chan *ch, ws_chunk *chunk, int fd)
{
	int rc = ch->eof || ch->freed ? WS_ECLOSED : chunk->len == 0 ? WS_EINVAL : 0;
	if (rc == 0)
		rc = push(ch, chunk, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

void ws_bus_chan_flush(ws_bus_chan *ch)
{
	if (ch->eof || ch->freed)
		return;
	flush_now(ch);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ws_bus_chan_flush_all(ws_bus_chan *ch, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		if (ch->eof || ch->freed)
			return WS_ECLOSED;
		int rc = write_out(ch);
		if (rc == 0) {
			watch(ch, false);
			return 0;
		}
		if (rc != WS_EAGAIN) {
			watch(ch, false);
			return WS_ECLOSED;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			watch(ch, true);
			return WS_EAGAIN;
		}
		struct pollfd pfd = {.fd = ch->io.fd, .events = POLLOUT};
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR) {
			watch(ch, true);
			return WS_EAGAIN;
		}
	}
}

void ws_bus_chan_pause(ws_bus_chan *ch, bool paused)
{
	if (ch->eof || ch->freed || ch->paused == paused)
		return;
	ch->paused = paused;
	/* Inside on_msg, the running dispatch goes on with the buffered messages by itself. */
	if (!paused && !ch->dispatching && dispatch(ch))
		return;
	if (watch(ch, wants_write(ch)) < 0)
		report_eof(ch, WS_ESYS);
}

int ws_bus_chan_take_fd(ws_bus_chan *ch)
{
	if (ch->n_fds == 0)
		return -1;
	int fd = ch->fds[0];
	ch->n_fds--;
	memmove(ch->fds, ch->fds + 1, ch->n_fds * sizeof(ch->fds[0]));
	return fd;
}

/* ---- blocking descriptor transfer ---- */

/* Waits until sock is ready for `events` after a non-blocking socket said EAGAIN. */
static int wait_ready(int sock, short events)
{
	struct pollfd pfd = {.fd = sock, .events = events};
	if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
		return WS_ESYS;
	return 0;
}

int ws_bus_send_fd(int sock, const void *data, size_t len, int fd)
{
	const uint8_t *p = data;
	size_t sent = 0;
	if (fd >= 0 && len == 0) {
		errno = EINVAL; /* a descriptor travels with a byte on a stream socket */
		return WS_ESYS;
	}
	set_nosigpipe(sock);
	while (sent < len) {
		struct iovec iov = {(void *)(p + sent), len - sent};
		struct msghdr msg;
		cmsg_buf cb;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (sent == 0 && fd >= 0)
			attach_fd(&msg, &cb, fd);
		ssize_t w = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_ready(sock, POLLOUT) < 0)
				return WS_ESYS;
			continue;
		}
		if (w == 0)
			errno = EIO;
		return WS_ESYS;
	}
	return 0;
}

static void put_first_fd(void *ctx, int fd)
{
	int *slot = ctx;
	if (*slot < 0)
		*slot = fd;
	else
		close(fd);
}

int ws_bus_recv_fd(int sock, void *data, size_t len, int *fd)
{
	uint8_t *p = data;
	size_t got = 0;
	int rc = 0;
	*fd = -1;
	while (got < len) {
		struct iovec iov = {p + got, len - got};
		struct msghdr msg;
		cmsg_buf cb;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cb.buf;
		msg.msg_controllen = sizeof(cb.buf);
		ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (r > 0) {
			collect_fds(&msg, put_first_fd, fd);
			got += (size_t)r;
			continue;
		}
		if (r == 0) {
			rc = WS_ECLOSED;
			break;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_ready(sock, POLLIN) == 0)
			continue;
		rc = WS_ESYS;
		break;
	}
	if (rc < 0 && *fd >= 0) {
		int saved = errno;
		close(*fd);
		*fd = -1;
		errno = saved;
	}
	return rc;
}
