/* fuzz_inflate.c - libFuzzer target for the permessage-deflate codecs in src/deflate.c.
 * Input: byte 0 is the agreed window (bits 0-2: 8 + value) and bit 3 no context takeover;
 * byte 1 the output window (bit 7 clear: 1..128 bytes; set: a multiple of 512 bytes);
 * bytes 2-3 two piece sizes (plus one) used in turn to feed the compressed bytes, each piece in
 * an exact-size allocation; byte 4 the compressor's level (low nibble) and memLevel (high);
 * the rest is the data.
 * First the data is taken as a compressed message from a peer, sent twice (the second one
 * decodes with the first one's window under context takeover). The piecewise run into small
 * windows must agree with a whole-input run into 64 KiB windows, both stop at a total output
 * cap as a caller does, and a message that decodes must decode the same with plain zlib (the
 * tail appended by hand). The inflater must never hold more than its state and window.
 * Then the data is the plain text of two messages: compressed by our deflater, decoded by our
 * inflater in the same pieces and windows, it must come back exactly. */
#include "fuzz.h"
#include "alloc.h"
#include "buf.h"
#include "deflate.h"
#include "err.h"

#include "../unit/failalloc.h"

#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#define OUT_CAP    (64 * 1024) /* the caller's limit on one message's output */
#define BIG_WINDOW (64 * 1024)

/* ---- feeding ---- */

typedef struct feed_cfg {
	size_t pieces[2];
	size_t window;
} feed_cfg;

typedef struct result {
	int rc; /* 0, WS_EPROTO or WS_ETOOBIG (the cap was passed) */
	size_t len;
	uint8_t out[OUT_CAP + BIG_WINDOW];
} result;

static result res_a, res_b, res_ref;

/* Feeds one message the way a connection would and collects its output up to the cap. */
static void decode(ws_inflater *f, const uint8_t *data, size_t len, const feed_cfg *fc, result *r)
{
	uint8_t *window = malloc(fc->window);
	size_t pos = 0, k = 0;

	r->rc = 0;
	r->len = 0;
	do {
		size_t piece = fc->pieces[k++ % 2];
		size_t end = len - pos > piece ? pos + piece : len;
		size_t n = end - pos;
		bool last = end == len;
		uint8_t *copy = malloc(n ? n : 1);
		const uint8_t *in = copy;
		memcpy(copy, data + pos, n);
		while (n || (last && !ws_inflater_done(f))) {
			size_t before = n;
			ssize_t got = ws_inflater_feed(f, &in, &n, last, window, fc->window);
			if (got < 0) {
				REQUIRE(got == WS_EPROTO);
				REQUIRE(ws_inflater_feed(f, &in, &n, last, window, fc->window) == got);
				r->rc = (int)got;
				break;
			}
			REQUIRE((size_t)got <= fc->window && n <= before);
			REQUIRE(got > 0 || n < before || ws_inflater_done(f));
			memcpy(r->out + r->len, window, (size_t)got);
			r->len += (size_t)got;
			if (r->len > OUT_CAP) {
				r->rc = WS_ETOOBIG;
				break;
			}
		}
		free(copy);
		pos = end;
	} while (pos < len && r->rc == 0);
	REQUIRE(r->rc != 0 || ws_inflater_done(f));
	free(window);
}

/* zlib at `bits`, one output byte per call, so every back-reference is checked against the
 * window: false when the message refers back further than the agreed window allows. */
static bool within_window(int bits, const uint8_t *data, size_t len)
{
	static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
	z_stream zs;
	uint8_t byte;
	int rc = Z_OK;

	memset(&zs, 0, sizeof(zs));
	REQUIRE(inflateInit2(&zs, -bits) == Z_OK);
	for (int part = 0; part < 2 && (rc == Z_OK || rc == Z_BUF_ERROR); part++) {
		zs.next_in = (Bytef *)(uintptr_t)(part ? tail : data);
		zs.avail_in = (uInt)(part ? 4 : len);
		do {
			zs.next_out = &byte;
			zs.avail_out = 1;
			rc = inflate(&zs, Z_SYNC_FLUSH);
		} while (rc == Z_OK && zs.total_out <= OUT_CAP);
	}
	bool within = rc != Z_DATA_ERROR || !zs.msg || strcmp(zs.msg, "invalid distance too far back");
	inflateEnd(&zs);
	return within;
}

/* Two runs of the same message agree on everything both produced, and on the verdict unless
 * one of them stopped at the cap (the bytes of the call that fails are never delivered, so a
 * run with big windows can fail where one with small windows is already past the cap), or
 * the message refers back beyond an agreed window below 15 bits: zlib checks a distance
 * against the window only when it reaches before the output of the current call, so how
 * such invalid data fares depends on the output windows. `strict` is false when that cannot
 * be told (a later message, whose history the check does not have). */
static void compare(const result *a, const result *b, int bits, const uint8_t *data, size_t len,
                    bool strict)
{
	size_t n = a->len < b->len ? a->len : b->len;

	REQUIRE(memcmp(a->out, b->out, n) == 0);
	if (a->rc == b->rc) {
		if (a->rc == 0)
			REQUIRE(a->len == b->len);
		return;
	}
	if (a->rc == WS_ETOOBIG || b->rc == WS_ETOOBIG) {
		REQUIRE(a->rc != 0 && b->rc != 0);
		return;
	}
	REQUIRE(bits < 15 && (!strict || !within_window(bits, data, len)));
}

/* Plain zlib on data + 00 00 FF FF: a message that we decode, zlib decodes the same. */
static void reference(int bits, const uint8_t *data, size_t len, result *r)
{
	static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
	z_stream zs;
	int rc = Z_OK;

	memset(&zs, 0, sizeof(zs));
	REQUIRE(inflateInit2(&zs, -bits) == Z_OK);
	r->rc = 0;
	r->len = 0;
	for (int part = 0; part < 2 && (rc == Z_OK || rc == Z_BUF_ERROR) && (part == 0 || len);
	     part++) {
		zs.next_in = (Bytef *)(uintptr_t)(part ? tail : data);
		zs.avail_in = (uInt)(part ? 4 : len);
		do {
			zs.next_out = r->out + r->len;
			zs.avail_out = OUT_CAP + 1 - (uInt)r->len;
			rc = inflate(&zs, Z_SYNC_FLUSH);
			r->len = OUT_CAP + 1 - zs.avail_out;
		} while (rc == Z_OK && zs.avail_in && r->len <= OUT_CAP);
	}
	inflateEnd(&zs);
	r->rc = rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR ? 0 : WS_EPROTO;
}

/* ---- the two parts ---- */

static void peer_messages(const ws_deflate_params *p, const uint8_t *data, size_t len,
                          const feed_cfg *fc)
{
	feed_cfg whole = {{len ? len : 1, len ? len : 1}, BIG_WINDOW};
	size_t base = failalloc.live;

	failalloc.peak = failalloc.live;
	ws_inflater *a = ws_inflater_new(p);
	ws_inflater *b = ws_inflater_new(p);
	REQUIRE(a && b);
	for (int m = 0; m < 2; m++) {
		decode(a, data, len, fc, &res_a);
		decode(b, data, len, &whole, &res_b);
		compare(&res_a, &res_b, p->client_max_window_bits, data, len, m == 0);
		if (m == 0 && res_b.rc == 0) {
			reference(p->client_max_window_bits, data, len, &res_ref);
			REQUIRE(res_ref.rc == 0 && res_ref.len == res_b.len);
			REQUIRE(memcmp(res_ref.out, res_b.out, res_b.len) == 0);
		}
		ws_inflater_idle(a);
		ws_inflater_idle(b);
		if (res_a.rc || res_b.rc)
			break;
	}
	/* Two inflaters, each a state of about 7 KiB and a window. */
	REQUIRE(failalloc.peak - base <=
	        2 * (8 * 1024 + ((size_t)1 << p->client_max_window_bits) + 512));
	ws_inflater_free(a);
	ws_inflater_free(b);
	REQUIRE(failalloc.live == base);
}

static void round_trip(const ws_deflate_params *p, const ws_deflate_config *cfg,
                       const uint8_t *data, size_t len, const feed_cfg *fc)
{
	ws_deflater *d = ws_deflater_new(p, cfg);
	ws_inflater *f = ws_inflater_new(p);
	ws_buf z = {0};

	REQUIRE(d && f);
	for (int m = 0; m < 2; m++) {
		/* The second message is the data's second half then its first: under context takeover
		 * it refers back into the first message. */
		const uint8_t *msg = data;
		uint8_t *swapped = NULL;
		if (m == 1 && len) {
			swapped = malloc(len);
			memcpy(swapped, data + len / 2, len - len / 2);
			memcpy(swapped + (len - len / 2), data, len / 2);
			msg = swapped;
		}
		z.head = z.len = 0;
		ssize_t n = ws_deflater_message(d, msg, len, &z);
		REQUIRE(n >= 1 && (size_t)n == z.len);
		REQUIRE(len || (n == 1 && z.ptr[0] == 0));
		decode(f, z.ptr, z.len, fc, &res_a);
		REQUIRE(res_a.rc == 0 && res_a.len == len && memcmp(res_a.out, msg, len) == 0);
		ws_deflater_idle(d);
		ws_inflater_idle(f);
		free(swapped);
	}
	ws_buf_release(&z);
	ws_inflater_free(f);
	ws_deflater_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool installed;

	if (!installed) {
		failalloc_install();
		installed = true;
	}
	if (size < 5)
		return 0;
	uint8_t bits = (uint8_t)(8 + (data[0] & 7));
	bool nct = (data[0] & 8) != 0;
	feed_cfg fc = {{(size_t)data[2] + 1, (size_t)data[3] + 1},
	               data[1] & 0x80 ? (size_t)(data[1] & 0x7f) * 512 + 512 : (size_t)data[1] + 1};
	ws_deflate_params p = {bits, bits, nct, nct};
	ws_deflate_config cfg = {
	    bits, bits, !nct, !nct, (uint8_t)(1 + (data[4] >> 4) % 9), (int8_t)((data[4] & 15) % 10)};

	peer_messages(&p, data + 5, size - 5, &fc);
	round_trip(&p, &cfg, data + 5, size - 5, &fc);
	return 0;
}
