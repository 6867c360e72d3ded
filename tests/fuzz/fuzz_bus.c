/* fuzz_bus.c - libFuzzer target for ws_bus_parse (src/bus.c).
 * Input: bytes 0-1 pick a split offset (little-endian, modulo the stream length plus one); the
 * rest is the byte stream, a sequence of bus messages. It is read twice the way a channel
 * reads it: whole, and in two pieces cut at the split, each time parsing message after message
 * from an exact-size copy of the unread bytes (so ASan sees any read past n) and keeping the
 * rest. Checks the result contract (0, WS_EPROTO or a length in [WS_BUS_HEADER, n]), that every
 * pointer lies inside the message and the parts add up to its length, that re-encoding a
 * parsed message gives back its bytes, that every prefix of the first message is incomplete
 * or refused the same way (bytes past the prefix are poisoned), and that both readings yield
 * the same messages and the same verdict. */
#include "fuzz.h"
#include "bus.h"
#include "err.h"

#include <sanitizer/asan_interface.h>
#include <string.h>

#define HEADER_ZERO 12 /* the padding field: ignored by parse, written as 0 by encode */

static void mix(uint64_t *d, uint64_t v)
{
	*d = (*d ^ v) * 0x100000001B3ull;
}

/* Checks one parsed message against the bytes it came from; returns its digest. */
static uint64_t check_msg(const uint8_t *p, size_t total, const ws_bus_msg *m)
{
	REQUIRE(total >= WS_BUS_HEADER && total <= 4 + (size_t)WS_BUS_MAX_MESSAGE);
	REQUIRE(m->type > 0 && m->type < WS_BUS_TYPE_MAX);
	REQUIRE(m->except == p + WS_BUS_HEADER);
	REQUIRE((const uint8_t *)m->room == m->except + (size_t)m->n_except * 8);
	REQUIRE(m->data == (const uint8_t *)m->room + m->room_len);
	REQUIRE(m->data + m->len == p + total);
	uint64_t size;
	uint32_t size32;
	memcpy(&size32, p, 4);
	size = size32;
	REQUIRE(size + 4 == total);
	REQUIRE((uint64_t)m->n_except * 8 + m->room_len + m->len + WS_BUS_HEADER == total);

	uint64_t d = 0xcbf29ce484222325ull;
	mix(&d,
	    m->type | (uint64_t)m->flags << 8 | (uint64_t)m->code << 16 | (uint64_t)m->origin << 32);
	mix(&d, m->target);
	for (uint32_t i = 0; i < m->n_except; i++)
		mix(&d, ws_bus_except(m, i));
	for (size_t i = 0; i < m->room_len; i++)
		mix(&d, (uint8_t)m->room[i]);
	for (size_t i = 0; i < m->len; i++)
		mix(&d, m->data[i]);
	mix(&d, total);

	/* Encoding what was parsed gives the same bytes, padding aside. */
	ws_chunk *c = ws_bus_encode(m);
	REQUIRE(c && c->len == total);
	REQUIRE(memcmp(c->data, p, HEADER_ZERO) == 0);
	REQUIRE(memcmp(c->data + HEADER_ZERO + 4, p + HEADER_ZERO + 4, total - HEADER_ZERO - 4) == 0);
	ws_chunk_unref(c);
	return d;
}

/* Every shorter prefix of p[0, n) must give 0, or WS_EPROTO when the whole does and only
 * from the point on where it starts to; bytes past the prefix are poisoned. */
static void check_prefixes(uint8_t *p, size_t n, ssize_t whole)
{
	bool refused = false;
	size_t limit = whole > 0 ? (size_t)whole : n;
	for (size_t k = 0; k < limit; k++) {
		ws_bus_msg m;
		ASAN_POISON_MEMORY_REGION(p + k, n - k);
		ssize_t rc = ws_bus_parse(p, k, &m);
		ASAN_UNPOISON_MEMORY_REGION(p + k, n - k);
		if (whole >= 0 || !refused) {
			REQUIRE(rc == 0 || (rc == WS_EPROTO && whole == WS_EPROTO));
			refused = rc == WS_EPROTO;
		} else {
			REQUIRE(rc == WS_EPROTO);
		}
	}
}

typedef struct reading {
	uint64_t digest;
	size_t consumed;
	size_t messages;
	ssize_t verdict; /* 0 (waiting for more) or WS_EPROTO */
} reading;

/* Parses message after message from stream[head, have), each call on an exact-size copy.
 * Returns false once the stream was refused. */
static bool parse_available(const uint8_t *stream, size_t have, reading *r, bool prefixes)
{
	while (r->consumed < have) {
		size_t n = have - r->consumed;
		uint8_t *copy = malloc(n);
		memcpy(copy, stream + r->consumed, n);
		ws_bus_msg m;
		memset(&m, 0xA5, sizeof(m));
		ssize_t rc = ws_bus_parse(copy, n, &m);
		REQUIRE(rc == 0 || rc == WS_EPROTO || (rc >= WS_BUS_HEADER && (size_t)rc <= n));
		if (prefixes && r->messages == 0)
			check_prefixes(copy, n, rc);
		if (rc > 0) {
			mix(&r->digest, check_msg(copy, (size_t)rc, &m));
			r->consumed += (size_t)rc;
			r->messages++;
		}
		free(copy);
		if (rc <= 0) {
			r->verdict = rc;
			return rc == 0;
		}
	}
	r->verdict = 0;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const uint8_t *stream = data + 2;
	size_t len = size - 2;
	size_t split = (size_t)(data[0] | data[1] << 8) % (len + 1);

	reading whole = {0}, pieces = {0};
	parse_available(stream, len, &whole, true);
	if (parse_available(stream, split, &pieces, false))
		parse_available(stream, len, &pieces, false);

	REQUIRE(whole.consumed <= len);
	REQUIRE(pieces.verdict == whole.verdict);
	REQUIRE(pieces.consumed == whole.consumed && pieces.messages == whole.messages);
	REQUIRE(pieces.digest == whole.digest);
	return 0;
}
