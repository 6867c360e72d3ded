/* test_bus.c - unit tests for src/bus.c: encode/parse round trips of every type with and
 * without ids, room and payload (fed whole, byte by byte and split at every offset, each parse
 * on a buffer that ends at a PROT_NONE page), every prefix of a message, two messages split at
 * every offset, malformed headers, and channel pairs over a socketpair with a real ws_loop:
 * thousands of messages of mixed sizes in order, pause and resume (also from on_msg), free
 * from inside the callbacks, max_out, descriptors sent with queue_fd, peer close and write to
 * a dead peer (on_eof once, no SIGPIPE), flush_all, the blocking send_fd/recv_fd, and
 * allocation failures. Channel tests also check that no descriptor leaks. */
#include "unit.h"

#include "alloc.h"
#include "failalloc.h"
#include "bus.h"
#include "err.h"
#include "loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MIB (1024u * 1024)

/* ---- helpers ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void make_pair(int sv[2], bool nonblock)
{
	int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
	if (socketpair(AF_UNIX, type, 0, sv) != 0) {
		perror("socketpair");
		exit(2);
	}
}

static uint8_t pattern(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + (i >> 8));
}

/* ---- encode and parse ---- */

typedef struct spec {
	uint8_t type, flags;
	uint16_t code;
	uint32_t origin;
	uint64_t target;
	uint64_t ids[4];
	uint32_t n_except;
	const char *room;
	uint32_t room_len;
	const uint8_t *data;
	size_t len;
} spec;

static ws_chunk *encode_spec(const spec *s)
{
	return ws_bus_encode_ids(s->type, s->flags, s->code, s->origin, s->target, s->ids, s->n_except,
	                         s->room, s->room_len, s->data, s->len);
}

/* Checks m against s, and that every pointer lies within [p, p + total). */
static void check_msg(const ws_bus_msg *m, const spec *s, const uint8_t *p, size_t total,
                      const char *ctx)
{
	UNIT_CHECK(m->type == s->type && m->flags == s->flags && m->code == s->code, "%s: header", ctx);
	UNIT_CHECK(m->origin == s->origin && m->target == s->target, "%s: origin/target", ctx);
	UNIT_CHECK(m->n_except == s->n_except, "%s: n_except %u", ctx, m->n_except);
	for (uint32_t i = 0; i < m->n_except && i < s->n_except; i++)
		UNIT_CHECK(ws_bus_except(m, i) == s->ids[i], "%s: id %u", ctx, i);
	UNIT_CHECK(m->room_len == s->room_len &&
	               memcmp(m->room, s->room ? s->room : "", s->room_len) == 0,
	           "%s: room", ctx);
	UNIT_CHECK(m->len == s->len && (s->len == 0 || memcmp(m->data, s->data, s->len) == 0),
	           "%s: payload %zu", ctx, m->len);
	UNIT_CHECK(m->except == p + WS_BUS_HEADER, "%s: except at the header end", ctx);
	UNIT_CHECK((const uint8_t *)m->room >= p && (const uint8_t *)m->room + m->room_len <= p + total,
	           "%s: room inside", ctx);
	UNIT_CHECK(m->data >= p && m->data + m->len == p + total, "%s: payload ends the message", ctx);
}

/* Feeds `len` bytes the way `w` cuts them, re-parsing the accumulated bytes (placed against
 * the guard page) after each piece: 0 until the last piece, then the whole length. */
static void parse_ways(const uint8_t *msg, size_t len, const spec *s, const char *name)
{
	unit_guard g;
	unit_guard_init(&g, len);
	char way[64], ctx[160];
	UNIT_FOR_EACH_WAY(w, len)
	{
		snprintf(ctx, sizeof(ctx), "%s, %s", name, unit_way_name(&w, way, sizeof(way)));
		for (size_t pos = 0; pos < len;) {
			pos = unit_way_piece_end(&w, pos, len);
			const uint8_t *p = unit_guard_place(&g, msg, pos);
			ws_bus_msg m;
			memset(&m, 0, sizeof(m));
			ssize_t rc = ws_bus_parse(p, pos, &m);
			if (pos < len) {
				UNIT_CHECK(rc == 0, "%s: %zd at %zu", ctx, rc, pos);
				continue;
			}
			UNIT_CHECK(rc == (ssize_t)len, "%s: %zd, want %zu", ctx, rc, len);
			if (rc == (ssize_t)len)
				check_msg(&m, s, p, len, ctx);
		}
	}
	unit_guard_release(&g);
}

static void test_round_trip(void)
{
	static const uint32_t id_counts[] = {0, 1, 3};
	static const char *rooms[] = {NULL, "lobby", "r"};
	static const size_t lens[] = {0, 1, 5, 300};
	uint8_t payload[300];
	uint8_t unaligned[1 + 4 * 8];
	char name[96];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = pattern(1, i);
	for (uint8_t type = WS_BUS_SEND; type < WS_BUS_TYPE_MAX; type++)
		for (size_t a = 0; a < 3; a++)
			for (size_t b = 0; b < 3; b++)
				for (size_t c = 0; c < 4; c++) {
					spec s = {.type = type,
					          .flags = (uint8_t)(c & 1),
					          .code = (uint16_t)(type == WS_BUS_CLOSE ? 1000 + c : 0),
					          .origin = 3,
					          .target = 0x0102030405060708ull * type,
					          .ids = {1, UINT64_MAX, 0x8000000000000001ull, 42},
					          .n_except = id_counts[a],
					          .room = rooms[b],
					          .room_len = rooms[b] ? (uint32_t)strlen(rooms[b]) : 0,
					          .data = lens[c] ? payload : NULL,
					          .len = lens[c]};
					snprintf(name, sizeof(name), "type %u ids %u room %u len %zu", type, s.n_except,
					         s.room_len, s.len);
					ws_chunk *ch = encode_spec(&s);
					UNIT_CHECK(ch != NULL, "%s: encode", name);
					if (!ch)
						continue;
					size_t want = WS_BUS_HEADER + 8 * s.n_except + s.room_len + s.len;
					UNIT_CHECK(ch->len == want, "%s: length %zu", name, ch->len);
					UNIT_CHECK(((uintptr_t)(ch->data + WS_BUS_HEADER) & 7) == 0, "%s: ids aligned",
					           name);
					/* ws_bus_encode reads the ids from an unaligned message: the same bytes. */
					memcpy(unaligned + 1, s.ids, sizeof(s.ids));
					ws_bus_msg m = {.type = s.type,
					                .flags = s.flags,
					                .code = s.code,
					                .origin = s.origin,
					                .target = s.target,
					                .n_except = s.n_except,
					                .except = unaligned + 1,
					                .room = s.room,
					                .room_len = s.room_len,
					                .data = s.data,
					                .len = s.len};
					ws_chunk *ch2 = ws_bus_encode(&m);
					UNIT_CHECK(ch2 && ch2->len == ch->len &&
					               memcmp(ch2->data, ch->data, ch->len) == 0,
					           "%s: ws_bus_encode agrees", name);
					ws_chunk_unref(ch2);
					parse_ways(ch->data, ch->len, &s, name);
					ws_chunk_unref(ch);
				}
}

static void test_every_prefix(void)
{
	uint8_t payload[100];
	memset(payload, 'x', sizeof(payload));
	spec s = {.type = WS_BUS_PUBLISH,
	          .n_except = 2,
	          .ids = {5, 6},
	          .room = "chat",
	          .room_len = 4,
	          .data = payload,
	          .len = sizeof(payload)};
	ws_chunk *ch = encode_spec(&s);
	unit_guard g;
	unit_guard_init(&g, ch->len);
	for (size_t k = 0; k < ch->len; k++) {
		ws_bus_msg m;
		const uint8_t *p = unit_guard_place(&g, ch->data, k);
		UNIT_CHECK(ws_bus_parse(p, k, &m) == 0, "prefix %zu", k);
	}
	/* A longer buffer: the first message only. */
	uint8_t two[2 * 256];
	memcpy(two, ch->data, ch->len);
	memcpy(two + ch->len, ch->data, ch->len);
	ws_bus_msg m;
	UNIT_CHECK(ws_bus_parse(two, 2 * ch->len, &m) == (ssize_t)ch->len, "first of two");
	unit_guard_release(&g);
	ws_chunk_unref(ch);
}

/* Two messages in one stream, cut every way: a reader that keeps unparsed bytes and parses
 * again after each piece gets both, in order, and nothing else. */
static void test_two_messages_split(void)
{
	uint8_t payload[40];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	spec sa = {.type = WS_BUS_BROADCAST,
	           .flags = 1,
	           .origin = 2,
	           .n_except = 3,
	           .ids = {7, 8, 9},
	           .data = payload,
	           .len = 17};
	spec sb = {.type = WS_BUS_CLOSE, .code = 4000, .target = 99, .data = payload, .len = 40};
	ws_chunk *a = encode_spec(&sa), *b = encode_spec(&sb);
	size_t len = a->len + b->len;
	uint8_t *stream = malloc(len);
	memcpy(stream, a->data, a->len);
	memcpy(stream + a->len, b->data, b->len);
	unit_guard g;
	unit_guard_init(&g, len);
	char way[64];

	UNIT_FOR_EACH_WAY(w, len)
	{
		size_t head = 0, got = 0;
		for (size_t pos = 0; pos < len;) {
			pos = unit_way_piece_end(&w, pos, len);
			for (;;) {
				ws_bus_msg m;
				const uint8_t *p = unit_guard_place(&g, stream + head, pos - head);
				ssize_t rc = ws_bus_parse(p, pos - head, &m);
				UNIT_CHECK(rc >= 0, "%s: %zd", unit_way_name(&w, way, sizeof(way)), rc);
				if (rc <= 0)
					break;
				const spec *want = got == 0 ? &sa : &sb;
				UNIT_CHECK(got < 2, "%s: a third message", unit_way_name(&w, way, sizeof(way)));
				if (got < 2)
					check_msg(&m, want, p, (size_t)rc, unit_way_name(&w, way, sizeof(way)));
				got++;
				head += (size_t)rc;
			}
		}
		UNIT_CHECK(got == 2 && head == len, "%s: got %zu, consumed %zu",
		           unit_way_name(&w, way, sizeof(way)), got, head);
	}
	unit_guard_release(&g);
	free(stream);
	ws_chunk_unref(a);
	ws_chunk_unref(b);
}

/* A header with the given fields, followed by `extra` zero bytes (within a 64-byte buffer). */
static size_t raw_header(uint8_t *buf, uint32_t size, uint8_t type, uint32_t n_except,
                         uint32_t room_len)
{
	memset(buf, 0, 64);
	memcpy(buf, &size, 4);
	buf[4] = type;
	memcpy(buf + 24, &n_except, 4);
	memcpy(buf + 28, &room_len, 4);
	return WS_BUS_HEADER;
}

static void test_malformed(void)
{
	static const struct {
		uint32_t size;
		uint8_t type;
		uint32_t n_except, room_len;
		const char *what;
	} bad[] = {
	    {0, WS_BUS_SEND, 0, 0, "size 0"},
	    {27, WS_BUS_SEND, 0, 0, "size 27"},
	    {WS_BUS_MAX_MESSAGE + 1, WS_BUS_SEND, 0, 0, "size above the maximum"},
	    {UINT32_MAX, WS_BUS_SEND, 0, 0, "size 2^32-1"},
	    {28, 0, 0, 0, "type 0"},
	    {28, WS_BUS_TYPE_MAX, 0, 0, "type WS_BUS_TYPE_MAX"},
	    {28, 255, 0, 0, "type 255"},
	    {28, WS_BUS_BROADCAST, 1, 0, "one id, no room for it"},
	    {35, WS_BUS_BROADCAST, 1, 0, "one id, 7 bytes"},
	    {28 + 8, WS_BUS_PUBLISH, 1, 1, "id and room one byte over"},
	    {28 + 100, WS_BUS_PUBLISH, 0, 101, "room one byte over"},
	    {WS_BUS_MAX_MESSAGE, WS_BUS_PUBLISH, UINT32_MAX, 0, "n_except * 8 beyond 32 bits"},
	    {WS_BUS_MAX_MESSAGE, WS_BUS_PUBLISH, 0, UINT32_MAX, "room_len 2^32-1"},
	    {WS_BUS_MAX_MESSAGE, WS_BUS_PUBLISH, 1u << 29, 8, "ids sum wraps 32 bits"},
	};
	uint8_t buf[64];
	unit_guard g;
	unit_guard_init(&g, sizeof(buf));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_header(buf, bad[i].size, bad[i].type, bad[i].n_except, bad[i].room_len);
		/* Refused as soon as the offending field is in, and at every longer length. */
		bool size_bad = bad[i].size < 28 || bad[i].size > WS_BUS_MAX_MESSAGE;
		for (size_t n = size_bad ? 4 : WS_BUS_HEADER; n <= sizeof(buf); n++) {
			ws_bus_msg m;
			const uint8_t *p = unit_guard_place(&g, buf, n);
			ssize_t rc = ws_bus_parse(p, n, &m);
			UNIT_CHECK(rc == WS_EPROTO, "%s, %zu bytes: %zd", bad[i].what, n, rc);
		}
	}
	/* Limits that are still fine: incomplete, not refused. */
	static const struct {
		uint32_t size, n_except, room_len;
	} good[] = {
	    {WS_BUS_MAX_MESSAGE, 0, 0},
	    {28 + 16 + 3, 2, 3},
	    {28 + 8, 1, 0},
	    {WS_BUS_MAX_MESSAGE, (WS_BUS_MAX_MESSAGE - 28) / 8, 0},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		raw_header(buf, good[i].size, WS_BUS_HANDED, good[i].n_except, good[i].room_len);
		ws_bus_msg m;
		const uint8_t *p = unit_guard_place(&g, buf, WS_BUS_HEADER);
		ssize_t rc = ws_bus_parse(p, WS_BUS_HEADER, &m);
		UNIT_CHECK(rc == (good[i].size == 28 ? 32 : 0), "good %zu: %zd", i, rc);
	}
	/* The smallest message: a header alone. */
	raw_header(buf, 28, WS_BUS_READY, 0, 0);
	ws_bus_msg m;
	UNIT_CHECK(ws_bus_parse(unit_guard_place(&g, buf, 32), 32, &m) == 32 && m.len == 0 &&
	               m.room_len == 0 && m.n_except == 0,
	           "header only");
	unit_guard_release(&g);
}

static void test_encode_limits(void)
{
	uint64_t id = 1;
	uint8_t byte = 0;
	/* Sizes are checked before anything is read or allocated. */
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 0, NULL, 0, NULL, 0, &byte,
	                             WS_BUS_MAX_MESSAGE) == NULL,
	           "payload at the maximum leaves no room for the header");
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 0, NULL, 0, NULL, 0, &byte, SIZE_MAX) ==
	               NULL,
	           "SIZE_MAX payload");
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_BROADCAST, 0, 0, 0, 0, &id, UINT32_MAX, NULL, 0, NULL, 0) ==
	               NULL,
	           "2^32-1 ids");
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_PUBLISH, 0, 0, 0, 0, NULL, 0, "r", UINT32_MAX, NULL, 0) ==
	               NULL,
	           "2^32-1 room bytes");
	UNIT_CHECK(ws_bus_encode_ids(0, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0) == NULL, "type 0");
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_TYPE_MAX, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0) == NULL,
	           "type max");
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 3) == NULL,
	           "NULL data with a length");
	/* The largest message that fits. */
	size_t len = WS_BUS_MAX_MESSAGE - 28;
	uint8_t *big = calloc(1, len);
	ws_chunk *c = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 7, NULL, 0, NULL, 0, big, len);
	UNIT_CHECK(c && c->len == 4 + (size_t)WS_BUS_MAX_MESSAGE, "largest message");
	if (c) {
		ws_bus_msg m;
		UNIT_CHECK(ws_bus_parse(c->data, c->len, &m) == (ssize_t)c->len && m.len == len,
		           "largest parses");
	}
	ws_chunk_unref(c);
	free(big);
}

/* ---- channels ---- */

typedef struct rx {
	ws_bus_chan *ch;
	uint32_t count;     /* messages delivered */
	uint32_t expect;    /* stop the loop at this count (0: never) */
	uint32_t pause_at;  /* pause from on_msg after this many (0: never) */
	uint32_t free_at;   /* free from on_msg after this many (0: never) */
	bool resume_inside; /* resume right after pausing, still inside on_msg */
	bool check_stream;  /* messages follow make_stream() */
	bool free_on_eof;
	int eofs, eof_err;
	int taken_fd; /* a descriptor taken in on_msg, or -1 */
	uint64_t last_target;
	bool bad;
	ws_loop *loop;
	uint32_t rng; /* check_stream: the generator, and room for one payload */
	uint8_t *payload;
} rx;

static void rx_msg(ws_bus_chan *ch, const ws_bus_msg *m, void *arg);
static void rx_eof(ws_bus_chan *ch, int err, void *arg)
{
	rx *r = arg;
	if (ch != r->ch)
		r->bad = true;
	r->eofs++;
	r->eof_err = err;
	if (r->free_on_eof) {
		ws_bus_chan_free(ch);
		r->ch = NULL;
	}
	ws_loop_stop(r->loop);
}

/* Message seq of the stream test: sizes mostly small, some up to 1 MiB; ids and rooms on some. */
static spec stream_spec(uint32_t seq, uint32_t *rng, uint8_t *payload)
{
	spec s = {.type = (uint8_t)(WS_BUS_SEND + seq % (WS_BUS_TYPE_MAX - 1)),
	          .flags = (uint8_t)(seq & 1),
	          .code = (uint16_t)seq,
	          .origin = 7,
	          .target = seq};
	uint32_t r = unit_rand(rng);
	if (seq == 1)
		s.len = MIB;
	else if (seq % 97 == 0)
		s.len = r % (MIB + 1);
	else if (seq % 7 == 0)
		s.len = r % 70000;
	else
		s.len = r % 300;
	if (seq % 5 == 0) {
		s.n_except = seq % 4;
		for (uint32_t i = 0; i < s.n_except; i++)
			s.ids[i] = (uint64_t)seq << 32 | i;
	}
	if (seq % 3 == 0) {
		s.room = seq % 2 ? "odd-room" : "even";
		s.room_len = (uint32_t)strlen(s.room);
	}
	for (size_t i = 0; i < s.len; i++)
		payload[i] = pattern(seq, i);
	s.data = payload;
	return s;
}

static bool msg_matches(const ws_bus_msg *m, const spec *s)
{
	if (m->type != s->type || m->flags != s->flags || m->code != s->code ||
	    m->origin != s->origin || m->target != s->target || m->n_except != s->n_except ||
	    m->room_len != s->room_len || m->len != s->len)
		return false;
	for (uint32_t i = 0; i < m->n_except; i++)
		if (ws_bus_except(m, i) != s->ids[i])
			return false;
	return memcmp(m->room, s->room ? s->room : "", s->room_len) == 0 &&
	       (s->len == 0 || memcmp(m->data, s->data, s->len) == 0);
}

static void rx_msg(ws_bus_chan *ch, const ws_bus_msg *m, void *arg)
{
	rx *r = arg;
	if (ch != r->ch || r->eofs)
		r->bad = true;
	if (r->check_stream) {
		/* The receiver generates the same stream as the sender and compares. */
		spec s = stream_spec(r->count, &r->rng, r->payload);
		if (!msg_matches(m, &s))
			r->bad = true;
	} else if (r->count && m->target != r->last_target + 1) {
		r->bad = true;
	}
	r->last_target = m->target;
	/* A descriptor arrives with the first byte of its message, so it may be waiting while
	 * earlier messages are delivered; it is always there by the time its own message is. */
	if (m->type == WS_BUS_HANDOFF && !r->check_stream) {
		r->taken_fd = ws_bus_chan_take_fd(ch);
		if (r->taken_fd < 0)
			r->bad = true;
	}
	r->count++;
	if (r->pause_at && r->count == r->pause_at) {
		ws_bus_chan_pause(ch, true);
		if (r->resume_inside)
			ws_bus_chan_pause(ch, false);
	}
	if (r->free_at && r->count == r->free_at) {
		ws_bus_chan_free(ch);
		ws_bus_chan_free(ch); /* a second call while dispatching changes nothing */
		r->ch = NULL;
	}
	if (r->expect && r->count == r->expect)
		ws_loop_stop(r->loop);
}

static void no_msg(ws_bus_chan *ch, const ws_bus_msg *m, void *arg)
{
	(void)ch;
	(void)m;
	*(bool *)arg = true;
}

static void no_eof(ws_bus_chan *ch, int err, void *arg)
{
	(void)ch;
	(void)err;
	*(bool *)arg = true;
}

/* The sender side of the stream test: queues a batch per turn, then flushes. */
typedef struct tx {
	ws_bus_chan *ch;
	uint32_t next, total;
	uint32_t rng;
	uint8_t *payload;
	bool failed;
	size_t bytes;   /* encoded and queued */
	size_t backlog; /* the most left queued after a flush: the kernel did refuse */
} tx;

static void tx_prepare(ws_loop *loop, void *arg)
{
	(void)loop;
	tx *t = arg;
	for (int i = 0; i < 40 && t->next < t->total; i++) {
		spec s = stream_spec(t->next, &t->rng, t->payload);
		ws_chunk *c = encode_spec(&s);
		if (!c || ws_bus_chan_queue(t->ch, c) != 0)
			t->failed = true;
		t->bytes += c ? c->len : 0;
		ws_chunk_unref(c);
		t->next++;
	}
	ws_bus_chan_flush(t->ch);
	if (t->ch->out_bytes > t->backlog)
		t->backlog = t->ch->out_bytes;
}

static void on_deadline(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	*(bool *)arg = true;
	ws_loop_stop(loop);
}

static void test_stream(void)
{
	int fds_before = count_fds();
	ws_err err;
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false, timed_out = false;
	tx t = {.total = 3000, .rng = 12345, .payload = malloc(MIB)};
	rx r = {.expect = t.total,
	        .check_stream = true,
	        .taken_fd = -1,
	        .loop = loop,
	        .rng = t.rng,
	        .payload = malloc(MIB)};
	t.ch = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r);
	ws_loop_set_hooks(loop, tx_prepare, NULL, &t);
	ws_timer *deadline = ws_loop_timer_start(loop, 60000, 0, on_deadline, &timed_out);
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	UNIT_CHECK(!timed_out, "timed out after %u messages", r.count);
	UNIT_CHECK(r.count == t.total && !r.bad && !t.failed && !stray && r.eofs == 0,
	           "count %u bad %d failed %d", r.count, r.bad, t.failed);
	UNIT_CHECK(t.bytes > 10 * MIB && t.backlog > MIB, "%zu bytes, backlog %zu", t.bytes, t.backlog);
	UNIT_CHECK(t.ch->out_bytes == 0 && t.ch->out_count == 0, "sender drained: %zu",
	           t.ch->out_bytes);
	UNIT_CHECK(!(t.ch->io.events & WS_IO_WRITE), "sender stopped watching writability");
	UNIT_CHECK(r.ch->in.cap == 0, "idle receiver holds no buffer (cap %zu)", r.ch->in.cap);
	if (!timed_out)
		ws_loop_timer_stop(loop, deadline);
	ws_bus_chan_free(t.ch);
	ws_bus_chan_free(r.ch);
	ws_loop_free(loop);
	free(t.payload);
	free(r.payload);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

/* Queues messages with targets first .. first + n - 1 and writes them out completely. */
static void send_seq(ws_bus_chan *ch, uint64_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		ws_chunk *c = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, first + i, NULL, 0, NULL, 0,
		                                (const uint8_t *)"data", 4);
		UNIT_CHECK(c && ws_bus_chan_queue(ch, c) == 0, "queue %u", i);
		ws_chunk_unref(c);
	}
	UNIT_CHECK(ws_bus_chan_flush_all(ch, 5000) == 0, "flush_all");
}

typedef struct pause_test {
	rx *r;
	ws_bus_chan *tx;
	uint32_t count_before, count_after;
} pause_test;

static void more_then_resume(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	pause_test *p = arg;
	/* While paused, a further batch stays in the kernel. */
	send_seq(p->tx, 10, 5);
	p->count_before = p->r->count;
	ws_bus_chan_pause(p->r->ch, false);
	p->count_after = p->r->count;
}

static void test_pause(void)
{
	int fds_before = count_fds();
	for (int inside = 0; inside < 2; inside++) {
		ws_err err;
		ws_loop *loop = ws_loop_new(&err);
		int sv[2];
		make_pair(sv, true);
		bool stray = false, timed_out = false;
		rx r = {.expect = 15, .pause_at = 3, .resume_inside = inside, .taken_fd = -1, .loop = loop};
		ws_bus_chan *tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
		r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r);
		pause_test p = {.r = &r, .tx = tx};
		send_seq(tx, 0, 10); /* one read takes all ten */
		/* One-shot: the loop frees it when it fires. */
		ws_loop_timer_start(loop, inside ? 20 : 50, 0, more_then_resume, &p);
		ws_timer *deadline = ws_loop_timer_start(loop, 10000, 0, on_deadline, &timed_out);
		UNIT_CHECK(ws_loop_run(loop) == 0, "run");
		UNIT_CHECK(!timed_out && !r.bad && r.count == 15, "inside %d: count %u bad %d", inside,
		           r.count, r.bad);
		if (!inside) {
			/* Held until resume, then the buffered seven at once, before pause() returned. */
			UNIT_CHECK(p.count_before == 3 && p.count_after == 10, "before %u after %u",
			           p.count_before, p.count_after);
		} else {
			UNIT_CHECK(p.count_before == 10, "resumed inside on_msg: %u", p.count_before);
		}
		if (!timed_out)
			ws_loop_timer_stop(loop, deadline);
		ws_bus_chan_free(tx);
		ws_bus_chan_free(r.ch);
		ws_loop_free(loop);
	}
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

/* Runs the loop for `ms`, or until a callback stops it. */
static void run_for(ws_loop *loop, uint64_t ms)
{
	bool fired = false;
	ws_timer *t = ws_loop_timer_start(loop, ms, 0, on_deadline, &fired);
	ws_loop_run(loop);
	if (!fired)
		ws_loop_timer_stop(loop, t);
}

static void test_free_inside(void)
{
	int fds_before = count_fds();
	ws_err err;
	/* Freed from on_msg with more complete messages buffered: none of them is delivered. */
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	rx r = {.free_at = 2, .taken_fd = -1, .loop = loop};
	ws_bus_chan *tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r);
	send_seq(tx, 0, 6);
	run_for(loop, 50);
	UNIT_CHECK(r.count == 2 && r.ch == NULL && r.eofs == 0 && !r.bad, "count %u", r.count);
	/* Freed from on_msg while resuming delivers buffered messages. */
	ws_bus_chan_free(tx);
	make_pair(sv, true);
	rx rp = {.pause_at = 1, .free_at = 2, .taken_fd = -1, .loop = loop};
	tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	rp.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &rp);
	send_seq(tx, 0, 4);
	run_for(loop, 50);
	UNIT_CHECK(rp.count == 1, "paused after one: %u", rp.count);
	ws_bus_chan_pause(rp.ch, false);
	UNIT_CHECK(rp.count == 2 && rp.ch == NULL && !rp.bad, "freed while resuming: %u", rp.count);
	/* The sender sees the end. */
	rx r2 = {.taken_fd = -1, .loop = loop, .free_on_eof = true};
	ws_bus_chan_free(tx);
	make_pair(sv, true);
	r2.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r2);
	/* Freed from on_eof (after the peer closed mid-message: WS_EPROTO). */
	UNIT_CHECK(write(sv[0], "\x40\0\0\0\1", 5) == 5, "write");
	close(sv[0]);
	run_for(loop, 1000);
	UNIT_CHECK(r2.eofs == 1 && r2.eof_err == WS_EPROTO && r2.ch == NULL, "eofs %d err %d", r2.eofs,
	           r2.eof_err);
	ws_loop_free(loop);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

static void test_max_out(void)
{
	ws_err err;
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	ws_bus_chan *ch = ws_bus_chan_new(loop, sv[0], 100, no_msg, no_eof, &stray);
	uint8_t data[28];
	memset(data, 'q', sizeof(data));
	ws_chunk *c = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 1, NULL, 0, NULL, 0, data, 28);
	UNIT_CHECK(c->len == 60, "len %zu", c->len);
	UNIT_CHECK(ws_bus_chan_queue(ch, c) == 0 && ch->out_bytes == 60, "first");
	UNIT_CHECK(ws_bus_chan_queue(ch, c) == 0 && ch->out_bytes == 120, "second: 60 < 100");
	UNIT_CHECK(ws_bus_chan_queue(ch, c) == WS_ETOOBIG && ch->out_bytes == 120, "third refused");
	UNIT_CHECK(c->refs == 3, "a refused chunk keeps the caller's reference: %u", c->refs);
	int p[2];
	UNIT_CHECK(pipe(p) == 0, "pipe");
	UNIT_CHECK(ws_bus_chan_queue_fd(ch, c, p[0]) == 0 && ch->out_bytes == 180,
	           "queue_fd is not bounded");
	ws_chunk *empty = ws_chunk_new(0);
	UNIT_CHECK(ws_bus_chan_queue(ch, empty) == WS_ETOOBIG, "still full");
	UNIT_CHECK(ws_bus_chan_queue_fd(ch, empty, dup(p[0])) == WS_EINVAL, "an fd needs a byte");
	ws_bus_chan_flush(ch);
	UNIT_CHECK(ch->out_bytes == 0 && c->refs == 1, "written: %zu", ch->out_bytes);
	/* An empty chunk is passed over, not waited on forever. */
	UNIT_CHECK(ws_bus_chan_queue(ch, empty) == 0 && ws_bus_chan_queue(ch, empty) == 0, "empty");
	ws_bus_chan_flush(ch);
	UNIT_CHECK(ch->out_count == 0 && empty->refs == 1, "empty chunks written");
	ws_chunk_unref(empty);
	UNIT_CHECK(ws_bus_chan_queue(ch, c) == 0, "room again");
	/* Queued output and descriptors are dropped (and closed) with the channel. */
	UNIT_CHECK(ws_bus_chan_queue_fd(ch, c, p[1]) == 0, "queue_fd");
	ws_bus_chan_free(ch);
	UNIT_CHECK(!fd_is_open(p[1]), "queued descriptor closed");
	UNIT_CHECK(c->refs == 1, "refs %u", c->refs);
	ws_chunk_unref(c);
	/* The peer got the descriptor: drain and close it. */
	close(sv[1]);
	ws_loop_free(loop);
}

static void test_fd_passing(void)
{
	int fds_before = count_fds();
	ws_err err;
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	rx r = {.expect = 3, .taken_fd = -1, .loop = loop};
	ws_bus_chan *tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r);
	int p[2];
	UNIT_CHECK(pipe(p) == 0, "pipe");
	ws_chunk *before = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0);
	ws_chunk *hand = ws_bus_encode_ids(WS_BUS_HANDOFF, 0, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0);
	ws_chunk *after = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 2, NULL, 0, NULL, 0, NULL, 0);
	UNIT_CHECK(ws_bus_chan_queue(tx, before) == 0, "queue");
	UNIT_CHECK(ws_bus_chan_queue_fd(tx, hand, p[1]) == 0, "queue_fd");
	UNIT_CHECK(ws_bus_chan_queue(tx, after) == 0, "queue");
	ws_chunk_unref(before);
	ws_chunk_unref(hand);
	ws_chunk_unref(after);
	ws_bus_chan_flush(tx);
	UNIT_CHECK(tx->out_count == 0, "all written");
	UNIT_CHECK(!fd_is_open(p[1]), "the sender closed its copy once sent");
	run_for(loop, 5000);
	UNIT_CHECK(r.count == 3 && !r.bad && r.taken_fd >= 0, "count %u fd %d", r.count, r.taken_fd);
	if (r.taken_fd >= 0) {
		UNIT_CHECK(write(r.taken_fd, "hello", 5) == 5, "write through the received end");
		close(r.taken_fd);
		char buf[8];
		UNIT_CHECK(read(p[0], buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0, "read");
		UNIT_CHECK(read(p[0], buf, sizeof(buf)) == 0, "no other write end is open");
	}
	close(p[0]);
	UNIT_CHECK(ws_bus_chan_take_fd(r.ch) == -1, "none left");
	/* More descriptors than the FIFO holds, never taken: the extras are closed. */
	for (int i = 0; i < 11; i++) {
		int q[2];
		UNIT_CHECK(pipe(q) == 0, "pipe");
		close(q[0]);
		ws_chunk *c =
		    ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 3 + (uint64_t)i, NULL, 0, NULL, 0, NULL, 0);
		UNIT_CHECK(ws_bus_chan_queue_fd(tx, c, q[1]) == 0, "queue_fd %d", i);
		ws_chunk_unref(c);
	}
	r.expect = 14;
	ws_bus_chan_flush(tx);
	run_for(loop, 5000);
	UNIT_CHECK(r.count == 14 && r.ch->n_fds == 8, "count %u fds %u", r.count, r.ch->n_fds);
	ws_bus_chan_free(tx);
	ws_bus_chan_free(r.ch);
	ws_loop_free(loop);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked: %d -> %d", fds_before, count_fds());
}

static void test_peer_close(void)
{
	int fds_before = count_fds();
	ws_err err;
	ws_loop *loop = ws_loop_new(&err);

	/* Clean close after whole messages: err 0, once. */
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	rx r = {.taken_fd = -1, .loop = loop};
	ws_bus_chan *tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &r);
	send_seq(tx, 0, 3);
	ws_bus_chan_free(tx);
	run_for(loop, 1000);
	run_for(loop, 30);
	UNIT_CHECK(r.count == 3 && r.eofs == 1 && r.eof_err == 0 && !r.bad, "count %u eofs %d err %d",
	           r.count, r.eofs, r.eof_err);
	ws_chunk *c = ws_bus_encode_ids(WS_BUS_READY, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0);
	UNIT_CHECK(ws_bus_chan_queue(r.ch, c) == WS_ECLOSED, "queue after EOF");
	int p[2];
	UNIT_CHECK(pipe(p) == 0, "pipe");
	UNIT_CHECK(ws_bus_chan_queue_fd(r.ch, c, p[1]) == WS_ECLOSED && !fd_is_open(p[1]),
	           "queue_fd after EOF closes the descriptor");
	close(p[0]);
	UNIT_CHECK(ws_bus_chan_flush_all(r.ch, 10) == WS_ECLOSED, "flush_all after EOF");
	ws_bus_chan_free(r.ch);

	/* Garbage: WS_EPROTO, and messages before it are delivered. */
	make_pair(sv, true);
	rx g = {.taken_fd = -1, .loop = loop};
	g.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &g);
	UNIT_CHECK(write(sv[0], c->data, c->len) == (ssize_t)c->len, "write");
	UNIT_CHECK(write(sv[0], "\x05\0\0\0garbage", 11) == 11, "write");
	run_for(loop, 1000);
	UNIT_CHECK(g.count == 1 && g.eofs == 1 && g.eof_err == WS_EPROTO, "count %u eofs %d err %d",
	           g.count, g.eofs, g.eof_err);
	close(sv[0]);
	run_for(loop, 30);
	UNIT_CHECK(g.eofs == 1, "once");
	ws_bus_chan_free(g.ch);

	/* Writing to a dead peer raises no SIGPIPE. A reading channel delivers what the peer
	 * sent before it went, then reports the end. */
	make_pair(sv, true);
	rx w = {.taken_fd = -1, .loop = loop};
	w.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &w);
	UNIT_CHECK(write(sv[0], c->data, c->len) == (ssize_t)c->len, "write");
	close(sv[0]);
	UNIT_CHECK(ws_bus_chan_queue(w.ch, c) == 0, "queue");
	ws_bus_chan_flush(w.ch);
	UNIT_CHECK(w.eofs == 0 && w.ch->out_bytes == 0, "output dropped, end not yet reported");
	run_for(loop, 1000);
	UNIT_CHECK(w.count == 1 && w.eofs == 1 && w.eof_err == 0, "count %u eofs %d err %d", w.count,
	           w.eofs, w.eof_err);
	ws_bus_chan_free(w.ch);

	/* A paused channel learns of it from the failed write, at once. */
	make_pair(sv, true);
	rx q = {.taken_fd = -1, .loop = loop};
	q.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, rx_eof, &q);
	ws_bus_chan_pause(q.ch, true);
	close(sv[0]);
	run_for(loop, 30);
	UNIT_CHECK(!q.ch->io.active, "a paused channel is out of the loop: no wake-up per turn");
	UNIT_CHECK(ws_bus_chan_queue(q.ch, c) == 0, "queue");
	ws_bus_chan_flush(q.ch);
	UNIT_CHECK(q.eofs == 1 && q.eof_err == WS_ECLOSED, "eofs %d err %d", q.eofs, q.eof_err);
	ws_bus_chan_pause(q.ch, false);
	run_for(loop, 30);
	UNIT_CHECK(q.eofs == 1 && q.count == 0, "once, and nothing after");
	ws_bus_chan_free(q.ch);

	ws_chunk_unref(c);
	ws_loop_free(loop);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

static void test_flush_all(void)
{
	int fds_before = count_fds();
	ws_err err;
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	ws_bus_chan *ch = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	uint8_t *big = calloc(1, MIB);
	size_t total = 0;
	for (uint32_t i = 0; i < 8; i++) {
		ws_chunk *c = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, i, NULL, 0, NULL, 0, big, MIB);
		total += c->len;
		UNIT_CHECK(ws_bus_chan_queue(ch, c) == 0, "queue");
		ws_chunk_unref(c);
	}
	/* Nobody reads: times out, and the rest waits for writability. */
	UNIT_CHECK(ws_bus_chan_flush_all(ch, 30) == WS_EAGAIN, "timeout");
	UNIT_CHECK(ch->out_bytes > 0 && (ch->io.events & WS_IO_WRITE), "still queued: %zu",
	           ch->out_bytes);
	/* A child reads slowly; flush_all waits for it. */
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		int fl = fcntl(sv[1], F_GETFL);
		fcntl(sv[1], F_SETFL, fl & ~O_NONBLOCK);
		static uint8_t buf[65536];
		size_t got = 0;
		ssize_t r;
		usleep(20000);
		while ((r = read(sv[1], buf, sizeof(buf))) > 0)
			got += (size_t)r;
		_exit(got == total ? 0 : 1);
	}
	close(sv[1]);
	UNIT_CHECK(ws_bus_chan_flush_all(ch, 10000) == 0 && ch->out_bytes == 0, "flushed");
	UNIT_CHECK(!(ch->io.events & WS_IO_WRITE), "not watching writability");
	ws_bus_chan_free(ch);
	int status = -1;
	waitpid(pid, &status, 0);
	UNIT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child got every byte");
	/* A gone peer. */
	make_pair(sv, true);
	ch = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	close(sv[1]);
	ws_chunk *c = ws_bus_encode_ids(WS_BUS_SEND, 0, 0, 0, 0, NULL, 0, NULL, 0, big, 10);
	UNIT_CHECK(ws_bus_chan_queue(ch, c) == 0, "queue");
	UNIT_CHECK(ws_bus_chan_flush_all(ch, 1000) == WS_ECLOSED && ch->out_bytes == 0, "closed");
	UNIT_CHECK(ws_bus_chan_flush_all(ch, 1000) == 0, "nothing queued");
	ws_chunk_unref(c);
	ws_bus_chan_free(ch);
	free(big);
	UNIT_CHECK(!stray, "no callback");
	ws_loop_free(loop);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

static void test_send_recv_fd(void)
{
	int fds_before = count_fds();
	int sv[2], p[2];
	make_pair(sv, false);
	UNIT_CHECK(pipe(p) == 0, "pipe");
	char buf[16];
	int fd = 123;
	UNIT_CHECK(ws_bus_send_fd(sv[0], "abc", 3, p[1]) == 0, "send");
	UNIT_CHECK(fd_is_open(p[1]), "the caller keeps its descriptor");
	close(p[1]);
	UNIT_CHECK(ws_bus_recv_fd(sv[1], buf, 3, &fd) == 0 && memcmp(buf, "abc", 3) == 0 && fd >= 0,
	           "recv");
	if (fd >= 0) {
		UNIT_CHECK(write(fd, "xy", 2) == 2, "write through it");
		close(fd);
		UNIT_CHECK(read(p[0], buf, sizeof(buf)) == 2 && memcmp(buf, "xy", 2) == 0, "read");
	}
	UNIT_CHECK(ws_bus_send_fd(sv[0], "plain", 5, -1) == 0, "send without fd");
	UNIT_CHECK(ws_bus_recv_fd(sv[1], buf, 5, &fd) == 0 && fd == -1, "recv without fd");
	errno = 0;
	UNIT_CHECK(ws_bus_send_fd(sv[0], "", 0, p[0]) == WS_ESYS && errno == EINVAL,
	           "a descriptor needs a byte");

	/* 4 MiB with a descriptor, from a child writing in pieces: partial reads and writes. */
	size_t len = 4 * MIB;
	uint8_t *data = malloc(len), *got = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = pattern(9, i);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[1]);
		int rc = ws_bus_send_fd(sv[0], data, len / 2, p[0]);
		usleep(20000);
		rc |= ws_bus_send_fd(sv[0], data + len / 2, len / 2, -1);
		_exit(rc == 0 ? 0 : 1);
	}
	UNIT_CHECK(ws_bus_recv_fd(sv[1], got, len, &fd) == 0 && memcmp(got, data, len) == 0 && fd >= 0,
	           "large transfer");
	if (fd >= 0)
		close(fd);
	int status = -1;
	waitpid(pid, &status, 0);
	UNIT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child sent");

	/* EOF before len bytes: WS_ECLOSED, and the descriptor that came is not kept. */
	UNIT_CHECK(ws_bus_send_fd(sv[0], "ab", 2, p[0]) == 0, "send");
	close(sv[0]);
	UNIT_CHECK(ws_bus_recv_fd(sv[1], buf, 5, &fd) == WS_ECLOSED && fd == -1, "short");
	close(sv[1]);
	close(p[0]);
	free(data);
	free(got);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

/* ---- allocation failures ---- */

static void eof_restores(ws_bus_chan *ch, int err, void *arg)
{
	failalloc.fail_realloc = false;
	rx_eof(ch, err, arg);
}

static void test_alloc_failures(void)
{
	int fds_before = count_fds();
	ws_err err;
	/* Installed first: every block the allocator frees must have come from it. */
	failalloc_install();
	ws_loop *loop = ws_loop_new(&err);
	int sv[2];
	make_pair(sv, true);
	bool stray = false;
	ws_chunk *c = ws_bus_encode_ids(WS_BUS_READY, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0);
	UNIT_CHECK(c != NULL, "encode");

	failalloc.fail_all = true;
	UNIT_CHECK(ws_bus_encode_ids(WS_BUS_READY, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0) == NULL,
	           "encode fails");
	int extra = dup(sv[0]);
	UNIT_CHECK(ws_bus_chan_new(loop, extra, 0, no_msg, no_eof, &stray) == NULL &&
	               !fd_is_open(extra),
	           "new fails and closes fd");
	failalloc.fail_all = false;

	rx r = {.taken_fd = -1, .loop = loop};
	ws_bus_chan *tx = ws_bus_chan_new(loop, sv[0], 0, no_msg, no_eof, &stray);
	r.ch = ws_bus_chan_new(loop, sv[1], 0, rx_msg, eof_restores, &r);
	failalloc.fail_all = true;
	UNIT_CHECK(ws_bus_chan_queue(tx, c) == WS_ENOMEM && c->refs == 1, "queue fails");
	int p[2];
	UNIT_CHECK(pipe(p) == 0, "pipe");
	UNIT_CHECK(ws_bus_chan_queue_fd(tx, c, p[1]) == WS_ENOMEM && !fd_is_open(p[1]),
	           "queue_fd fails and closes fd");
	close(p[0]);
	failalloc.fail_all = false;
	/* No memory for the input buffer: the channel ends with WS_ENOMEM. */
	failalloc.fail_realloc = true;
	UNIT_CHECK(write(sv[0], c->data, c->len) == (ssize_t)c->len, "write");
	ws_loop_run(loop); /* eof_restores stops it */
	failalloc.fail_realloc = false;
	UNIT_CHECK(r.eofs == 1 && r.eof_err == WS_ENOMEM && r.count == 0, "eofs %d err %d", r.eofs,
	           r.eof_err);
	ws_bus_chan_free(tx);
	ws_bus_chan_free(r.ch);
	ws_chunk_unref(c);
	ws_loop_free(loop);
	ws_alloc_set(NULL);
	UNIT_CHECK(count_fds() == fds_before, "descriptors leaked");
}

static const CU_TestInfo tests[] = {
    {"round trip of every type, with and without ids, room, payload", test_round_trip},
    {"every prefix of a message is incomplete", test_every_prefix},
    {"two messages split at every offset", test_two_messages_split},
    {"malformed headers are WS_EPROTO as soon as they are in", test_malformed},
    {"encode refuses what parse would", test_encode_limits},
    {"thousands of messages up to 1 MiB arrive whole and in order", test_stream},
    {"pause from on_msg holds messages until resume", test_pause},
    {"free from on_msg and on_eof", test_free_inside},
    {"max_out refuses, queue_fd is not bounded", test_max_out},
    {"descriptors travel with their message", test_fd_passing},
    {"peer close, garbage and dead-peer writes end the channel once", test_peer_close},
    {"flush_all waits, times out, and sees a gone peer", test_flush_all},
    {"blocking send_fd and recv_fd", test_send_recv_fd},
    {"allocation failures", test_alloc_failures},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("bus", tests);
}
