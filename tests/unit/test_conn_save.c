/* test_conn_save.c - ws_conn_save / ws_conn_restore / ws_conn_resume on real sockets and a real
 * loop: a connection with permessage-deflate (context takeover), half a message, a partial
 * frame header and queued output is saved, forgotten, and restored in a second environment;
 * the peer then completes the message and receives the output queued before the move and a
 * message compressed after it against the carried history. Records cut short or with bytes
 * changed are refused or restored cleanly, never read past their end (ASan, leaks included). */
#include "unit.h"

#include "alloc.h"
#include "conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* ---- a minimal server: a flush list, a dead list, the hooks ---- */

#define MAX_CONNS 8

typedef struct test_env {
	ws_conn_env env;
	ws_conn_limits limits;
	ws_server_hooks hooks;
	ws_worker_stats stats;
	ws_conn *pending[MAX_CONNS];
	size_t num_pending;
	ws_conn *dead[MAX_CONNS];
	size_t num_dead;
	int opened, closed, messages;
	char last[256];
	size_t last_len;
} test_env;

static ws_deflate_config deflate_cfg = {
    .server_max_window_bits = 15,
    .client_max_window_bits = 15,
    .server_context_takeover = true,
    .client_context_takeover = true,
    .mem_level = 8,
    .level = -1,
};

static void want_flush(void *server, ws_conn *c)
{
	test_env *t = server;
	ws_conn_node *n = ws_conn_node_of(c);
	if (n->pending || t->num_pending == MAX_CONNS)
		return;
	n->pending = true;
	t->pending[t->num_pending++] = c;
}

static void done(void *server, ws_conn *c)
{
	test_env *t = server;
	for (size_t i = 0; i < t->num_pending; i++)
		if (t->pending[i] == c)
			t->pending[i] = t->pending[--t->num_pending];
	if (t->num_dead < MAX_CONNS)
		t->dead[t->num_dead++] = c;
}

static void opened(void *server, ws_conn *c)
{
	(void)c;
	((test_env *)server)->opened++;
}

static void on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)c;
	(void)binary;
	test_env *t = owner;
	t->messages++;
	t->last_len = len < sizeof(t->last) ? len : sizeof(t->last);
	memcpy(t->last, msg, t->last_len);
	ws_free(msg);
}

static void on_close(void *owner, ws_conn *c, uint16_t code, const char *reason, size_t len)
{
	(void)c;
	(void)code;
	(void)reason;
	(void)len;
	((test_env *)owner)->closed++;
}

/* Flushes what connections asked for, then frees the finished ones, as a server's loop hooks
 * do. */
static void prepare(ws_loop *loop, void *arg)
{
	(void)loop;
	test_env *t = arg;
	while (t->num_pending) {
		ws_conn *c = t->pending[--t->num_pending];
		ws_conn_node_of(c)->pending = false;
		ws_conn_flush(c);
	}
}

static void check(ws_loop *loop, void *arg)
{
	(void)loop;
	test_env *t = arg;
	for (size_t i = 0; i < t->num_dead; i++)
		ws_conn_free(t->dead[i]);
	t->num_dead = 0;
}

static void env_init(test_env *t)
{
	memset(t, 0, sizeof(*t));
	t->limits = (ws_conn_limits){
	    .max_header_bytes = 8192,
	    .max_frame_bytes = 1 << 20,
	    .max_message_bytes = 1 << 20,
	    .handshake_timeout_ms = 5000,
	    .close_timeout_ms = 1000,
	    .deflate = &deflate_cfg,
	};
	t->hooks.on_message = on_message;
	t->hooks.on_close = on_close;
	ws_err err;
	t->env.loop = ws_loop_new(&err);
	CU_ASSERT_FATAL(t->env.loop != NULL);
	t->env.wheel = ws_wheel_new(t->env.loop, ws_conn_expire, NULL);
	t->env.limits = &t->limits;
	t->env.hooks = &t->hooks;
	t->env.owner = t;
	t->env.rbuf_cap = 64 * 1024;
	t->env.rbuf = ws_malloc(t->env.rbuf_cap);
	t->env.stats = &t->stats;
	t->env.server = t;
	t->env.want_flush = want_flush;
	t->env.done = done;
	t->env.opened = opened;
	ws_loop_set_hooks(t->env.loop, prepare, check, t);
}

static void env_free(test_env *t)
{
	check(t->env.loop, t);
	for (int i = 0; i < 16; i++)
		ws_deflater_free(t->env.deflaters[i]);
	ws_wheel_free(t->env.wheel);
	ws_loop_free(t->env.loop);
	ws_free(t->env.rbuf);
}

static void stop_cb(ws_loop *loop, ws_timer *timer, void *arg)
{
	(void)timer;
	(void)arg;
	ws_loop_stop(loop);
}

/* Runs the loop for about ms milliseconds. */
static void pump(test_env *t, uint64_t ms)
{
	ws_loop_timer_start(t->env.loop, ms, 0, stop_cb, NULL);
	ws_loop_run(t->env.loop);
}

/* ---- the peer ---- */

static void peer_write(int fd, const void *data, size_t len)
{
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
}

/* Reads whatever the socket holds within a short wait, appending to buf. */
static void peer_read(int fd, ws_buf *buf)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, 100) > 0) {
		uint8_t tmp[65536];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		CU_ASSERT_FATAL(ws_buf_append(buf, tmp, (size_t)n) == 0);
	}
}

static bool contains(const ws_buf *buf, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = buf->head; i + n <= buf->len; i++)
		if (memcmp(buf->ptr + i, s, n) == 0)
			return true;
	return false;
}

/* One masked client frame's header (and, with payload, the masked payload) into out. */
static size_t client_frame(uint8_t *out, uint8_t opcode, bool fin, const char *payload, size_t len)
{
	static const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
	size_t h = ws_frame_write_header_masked(out, opcode, fin, false, len, mask);
	memcpy(out + h, payload, len);
	ws_frame_mask(out + h, len, mask, 0);
	return h + len;
}

/* Takes one server frame off the head of buf: its RSV1 and its payload (inflated when RSV1
 * is set, by the peer's inflater f). Returns the payload length, or -1. */
static ssize_t take_frame(ws_buf *buf, ws_inflater *f, uint8_t *out, size_t cap)
{
	const uint8_t *p = buf->ptr + buf->head;
	size_t avail = ws_buf_avail(buf);
	if (avail < 2 || (p[1] & 0x80))
		return -1;
	size_t len = p[1] & 0x7f, h = 2;
	if (len == 126) {
		len = (size_t)p[2] << 8 | p[3];
		h = 4;
	}
	if (len == 127 || avail < h + len)
		return -1;
	bool rsv1 = p[0] & 0x40;
	const uint8_t *in = p + h;
	size_t in_len = len;
	ssize_t n = (ssize_t)len;
	if (rsv1) {
		n = 0;
		do {
			ssize_t k = ws_inflater_feed(f, &in, &in_len, true, out + n, cap - (size_t)n);
			if (k < 0)
				return -1;
			n += k;
		} while (!ws_inflater_done(f));
	} else {
		memcpy(out, in, len);
	}
	ws_buf_consume(buf, h + len);
	return n;
}

/* ---- the test ---- */

static const char request[] = "GET /chat HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                              "\r\n";

static const char reply[] = "the quick brown fox jumps over the lazy dog, and again: "
                            "the quick brown fox jumps over the lazy dog";

/* An open connection with deflate, half a message, a partial header and queued output. */
static ws_conn *open_busy_conn(test_env *t, int fd, int peer, uint8_t *pending_header)
{
	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof(addr));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(40123);
	in4->sin_addr.s_addr = htonl(0x7f000001);
	ws_conn *c = ws_conn_new(&t->env, fd, 42, &addr, NULL);
	CU_ASSERT_FATAL(c != NULL);
	peer_write(peer, request, sizeof(request) - 1);
	pump(t, 20);
	CU_ASSERT_FATAL(ws_conn_is_open(c));
	ws_buf got = {0};
	peer_read(peer, &got);
	CU_ASSERT(contains(&got, "permessage-deflate"));
	ws_buf_release(&got);

	/* "Hello, " (a first fragment), "wor" (a continuation), and the first byte of the
	 * header of the final continuation. */
	uint8_t frames[64];
	size_t n = client_frame(frames, WS_FRAME_OP_TEXT, false, "Hello, ", 7);
	n += client_frame(frames + n, WS_FRAME_OP_CONT, false, "wor", 3);
	client_frame(pending_header, WS_FRAME_OP_CONT, true, "ld!", 3);
	frames[n++] = pending_header[0];
	peer_write(peer, frames, n);
	pump(t, 20);
	CU_ASSERT(t->messages == 0);

	/* Queued, not flushed: the loop does not run again before the save. */
	CU_ASSERT(ws_conn_send(c, (const uint8_t *)reply, sizeof(reply) - 1, false) == 0);
	CU_ASSERT(ws_conn_buffered(c) > 0);
	return c;
}

static void test_round_trip(void)
{
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	test_env *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	env_init(a);
	env_init(b);
	uint8_t header[16];
	ws_conn *c = open_busy_conn(a, sv[0], sv[1], header);
	size_t buffered = ws_conn_buffered(c);

	ws_buf rec = {0};
	CU_ASSERT_FATAL(ws_conn_save(c, &rec) == 0);
	int fd = dup(sv[0]);
	ws_conn_forget(c);
	pump(a, 1);
	CU_ASSERT(a->closed == 0); /* forgotten, not closed */

	ws_loop_update_now(b->env.loop);
	ws_conn *r = ws_conn_restore(&b->env, fd, rec.ptr + rec.head, ws_buf_avail(&rec));
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(b->opened == 0); /* nothing reported before resume */
	ws_conn_resume(r);
	CU_ASSERT(b->opened == 1);
	CU_ASSERT(ws_conn_id(r) == 42);
	CU_ASSERT(ws_conn_is_open(r));
	CU_ASSERT(ws_conn_role_of(r) == WS_CONN_SERVER);
	CU_ASSERT(strcmp(ws_conn_remote_ip(r), "127.0.0.1") == 0);
	CU_ASSERT(ws_conn_remote_port(r) == 40123);
	CU_ASSERT(ws_conn_buffered(r) == buffered);

	/* The rest of the last header and its payload complete "Hello, world!". */
	peer_write(sv[1], header + 1, 6 + 3 - 1);
	pump(b, 20);
	CU_ASSERT(b->messages == 1);
	CU_ASSERT(b->last_len == 13 && memcmp(b->last, "Hello, world!", 13) == 0);

	/* The output queued before the move, then a message compressed after it with the history
	 * carried over: the peer decodes both with one inflater (context takeover). */
	CU_ASSERT(ws_conn_send(r, (const uint8_t *)reply, sizeof(reply) - 1, false) == 0);
	pump(b, 20);
	ws_buf got = {0};
	peer_read(sv[1], &got);
	ws_deflate_params peer_params = {.server_max_window_bits = 15, .client_max_window_bits = 15};
	ws_inflater *f = ws_inflater_new(&peer_params);
	uint8_t out[512];
	for (int i = 0; i < 2; i++) {
		ssize_t n = take_frame(&got, f, out, sizeof(out));
		CU_ASSERT(n == (ssize_t)sizeof(reply) - 1 && memcmp(out, reply, sizeof(reply) - 1) == 0);
	}
	CU_ASSERT(ws_buf_avail(&got) == 0);
	ws_inflater_free(f);
	ws_buf_release(&got);

	ws_conn_abort(r);
	pump(b, 1);
	CU_ASSERT(b->closed == 1);
	ws_buf_release(&rec);
	close(sv[1]);
	env_free(a);
	env_free(b);
	free(a);
	free(b);
}

/* A record from a busy connection, for the tests that break it. */
static void busy_record(ws_buf *rec)
{
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	test_env *a = calloc(1, sizeof(*a));
	env_init(a);
	uint8_t header[16];
	ws_conn *c = open_busy_conn(a, sv[0], sv[1], header);
	CU_ASSERT_FATAL(ws_conn_save(c, rec) == 0);
	ws_conn_forget(c);
	pump(a, 1);
	close(sv[1]);
	env_free(a);
	free(a);
}

/* Restores rec[0, len) on a fresh socket; a connection that comes back is dropped again.
 * Returns whether it came back. */
static bool try_restore(test_env *t, const uint8_t *rec, size_t len)
{
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	ws_conn *c = ws_conn_restore(&t->env, sv[0], rec, len);
	if (c) {
		ws_conn_resume(c);
		ws_conn_abort(c); /* closes sv[0] */
		check(t->env.loop, t);
	} else {
		close(sv[0]);
	}
	close(sv[1]);
	return c != NULL;
}

static void test_truncated_refused(void)
{
	ws_buf rec = {0};
	busy_record(&rec);
	test_env *t = calloc(1, sizeof(*t));
	env_init(t);
	const uint8_t *p = rec.ptr + rec.head;
	size_t len = ws_buf_avail(&rec);
	/* Each cut in a copy that ends at a PROT_NONE page: reading past the cut crashes. */
	unit_guard g;
	unit_guard_init(&g, len);
	size_t refused = 0;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = unit_guard_place(&g, p, cut);
		refused += !try_restore(t, copy, cut);
	}
	CU_ASSERT(refused == len);
	CU_ASSERT(try_restore(t, p, len));
	unit_guard_release(&g);
	ws_buf_release(&rec);
	env_free(t);
	free(t);
}

static void test_corrupt_fails_cleanly(void)
{
	ws_buf rec = {0};
	busy_record(&rec);
	test_env *t = calloc(1, sizeof(*t));
	env_init(t);
	size_t len = ws_buf_avail(&rec);
	uint8_t *copy = malloc(len);
	/* Every byte of the head and the first parts, changed a few ways: each record is refused,
	 * or restored and dropped without reading outside it or leaking (ASan says). */
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	size_t span = len < 1024 ? len : 1024, refused = 0;
	for (size_t i = 0; i < span; i++) {
		for (size_t k = 0; k < sizeof(flips); k++) {
			memcpy(copy, rec.ptr + rec.head, len);
			copy[i] ^= flips[k];
			refused += !try_restore(t, copy, len);
		}
	}
	CU_ASSERT(refused > 0);
	/* A record with more bytes than its parts announce is refused too. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, rec.ptr + rec.head, len);
	longer[len] = 0;
	CU_ASSERT(!try_restore(t, longer, len + 1));
	free(longer);
	free(copy);
	ws_buf_release(&rec);
	env_free(t);
	free(t);
}

static void test_save_refuses_closing(void)
{
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	test_env *a = calloc(1, sizeof(*a));
	env_init(a);
	uint8_t header[16];
	ws_conn *c = open_busy_conn(a, sv[0], sv[1], header);
	CU_ASSERT(ws_conn_close(c, WS_CLOSE_NORMAL, NULL, 0) == 0);
	ws_buf rec = {0};
	CU_ASSERT(ws_conn_save(c, &rec) == WS_EINVAL);
	CU_ASSERT(ws_buf_avail(&rec) == 0);
	ws_conn_abort(c);
	pump(a, 1);
	close(sv[1]);
	env_free(a);
	free(a);
}

static const CU_TestInfo tests[] = {
    {"round trip: message, partial header, queued output, deflate history", test_round_trip},
    {"a record cut anywhere is refused", test_truncated_refused},
    {"changed bytes are refused or restored cleanly", test_corrupt_fails_cleanly},
    {"only a handshaking or open connection is saved", test_save_refuses_closing},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("conn_save", tests);
}
