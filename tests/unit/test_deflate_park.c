/* test_deflate_park.c - unit tests for parking the codecs of src/deflate.c: with context
 * takeover, ws_deflater_park and ws_inflater_park keep only the history and free the zlib
 * stream between messages, and the next message resumes from that history.
 * Checked, for window bits 8, 9, 12 and 15: messages compressed before and after parking decode
 * with a plain zlib raw inflater that kept its context all along (parking is invisible on the
 * wire), and refer back across the park; a parked inflater decodes a plain zlib deflater's
 * context-takeover stream; what park returns (with and without takeover, on a fresh codec, in
 * the middle of a message); the memory a codec reports against what it allocated (the figures
 * are printed); every allocation failing in turn on parking and on resuming (WS_ENOMEM, no
 * output the peer cannot decode, no leak); and the handoff window of a parked codec.
 * Every allocation goes through the counting allocator of failalloc.h. */
#include "unit.h"

#include "alloc.h"
#include "buf.h"
#include "deflate.h"
#include "err.h"
#include "failalloc.h"

#include <zlib.h>

/* ---- data ---- */

#define MSG_LEN 200

static const char *const chat_words[] = {
    "hi",  "everyone", "meeting", "at",    "noon", "the",    "build", "is",   "green", "again",
    "see", "you",      "later",   "lunch", "?",    "thanks", "ok",    "ship", "it",    ":)",
};

/* A chat message as JSON of exactly MSG_LEN bytes: repeated keys, a few varying values. */
static void chat_json(uint8_t *out, uint32_t seed)
{
	char buf[MSG_LEN + 64];
	uint32_t r = seed * 2654435761u + 1;
	int n = snprintf(buf, sizeof(buf),
	                 "{\"type\":\"message\",\"room\":\"lobby\",\"from\":\"user%03u\",\"id\":%u,"
	                 "\"ts\":%u,\"text\":\"",
	                 unit_rand(&r) % 40, 1000 + seed, 1733400000u + seed * 7);
	while (n < MSG_LEN - 2) {
		const char *w = chat_words[unit_rand(&r) % (sizeof(chat_words) / sizeof(chat_words[0]))];
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s ", w);
	}
	memcpy(buf + MSG_LEN - 2, "\"}", 2);
	memcpy(out, buf, MSG_LEN);
}

static ws_deflate_params params_of(uint8_t bits, bool nct)
{
	ws_deflate_params p = {bits, bits, nct, nct};
	return p;
}

static ws_deflate_config config_of(uint8_t bits, uint8_t mem_level)
{
	ws_deflate_config c = {bits, bits, true, true, mem_level, 6};
	return c;
}

/* ---- plain zlib on the other end ---- */

static const uint8_t tail[4] = {0x00, 0x00, 0xFF, 0xFF};

/* Decodes one message (tail appended) on a raw zlib inflater that keeps its context. */
static bool zlib_decodes(z_stream *zs, const uint8_t *in, size_t len, const uint8_t *want,
                         size_t want_len)
{
	uint8_t buf[4096];
	size_t have = 0;
	bool ok = want_len <= sizeof(buf) - 64;

	for (int part = 0; part < 2 && ok; part++) {
		zs->next_in = (Bytef *)(uintptr_t)(part ? tail : in);
		zs->avail_in = (uInt)(part ? sizeof(tail) : len);
		do {
			zs->next_out = buf + have;
			zs->avail_out = (uInt)(sizeof(buf) - have);
			int rc = inflate(zs, Z_SYNC_FLUSH);
			have = sizeof(buf) - zs->avail_out;
			ok = (rc == Z_OK || rc == Z_BUF_ERROR) && have <= want_len;
		} while (ok && zs->avail_in);
	}
	return ok && have == want_len && memcmp(buf, want, want_len) == 0;
}

/* Compresses one message on a raw zlib deflater that keeps its context; the tail is removed.
 * The deflater must not go through the counting allocator's failures: it uses libc. */
static size_t zlib_compress(z_stream *zs, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
	zs->next_in = (Bytef *)(uintptr_t)data;
	zs->avail_in = (uInt)len;
	zs->next_out = out;
	zs->avail_out = (uInt)cap;
	int rc = deflate(zs, Z_SYNC_FLUSH);
	size_t n = cap - zs->avail_out;
	UNIT_CHECK(rc == Z_OK && zs->avail_out > 0 && n >= 4 && memcmp(out + n - 4, tail, 4) == 0,
	           "zlib deflate: %d, %zu bytes", rc, n);
	return n - 4;
}

/* Feeds one message to f in two pieces, the second with `last`, and collects the output.
 * Returns 0 or the inflater's WS_E* code; *out_len gets the bytes decoded. */
static int inflate_message(ws_inflater *f, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len)
{
	size_t half = len / 2, have = 0;
	const uint8_t *p = in;
	size_t n = half;

	while (n) {
		ssize_t r = ws_inflater_feed(f, &p, &n, false, out + have, cap - have);
		if (r < 0)
			return (int)r;
		have += (size_t)r;
	}
	n = len - half;
	while (n || !ws_inflater_done(f)) {
		if (have == cap)
			return WS_ETOOBIG;
		ssize_t r = ws_inflater_feed(f, &p, &n, true, out + have, cap - have);
		if (r < 0)
			return (int)r;
		have += (size_t)r;
	}
	*out_len = have;
	return 0;
}

static const uint8_t bits_list[] = {8, 9, 12, 15};

/* ---- the compressor: parking is invisible on the wire ---- */

static void test_deflater_wire(void)
{
	for (size_t b = 0; b < sizeof(bits_list); b++) {
		uint8_t bits = bits_list[b];
		ws_deflate_params p = params_of(bits, false);
		ws_deflate_config cfg = config_of(bits, 8);
		size_t base = failalloc.live;
		ws_deflater *d = ws_deflater_new(&p, &cfg);
		z_stream zs = {0};
		ws_buf z = {0};
		uint8_t msg[MSG_LEN], prev[MSG_LEN];

		UNIT_CHECK(inflateInit2(&zs, -(int)bits) == Z_OK, "zlib inflater %u", bits);
		/* Twelve messages: parked after messages 3, 5, 6, 7 and so on; every fourth repeats
		 * the one before, which a resumed stream must find in its history. */
		for (uint32_t m = 0; m < 12; m++) {
			bool repeat = m % 4 == 3;
			if (repeat)
				memcpy(msg, prev, MSG_LEN);
			else
				chat_json(msg, m);
			z.head = z.len = 0;
			ssize_t n = ws_deflater_message(d, msg, MSG_LEN, &z);
			UNIT_CHECK(n > 0 && (size_t)n == z.len, "bits %u, message %u: %zd", bits, m, n);
			UNIT_CHECK(!ws_deflater_parked(d), "bits %u, message %u: resumed", bits, m);
			UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN),
			           "bits %u, message %u: zlib decodes it", bits, m);
			/* A repeat is a back reference of MSG_LEN bytes, within even the 250 bytes
			 * that a window of 8 bits lets zlib reach. */
			if (repeat)
				UNIT_CHECK(z.len < 16, "bits %u, message %u: a repeat takes %zu bytes", bits, m,
				           z.len);
			if (m >= 2 && m != 3) {
				size_t held = ws_deflater_memory(d);
				size_t released = ws_deflater_park(d);
				UNIT_CHECK(released > 0 && ws_deflater_parked(d),
				           "bits %u, message %u: park released %zu", bits, m, released);
				UNIT_CHECK(ws_deflater_memory(d) < held - released + (1u << 15),
				           "bits %u: parked holds %zu", bits, ws_deflater_memory(d));
				UNIT_CHECK(ws_deflater_park(d) == 0, "bits %u: parking twice", bits);
			}
			memcpy(prev, msg, MSG_LEN);
		}
		/* An empty message needs no stream: the deflater stays parked. */
		z.head = z.len = 0;
		UNIT_CHECK(ws_deflater_message(d, msg, 0, &z) == 1 && ws_deflater_parked(d),
		           "bits %u: empty message while parked", bits);
		UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, 0), "bits %u: empty message", bits);
		inflateEnd(&zs);
		ws_buf_release(&z);
		ws_deflater_free(d);
		UNIT_CHECK(failalloc.live == base, "bits %u: %zu bytes leaked", bits,
		           failalloc.live - base);
	}
}

/* ---- the decompressor: a parked inflater follows a peer that kept its context ---- */

static void test_inflater_wire(void)
{
	for (size_t b = 0; b < sizeof(bits_list); b++) {
		uint8_t bits = bits_list[b];
		ws_deflate_params p = params_of(bits, false);
		size_t base = failalloc.live;
		ws_inflater *f = ws_inflater_new(&p);
		z_stream zs = {0};
		uint8_t msg[MSG_LEN], prev[MSG_LEN], z[MSG_LEN * 2], out[4096];

		/* zlib has no raw 8-bit compressor; 9 bits stays within an 8-bit window (deflate.h). */
		UNIT_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, bits < 9 ? -9 : -(int)bits, 8,
		                        Z_DEFAULT_STRATEGY) == Z_OK,
		           "zlib deflater %u", bits);
		for (uint32_t m = 0; m < 12; m++) {
			bool repeat = m % 2 == 1;
			if (repeat)
				memcpy(msg, prev, MSG_LEN);
			else
				chat_json(msg, m);
			size_t zlen = zlib_compress(&zs, msg, MSG_LEN, z, sizeof(z));
			if (repeat)
				UNIT_CHECK(zlen < 16, "bits %u, message %u: zlib refers back (%zu bytes)", bits, m,
				           zlen);
			size_t got = 0;
			int rc = inflate_message(f, z, zlen, out, sizeof(out), &got);
			UNIT_CHECK(rc == 0 && got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0,
			           "bits %u, message %u: %d, %zu bytes", bits, m, rc, got);
			UNIT_CHECK(!ws_inflater_parked(f), "bits %u, message %u: resumed", bits, m);
			/* Parked after every message but the first, so each repeat is decoded by a stream
			 * that was just recreated from the history. */
			if (m > 0) {
				size_t released = ws_inflater_park(f);
				UNIT_CHECK(released > (1u << bits) && ws_inflater_parked(f),
				           "bits %u, message %u: park released %zu", bits, m, released);
				UNIT_CHECK(ws_inflater_park(f) == 0, "bits %u: parking twice", bits);
			}
			memcpy(prev, msg, MSG_LEN);
		}
		/* An empty message needs no stream: the inflater stays parked. */
		size_t got = 1;
		UNIT_CHECK(inflate_message(f, z, 0, out, sizeof(out), &got) == 0 && got == 0 &&
		               ws_inflater_parked(f),
		           "bits %u: empty message while parked", bits);
		deflateEnd(&zs);
		ws_inflater_free(f);
		UNIT_CHECK(failalloc.live == base, "bits %u: %zu bytes leaked", bits,
		           failalloc.live - base);
	}
}

/* ---- what park returns ---- */

static void test_park_returns(void)
{
	uint8_t msg[MSG_LEN], z[MSG_LEN * 2], out[4096];
	ws_buf zb = {0};
	size_t got;

	chat_json(msg, 1);
	for (int nct = 0; nct < 2; nct++) {
		ws_deflate_params p = params_of(15, nct);
		ws_deflate_config cfg = config_of(15, 8);
		ws_deflater *d = ws_deflater_new(&p, &cfg);
		ws_inflater *f = ws_inflater_new(&p);
		size_t empty_d = ws_deflater_memory(d), empty_f = ws_inflater_memory(f);

		/* A fresh codec has no stream. */
		UNIT_CHECK(ws_deflater_park(d) == 0 && ws_inflater_park(f) == 0, "nct %d: fresh", nct);
		UNIT_CHECK(!ws_deflater_parked(d) && !ws_inflater_parked(f), "nct %d: fresh", nct);
		zb.head = zb.len = 0;
		UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &zb) > 0, "nct %d: message", nct);
		UNIT_CHECK(inflate_message(f, zb.ptr, zb.len, out, sizeof(out), &got) == 0 &&
		               got == MSG_LEN,
		           "nct %d: decodes", nct);
		if (nct) {
			/* Without takeover park is idle: the stream goes, nothing is saved, 0. */
			UNIT_CHECK(ws_deflater_park(d) == 0 && ws_inflater_park(f) == 0, "no takeover");
			UNIT_CHECK(!ws_deflater_parked(d) && !ws_inflater_parked(f), "no takeover");
			UNIT_CHECK(ws_deflater_memory(d) == empty_d && ws_inflater_memory(f) == empty_f,
			           "no takeover: %zu and %zu held", ws_deflater_memory(d),
			           ws_inflater_memory(f));
		} else {
			size_t dr = ws_deflater_park(d), fr = ws_inflater_park(f);
			UNIT_CHECK(dr > 256 * 1024 && fr > 32 * 1024, "takeover: released %zu and %zu", dr, fr);
			UNIT_CHECK(ws_deflater_memory(d) == empty_d + MSG_LEN &&
			               ws_inflater_memory(f) == empty_f + MSG_LEN,
			           "takeover: parked hold %zu and %zu", ws_deflater_memory(d),
			           ws_inflater_memory(f));
		}
		ws_deflater_free(d);
		ws_inflater_free(f);
	}

	/* In the middle of a message the inflater is never parked, and the message completes. */
	ws_deflate_params p = params_of(12, false);
	ws_inflater *f = ws_inflater_new(&p);
	z_stream zs = {0};
	deflateInit2(&zs, 6, Z_DEFLATED, -12, 8, Z_DEFAULT_STRATEGY);
	for (uint32_t m = 0; m < 3; m++) {
		chat_json(msg, m % 2);
		size_t zlen = zlib_compress(&zs, msg, MSG_LEN, z, sizeof(z));
		const uint8_t *in = z;
		size_t in_len = zlen / 2, have = 0;
		while (in_len) {
			ssize_t r = ws_inflater_feed(f, &in, &in_len, false, out + have, sizeof(out) - have);
			UNIT_CHECK(r >= 0, "message %u: first half %zd", m, r);
			if (r < 0)
				break;
			have += (size_t)r;
		}
		size_t held = ws_inflater_memory(f);
		UNIT_CHECK(ws_inflater_park(f) == 0 && !ws_inflater_parked(f) &&
		               ws_inflater_memory(f) == held,
		           "message %u: parked in the middle", m);
		in_len = zlen - zlen / 2;
		while (in_len || !ws_inflater_done(f)) {
			ssize_t r = ws_inflater_feed(f, &in, &in_len, true, out + have, sizeof(out) - have);
			UNIT_CHECK(r >= 0, "message %u: second half %zd", m, r);
			if (r < 0)
				break;
			have += (size_t)r;
		}
		UNIT_CHECK(have == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0, "message %u: %zu bytes", m,
		           have);
		UNIT_CHECK(ws_inflater_park(f) > 0, "message %u: parked after it", m);
	}
	deflateEnd(&zs);
	ws_inflater_free(f);

	/* After an error the inflater is idle: nothing to park, nothing held. */
	f = ws_inflater_new(&p);
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
	UNIT_CHECK(inflate_message(f, junk, sizeof(junk), out, sizeof(out), &got) == WS_EPROTO, "junk");
	UNIT_CHECK(ws_inflater_park(f) == 0 && !ws_inflater_parked(f), "park after an error");
	ws_inflater_free(f);
	ws_buf_release(&zb);
}

/* ---- memory ---- */

/* What a codec reports equals what it allocated; the figures for ten chat messages. */
static void test_park_memory(void)
{
	static const struct {
		uint8_t bits, mem;
	} sizes[] = {{15, 8}, {12, 8}, {10, 4}, {9, 1}, {8, 8}};
	uint8_t msg[MSG_LEN], out[4096];
	ws_buf z = {0};

	ws_buf_reserve(&z, 4096);
	printf("memory after 10 chat messages of %u bytes (live stream -> parked):\n", MSG_LEN);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ws_deflate_params p = params_of(sizes[i].bits, false);
		ws_deflate_config cfg = config_of(sizes[i].bits, sizes[i].mem);
		size_t base = failalloc.live;
		ws_deflater *d = ws_deflater_new(&p, &cfg);
		ws_inflater *f = ws_inflater_new(&p);
		z_stream zs = {0};
		inflateInit2(&zs, -(int)sizes[i].bits);
		UNIT_CHECK(ws_deflater_memory(d) + ws_inflater_memory(f) == failalloc.live - base,
		           "fresh codecs: %zu reported, %zu allocated",
		           ws_deflater_memory(d) + ws_inflater_memory(f), failalloc.live - base);
		for (uint32_t m = 0; m < 10; m++) {
			chat_json(msg, m);
			z.head = z.len = 0;
			size_t got = 0;
			UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0, "message %u", m);
			UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "zlib decodes %u", m);
			UNIT_CHECK(inflate_message(f, z.ptr, z.len, out, sizeof(out), &got) == 0 &&
			               got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0,
			           "inflates %u", m);
		}
		size_t dlive = ws_deflater_memory(d), flive = ws_inflater_memory(f);
		UNIT_CHECK(dlive + flive == failalloc.live - base, "live: %zu reported, %zu allocated",
		           dlive + flive, failalloc.live - base);
		size_t dr = ws_deflater_park(d), fr = ws_inflater_park(f);
		size_t dpark = ws_deflater_memory(d), fpark = ws_inflater_memory(f);
		UNIT_CHECK(dpark + fpark == failalloc.live - base, "parked: %zu reported, %zu allocated",
		           dpark + fpark, failalloc.live - base);
		/* The window of 8 bits is zlib's 512 bytes on the compressing side, and deflate may
		 * keep up to 258 bytes less than its window (zlib.h, deflateGetDictionary). */
		size_t dwin = (size_t)1 << (sizes[i].bits < 9 ? 9 : sizes[i].bits);
		size_t fwin = (size_t)1 << sizes[i].bits;
		size_t dhist = dpark - (dlive - dr);
		size_t fhist = 10 * MSG_LEN < fwin ? 10 * MSG_LEN : fwin;
		UNIT_CHECK(dhist <= dwin && dhist + 258 >= (10 * MSG_LEN < dwin ? 10 * MSG_LEN : dwin) &&
		               dpark - dhist < 256,
		           "bits %u: deflater parked %zu, live %zu, released %zu", sizes[i].bits, dpark,
		           dlive, dr);
		UNIT_CHECK(fpark == flive - fr + fhist && fpark - fhist < 256,
		           "bits %u: inflater parked %zu, live %zu, released %zu", sizes[i].bits, fpark,
		           flive, fr);
		printf("  window %2u, memLevel %u: deflater %7zu -> %5zu bytes, inflater %6zu -> %5zu "
		       "bytes\n",
		       sizes[i].bits, sizes[i].mem, dlive, dpark, flive, fpark);
		/* And back: the next message resumes both at the live figures. */
		chat_json(msg, 10);
		z.head = z.len = 0;
		size_t got = 0;
		UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0, "after park");
		UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "zlib decodes after park");
		UNIT_CHECK(inflate_message(f, z.ptr, z.len, out, sizeof(out), &got) == 0 &&
		               got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0,
		           "inflates after park");
		UNIT_CHECK(ws_deflater_memory(d) == dlive && ws_inflater_memory(f) == flive,
		           "bits %u: resumed at %zu and %zu", sizes[i].bits, ws_deflater_memory(d),
		           ws_inflater_memory(f));
		inflateEnd(&zs);
		ws_deflater_free(d);
		ws_inflater_free(f);
		UNIT_CHECK(failalloc.live == base, "%zu bytes leaked", failalloc.live - base);
	}
	ws_buf_release(&z);
}

/* ---- allocation failures ---- */

/* Parking fails to allocate the history: the stream stays and keeps working. */
static void test_park_alloc_fails(void)
{
	ws_deflate_params p = params_of(12, false);
	ws_deflate_config cfg = config_of(12, 8);
	ws_deflater *d = ws_deflater_new(&p, &cfg);
	ws_inflater *f = ws_inflater_new(&p);
	uint8_t msg[MSG_LEN], out[4096];
	ws_buf z = {0};
	z_stream zs = {0};
	size_t got;

	inflateInit2(&zs, -12);
	for (uint32_t m = 0; m < 3; m++) {
		chat_json(msg, m);
		z.head = z.len = 0;
		UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0, "message %u", m);
		UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "zlib decodes %u", m);
		UNIT_CHECK(inflate_message(f, z.ptr, z.len, out, sizeof(out), &got) == 0 &&
		               got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0,
		           "inflates %u", m);
		size_t dheld = ws_deflater_memory(d), fheld = ws_inflater_memory(f);
		failalloc_fail_at(1, true);
		UNIT_CHECK(ws_deflater_park(d) == 0 && ws_inflater_park(f) == 0, "park fails %u", m);
		failalloc_fail_at(0, false);
		UNIT_CHECK(!ws_deflater_parked(d) && !ws_inflater_parked(f) &&
		               ws_deflater_memory(d) == dheld && ws_inflater_memory(f) == fheld,
		           "a failed park keeps the streams");
	}
	inflateEnd(&zs);
	ws_buf_release(&z);
	ws_deflater_free(d);
	ws_inflater_free(f);
}

/* Resuming a parked deflater with allocation n failing (alone, or with all that follow):
 * WS_ENOMEM and nothing appended, or a message; either way the history is not lost, what is
 * produced decodes on a zlib inflater that saw every message, and nothing leaks. Returns the
 * allocations the resuming message made (n beyond them fails nothing). */
static unsigned long run_deflater_resume_failing(unsigned long n, bool after)
{
	ws_deflate_params p = params_of(15, false);
	ws_deflate_config cfg = config_of(15, 8);
	size_t base = failalloc.live;
	ws_deflater *d = ws_deflater_new(&p, &cfg);
	uint8_t msg[MSG_LEN];
	ws_buf z = {0};
	z_stream zs = {0};
	unsigned long made;

	inflateInit2(&zs, -15);
	ws_buf_reserve(&z, 4096);
	chat_json(msg, 0);
	UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0, "first message");
	UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "first decodes");
	UNIT_CHECK(ws_deflater_park(d) > 0, "parked");
	z.head = z.len = 0;
	failalloc_fail_at(n, after);
	ssize_t r = ws_deflater_message(d, msg, MSG_LEN, &z);
	made = failalloc.attempts;
	failalloc_fail_at(0, false);
	UNIT_CHECK(r > 0 || (r == WS_ENOMEM && z.len == 0 && ws_deflater_parked(d)),
	           "fail at %lu%s: %zd", n, after ? " and after" : "", r);
	if (r > 0) {
		UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "fail at %lu: decodes", n);
		UNIT_CHECK(z.len < 16, "fail at %lu: refers back (%zu bytes)", n, z.len);
	}
	/* Then, with memory back, the same message again: a back reference into the history. */
	z.head = z.len = 0;
	UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0 && z.len < 16,
	           "fail at %lu: then %zu bytes", n, z.len);
	UNIT_CHECK(zlib_decodes(&zs, z.ptr, z.len, msg, MSG_LEN), "fail at %lu: then decodes", n);
	inflateEnd(&zs);
	ws_buf_release(&z);
	ws_deflater_free(d);
	UNIT_CHECK(failalloc.live == base, "fail at %lu: %zu bytes leaked", n, failalloc.live - base);
	return made;
}

/* Resuming a parked inflater with allocation n failing: WS_ENOMEM, sticky, or the message;
 * nothing leaks. Returns the allocations the resuming message made. */
static unsigned long run_inflater_resume_failing(unsigned long n, bool after)
{
	ws_deflate_params p = params_of(15, false);
	size_t base = failalloc.live;
	ws_inflater *f = ws_inflater_new(&p);
	uint8_t msg[MSG_LEN], z[MSG_LEN * 2], out[4096];
	z_stream zs = {0};
	size_t got = 0;
	unsigned long made;

	deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	chat_json(msg, 0);
	size_t zlen = zlib_compress(&zs, msg, MSG_LEN, z, sizeof(z));
	UNIT_CHECK(inflate_message(f, z, zlen, out, sizeof(out), &got) == 0 && got == MSG_LEN,
	           "first message");
	UNIT_CHECK(ws_inflater_park(f) > 0, "parked");
	zlen = zlib_compress(&zs, msg, MSG_LEN, z, sizeof(z));
	failalloc_fail_at(n, after);
	int rc = inflate_message(f, z, zlen, out, sizeof(out), &got);
	made = failalloc.attempts;
	failalloc_fail_at(0, false);
	UNIT_CHECK(rc == WS_ENOMEM || (rc == 0 && got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0),
	           "fail at %lu%s: %d", n, after ? " and after" : "", rc);
	if (rc == WS_ENOMEM) {
		const uint8_t *in = z;
		size_t in_len = zlen;
		UNIT_CHECK(ws_inflater_feed(f, &in, &in_len, true, out, sizeof(out)) == WS_ENOMEM,
		           "fail at %lu: sticky", n);
		UNIT_CHECK(!ws_inflater_parked(f) && ws_inflater_memory(f) < 256, "fail at %lu: holds %zu",
		           n, ws_inflater_memory(f));
		UNIT_CHECK(ws_inflater_park(f) == 0, "fail at %lu: nothing to park", n);
	}
	deflateEnd(&zs);
	ws_inflater_free(f);
	UNIT_CHECK(failalloc.live == base, "fail at %lu: %zu bytes leaked", n, failalloc.live - base);
	return made;
}

static void test_resume_alloc_fails(void)
{
	unsigned long dmade = run_deflater_resume_failing(0, false);
	unsigned long fmade = run_inflater_resume_failing(0, false);

	/* deflateInit2's allocations for the deflater; inflateInit2's state and the window that
	 * inflateSetDictionary allocates for the inflater. */
	UNIT_CHECK(dmade >= 3 && fmade >= 2, "resuming allocates %lu and %lu times", dmade, fmade);
	for (unsigned long n = 1; n <= dmade + 1; n++) {
		run_deflater_resume_failing(n, false);
		run_deflater_resume_failing(n, true);
	}
	for (unsigned long n = 1; n <= fmade + 1; n++) {
		run_inflater_resume_failing(n, false);
		run_inflater_resume_failing(n, true);
	}
}

/* ---- the handoff window of a parked codec ---- */

static void test_parked_window(void)
{
	for (size_t b = 0; b < sizeof(bits_list); b++) {
		uint8_t bits = bits_list[b];
		ws_deflate_params p = params_of(bits, false);
		ws_deflate_config cfg = config_of(bits, 8);
		size_t got, base = failalloc.live;
		ws_deflater *d = ws_deflater_new(&p, &cfg);
		ws_inflater *f = ws_inflater_new(&p);
		uint8_t msg[MSG_LEN], out[4096];
		uint8_t *live_w = malloc(1u << 15), *parked_w = malloc(1u << 15);
		ws_buf z = {0};
		z_stream peer = {0}; /* decodes what our deflaters send, context kept all along */

		inflateInit2(&peer, -(int)bits);
		for (uint32_t m = 0; m < 4; m++) {
			chat_json(msg, m);
			z.head = z.len = 0;
			UNIT_CHECK(ws_deflater_message(d, msg, MSG_LEN, &z) > 0, "bits %u: message", bits);
			UNIT_CHECK(zlib_decodes(&peer, z.ptr, z.len, msg, MSG_LEN), "bits %u: peer", bits);
			UNIT_CHECK(inflate_message(f, z.ptr, z.len, out, sizeof(out), &got) == 0 &&
			               got == MSG_LEN,
			           "bits %u: inflates", bits);
		}
		/* The same window, live and parked; a buffer below the window size gets nothing. */
		size_t dlive = ws_deflater_window(d, live_w, 1u << 15);
		UNIT_CHECK(ws_deflater_park(d) > 0, "bits %u: deflater parked", bits);
		UNIT_CHECK(ws_deflater_window(d, parked_w, (1u << bits) - 1) == 0,
		           "bits %u: deflater window in a small buffer", bits);
		size_t dparked = ws_deflater_window(d, parked_w, 1u << 15);
		UNIT_CHECK(dlive > 0 && dparked == dlive && memcmp(live_w, parked_w, dlive) == 0,
		           "bits %u: deflater window %zu live, %zu parked", bits, dlive, dparked);
		size_t flive = ws_inflater_window(f, live_w, 1u << 15);
		UNIT_CHECK(ws_inflater_park(f) > 0, "bits %u: inflater parked", bits);
		UNIT_CHECK(ws_inflater_window(f, out, (1u << bits) - 1) == 0,
		           "bits %u: inflater window in a small buffer", bits);
		size_t fparked = ws_inflater_window(f, parked_w, 1u << 15);
		UNIT_CHECK(flive > 0 && fparked == flive && memcmp(live_w, parked_w, flive) == 0,
		           "bits %u: inflater window %zu live, %zu parked", bits, flive, fparked);

		/* Handed to fresh codecs, the parked windows carry on the conversation. */
		dparked = ws_deflater_window(d, parked_w, 1u << 15);
		ws_deflater *d2 = ws_deflater_new(&p, &cfg);
		UNIT_CHECK(ws_deflater_set_window(d2, parked_w, dparked) == 0, "bits %u: set", bits);
		ws_inflater *f2 = ws_inflater_new(&p);
		UNIT_CHECK(ws_inflater_set_window(f2, live_w, flive) == 0, "bits %u: set", bits);
		z.head = z.len = 0;
		UNIT_CHECK(ws_deflater_message(d2, msg, MSG_LEN, &z) > 0 && z.len < 16,
		           "bits %u: the new deflater refers back (%zu bytes)", bits, z.len);
		UNIT_CHECK(zlib_decodes(&peer, z.ptr, z.len, msg, MSG_LEN), "bits %u: peer", bits);
		UNIT_CHECK(inflate_message(f2, z.ptr, z.len, out, sizeof(out), &got) == 0 &&
		               got == MSG_LEN && memcmp(out, msg, MSG_LEN) == 0,
		           "bits %u: the new inflater decodes it", bits);
		/* set_window on a parked codec replaces its history. */
		UNIT_CHECK(ws_deflater_set_window(d, parked_w, dparked) == 0 && !ws_deflater_parked(d),
		           "bits %u: set on parked", bits);
		UNIT_CHECK(ws_inflater_set_window(f, live_w, flive) == 0 && !ws_inflater_parked(f),
		           "bits %u: set on parked", bits);
		ws_deflater_free(d2);
		ws_inflater_free(f2);
		ws_deflater_free(d);
		ws_inflater_free(f);
		inflateEnd(&peer);
		ws_buf_release(&z);
		free(live_w);
		free(parked_w);
		UNIT_CHECK(failalloc.live == base, "bits %u: %zu bytes leaked", bits,
		           failalloc.live - base);
	}
}

static const CU_TestInfo tests[] = {
    {"deflater parked between messages: zlib decodes all", test_deflater_wire},
    {"inflater parked between messages of a zlib stream", test_inflater_wire},
    {"what park returns", test_park_returns},
    {"memory live and parked", test_park_memory},
    {"park fails to allocate its history", test_park_alloc_fails},
    {"resume fails to allocate", test_resume_alloc_fails},
    {"handoff window of a parked codec", test_parked_window},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	failalloc_install();
	return unit_main("deflate_park", tests);
}
