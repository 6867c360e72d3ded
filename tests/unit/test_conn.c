/* test_conn.c - one connection (src/conn.h) over a socketpair with the real loop and no server:
 * the environment is built by tests/unit/connenv.h and the peer is a raw client
 * (tests/unit/wsclient.h) stepped by a 1 ms loop timer. Only conn.h's functions are used.
 * Covers the upgrade with the request in several pieces, a fragmented message with a ping
 * between its fragments, invalid UTF-8 failing the connection with 1007, the closing
 * handshake started by either side, backpressure (the socketpair fills, on_drain fires once
 * the peer reads), both max_output_bytes overflow policies, and every allocation failing in
 * turn (the stream written at once and the loop consumed by tests/fuzz/conn_drive.h). */
#include "unit.h"

#include "../fuzz/conn_drive.h"
#include "connenv.h"
#include "failalloc.h"
#include "wsclient.h"

#include <signal.h>

#define STEP_LIMIT 5000

typedef struct world world;
typedef bool (*step_fn)(world *w);

struct world {
	connenv e;
	ws_conn *c;
	wsc cl;
	int phase;
	int ticks;
	bool timed_out;
	step_fn step;
	/* what the hooks saw */
	int handshakes;
	char path[64];
	int opens;
	int messages;
	uint8_t *msg;
	size_t msg_len;
	bool msg_binary;
	int closes;
	uint16_t close_code;
	char close_reason[128];
	int drains;
	size_t read_total; /* bytes the peer read while draining */
	int sends;         /* messages queued by a script */
};

static void on_handshake(void *owner, ws_conn *c, const ws_http_request *req, ws_reply *reply)
{
	(void)c;
	(void)reply;
	world *w = owner;
	w->handshakes++;
	snprintf(w->path, sizeof(w->path), "%.*s", (int)req->path_len, req->path);
}

static void on_open(void *owner, ws_conn *c)
{
	world *w = owner;
	UNIT_CHECK(c == w->c && ws_conn_is_open(c), "on_open for our connection");
	w->opens++;
}

static void on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)c;
	world *w = owner;
	w->messages++;
	free(w->msg);
	w->msg = malloc(len + 1);
	memcpy(w->msg, msg, len);
	w->msg_len = len;
	w->msg_binary = binary;
	ws_free(msg);
}

static void on_close(void *owner, ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	(void)c;
	world *w = owner;
	w->closes++;
	w->close_code = code;
	snprintf(w->close_reason, sizeof(w->close_reason), "%.*s", (int)reason_len, reason);
}

static void on_drain(void *owner, ws_conn *c)
{
	world *w = owner;
	UNIT_CHECK(ws_conn_buffered(c) == 0, "drained: %zu buffered", ws_conn_buffered(c));
	w->drains++;
}

static const ws_server_hooks hooks = {
    .on_handshake = on_handshake,
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
    .on_drain = on_drain,
};

static void tick(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	world *w = arg;
	if (++w->ticks > STEP_LIMIT) {
		fprintf(stderr, "  script timed out in phase %d\n", w->phase);
		w->timed_out = true;
		ws_loop_stop(loop);
		return;
	}
	/* Once the peer has sent its Close, it closes its socket when we closed ours. */
	if (w->cl.close_sent && w->cl.fd >= 0) {
		wsc_pump(&w->cl);
		if (w->cl.eof) {
			close(w->cl.fd);
			w->cl.fd = -1;
		}
	}
	if (w->step(w))
		ws_loop_stop(loop);
}

static void run_script(world *w, const ws_conn_limits *limits, step_fn step)
{
	CU_ASSERT_FATAL(connenv_init(&w->e, &hooks, w, limits));
	int peer = -1;
	w->c = connenv_conn(&w->e, 42, &peer);
	CU_ASSERT_FATAL(w->c != NULL);
	wsc_init(&w->cl, peer);
	w->step = step;
	ws_timer *t = ws_loop_timer_start(w->e.loop, 1, 1, tick, w);
	ws_loop_run(w->e.loop);
	ws_loop_timer_stop(w->e.loop, t);
	UNIT_CHECK(!w->timed_out, "script finished (phase %d)", w->phase);
	connenv_release(&w->e);
	wsc_release(&w->cl);
	free(w->msg);
}

/* Sends the request in pieces of 1, 7, 30 bytes and the rest, one piece per tick. */
static bool upgrade_steps(world *w, int first_phase)
{
	static const size_t cuts[] = {0, 1, 8, 38, sizeof(wsc_request) - 1};
	int i = w->phase - first_phase;
	if (i < 4) {
		UNIT_CHECK(w->handshakes == 0, "no handshake before the request is complete");
		wsc_write(&w->cl, wsc_request + cuts[i], cuts[i + 1] - cuts[i]);
		w->phase++;
		return false;
	}
	if (!wsc_response(&w->cl) || w->opens < 1)
		return false;
	w->phase++;
	return true;
}

static bool got(world *w, wsc_frame *f)
{
	return wsc_frame_take(&w->cl, f);
}

/* ---- upgrade ---- */

static bool script_upgrade(world *w)
{
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	UNIT_CHECK(w->cl.status == 101 && w->handshakes == 1 && w->opens == 1 && w->e.opened == 1,
	           "status %d handshakes %d opens %d", w->cl.status, w->handshakes, w->opens);
	UNIT_CHECK(strcmp(w->path, "/chat") == 0, "path '%s'", w->path);
	UNIT_CHECK(ws_conn_id(w->c) == 42 && ws_conn_is_open(w->c) && !ws_conn_is_secure(w->c) &&
	               ws_conn_subprotocol(w->c) == NULL && ws_conn_buffered(w->c) == 0,
	           "accessors");
	UNIT_CHECK(ws_conn_remote_ip(w->c)[0] == '\0' && ws_conn_remote_port(w->c) == 0,
	           "a socketpair has no address");
	int token;
	ws_conn_set_user(w->c, &token);
	UNIT_CHECK(ws_conn_user(w->c) == &token, "user pointer");
	ws_conn_set_user(w->c, NULL);
	return true;
}

static void test_upgrade_in_pieces(void)
{
	world w = {0};
	run_script(&w, NULL, script_upgrade);
}

/* True when s occurs in p[0, len). */
static bool contains(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return true;
	return false;
}

/* The accept value of RFC 6455 1.3 for the sample key. */
static bool script_accept_header(world *w)
{
	if (w->phase == 0) {
		wsc_write(&w->cl, wsc_request, sizeof(wsc_request) - 1);
		w->phase++;
		return false;
	}
	wsc_pump(&w->cl);
	if (w->opens < 1 || w->cl.len < 4 || !contains(w->cl.in, w->cl.len, "\r\n\r\n"))
		return false;
	UNIT_CHECK(contains(w->cl.in, w->cl.len, "HTTP/1.1 101"), "101");
	UNIT_CHECK(contains(w->cl.in, w->cl.len, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
	           "Sec-WebSocket-Accept");
	return true;
}

static void test_accept_header(void)
{
	world w = {0};
	run_script(&w, NULL, script_accept_header);
}

/* ---- fragmentation with a ping in between ---- */

static bool script_fragments(world *w)
{
	static wsc_frame f;
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5:
		wsc_send_frame(&w->cl, false, 1, "Hel", 3);
		wsc_send_frame(&w->cl, true, 9, "ping!", 5);
		wsc_send_frame(&w->cl, false, 0, "lo, ", 4);
		wsc_send_frame(&w->cl, true, 0, "w\xc3\xb6rld", 6);
		w->phase++;
		return false;
	case 6:
		if (!got(w, &f))
			return false;
		UNIT_CHECK(f.opcode == 10 && f.len == 5 && memcmp(f.payload, "ping!", 5) == 0,
		           "pong with the ping's payload: opcode %d", f.opcode);
		w->phase++;
		return false;
	case 7:
		if (w->messages < 1)
			return false;
		UNIT_CHECK(w->messages == 1 && !w->msg_binary && w->msg_len == 13 &&
		               memcmp(w->msg, "Hello, w\xc3\xb6rld", 13) == 0,
		           "one message '%.*s'", (int)w->msg_len, w->msg);
		UNIT_CHECK(w->e.stats.messages_in == 1, "messages_in");
		/* A binary message in three fragments, with an empty one. */
		wsc_send_frame(&w->cl, false, 2, "\x01", 1);
		wsc_send_frame(&w->cl, false, 0, "", 0);
		wsc_send_frame(&w->cl, true, 0, "\x02\x03", 2);
		w->phase++;
		return false;
	default:
		if (w->messages < 2)
			return false;
		UNIT_CHECK(w->msg_binary && w->msg_len == 3 && memcmp(w->msg, "\x01\x02\x03", 3) == 0,
		           "binary message");
		return true;
	}
}

static void test_fragments_with_ping(void)
{
	world w = {0};
	run_script(&w, NULL, script_fragments);
}

/* ---- invalid UTF-8 ---- */

static bool script_bad_utf8(world *w)
{
	static wsc_frame f;
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5:
		/* Valid in the first fragment, a surrogate in the second. */
		wsc_send_frame(&w->cl, false, 1, "ok ", 3);
		wsc_send_frame(&w->cl, true, 0, "\xed\xa0\x80", 3);
		w->phase++;
		return false;
	case 6:
		if (!got(w, &f))
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 1007, "close %d", wsc_close_code(&f));
		UNIT_CHECK(!ws_conn_is_open(w->c), "closing");
		wsc_send_close(&w->cl, 1007, "");
		w->phase++;
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(w->messages == 0 && w->close_code == 1007, "on_close %d", w->close_code);
		return true;
	}
}

static void test_bad_utf8(void)
{
	world w = {0};
	run_script(&w, NULL, script_bad_utf8);
}

/* ---- closing handshakes ---- */

static bool script_client_closes(world *w)
{
	static wsc_frame f;
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5:
		wsc_send_close(&w->cl, 1000, "bye");
		w->phase++;
		return false;
	case 6:
		if (!got(w, &f))
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 1000, "echo %d", wsc_close_code(&f));
		w->phase++;
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(w->close_code == 1000 && strcmp(w->close_reason, "bye") == 0, "on_close %d '%s'",
		           w->close_code, w->close_reason);
		UNIT_CHECK(w->e.done == 1, "finished");
		return true;
	}
}

static void test_client_closes(void)
{
	world w = {0};
	run_script(&w, NULL, script_client_closes);
}

static bool script_server_closes(world *w)
{
	static wsc_frame f;
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5:
		UNIT_CHECK(ws_conn_send(w->c, (const uint8_t *)"before", 6, false) == 0, "send");
		UNIT_CHECK(ws_conn_close(w->c, 4000, "server says bye", 15) == 0, "close");
		UNIT_CHECK(ws_conn_close(w->c, 4000, "", 0) == WS_ECLOSED, "close twice");
		UNIT_CHECK(ws_conn_send(w->c, (const uint8_t *)"after", 5, false) == WS_ECLOSED,
		           "no sends while closing");
		UNIT_CHECK(ws_conn_ping(w->c, NULL, 0) == WS_ECLOSED, "no pings while closing");
		w->phase++;
		return false;
	case 6:
		if (!got(w, &f))
			return false;
		UNIT_CHECK(f.opcode == 1 && f.len == 6, "the data queued before comes first");
		w->phase++;
		return false;
	case 7:
		if (!got(w, &f))
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 4000 && f.len == 17 &&
		               memcmp(f.payload + 2, "server says bye", 15) == 0,
		           "close %d", wsc_close_code(&f));
		wsc_send_close(&w->cl, 4000, "ack");
		w->phase++;
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(w->close_code == 4000 && strcmp(w->close_reason, "ack") == 0, "on_close %d '%s'",
		           w->close_code, w->close_reason);
		return true;
	}
}

static void test_server_closes(void)
{
	world w = {0};
	run_script(&w, NULL, script_server_closes);
}

/* ---- backpressure ---- */

#define BIG (64 * 1024) /* framed with a 10-byte header */

static bool script_backpressure(world *w)
{
	static uint8_t payload[BIG];
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5:
		/* Far more than a socketpair holds; the peer reads nothing yet. */
		for (int i = 0; i < 64; i++)
			UNIT_CHECK(ws_conn_send(w->c, payload, sizeof(payload), true) == 0, "send %d", i);
		w->sends = 64;
		UNIT_CHECK(ws_conn_buffered(w->c) >= 64 * BIG, "all queued: %zu", ws_conn_buffered(w->c));
		w->phase++;
		return false;
	case 6:
		/* The loop flushed what the kernel took; the rest waits. */
		UNIT_CHECK(ws_conn_buffered(w->c) > 0 && w->drains == 0, "still buffered: %zu",
		           ws_conn_buffered(w->c));
		w->phase++;
		return false;
	default:
		/* The peer reads everything; the queue empties and on_drain fires once. */
		wsc_pump(&w->cl);
		w->read_total += w->cl.len;
		w->cl.len = 0;
		if (w->drains < 1)
			return false;
		UNIT_CHECK(ws_conn_buffered(w->c) == 0 && w->drains == 1, "drains %d", w->drains);
		if (w->read_total < (size_t)w->sends * (BIG + 10))
			return false;
		UNIT_CHECK(w->read_total == (size_t)w->sends * (BIG + 10), "read %zu", w->read_total);
		UNIT_CHECK(w->e.stats.messages_out == 64, "messages_out %llu",
		           (unsigned long long)w->e.stats.messages_out);
		return true;
	}
}

static void test_backpressure(void)
{
	world w = {0};
	run_script(&w, NULL, script_backpressure);
}

/* ---- max_output_bytes ---- */

static bool script_overflow_closes(world *w)
{
	static uint8_t payload[BIG];
	static wsc_frame f;
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5: {
		int rc = 0, i;
		for (i = 0; i < 200 && rc == 0; i++)
			rc = ws_conn_send(w->c, payload, sizeof(payload), true);
		w->sends = i - 1;
		UNIT_CHECK(rc == WS_ETOOBIG, "overflow after %d sends: %d", w->sends, rc);
		UNIT_CHECK(!ws_conn_is_open(w->c), "closing with 1008");
		UNIT_CHECK(ws_conn_send(w->c, payload, 1, true) == WS_ECLOSED, "closed to sends");
		w->phase++;
		return false;
	}
	case 6:
		/* The peer reads what was queued, then the Close. */
		if (!got(w, &f))
			return false;
		if (f.opcode == 2)
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 1008, "close %d", wsc_close_code(&f));
		wsc_send_close(&w->cl, 1008, "");
		w->phase++;
		return false;
	default:
		return w->closes == 1;
	}
}

static void test_overflow_closes(void)
{
	world w = {0};
	ws_conn_limits limits = connenv_limits();
	limits.max_output_bytes = 300 * 1024;
	run_script(&w, &limits, script_overflow_closes);
	UNIT_CHECK(w.close_code == 1008, "on_close %d", w.close_code);
}

static bool script_overflow_rejects(world *w)
{
	static uint8_t payload[BIG];
	if (w->phase < 5)
		return upgrade_steps(w, 0) && false;
	switch (w->phase) {
	case 5: {
		int rc = 0, i;
		for (i = 0; i < 200 && rc == 0; i++)
			rc = ws_conn_send(w->c, payload, sizeof(payload), true);
		w->sends = i - 1;
		UNIT_CHECK(rc == WS_ETOOBIG && ws_conn_is_open(w->c), "refused, still open: %d", rc);
		UNIT_CHECK(ws_conn_buffered(w->c) >= 300 * 1024, "buffered %zu", ws_conn_buffered(w->c));
		w->phase++;
		return false;
	}
	case 6:
		wsc_pump(&w->cl);
		w->read_total += w->cl.len;
		w->cl.len = 0;
		if (w->drains < 1)
			return false;
		UNIT_CHECK(ws_conn_send(w->c, payload, 10, true) == 0, "accepted again after draining");
		w->sends++;
		w->phase++;
		return false;
	default:
		wsc_pump(&w->cl);
		w->read_total += w->cl.len;
		w->cl.len = 0;
		if (w->read_total < (size_t)(w->sends - 1) * (BIG + 10) + 12)
			return false;
		UNIT_CHECK(w->read_total == (size_t)(w->sends - 1) * (BIG + 10) + 12, "read %zu",
		           w->read_total);
		UNIT_CHECK(w->closes == 0 && ws_conn_is_open(w->c), "never closed by the overflow");
		return true;
	}
}

static void test_overflow_rejects(void)
{
	world w = {0};
	ws_conn_limits limits = connenv_limits();
	limits.max_output_bytes = 300 * 1024;
	limits.overflow_rejects = true;
	run_script(&w, &limits, script_overflow_rejects);
}

/* ---- allocation failures ---- */

/* A whole session written at once: the upgrade, a fragmented message with a ping between its
 * fragments, a binary message and a Close. With allocation n failing (alone, or with every
 * one after it), the connection either serves it or ends; nothing is delivered twice or
 * wrongly, and every byte allocated is freed. Returns the allocations made. */
static unsigned long run_failing(const uint8_t *stream, size_t len, unsigned long n, bool after)
{
	world w = {0};
	int peer = -1;
	ws_conn *c = NULL;
	failalloc_install();
	failalloc_fail_at(n, after);
	if (connenv_init(&w.e, &hooks, &w, NULL))
		c = connenv_conn(&w.e, 7, &peer);
	w.c = c;
	bool consumed = c && drive_run(&w.e, peer, stream, len, 64);
	unsigned long made = failalloc.attempts;
	failalloc.fail_at = 0;
	/* Ends the connection if it is still lingering (its on_close comes then). */
	connenv_release(&w.e);
	if (peer >= 0)
		close(peer);
	UNIT_CHECK(w.messages <= 2 && w.closes <= 1, "fail at %lu: %d messages, %d closes", n,
	           w.messages, w.closes);
	if (w.messages == 1)
		UNIT_CHECK(!w.msg_binary && w.msg_len == 5 && memcmp(w.msg, "Hello", 5) == 0,
		           "fail at %lu: first message", n);
	if (w.messages == 2)
		UNIT_CHECK(w.msg_binary && w.msg_len == 2 && memcmp(w.msg, "\x01\x02", 2) == 0,
		           "fail at %lu: second message", n);
	if (n == 0)
		UNIT_CHECK(consumed && w.messages == 2 && w.closes == 1 && w.close_code == 1000,
		           "without failures: messages %d closes %d code %d", w.messages, w.closes,
		           w.close_code);
	free(w.msg);
	UNIT_CHECK(failalloc.live == 0, "fail at %lu%s: %zu bytes leaked", n, after ? " and after" : "",
	           failalloc.live);
	ws_alloc_set(NULL);
	return made;
}

static void test_alloc_failures(void)
{
	uint8_t stream[1024];
	size_t len = 0;
	memcpy(stream, wsc_request, sizeof(wsc_request) - 1);
	len += sizeof(wsc_request) - 1;
	len += wsc_encode(stream + len, false, 0, 1, "Hel", 3);
	len += wsc_encode(stream + len, true, 0, 9, "ping", 4);
	len += wsc_encode(stream + len, true, 0, 0, "lo", 2);
	len += wsc_encode(stream + len, true, 0, 2, "\x01\x02", 2);
	len += wsc_encode(stream + len, true, 0, 8, "\x03\xe8", 2);
	unsigned long total = run_failing(stream, len, 0, false);
	UNIT_CHECK(total >= 5, "only %lu allocations", total);
	for (unsigned long n = 1; n <= total + 1; n++) {
		run_failing(stream, len, n, false);
		run_failing(stream, len, n, true);
	}
}

static const CU_TestInfo tests[] = {
    {"upgrade with the request in pieces", test_upgrade_in_pieces},
    {"Sec-WebSocket-Accept", test_accept_header},
    {"fragmented messages with a ping between fragments", test_fragments_with_ping},
    {"invalid UTF-8 fails with 1007", test_bad_utf8},
    {"closing handshake started by the client", test_client_closes},
    {"closing handshake started by the server", test_server_closes},
    {"backpressure and on_drain", test_backpressure},
    {"max_output_bytes: close with 1008", test_overflow_closes},
    {"max_output_bytes: refuse the send", test_overflow_rejects},
    {"every allocation failing in turn", test_alloc_failures},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	return unit_main("conn", tests);
}
