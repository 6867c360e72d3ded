/* frame.c - RFC 6455 section 5 framing: the incremental parser for frames a peer sends, the
 * header writers for frames we send, masking, and the Close payload check.
 * The parser consumes a whole header at once or nothing, then hands out the payload in
 * whatever pieces arrive, unmasked in place (or, for a caller that copies them anyway, left
 * masked with the key beside them). Every rule that can be decided from a header is
 * decided before a single payload byte is returned, so a caller never buffers or allocates for
 * a frame that is going to be rejected. Pure functions over caller-owned buffers: no sockets,
 * no allocation, no pointer into the input kept across calls. */
#include "frame.h"
#include "err.h"
#include "utf8.h"

#include <string.h>

#define B0_FIN     0x80
#define B0_RSV1    0x40
#define B0_RSV2    0x20
#define B0_RSV3    0x10
#define B0_OPCODE  0x0F
#define B1_MASK    0x80
#define B1_LEN     0x7F
#define LEN_16     126 /* a 16-bit length follows */
#define LEN_64     127 /* a 64-bit length follows */
#define OP_CONTROL 0x8 /* opcodes with this bit set are control frames (RFC 6455 5.5) */

static bool opcode_known(unsigned op)
{
	return op == WS_FRAME_OP_CONT || op == WS_FRAME_OP_TEXT || op == WS_FRAME_OP_BINARY ||
	       op == WS_FRAME_OP_CLOSE || op == WS_FRAME_OP_PING || op == WS_FRAME_OP_PONG;
}

static ssize_t fail(ws_frame_parser *p, ssize_t rc, uint16_t code)
{
	p->close_code = code;
	return rc;
}

/* Applies every rule that the first two header bytes decide, against the message state.
 * Returns 0 or WS_EPROTO with close_code set. */
static ssize_t check_start(ws_frame_parser *p, uint8_t b0, uint8_t b1)
{
	unsigned op = b0 & B0_OPCODE;
	bool control = (op & OP_CONTROL) != 0;

	/* RSV2 and RSV3 have no meaning without an extension that defines them, and we never
	 * negotiate one (RFC 6455 5.2). */
	if (b0 & (B0_RSV2 | B0_RSV3))
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	if (!opcode_known(op))
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* A server must reject unmasked client frames (RFC 6455 5.1); masking stops a hostile
	 * page from steering the bytes a proxy sees. Without require_mask a masked frame is still
	 * accepted and unmasked, so the same parser can serve a lenient client. */
	if (p->require_mask && !(b1 & B1_MASK))
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* RSV1 is the "compressed" bit of permessage-deflate (RFC 7692 6): it belongs on the first
	 * frame of a data message only, never on a continuation or a control frame. */
	if ((b0 & B0_RSV1) && (!p->allow_rsv1 || (op != WS_FRAME_OP_TEXT && op != WS_FRAME_OP_BINARY)))
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* Control frames must not be fragmented (5.5), which is why they may arrive between the
	 * fragments of a data message. Their 125-byte limit is checked on the decoded length. */
	if (control)
		return (b0 & B0_FIN) ? 0 : fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* Fragments of one message cannot interleave with another message (5.4). */
	if (op == WS_FRAME_OP_CONT && !p->in_message)
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	if (op != WS_FRAME_OP_CONT && p->in_message)
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	return 0;
}

static size_t header_len(uint8_t b1)
{
	size_t n = 2;

	if ((b1 & B1_LEN) == LEN_16)
		n += 2;
	else if ((b1 & B1_LEN) == LEN_64)
		n += 8;
	if (b1 & B1_MASK)
		n += 4;
	return n;
}

/* Reads the payload length from a complete header. */
static uint64_t read_len(const uint8_t *in)
{
	unsigned len7 = in[1] & B1_LEN;
	uint64_t len = 0;

	if (len7 == LEN_16)
		return (uint64_t)in[2] << 8 | in[3];
	if (len7 != LEN_64)
		return len7;
	for (int i = 0; i < 8; i++)
		len = len << 8 | in[2 + i];
	return len;
}

/* Hands out up to `len` payload bytes of the current frame as one chunk, unmasked unless
 * the caller unmasks data payloads itself. */
static size_t take_payload(ws_frame_parser *p, uint8_t *in, size_t len, ws_frame_chunk *out)
{
	size_t n = p->remaining < len ? (size_t)p->remaining : len;
	uint64_t offset = p->frame_len - p->remaining;

	if (p->masked && n && p->defer_unmask && !(p->opcode & OP_CONTROL)) {
		unsigned r = (unsigned)offset & 3;
		for (unsigned k = 0; k < 4; k++)
			out->mask[k] = p->mask[(r + k) & 3];
	} else {
		memset(out->mask, 0, sizeof(out->mask));
		if (p->masked && n)
			ws_frame_mask(in, n, p->mask, offset);
	}
	p->remaining -= n;
	out->opcode = p->opcode;
	out->fin = p->fin;
	out->rsv1 = p->rsv1;
	out->frame_len = p->frame_len;
	out->first = false;
	out->last = p->remaining == 0;
	out->data = in;
	out->len = n;
	if (out->last)
		p->in_frame = 0;
	return n;
}

/* Consumes one complete header: checks the length rules, records the frame and updates the
 * message state. Returns the header length or an error. */
static ssize_t begin_frame(ws_frame_parser *p, const uint8_t *in, size_t hlen)
{
	uint64_t len = read_len(in);
	unsigned op = in[0] & B0_OPCODE;

	/* The most significant bit of a 64-bit length must be 0 (5.2). */
	if (len >> 63)
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* "The minimal number of bytes MUST be used to encode the length" (5.2): a 16-bit field
	 * holding less than 126 or a 64-bit field holding less than 65536 is not a frame a
	 * conforming peer sends, and accepting it would let two parsers in a chain disagree on
	 * what is valid. */
	unsigned len7 = in[1] & B1_LEN;
	if ((len7 == LEN_16 && len < LEN_16) || (len7 == LEN_64 && len <= 0xFFFF))
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* Control frames carry at most 125 bytes (5.5), whatever encoding states the length. */
	if ((op & OP_CONTROL) && len > WS_FRAME_MAX_CONTROL)
		return fail(p, WS_EPROTO, WS_CLOSE_PROTOCOL_ERROR);
	/* Decided from the header alone, so an oversized frame costs us nothing but 14 bytes. */
	if (p->max_frame_bytes && len > p->max_frame_bytes)
		return fail(p, WS_ETOOBIG, WS_CLOSE_TOO_BIG);
	p->opcode = (uint8_t)op;
	p->fin = (in[0] & B0_FIN) != 0;
	p->rsv1 = (in[0] & B0_RSV1) != 0;
	p->masked = (in[1] & B1_MASK) != 0;
	if (p->masked)
		memcpy(p->mask, in + hlen - 4, 4);
	else
		memset(p->mask, 0, 4);
	p->frame_len = len;
	p->remaining = len;
	p->in_frame = 1;
	/* Control frames leave the message state alone: they may sit between fragments. */
	if (!(op & OP_CONTROL)) {
		if (op != WS_FRAME_OP_CONT && !p->fin)
			p->in_message = 1;
		else if (op == WS_FRAME_OP_CONT && p->fin)
			p->in_message = 0;
	}
	return (ssize_t)hlen;
}

ssize_t ws_frame_parse(ws_frame_parser *p, uint8_t *in, size_t len, ws_frame_chunk *out)
{
	/* The contract forbids use after an error; answering with the same error again makes
	 * a careless caller fail safe instead of resynchronising on payload bytes. */
	if (p->close_code)
		return p->close_code == WS_CLOSE_TOO_BIG ? WS_ETOOBIG : WS_EPROTO;
	if (len == 0)
		return WS_EAGAIN;
	if (p->in_frame)
		return (ssize_t)take_payload(p, in, len, out);
	if (len < 2)
		return WS_EAGAIN;

	ssize_t rc = check_start(p, in[0], in[1]);
	if (rc < 0)
		return rc;
	size_t hlen = header_len(in[1]);
	if (len < hlen)
		return WS_EAGAIN;
	rc = begin_frame(p, in, hlen);
	if (rc < 0)
		return rc;
	size_t n = take_payload(p, in + hlen, len - hlen, out);
	out->first = true;
	return (ssize_t)(hlen + n);
}

static uint8_t *put_len(uint8_t *out, uint8_t b1_flags, uint64_t len)
{
	if (len <= WS_FRAME_MAX_CONTROL) {
		*out++ = b1_flags | (uint8_t)len;
	} else if (len <= 0xFFFF) {
		*out++ = b1_flags | LEN_16;
		*out++ = (uint8_t)(len >> 8);
		*out++ = (uint8_t)len;
	} else {
		*out++ = b1_flags | LEN_64;
		for (int shift = 56; shift >= 0; shift -= 8)
			*out++ = (uint8_t)(len >> shift);
	}
	return out;
}

static uint8_t first_byte(uint8_t opcode, bool fin, bool rsv1)
{
	return (uint8_t)((fin ? B0_FIN : 0) | (rsv1 ? B0_RSV1 : 0) | (opcode & B0_OPCODE));
}

size_t ws_frame_write_header(uint8_t *out, uint8_t opcode, bool fin, bool rsv1, uint64_t len)
{
	uint8_t *end;

	out[0] = first_byte(opcode, fin, rsv1);
	end = put_len(out + 1, 0, len);
	return (size_t)(end - out);
}

size_t ws_frame_write_header_masked(uint8_t *out, uint8_t opcode, bool fin, bool rsv1, uint64_t len,
                                    const uint8_t mask[4])
{
	uint8_t *end;

	out[0] = first_byte(opcode, fin, rsv1);
	end = put_len(out + 1, B1_MASK, len);
	memcpy(end, mask, 4);
	return (size_t)(end + 4 - out);
}

/* The mask repeated so that key[0] applies to the first byte at `offset`. A 16-byte key holds
 * the 4-byte mask four times, so key[j] is the byte for any position j (mod 16) after it. */
static void mask_key(uint8_t key[16], const uint8_t mask[4], uint64_t offset)
{
	unsigned r = (unsigned)offset & 3;
	for (unsigned k = 0; k < 4; k++)
		key[k] = mask[(r + k) & 3];
	memcpy(key + 4, key, 4);
	memcpy(key + 8, key, 8);
}

#if defined(__GNUC__) || defined(__clang__)
/* GCC and clang lower these to SSE2 on x86-64 and NEON on arm64, and to pairs of words where
 * there is no vector unit. */
typedef uint8_t ws_v16 __attribute__((vector_size(16)));
#define HAVE_V16 1
#endif

/* dst[0, len) = src[0, len) ^ key; dst may equal src. Loads and stores go through memcpy, so
 * no alignment is assumed: 64 bytes a step, then 16, then 8, then single bytes. */
static void mask_run(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[16])
{
	size_t i = 0;
#ifdef HAVE_V16
	ws_v16 k, a, b, c, d;
	memcpy(&k, key, 16);
	for (; len - i >= 64; i += 64) {
		memcpy(&a, src + i, 16);
		memcpy(&b, src + i + 16, 16);
		memcpy(&c, src + i + 32, 16);
		memcpy(&d, src + i + 48, 16);
		a ^= k;
		b ^= k;
		c ^= k;
		d ^= k;
		memcpy(dst + i, &a, 16);
		memcpy(dst + i + 16, &b, 16);
		memcpy(dst + i + 32, &c, 16);
		memcpy(dst + i + 48, &d, 16);
	}
	for (; len - i >= 16; i += 16) {
		memcpy(&a, src + i, 16);
		a ^= k;
		memcpy(dst + i, &a, 16);
	}
#endif
	uint64_t k8, w;
	memcpy(&k8, key, 8);
	for (; len - i >= 8; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= k8;
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ key[i & 15];
}

void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	uint8_t key[16];
	mask_key(key, mask, offset);
	mask_run(data, data, len, key);
}

void ws_frame_unmask_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t len,
                          const uint8_t mask[4], uint64_t offset)
{
	uint8_t key[16];
	mask_key(key, mask, offset);
	mask_run(dst, src, len, key);
}

bool ws_frame_close_code_valid(unsigned code)
{
	/* 1004-1006 and 1015 are reserved for reports that never travel in a frame (7.4.1);
	 * 1016-2999 are unassigned, so a peer cannot mean anything by them; 3000-4999 belong to
	 * libraries and applications. */
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

int ws_frame_close_parse(const uint8_t *payload, size_t len, uint16_t *code, const uint8_t **reason,
                         size_t *reason_len)
{
	uint16_t c;

	if (len == 0) {
		*code = WS_CLOSE_NO_STATUS;
		*reason = payload;
		*reason_len = 0;
		return 0;
	}
	/* A body, when present, starts with a 2-byte code (5.5.1); one byte cannot be one. */
	if (len == 1)
		return WS_EPROTO;
	c = (uint16_t)(payload[0] << 8 | payload[1]);
	if (!ws_frame_close_code_valid(c))
		return WS_EPROTO;
	if (ws_utf8_validate(payload + 2, len - 2) < 0)
		return WS_EUTF8;
	*code = c;
	*reason = payload + 2;
	*reason_len = len - 2;
	return 0;
}
