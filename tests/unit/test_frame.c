/* test_frame.c - unit tests for src/frame.c: the RFC 6455 5.7 examples, every length encoding,
 * fragmentation with control frames in between, each rule the parser enforces (with a
 * sibling case that passes, so the test fails if the rule is dropped or overreaches), the
 * header-only and EAGAIN results, masking across chunk boundaries, the header writers and
 * the Close payload check. Every stream case runs whole, byte by byte and split at each
 * offset, from buffers that end at a PROT_NONE page, and checks the chunk invariants. */
#include "unit.h"

#include "err.h"
#include "frame.h"

#define FIN  0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10

#define OP_TEXT   WS_FRAME_OP_TEXT
#define OP_BINARY WS_FRAME_OP_BINARY
#define OP_CONT   WS_FRAME_OP_CONT
#define OP_CLOSE  WS_FRAME_OP_CLOSE
#define OP_PING   WS_FRAME_OP_PING
#define OP_PONG   WS_FRAME_OP_PONG

static const uint8_t test_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

typedef struct frame_cfg {
	uint64_t max_frame_bytes;
	bool require_mask;
	bool allow_rsv1;
} frame_cfg;

static const frame_cfg server = {0, true, false};
static const frame_cfg lenient = {0, false, false};
static const frame_cfg deflate = {0, true, true};

typedef struct exp_frame {
	uint8_t opcode;
	bool fin;
	bool rsv1;
	const void *payload;
	size_t len;
} exp_frame;

/* Builds test input: a header with the length in a chosen encoding (7, 16 or 64 bits, 0 for
 * the minimal one), so non-minimal and malformed lengths can be written too. */
static size_t put_header(uint8_t *out, uint8_t b0, int enc, const uint8_t *mask, uint64_t len)
{
	size_t n = 0;
	uint8_t m = mask ? 0x80 : 0;

	if (enc == 0)
		enc = len <= 125 ? 7 : len <= 0xFFFF ? 16 : 64;
	out[n++] = b0;
	if (enc == 7) {
		out[n++] = m | (uint8_t)len;
	} else if (enc == 16) {
		out[n++] = m | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = m | 127;
		for (int s = 56; s >= 0; s -= 8)
			out[n++] = (uint8_t)(len >> s);
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

/* A whole frame: header, then the payload masked with `mask` when given. */
static size_t put_frame(uint8_t *out, uint8_t b0, int enc, const uint8_t *mask, const void *data,
                        size_t len)
{
	size_t n = put_header(out, b0, enc, mask, len);

	for (size_t i = 0; i < len; i++)
		out[n + i] = ((const uint8_t *)data)[i] ^ (mask ? mask[i & 3] : 0);
	return n + len;
}

#define MAX_FRAMES 32

typedef struct got_frame {
	uint8_t opcode;
	bool fin, rsv1;
	uint64_t frame_len;
	uint8_t *payload;
	size_t len;
} got_frame;

typedef struct frame_result {
	ssize_t rc; /* 0: ended at a frame boundary; WS_EAGAIN: ended inside a frame; or the error */
	uint16_t close_code;
	size_t n; /* completed frames */
	got_frame frames[MAX_FRAMES + 1];
} frame_result;

static void result_free(frame_result *r)
{
	for (size_t i = 0; i <= r->n && i <= MAX_FRAMES; i++)
		free(r->frames[i].payload);
	memset(r, 0, sizeof(*r));
}

/* Checks one chunk against the invariants of the contract and records its payload; with
 * `defer` (the parser's defer_unmask) a data payload is unmasked while it is copied. */
static void take_chunk(frame_result *r, bool *open, const ws_frame_chunk *c, const uint8_t *in,
                       size_t avail, ssize_t rc, size_t input_len, bool defer, const char *ctx)
{
	got_frame *f = &r->frames[r->n];
	static const uint8_t zero[4];

	UNIT_CHECK(rc > 0 && (size_t)rc <= avail, "%s: consumed %zd of %zu", ctx, rc, avail);
	UNIT_CHECK(c->data >= in && c->len <= (size_t)rc && c->data + c->len <= in + rc,
	           "%s: chunk outside the consumed bytes", ctx);
	if (c->first) {
		size_t hlen = (size_t)rc - c->len;
		UNIT_CHECK(!*open, "%s: first chunk while a frame is open", ctx);
		UNIT_CHECK(hlen >= 2 && hlen <= WS_FRAME_MAX_HEADER && c->data == in + hlen,
		           "%s: header length %zu", ctx, hlen);
		f->opcode = c->opcode;
		f->fin = c->fin;
		f->rsv1 = c->rsv1;
		f->frame_len = c->frame_len;
		f->len = 0;
		f->payload = malloc(c->frame_len < input_len ? (size_t)c->frame_len + 1 : input_len + 1);
		*open = true;
	} else {
		UNIT_CHECK(*open, "%s: continuing chunk without a frame", ctx);
		UNIT_CHECK(c->data == in && (size_t)rc == c->len, "%s: payload chunk shape", ctx);
		UNIT_CHECK(c->opcode == f->opcode && c->fin == f->fin && c->rsv1 == f->rsv1 &&
		               c->frame_len == f->frame_len,
		           "%s: frame fields changed between chunks", ctx);
	}
	UNIT_CHECK(f->len + c->len <= c->frame_len, "%s: more payload than frame_len", ctx);
	if (f->len + c->len > c->frame_len || f->len + c->len > input_len)
		return;
	if (!defer || (c->opcode & 0x8))
		UNIT_CHECK(memcmp(c->mask, zero, 4) == 0, "%s: a mask left on bytes already unmasked", ctx);
	ws_frame_unmask_copy(f->payload + f->len, c->data, c->len, c->mask, 0);
	f->len += c->len;
	UNIT_CHECK(c->last == (f->len == c->frame_len), "%s: last flag at %zu of %llu", ctx, f->len,
	           (unsigned long long)c->frame_len);
	if (c->last) {
		*open = false;
		if (r->n < MAX_FRAMES)
			r->n++;
	}
}

/* Feeds `input` in the pieces of `w`. Like a connection, it keeps unconsumed bytes and hands
 * them back with the next piece; every call sees its input end at the guard page. */
static void feed(const frame_cfg *cfg, bool defer, const uint8_t *input, size_t len,
                 const unit_way *w, unit_guard *g, frame_result *r, const char *ctx)
{
	ws_frame_parser p;
	uint8_t *pending = malloc(len + 1);
	size_t plen = 0, pos = 0;
	bool open = false;

	memset(&p, 0, sizeof(p));
	p.max_frame_bytes = cfg->max_frame_bytes;
	p.require_mask = cfg->require_mask;
	p.allow_rsv1 = cfg->allow_rsv1;
	p.defer_unmask = defer;
	memset(r, 0, sizeof(*r));
	while (pos < len) {
		size_t end = unit_way_piece_end(w, pos, len);
		memcpy(pending + plen, input + pos, end - pos);
		plen += end - pos;
		pos = end;
		while (plen > 0) {
			uint8_t *in = unit_guard_place(g, pending, plen);
			ws_frame_chunk c;
			memset(&c, 0xA5, sizeof(c));
			ssize_t rc = ws_frame_parse(&p, in, plen, &c);
			if (rc == WS_EAGAIN) {
				UNIT_CHECK(!open && plen < WS_FRAME_MAX_HEADER, "%s: EAGAIN with %zu bytes", ctx,
				           plen);
				break;
			}
			if (rc < 0) {
				r->rc = rc;
				r->close_code = p.close_code;
				free(pending);
				return;
			}
			take_chunk(r, &open, &c, in, plen, rc, len, defer, ctx);
			if (rc <= 0 || (size_t)rc > plen)
				break;
			memmove(pending, pending + rc, plen - (size_t)rc);
			plen -= (size_t)rc;
		}
	}
	r->rc = open || plen ? WS_EAGAIN : 0;
	free(pending);
}

/* Runs a case every way, with and without defer_unmask, and compares the frames and the
 * outcome with the expectation. */
static void expect(const char *name, const frame_cfg *cfg, const uint8_t *input, size_t len,
                   const exp_frame *exp, size_t n_exp, ssize_t want_rc, uint16_t want_close)
{
	unit_guard g;
	char ctx[160], way[48];

	unit_guard_init(&g, len);
	for (int defer = 0; defer < 2; defer++)
		UNIT_FOR_EACH_WAY(w, len)
		{
			frame_result r;
			snprintf(ctx, sizeof(ctx), "%s (%s%s)", name, unit_way_name(&w, way, sizeof(way)),
			         defer ? ", unmasked by the caller" : "");
			feed(cfg, defer, input, len, &w, &g, &r, ctx);
			UNIT_CHECK(r.rc == want_rc, "%s: result %zd, want %zd", ctx, r.rc, want_rc);
			if (want_rc < 0 && want_rc != WS_EAGAIN)
				UNIT_CHECK(r.close_code == want_close, "%s: close code %u, want %u", ctx,
				           r.close_code, want_close);
			UNIT_CHECK(r.n == n_exp, "%s: %zu frames, want %zu", ctx, r.n, n_exp);
			for (size_t i = 0; i < n_exp && i < r.n; i++) {
				const got_frame *f = &r.frames[i];
				UNIT_CHECK(f->opcode == exp[i].opcode && f->fin == exp[i].fin &&
				               f->rsv1 == exp[i].rsv1,
				           "%s: frame %zu header", ctx, i);
				UNIT_CHECK(f->frame_len == exp[i].len && f->len == exp[i].len &&
				               memcmp(f->payload, exp[i].payload, exp[i].len) == 0,
				           "%s: frame %zu payload", ctx, i);
			}
			result_free(&r);
		}
	unit_guard_release(&g);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_rfc_examples(void)
{
	/* RFC 6455 5.7, byte for byte. */
	static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                                 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
	static const uint8_t ping_pong[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x8a, 0x85,
	                                    0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	const exp_frame hello[] = {{OP_TEXT, true, false, "Hello", 5}};
	const exp_frame frags[] = {{OP_TEXT, false, false, "Hel", 3}, {OP_CONT, true, false, "lo", 2}};
	const exp_frame pp[] = {{OP_PING, true, false, "Hello", 5}, {OP_PONG, true, false, "Hello", 5}};

	expect("5.7 unmasked text", &lenient, unmasked, sizeof(unmasked), hello, 1, 0, 0);
	expect("5.7 masked text", &server, masked, sizeof(masked), hello, 1, 0, 0);
	expect("5.7 fragmented", &lenient, fragmented, sizeof(fragmented), frags, 2, 0, 0);
	expect("5.7 ping and pong", &lenient, ping_pong, sizeof(ping_pong), pp, 2, 0, 0);
}

/* Each length at the edges of the 7-, 16- and 64-bit encodings, masked, so masking across
 * chunk boundaries is checked at every split as well. */
static void test_lengths(void)
{
	static const size_t lens[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 125, 126, 127, 65535, 65536};
	size_t max = 65536;
	uint8_t *payload = malloc(max);
	uint8_t *input = malloc(max + WS_FRAME_MAX_HEADER);
	uint32_t seed = 7;
	char name[64];

	for (size_t i = 0; i < max; i++)
		payload[i] = (uint8_t)unit_rand(&seed);
	for (size_t i = 0; i < N(lens); i++) {
		size_t n = put_frame(input, FIN | OP_BINARY, 0, test_mask, payload, lens[i]);
		exp_frame e = {OP_BINARY, true, false, payload, lens[i]};
		size_t want_hlen = lens[i] <= 125 ? 6 : lens[i] <= 65535 ? 8 : 14;
		UNIT_CHECK(n == want_hlen + lens[i], "length %zu", lens[i]);
		snprintf(name, sizeof(name), "masked binary of %zu", lens[i]);
		expect(name, &server, input, n, &e, 1, 0, 0);
	}
	/* The RFC's own unmasked 256-byte and 64 KiB examples. */
	for (size_t k = 0; k < 2; k++) {
		size_t len = k ? 65536 : 256;
		size_t n = put_frame(input, FIN | OP_BINARY, 0, NULL, payload, len);
		exp_frame e = {OP_BINARY, true, false, payload, len};
		UNIT_CHECK(input[1] == (k ? 127 : 126), "length marker");
		snprintf(name, sizeof(name), "unmasked binary of %zu", len);
		expect(name, &lenient, input, n, &e, 1, 0, 0);
	}
	free(payload);
	free(input);
}

/* RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length"; a longer
 * encoding fails the connection with 1002, decided from the header alone. */
static void test_non_minimal_lengths(void)
{
	uint8_t in[64];
	size_t n = put_frame(in, FIN | OP_TEXT, 16, test_mask, "Hello", 5);

	expect("5 in a 16-bit length", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | OP_TEXT, 64, test_mask, "Hello", 5);
	expect("5 in a 64-bit length", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | OP_PING, 16, test_mask, "Hello", 5);
	expect("ping with a 16-bit length of 5", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_header(in, FIN | OP_BINARY, 16, test_mask, 125);
	expect("125 in a 16-bit length", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_header(in, FIN | OP_BINARY, 16, NULL, 0);
	expect("0 in a 16-bit length, unmasked", &lenient, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_header(in, FIN | OP_BINARY, 64, test_mask, 65535);
	expect("65535 in a 64-bit length", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	/* The rule is a protocol error before the size limit is looked at. */
	frame_cfg limited = server;
	limited.max_frame_bytes = 10;
	n = put_header(in, FIN | OP_BINARY, 64, test_mask, 200);
	expect("200 in a 64-bit length, limit 10", &limited, in, n, NULL, 0, WS_EPROTO, 1002);
	/* The smallest value of each wider field is minimal, so it is accepted. */
	n = put_header(in, FIN | OP_BINARY, 16, test_mask, 126);
	expect("126 in a 16-bit length, no payload yet", &server, in, n, NULL, 0, WS_EAGAIN, 0);
	n = put_header(in, FIN | OP_BINARY, 64, test_mask, 65536);
	expect("65536 in a 64-bit length, no payload yet", &server, in, n, NULL, 0, WS_EAGAIN, 0);
}

/* Control frames may come between the fragments of a message (5.4); the message stays open
 * across them, so the continuation that follows is accepted. */
static void test_control_between_fragments(void)
{
	uint8_t in[256];
	size_t n = 0;
	const exp_frame e[] = {
	    {OP_TEXT, false, false, "Hel", 3},   {OP_PING, true, false, "p", 1},
	    {OP_CONT, false, false, "l", 1},     {OP_PONG, true, false, "", 0},
	    {OP_PING, true, false, "", 0},       {OP_CONT, true, false, "o", 1},
	    {OP_BINARY, true, false, "\x00", 1},
	};

	n += put_frame(in + n, OP_TEXT, 0, test_mask, "Hel", 3);
	n += put_frame(in + n, FIN | OP_PING, 0, test_mask, "p", 1);
	n += put_frame(in + n, OP_CONT, 0, test_mask, "l", 1);
	n += put_frame(in + n, FIN | OP_PONG, 0, test_mask, "", 0);
	n += put_frame(in + n, FIN | OP_PING, 0, test_mask, "", 0);
	n += put_frame(in + n, FIN | OP_CONT, 0, test_mask, "o", 1);
	n += put_frame(in + n, FIN | OP_BINARY, 0, test_mask, "\x00", 1);
	expect("control frames between fragments", &server, in, n, e, N(e), 0, 0);

	/* A close frame inside a message is fine for the parser; the caller then stops. */
	n = put_frame(in, OP_BINARY, 0, test_mask, "ab", 2);
	n += put_frame(in + n, FIN | OP_CLOSE, 0, test_mask, "\x03\xe8", 2);
	const exp_frame e2[] = {{OP_BINARY, false, false, "ab", 2},
	                        {OP_CLOSE, true, false, "\x03\xe8", 2}};
	expect("close inside a message", &server, in, n, e2, 2, 0, 0);
}

static void test_many_messages(void)
{
	uint8_t in[512];
	exp_frame e[20];
	size_t n = 0;
	static const char *words[] = {"a", "bc", "def", "ghij", "", "klmno", "pq", "r"};

	for (size_t i = 0; i < 20; i++) {
		const char *w = words[i % N(words)];
		uint8_t op = i % 3 ? OP_TEXT : OP_BINARY;
		n += put_frame(in + n, FIN | op, 0, test_mask, w, strlen(w));
		e[i] = (exp_frame){op, true, false, w, strlen(w)};
	}
	expect("twenty messages in one buffer", &server, in, n, e, 20, 0, 0);
}

static void test_truncated(void)
{
	uint8_t in[320], payload[126];
	memset(payload, 'h', sizeof(payload));
	size_t n = put_frame(in, FIN | OP_TEXT, 16, test_mask, payload, sizeof(payload));
	const exp_frame e = {OP_TEXT, true, false, payload, sizeof(payload)};

	for (size_t cut = 1; cut < n; cut++) {
		char name[96];
		snprintf(name, sizeof(name), "cut after %zu of %zu", cut, n);
		expect(name, &server, in, cut, NULL, 0, WS_EAGAIN, 0);
	}
	memcpy(in + n, in, n);
	expect("one and a half frames", &server, in, n + n / 2, &e, 1, WS_EAGAIN, 0);
}

static void test_rule_mask(void)
{
	uint8_t in[32];
	size_t n = put_frame(in, FIN | OP_TEXT, 0, NULL, "Hi", 2);
	const exp_frame e = {OP_TEXT, true, false, "Hi", 2};

	expect("unmasked frame on a server", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	expect("unmasked frame without require_mask", &lenient, in, n, &e, 1, 0, 0);
	n = put_frame(in, FIN | OP_PING, 0, NULL, "", 0);
	expect("unmasked ping on a server", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	/* Without require_mask a masked frame is still unmasked. */
	n = put_frame(in, FIN | OP_TEXT, 0, test_mask, "Hi", 2);
	expect("masked frame without require_mask", &lenient, in, n, &e, 1, 0, 0);
}

static void test_rule_rsv(void)
{
	uint8_t in[64];
	size_t n;
	const exp_frame compressed = {OP_TEXT, true, true, "zz", 2};
	const exp_frame frag[] = {{OP_BINARY, false, true, "a", 1}, {OP_CONT, true, false, "b", 1}};

	n = put_frame(in, FIN | RSV2 | OP_TEXT, 0, test_mask, "zz", 2);
	expect("RSV2", &deflate, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | RSV3 | OP_TEXT, 0, test_mask, "zz", 2);
	expect("RSV3", &deflate, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | RSV1 | OP_TEXT, 0, test_mask, "zz", 2);
	expect("RSV1 without an extension", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	expect("RSV1 on a text frame with deflate", &deflate, in, n, &compressed, 1, 0, 0);

	n = put_frame(in, RSV1 | OP_BINARY, 0, test_mask, "a", 1);
	n += put_frame(in + n, FIN | OP_CONT, 0, test_mask, "b", 1);
	expect("RSV1 on the first fragment", &deflate, in, n, frag, 2, 0, 0);

	n = put_frame(in, RSV1 | OP_BINARY, 0, test_mask, "a", 1);
	n += put_frame(in + n, FIN | RSV1 | OP_CONT, 0, test_mask, "b", 1);
	expect("RSV1 on a continuation", &deflate, in, n, frag, 1, WS_EPROTO, 1002);

	n = put_frame(in, FIN | RSV1 | OP_PING, 0, test_mask, "", 0);
	expect("RSV1 on a ping", &deflate, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | RSV1 | OP_CLOSE, 0, test_mask, "", 0);
	expect("RSV1 on a close", &deflate, in, n, NULL, 0, WS_EPROTO, 1002);
}

static void test_rule_opcodes(void)
{
	static const uint8_t reserved[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
	uint8_t in[32];
	char name[96];

	for (size_t i = 0; i < N(reserved); i++) {
		size_t n = put_frame(in, FIN | reserved[i], 0, test_mask, "x", 1);
		snprintf(name, sizeof(name), "reserved opcode %x", reserved[i]);
		expect(name, &server, in, n, NULL, 0, WS_EPROTO, 1002);
	}
}

static void test_rule_control(void)
{
	uint8_t in[512], payload[126];
	size_t n;
	exp_frame e = {OP_PING, true, false, payload, 125};

	memset(payload, 'p', sizeof(payload));
	n = put_frame(in, OP_PING, 0, test_mask, "x", 1);
	expect("fragmented ping", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, OP_PONG, 0, test_mask, "x", 1);
	expect("fragmented pong", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, OP_CLOSE, 0, test_mask, "", 0);
	expect("fragmented close", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | OP_PING, 0, test_mask, payload, 125);
	expect("ping of 125", &server, in, n, &e, 1, 0, 0);
	n = put_frame(in, FIN | OP_PING, 0, test_mask, payload, 126);
	expect("ping of 126", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | OP_CLOSE, 64, test_mask, payload, 126);
	expect("close of 126 in a 64-bit length", &server, in, n, NULL, 0, WS_EPROTO, 1002);
}

static void test_rule_length_msb(void)
{
	uint8_t in[32];
	size_t n = put_header(in, FIN | OP_BINARY, 64, test_mask, 0x8000000000000000ull);
	frame_cfg limited = server;

	expect("64-bit length with the top bit", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	limited.max_frame_bytes = 1000;
	/* The top bit is a protocol error first, not an oversized frame. */
	expect("top bit with a limit", &limited, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_header(in, FIN | OP_BINARY, 64, test_mask, 0x7FFFFFFFFFFFFFFFull);
	expect("largest legal length, no payload yet", &server, in, n, NULL, 0, WS_EAGAIN, 0);
}

/* The limit is applied to the header alone: no payload byte is present in the failing cases,
 * so a result of WS_ETOOBIG proves it was decided before any payload. */
static void test_rule_max_frame(void)
{
	uint8_t in[2048], payload[1001];
	frame_cfg limited = server;
	exp_frame e = {OP_BINARY, true, false, payload, 1000};
	size_t n;

	limited.max_frame_bytes = 1000;
	memset(payload, 'x', sizeof(payload));
	n = put_frame(in, FIN | OP_BINARY, 0, test_mask, payload, 1000);
	expect("frame at the limit", &limited, in, n, &e, 1, 0, 0);
	n = put_header(in, FIN | OP_BINARY, 0, test_mask, 1001);
	expect("frame one above the limit", &limited, in, n, NULL, 0, WS_ETOOBIG, 1009);
	n = put_header(in, FIN | OP_BINARY, 64, test_mask, 1ull << 40);
	expect("terabyte frame", &limited, in, n, NULL, 0, WS_ETOOBIG, 1009);
	expect("terabyte frame without a limit", &server, in, n, NULL, 0, WS_EAGAIN, 0);
	limited.max_frame_bytes = 10;
	n = put_header(in, OP_TEXT, 0, test_mask, 11);
	expect("fragment above the limit", &limited, in, n, NULL, 0, WS_ETOOBIG, 1009);
}

static void test_rule_sequence(void)
{
	uint8_t in[64];
	size_t n;
	const exp_frame first = {OP_TEXT, false, false, "a", 1};
	const exp_frame whole = {OP_TEXT, true, false, "a", 1};

	n = put_frame(in, FIN | OP_CONT, 0, test_mask, "a", 1);
	expect("continuation with no message", &server, in, n, NULL, 0, WS_EPROTO, 1002);
	n = put_frame(in, FIN | OP_TEXT, 0, test_mask, "a", 1);
	n += put_frame(in + n, FIN | OP_CONT, 0, test_mask, "b", 1);
	expect("continuation after a finished message", &server, in, n, &whole, 1, WS_EPROTO, 1002);
	n = put_frame(in, OP_TEXT, 0, test_mask, "a", 1);
	n += put_frame(in + n, FIN | OP_TEXT, 0, test_mask, "b", 1);
	expect("text inside a fragmented message", &server, in, n, &first, 1, WS_EPROTO, 1002);
	n = put_frame(in, OP_TEXT, 0, test_mask, "a", 1);
	n += put_frame(in + n, OP_BINARY, 0, test_mask, "b", 1);
	expect("binary inside a fragmented message", &server, in, n, &first, 1, WS_EPROTO, 1002);
	n = put_frame(in, OP_TEXT, 0, test_mask, "a", 1);
	n += put_frame(in + n, FIN | OP_PING, 0, test_mask, "", 0);
	n += put_frame(in + n, FIN | OP_TEXT, 0, test_mask, "b", 1);
	const exp_frame two[] = {first, {OP_PING, true, false, "", 0}};
	expect("text after a ping inside a message", &server, in, n, two, 2, WS_EPROTO, 1002);
}

/* Direct checks of the results the stream driver cannot see one by one. */
static void test_partial_results(void)
{
	uint8_t in[32];
	ws_frame_parser p = {.require_mask = true};
	ws_frame_chunk c;
	size_t n = put_frame(in, FIN | OP_TEXT, 0, test_mask, "Hello", 5);

	UNIT_CHECK(ws_frame_parse(&p, in, 0, &c) == WS_EAGAIN, "empty input");
	for (size_t k = 1; k < 6; k++)
		UNIT_CHECK(ws_frame_parse(&p, in, k, &c) == WS_EAGAIN, "%zu header bytes", k);
	/* Header complete, no payload: the header is consumed with an empty first chunk. */
	UNIT_CHECK(ws_frame_parse(&p, in, 6, &c) == 6, "header only");
	UNIT_CHECK(c.first && !c.last && c.len == 0 && c.frame_len == 5 && c.opcode == OP_TEXT && c.fin,
	           "header-only chunk");
	UNIT_CHECK(ws_frame_parse(&p, in + 6, 0, &c) == WS_EAGAIN, "no payload yet");
	UNIT_CHECK(ws_frame_parse(&p, in + 6, 2, &c) == 2, "two payload bytes");
	UNIT_CHECK(!c.first && !c.last && c.len == 2 && memcmp(c.data, "He", 2) == 0, "He");
	UNIT_CHECK(ws_frame_parse(&p, in + 8, n - 8 + 3, &c) == 3, "rest, not beyond the frame");
	UNIT_CHECK(!c.first && c.last && c.len == 3 && memcmp(c.data, "llo", 3) == 0, "llo");

	/* An empty frame is first and last at once. */
	n = put_frame(in, FIN | OP_PONG, 0, test_mask, "", 0);
	UNIT_CHECK(ws_frame_parse(&p, in, n, &c) == 6, "empty pong");
	UNIT_CHECK(c.first && c.last && c.len == 0 && c.frame_len == 0, "empty pong chunk");

	/* Errors are sticky: the parser refuses to continue after one. */
	n = put_frame(in, FIN | 0x3, 0, test_mask, "", 0);
	UNIT_CHECK(ws_frame_parse(&p, in, n, &c) == WS_EPROTO && p.close_code == 1002, "opcode 3");
	n = put_frame(in, FIN | OP_TEXT, 0, test_mask, "ok", 2);
	UNIT_CHECK(ws_frame_parse(&p, in, n, &c) == WS_EPROTO, "after an error");
}

static void mask_ref(uint8_t *d, size_t len, const uint8_t m[4], uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		d[i] ^= m[(off + i) % 4];
}

/* ws_frame_mask on every split of a buffer into three pieces at every start alignment: the
 * mask phase must carry over from each piece to the next. 41 bytes cover the byte tail
 * exhaustively; 300 bytes (sampled splits) cross the 64-byte vector blocks. The same splits go
 * through ws_frame_unmask_copy into a second buffer, whose bytes around the copy must stay. */
static void test_mask_phase(void)
{
	enum { MAX = 300, PAD = 8 };
	uint8_t orig[MAX + PAD], a[MAX + PAD], b[MAX + PAD], d[MAX + 2 * PAD];
	const uint8_t m[4] = {0x01, 0x80, 0x7f, 0xfe};
	static const size_t lens[] = {41, MAX};
	uint32_t seed = 99;

	for (size_t i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)unit_rand(&seed);
	for (size_t li = 0; li < N(lens); li++) {
		size_t len = lens[li], step = len > 64 ? 13 : 1;
		for (size_t align = 0; align < PAD; align++) {
			for (size_t x = 0; x <= len; x += step) {
				for (size_t y = x; y <= len; y += step) {
					memcpy(a, orig, sizeof(a));
					memcpy(b, orig, sizeof(b));
					memset(d, 0xC3, sizeof(d));
					mask_ref(b + align, len, m, 5);
					ws_frame_mask(a + align, x, m, 5);
					ws_frame_mask(a + align + x, y - x, m, 5 + x);
					ws_frame_mask(a + align + y, len - y, m, 5 + y);
					UNIT_CHECK(memcmp(a, b, sizeof(a)) == 0,
					           "mask: len %zu align %zu split %zu %zu", len, align, x, y);
					uint8_t *dst = d + PAD + (PAD - 1 - align);
					ws_frame_unmask_copy(dst, orig + align, x, m, 5);
					ws_frame_unmask_copy(dst + x, orig + align + x, y - x, m, 5 + x);
					ws_frame_unmask_copy(dst + y, orig + align + y, len - y, m, 5 + y);
					bool around = true;
					for (uint8_t *q = d; q < d + sizeof(d); q++)
						if ((q < dst || q >= dst + len) && *q != 0xC3)
							around = false;
					UNIT_CHECK(memcmp(dst, b + align, len) == 0 && around,
					           "unmask_copy: len %zu align %zu split %zu %zu", len, align, x, y);
				}
			}
		}
	}
	/* Masking twice restores the data; a huge offset only matters modulo 4. */
	memcpy(a, orig, sizeof(a));
	ws_frame_mask(a, MAX, m, (1ull << 62) + 2);
	memcpy(b, orig, sizeof(b));
	mask_ref(b, MAX, m, 2);
	UNIT_CHECK(memcmp(a, b, MAX) == 0, "offset modulo 4");
	ws_frame_mask(a, MAX, m, 2);
	UNIT_CHECK(memcmp(a, orig, MAX) == 0, "involution");
}

static void test_write_header(void)
{
	uint8_t out[WS_FRAME_MAX_HEADER + 2];
	static const struct {
		uint64_t len;
		size_t hlen;
		uint8_t bytes[10];
	} cases[] = {
	    {0, 2, {0x81, 0x00}},
	    {125, 2, {0x81, 125}},
	    {126, 4, {0x81, 126, 0x00, 126}},
	    {65535, 4, {0x81, 126, 0xff, 0xff}},
	    {65536, 10, {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	    {0x0102030405060708ull, 10, {0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8}},
	};

	for (size_t i = 0; i < N(cases); i++) {
		memset(out, 0xEE, sizeof(out));
		size_t n = ws_frame_write_header(out, OP_TEXT, true, false, cases[i].len);
		UNIT_CHECK(n == cases[i].hlen && memcmp(out, cases[i].bytes, n) == 0 && out[n] == 0xEE,
		           "length %llu", (unsigned long long)cases[i].len);
		memset(out, 0xEE, sizeof(out));
		n = ws_frame_write_header_masked(out, OP_TEXT, true, false, cases[i].len, test_mask);
		UNIT_CHECK(n == cases[i].hlen + 4 && out[1] == (cases[i].bytes[1] | 0x80) &&
		               memcmp(out + 2, cases[i].bytes + 2, cases[i].hlen - 2) == 0 &&
		               memcmp(out + cases[i].hlen, test_mask, 4) == 0 && out[n] == 0xEE,
		           "masked length %llu", (unsigned long long)cases[i].len);
	}
	ws_frame_write_header(out, OP_PING, true, false, 0);
	UNIT_CHECK(out[0] == 0x89, "ping");
	ws_frame_write_header(out, OP_BINARY, false, true, 0);
	UNIT_CHECK(out[0] == 0x42, "binary, RSV1, no FIN");
	ws_frame_write_header(out, OP_CONT, true, false, 0);
	UNIT_CHECK(out[0] == 0x80, "final continuation");
}

/* What the writers produce, the parser reads back. */
static void test_write_roundtrip(void)
{
	static const size_t lens[] = {0, 125, 126, 65535, 65536, 70000};
	uint8_t *buf = malloc(70000 + WS_FRAME_MAX_HEADER);
	uint8_t *payload = malloc(70000);

	memset(payload, 'q', 70000);
	for (size_t i = 0; i < N(lens); i++) {
		ws_frame_parser p = {.require_mask = true, .allow_rsv1 = true};
		ws_frame_chunk c;
		size_t h = ws_frame_write_header_masked(buf, OP_BINARY, true, true, lens[i], test_mask);
		memcpy(buf + h, payload, lens[i]);
		ws_frame_mask(buf + h, lens[i], test_mask, 0);
		ssize_t rc = ws_frame_parse(&p, buf, h + lens[i], &c);
		UNIT_CHECK(rc == (ssize_t)(h + lens[i]) && c.first && c.last && c.rsv1 &&
		               c.opcode == OP_BINARY && c.len == lens[i] &&
		               memcmp(c.data, payload, lens[i]) == 0,
		           "round trip of %zu", lens[i]);
	}
	free(buf);
	free(payload);
}

static void test_close_code_valid(void)
{
	for (unsigned code = 0; code < 70000; code++) {
		bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
		            (code >= 3000 && code <= 4999);
		if (ws_frame_close_code_valid(code) != want)
			UNIT_CHECK(ws_frame_close_code_valid(code) == want, "code %u", code);
	}
	UNIT_CHECK(!ws_frame_close_code_valid(1005) && !ws_frame_close_code_valid(1006) &&
	               !ws_frame_close_code_valid(1015) && ws_frame_close_code_valid(1014),
	           "named edges");
}

static void test_close_parse(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		int rc;
		uint16_t code;
	} cases[] = {
	    {"", 0, 0, 1005},
	    {"\x03", 1, WS_EPROTO, 0},
	    {"\x03\xe8", 2, 0, 1000},
	    {"\x03\xe8"
	     "bye",
	     5, 0, 1000},
	    {"\x03\xe9\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 13, 0, 1001},
	    {"\x03\xef", 2, 0, 1007},
	    {"\x03\xf6", 2, 0, 1014},
	    {"\x0b\xb8", 2, 0, 3000},
	    {"\x13\x87", 2, 0, 4999},
	    {"\x00\x00", 2, WS_EPROTO, 0},
	    {"\x03\xe7", 2, WS_EPROTO, 0},
	    {"\x03\xec", 2, WS_EPROTO, 0},
	    {"\x03\xed", 2, WS_EPROTO, 0},
	    {"\x03\xee", 2, WS_EPROTO, 0},
	    {"\x03\xf7", 2, WS_EPROTO, 0},
	    {"\x07\xd0", 2, WS_EPROTO, 0},
	    {"\x0b\xb7", 2, WS_EPROTO, 0},
	    {"\x13\x88", 2, WS_EPROTO, 0},
	    {"\xff\xff", 2, WS_EPROTO, 0},
	    {"\x03\xe8\xff", 3, WS_EUTF8, 0},
	    {"\x03\xe8"
	     "ok\xed\xa0\x80",
	     7, WS_EUTF8, 0},
	    {"\x03\xe8"
	     "cut\xce",
	     6, WS_EUTF8, 0},
	};
	unit_guard g;

	unit_guard_init(&g, 64);
	for (size_t i = 0; i < N(cases); i++) {
		const uint8_t *p = unit_guard_place(&g, cases[i].bytes, cases[i].len);
		uint16_t code = 0xFFFF;
		const uint8_t *reason = NULL;
		size_t reason_len = 99;
		int rc = ws_frame_close_parse(p, cases[i].len, &code, &reason, &reason_len);
		UNIT_CHECK(rc == cases[i].rc, "case %zu: %d", i, rc);
		if (rc == 0) {
			size_t want_len = cases[i].len ? cases[i].len - 2 : 0;
			UNIT_CHECK(code == cases[i].code && reason_len == want_len &&
			               (want_len == 0 || reason == p + 2),
			           "case %zu: code %u, reason %zu", i, code, reason_len);
		}
	}
	unit_guard_release(&g);
}

static const CU_TestInfo tests[] = {
    {"RFC 6455 5.7 examples", test_rfc_examples},
    {"7/16/64-bit lengths", test_lengths},
    {"non-minimal lengths", test_non_minimal_lengths},
    {"control frames between fragments", test_control_between_fragments},
    {"many messages", test_many_messages},
    {"truncated input", test_truncated},
    {"rule: masking", test_rule_mask},
    {"rule: reserved bits", test_rule_rsv},
    {"rule: reserved opcodes", test_rule_opcodes},
    {"rule: control frames", test_rule_control},
    {"rule: 64-bit length top bit", test_rule_length_msb},
    {"rule: max_frame_bytes", test_rule_max_frame},
    {"rule: message sequence", test_rule_sequence},
    {"header-only and EAGAIN results", test_partial_results},
    {"mask phase across chunks", test_mask_phase},
    {"write header", test_write_header},
    {"write and parse back", test_write_roundtrip},
    {"close code validity", test_close_code_valid},
    {"close payload", test_close_parse},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("frame", tests);
}
