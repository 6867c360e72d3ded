/* fuzz_frame.c - libFuzzer target for src/frame.c (with src/utf8.c for text and close reasons).
 * Input: byte 0 is the parser configuration (bit 0 require_mask, bit 1 allow_rsv1, bits 2-3
 * pick max_frame_bytes from 0, 125, 1000, 65536, bit 4 defer_unmask); bytes 1-4 are piece sizes
 * (plus one) used in turn to feed the rest, the byte stream, the way a connection would: unconsumed
 * bytes are handed back together with the next piece, each call in an exact-size allocation. Checks
 * the result contract (consumed <= len, chunk inside the consumed bytes, header 2-14 bytes, chunk
 * lengths adding up to frame_len), that every frame the parser lets through obeys the rules it must
 * enforce, that payloads come out unmasked exactly (with defer_unmask, once the caller unmasks data
 * payloads with the key beside them), that the whole-buffer run gives the same frames and verdict
 * as the piecewise one, that streaming UTF-8 over text messages agrees with whole-message
 * validation, and that ws_frame_close_parse agrees with the close code rules. */
#include "fuzz.h"
#include "frame.h"
#include "err.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

typedef struct run {
	/* configuration */
	ws_frame_parser cfg;
	const uint8_t *stream; /* the original bytes, still masked */
	size_t len;
	/* what came out, folded into a digest so two runs can be compared */
	uint64_t digest;
	ssize_t rc;
	uint16_t close_code;
	/* frame and message tracking */
	bool open;            /* a frame's header was returned and its last chunk not yet */
	bool in_message;      /* our own view of the fragmentation state */
	size_t frame_start;   /* stream offset of the current frame's header */
	size_t payload_start; /* stream offset of its payload */
	uint64_t seen;        /* payload bytes of the current frame returned so far */
	uint8_t mask[4];
	bool masked;
	ws_frame_chunk first; /* the current frame's first chunk */
	/* the current data message (text: checked as UTF-8) and control frame payload */
	uint8_t *msg;
	uint8_t *scratch; /* a deferred data payload, unmasked */
	size_t msg_len;
	bool msg_text;
	ws_utf8 utf8;
	bool utf8_failed;
	uint8_t ctrl[WS_FRAME_MAX_CONTROL];
	size_t ctrl_len;
} run;

static void mix(run *r, uint64_t v)
{
	r->digest = (r->digest ^ v) * 0x100000001B3ull;
}

static bool is_data(uint8_t op)
{
	return op == WS_FRAME_OP_CONT || op == WS_FRAME_OP_TEXT || op == WS_FRAME_OP_BINARY;
}

/* A frame header was just consumed: check every rule the parser was meant to enforce. */
static void check_frame_start(run *r, const ws_frame_chunk *c, size_t hlen)
{
	const uint8_t *h = r->stream + r->frame_start;

	REQUIRE(hlen >= 2 && hlen <= WS_FRAME_MAX_HEADER);
	REQUIRE((h[0] & 0x0F) == c->opcode && ((h[0] & 0x80) != 0) == c->fin &&
	        ((h[0] & 0x40) != 0) == c->rsv1);
	REQUIRE((h[0] & 0x30) == 0);
	r->masked = (h[1] & 0x80) != 0;
	if (r->masked)
		memcpy(r->mask, h + hlen - 4, 4);
	REQUIRE(!r->cfg.require_mask || r->masked);
	REQUIRE(!(r->cfg.max_frame_bytes && c->frame_len > r->cfg.max_frame_bytes));
	REQUIRE(c->frame_len < (1ull << 63));
	switch (c->opcode) {
	case WS_FRAME_OP_CLOSE:
	case WS_FRAME_OP_PING:
	case WS_FRAME_OP_PONG:
		REQUIRE(c->fin && !c->rsv1 && c->frame_len <= WS_FRAME_MAX_CONTROL);
		r->ctrl_len = 0;
		return;
	case WS_FRAME_OP_TEXT:
	case WS_FRAME_OP_BINARY:
		REQUIRE(!r->in_message);
		REQUIRE(!c->rsv1 || r->cfg.allow_rsv1);
		r->msg_len = 0;
		r->msg_text = c->opcode == WS_FRAME_OP_TEXT;
		ws_utf8_reset(&r->utf8);
		r->utf8_failed = false;
		break;
	case WS_FRAME_OP_CONT:
		REQUIRE(r->in_message && !c->rsv1);
		break;
	default:
		REQUIRE(0);
	}
	r->in_message = !c->fin;
}

static void end_message(run *r)
{
	if (!r->msg_text)
		return;
	bool streamed = !r->utf8_failed && ws_utf8_complete(&r->utf8);
	/* RSV1 would mean compressed bytes; validating them as text means nothing, but the
	 * streaming and whole-buffer answers must still agree. */
	REQUIRE(streamed == (ws_utf8_validate(r->msg, r->msg_len) == 0));
	mix(r, streamed);
}

static void end_control(run *r, uint8_t op)
{
	uint16_t code = 0;
	const uint8_t *reason = NULL;
	size_t reason_len = 0;

	if (op != WS_FRAME_OP_CLOSE)
		return;
	int rc = ws_frame_close_parse(r->ctrl, r->ctrl_len, &code, &reason, &reason_len);
	if (r->ctrl_len == 0) {
		REQUIRE(rc == 0 && code == WS_CLOSE_NO_STATUS && reason_len == 0);
	} else if (r->ctrl_len == 1) {
		REQUIRE(rc == WS_EPROTO);
	} else {
		unsigned c = (unsigned)r->ctrl[0] << 8 | r->ctrl[1];
		bool utf8_ok = ws_utf8_validate(r->ctrl + 2, r->ctrl_len - 2) == 0;
		if (!ws_frame_close_code_valid(c))
			REQUIRE(rc == WS_EPROTO);
		else if (!utf8_ok)
			REQUIRE(rc == WS_EUTF8);
		else
			REQUIRE(rc == 0 && code == c && reason == r->ctrl + 2 && reason_len == r->ctrl_len - 2);
	}
	mix(r, (uint64_t)(rc + 16) << 16 | code);
}

/* One successful call: `in` held `avail` bytes starting at stream offset `at`. */
static void take(run *r, const uint8_t *in, size_t avail, size_t at, ssize_t rc,
                 const ws_frame_chunk *c)
{
	REQUIRE(rc > 0 && (size_t)rc <= avail);
	REQUIRE(c->len <= (size_t)rc && c->data >= in && c->data + c->len <= in + rc);
	if (c->first) {
		REQUIRE(!r->open);
		size_t hlen = (size_t)rc - c->len;
		REQUIRE(c->data == in + hlen);
		r->frame_start = at;
		r->payload_start = at + hlen;
		r->seen = 0;
		r->first = *c;
		r->open = true;
		check_frame_start(r, c, hlen);
		mix(r, (uint64_t)c->opcode << 56 | (uint64_t)c->fin << 48 | (uint64_t)c->rsv1 << 40);
		mix(r, c->frame_len);
	} else {
		REQUIRE(r->open && c->data == in && (size_t)rc == c->len);
		REQUIRE(c->opcode == r->first.opcode && c->fin == r->first.fin &&
		        c->rsv1 == r->first.rsv1 && c->frame_len == r->first.frame_len);
	}
	REQUIRE(r->seen + c->len <= c->frame_len);
	const uint8_t *bytes = c->data;
	if (r->cfg.defer_unmask && is_data(c->opcode)) {
		ws_frame_unmask_copy(r->scratch, c->data, c->len, c->mask, 0);
		bytes = r->scratch;
	} else {
		static const uint8_t zero[4];
		REQUIRE(memcmp(c->mask, zero, 4) == 0);
	}
	/* The payload must be the stream's bytes, unmasked with the frame's key at its offset. */
	for (size_t i = 0; i < c->len; i++) {
		uint64_t off = r->seen + i;
		uint8_t want = r->stream[r->payload_start + off];
		if (r->masked)
			want ^= r->mask[off & 3];
		REQUIRE(bytes[i] == want);
		mix(r, bytes[i]);
	}
	if (is_data(c->opcode)) {
		memcpy(r->msg + r->msg_len, bytes, c->len);
		r->msg_len += c->len;
		if (r->msg_text && !r->utf8_failed && ws_utf8_feed(&r->utf8, bytes, c->len) < 0)
			r->utf8_failed = true;
	} else {
		memcpy(r->ctrl + r->ctrl_len, bytes, c->len);
		r->ctrl_len += c->len;
	}
	r->seen += c->len;
	REQUIRE(c->last == (r->seen == c->frame_len));
	if (c->last) {
		r->open = false;
		if (is_data(c->opcode) && c->fin)
			end_message(r);
		else if (!is_data(c->opcode))
			end_control(r, c->opcode);
	}
}

/* Feeds the stream in pieces of the sizes in `sizes` (cycled; 0 means all at once). */
static void feed(run *r, const uint8_t *sizes, size_t n_sizes)
{
	ws_frame_parser p = r->cfg;
	uint8_t *pending = malloc(r->len + 1);
	size_t plen = 0, pos = 0, consumed = 0;

	r->msg = malloc(r->len + 1);
	r->scratch = malloc(r->len + 1);
	for (size_t k = 0; pos < r->len; k++) {
		size_t n = n_sizes ? (size_t)sizes[k % n_sizes] + 1 : r->len;
		if (n > r->len - pos)
			n = r->len - pos;
		memcpy(pending + plen, r->stream + pos, n);
		plen += n;
		pos += n;
		while (plen > 0) {
			uint8_t *in = malloc(plen);
			ws_frame_chunk c;
			memcpy(in, pending, plen);
			ssize_t rc = ws_frame_parse(&p, in, plen, &c);
			if (rc == WS_EAGAIN) {
				REQUIRE(!r->open && plen < WS_FRAME_MAX_HEADER);
				free(in);
				break;
			}
			if (rc < 0) {
				REQUIRE((rc == WS_EPROTO && p.close_code == WS_CLOSE_PROTOCOL_ERROR) ||
				        (rc == WS_ETOOBIG && p.close_code == WS_CLOSE_TOO_BIG));
				REQUIRE(!r->open);
				/* The parser refuses to go on after an error. */
				REQUIRE(ws_frame_parse(&p, in, plen, &c) == rc);
				r->rc = rc;
				r->close_code = p.close_code;
				free(in);
				goto out;
			}
			take(r, in, plen, consumed, rc, &c);
			free(in);
			memmove(pending, pending + rc, plen - (size_t)rc);
			plen -= (size_t)rc;
			consumed += (size_t)rc;
		}
	}
	r->rc = r->open || plen ? WS_EAGAIN : 0;
out:
	free(pending);
	free(r->msg);
	free(r->scratch);
	r->msg = r->scratch = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[] = {0, 125, 1000, 65536};
	run a, b;

	if (size < 5)
		return 0;
	memset(&a, 0, sizeof(a));
	a.cfg.require_mask = data[0] & 1;
	a.cfg.allow_rsv1 = (data[0] >> 1) & 1;
	a.cfg.max_frame_bytes = limits[(data[0] >> 2) & 3];
	a.cfg.defer_unmask = (data[0] >> 4) & 1;
	a.stream = data + 5;
	a.len = size - 5;
	b = a;

	feed(&a, data + 1, 4);
	feed(&b, NULL, 0);
	REQUIRE(a.rc == b.rc && a.close_code == b.close_code && a.digest == b.digest);
	return 0;
}
