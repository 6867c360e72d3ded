/* fuzz_message.c - libFuzzer target for message reassembly in a connection (src/conn.h): after
 * a fixed upgrade request, the fuzzer's bytes describe messages that are framed the way a
 * client may frame them: text or binary, compressed (permessage-deflate, by zlib with context
 * takeover) or not, cut into up to 8 fragments at arbitrary points, with pings and pongs
 * between fragments. The stream is written over a socketpair in pieces while the real loop
 * runs (tests/fuzz/conn_drive.h).
 * Input: byte 0 picks the piece size (1..256); byte 1 bit 0 offers permessage-deflate. Then,
 * per message: a header byte (bit 0 binary, bit 1 compressed, bits 2-4 fragments - 1, bits 5-7
 * where control frames go between fragments), two bytes of length (little-endian, modulo what
 * is left), one byte per cut, and the payload.
 * Checks: messages are delivered whole, in order, with their type and bytes; a delivered text
 * message is valid UTF-8 (tests/unit/utf8_ref.h); invalid text delivers nothing from there on,
 * and when every message is valid, every one is delivered; every byte the core allocated is
 * freed (tests/unit/failalloc.h); ASan/UBSan find nothing. */
#include "fuzz.h"
#include "conn_drive.h"
#include "../unit/failalloc.h"
#include "../unit/utf8_ref.h"
#include "../unit/wsclient.h"

#include <signal.h>
#include <zlib.h>

#define MAX_MESSAGES 64

typedef struct expect {
	int count;     /* messages framed */
	int valid;     /* leading messages that are valid (text is valid UTF-8) */
	int delivered; /* messages the connection delivered */
	bool binary[MAX_MESSAGES];
	size_t len[MAX_MESSAGES];
	const uint8_t *data[MAX_MESSAGES]; /* the plain payload, inside the fuzzer's input */
} expect;

static void on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)c;
	expect *x = owner;
	int i = x->delivered++;
	bool complete;
	REQUIRE(i < x->valid);
	REQUIRE(binary == x->binary[i] && len == x->len[i]);
	REQUIRE(len == 0 || memcmp(msg, x->data[i], len) == 0);
	if (!binary)
		REQUIRE(utf8_ref_first_bad(msg, len, &complete) == len && complete);
	ws_free(msg);
}

static const ws_server_hooks hooks = {.on_message = on_message};

/* A growable output stream of plain malloc (the core's allocator counts only the core). */
typedef struct out {
	uint8_t *p;
	size_t len, cap;
} out;

static void put(out *o, const void *data, size_t len)
{
	if (o->len + len > o->cap) {
		o->cap = (o->len + len) * 2 + 256;
		o->p = realloc(o->p, o->cap);
		REQUIRE(o->p);
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
}

static void put_frame(out *o, bool fin, uint8_t rsv, uint8_t opcode, const uint8_t *p, size_t len)
{
	uint8_t *buf = malloc(len + 14);
	REQUIRE(buf);
	put(o, buf, wsc_encode(buf, fin, rsv, opcode, p, len));
	free(buf);
}

/* Compresses a message on the client's stream (context takeover) without the 4-byte tail of
 * the sync flush (RFC 7692 7.2.1). An empty message is the single byte 0x00 (an empty stored
 * block once the tail is put back; zlib makes nothing for a second flush without input).
 * Returns a malloc'ed buffer. */
static uint8_t *compress_message(z_stream *z, const uint8_t *p, size_t len, size_t *out_len)
{
	size_t cap = deflateBound(z, (uLong)len) + 16;
	uint8_t *buf = malloc(cap);
	REQUIRE(buf);
	if (len == 0) {
		buf[0] = 0;
		*out_len = 1;
		return buf;
	}
	z->next_in = (Bytef *)p;
	z->avail_in = (uInt)len;
	z->next_out = buf;
	z->avail_out = (uInt)cap;
	REQUIRE(deflate(z, Z_SYNC_FLUSH) == Z_OK && z->avail_in == 0 && z->avail_out > 0);
	size_t n = cap - z->avail_out;
	REQUIRE(n >= 4 && memcmp(buf + n - 4, "\x00\x00\xff\xff", 4) == 0);
	*out_len = n - 4;
	return buf;
}

/* Frames the messages the input describes into o; fills x. */
static void build(const uint8_t *in, size_t size, bool deflate_on, out *o, expect *x)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflate_on)
		REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t pos = 0;
	bool all_valid = true;
	while (pos + 3 <= size && x->count < MAX_MESSAGES) {
		uint8_t h = in[pos];
		size_t len = (size_t)in[pos + 1] | (size_t)in[pos + 2] << 8;
		pos += 3;
		bool binary = h & 1, compressed = deflate_on && (h & 2);
		int frags = 1 + ((h >> 2) & 7);
		uint8_t controls = h >> 5;
		const uint8_t *cuts = in + pos;
		size_t n_cuts = (size_t)frags - 1 <= size - pos ? (size_t)frags - 1 : size - pos;
		pos += n_cuts;
		len %= size - pos + 1;
		const uint8_t *payload = in + pos;
		pos += len;

		int i = x->count++;
		x->binary[i] = binary;
		x->len[i] = len;
		x->data[i] = payload;
		bool complete;
		if (!binary && (utf8_ref_first_bad(payload, len, &complete) != len || !complete))
			all_valid = false;
		if (all_valid)
			x->valid = x->count;

		size_t wire_len = len;
		uint8_t *wire = compressed ? compress_message(&z, payload, len, &wire_len) : NULL;
		const uint8_t *w = wire ? wire : payload;
		/* Cut points, in order, from the cut bytes. */
		size_t start = 0;
		for (int f = 0; f < frags; f++) {
			size_t end = wire_len;
			if (f < (int)n_cuts) {
				size_t at = (size_t)cuts[f] * wire_len / 256;
				end = at < start ? start : at;
			}
			bool fin = f == frags - 1 || f >= (int)n_cuts;
			if (fin)
				end = wire_len;
			put_frame(o, fin, f == 0 && compressed ? 4 : 0, f == 0 ? (binary ? 2 : 1) : 0,
			          w + start, end - start);
			start = end;
			if (fin)
				break;
			if (controls & (1u << (f % 3))) {
				uint8_t ping[4] = {'p', (uint8_t)f, (uint8_t)i, h};
				put_frame(o, true, 0, f & 1 ? 10 : 9, ping, sizeof(ping));
			}
		}
		free(wire);
	}
	if (deflate_on)
		deflateEnd(&z);
}

static const char request[] = "GET /fuzz HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	if (!once) {
		signal(SIGPIPE, SIG_IGN);
		once = true;
	}
	if (size < 2)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	bool deflate_on = data[1] & 1;
	static const ws_deflate_config deflate = {15, 15, true, true, 8, 6};
	ws_conn_limits limits = connenv_limits();
	limits.deflate = &deflate;

	out o = {0};
	put(&o, request, sizeof(request) - 1);
	if (deflate_on) {
		static const char ext[] = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
		put(&o, ext, sizeof(ext) - 1);
	}
	put(&o, "\r\n", 2);
	expect x;
	memset(&x, 0, sizeof(x));
	build(data + 2, size - 2, deflate_on, &o, &x);

	failalloc_install();
	connenv e;
	int peer = -1;
	ws_conn *c = NULL;
	bool consumed = false;
	if (connenv_init(&e, &hooks, &x, &limits))
		c = connenv_conn(&e, 1, &peer);
	if (c)
		consumed = drive_run(&e, peer, o.p, o.len, piece);
	/* When the connection read everything and every message was valid, it delivered each. */
	if (consumed && x.valid == x.count)
		REQUIRE(x.delivered == x.count);
	REQUIRE(x.delivered <= x.valid);
	connenv_release(&e);
	if (peer >= 0)
		close(peer);
	REQUIRE(failalloc.live == 0);
	ws_alloc_set(NULL);
	free(o.p);
	return 0;
}
