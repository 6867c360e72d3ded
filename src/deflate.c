/* deflate.c - permessage-deflate (RFC 7692): the message compressor and decompressor over zlib
 * (raw DEFLATE, no header), and parking their state between messages. The codecs allocate their
 * zlib state through alloc.h, lazily, and the decompressor writes only into the windows its
 * caller passes, so a decompression bomb costs the caller what the caller allows and the codec
 * nothing beyond its fixed state. The negotiation is in deflate_offer.c. See deflate.h for the
 * contract. */
#include "deflate.h"
#include "alloc.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <zlib.h>

#define WINDOW_BITS_MIN 8
#define WINDOW_BITS_MAX 15

/* ---- zlib glue ---- */

/* Each zlib allocation carries its length in front, so the codec that owns the stream (whose
 * byte count is zlib's opaque) can count what it holds and what freeing gives back. The
 * header keeps the alignment of ws_malloc for zlib's structs. */
#define ZHDR _Alignof(max_align_t)

static voidpf zalloc_cb(voidpf opaque, uInt items, uInt size)
{
	size_t *held = opaque;

	if (size && items > (SIZE_MAX - ZHDR) / size)
		return Z_NULL;
	size_t len = (size_t)items * size + ZHDR;
	unsigned char *p = ws_malloc(len);
	if (!p)
		return Z_NULL;
	memcpy(p, &len, sizeof(len));
	*held += len;
	return p + ZHDR;
}

static void zfree_cb(voidpf opaque, voidpf p)
{
	size_t *held = opaque;
	unsigned char *base = (unsigned char *)p - ZHDR;
	size_t len;

	memcpy(&len, base, sizeof(len));
	*held -= len;
	ws_free(base);
}

static uInt clamp_uint(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

static bool bits_valid(uint8_t bits)
{
	return bits >= WINDOW_BITS_MIN && bits <= WINDOW_BITS_MAX;
}

/* ---- compressor ---- */

struct ws_deflater {
	z_stream zs;
	size_t zlib_bytes; /* held by zs's allocations (zalloc_cb counts them) */
	uint8_t *history;  /* parked: the window for the next stream, history_len bytes; or NULL */
	size_t history_len;
	bool live; /* zs holds an initialised stream */
	bool no_context_takeover;
	int8_t level;
	uint8_t mem_level;
	uint8_t window_bits; /* as given to zlib: 9..15 */
};

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xFF, 0xFF};

ws_deflater *ws_deflater_new(const ws_deflate_params *p, const ws_deflate_config *cfg)
{
	if (!bits_valid(p->server_max_window_bits) || cfg->mem_level < 1 || cfg->mem_level > 9 ||
	    cfg->level < -1 || cfg->level > 9)
		return NULL;
	ws_deflater *d = ws_calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->no_context_takeover = p->server_no_context_takeover;
	d->level = cfg->level;
	d->mem_level = cfg->mem_level;
	/* zlib rejects 8 for raw deflate and uses 9 in its place. That still honours an agreed
	 * 8: zlib never emits a distance above its window minus MIN_LOOKAHEAD (262 bytes), so a
	 * 512-byte window reaches back at most 250 bytes, within the 256 the client keeps. */
	d->window_bits = p->server_max_window_bits < 9 ? 9 : p->server_max_window_bits;
	return d;
}

static void deflater_end(ws_deflater *d)
{
	if (d->live) {
		deflateEnd(&d->zs);
		d->live = false;
	}
}

static void deflater_drop_history(ws_deflater *d)
{
	ws_free(d->history);
	d->history = NULL;
	d->history_len = 0;
}

void ws_deflater_free(ws_deflater *d)
{
	if (!d)
		return;
	deflater_end(d);
	deflater_drop_history(d);
	ws_free(d);
}

void ws_deflater_idle(ws_deflater *d)
{
	if (d->no_context_takeover)
		deflater_end(d);
}

static int deflater_start(ws_deflater *d)
{
	memset(&d->zs, 0, sizeof(d->zs));
	d->zs.zalloc = zalloc_cb;
	d->zs.zfree = zfree_cb;
	d->zs.opaque = &d->zlib_bytes;
	int rc = deflateInit2(&d->zs, d->level, Z_DEFLATED, -(int)d->window_bits, d->mem_level,
	                      Z_DEFAULT_STRATEGY);
	if (rc != Z_OK)
		return rc == Z_MEM_ERROR ? WS_ENOMEM : WS_EINVAL;
	d->live = true;
	return 0;
}

/* A new stream for a parked deflater, primed with the saved history, which is then freed.
 * Until it succeeds the history stays, so a later message can try again. deflateSetDictionary
 * allocates nothing: only deflateInit2 can run out of memory. */
static int deflater_resume(ws_deflater *d)
{
	int rc = deflater_start(d);
	if (rc < 0 || !d->history)
		return rc;
	if (deflateSetDictionary(&d->zs, d->history, clamp_uint(d->history_len)) != Z_OK) {
		deflater_end(d);
		return WS_EINVAL;
	}
	deflater_drop_history(d);
	return 0;
}

/* Runs deflate over data[0, len) and the sync flush, appending everything to out and counting
 * it in *appended. Returns 0 or a WS_E* code. */
static int deflate_into(ws_deflater *d, const uint8_t *data, size_t len, ws_buf *out,
                        size_t *appended)
{
	size_t left = len;

	d->zs.next_in = (Bytef *)(uintptr_t)data;
	d->zs.avail_in = 0;
	for (;;) {
		if (d->zs.avail_in == 0 && left) {
			d->zs.avail_in = clamp_uint(left);
			left -= d->zs.avail_in;
		}
		/* Flushing starts once zlib holds the last input; after a full output window the
		 * same flush value is repeated until zlib leaves room (zlib.h, deflate()). */
		int flush = left ? Z_NO_FLUSH : Z_SYNC_FLUSH;
		/* Guess a quarter of the input, then let the buffer double: text shrinks to a
		 * fraction, and incompressible data costs a few doublings at most. */
		if (ws_buf_reserve(out, 64 + (d->zs.avail_in + left) / 4) < 0)
			return WS_ENOMEM;
		uInt room = clamp_uint(out->cap - out->len);
		d->zs.next_out = out->ptr + out->len;
		d->zs.avail_out = room;
		int rc = deflate(&d->zs, flush);
		out->len += room - d->zs.avail_out;
		*appended += room - d->zs.avail_out;
		if (rc == Z_STREAM_ERROR)
			return WS_EINVAL;
		/* If the flush filled the window exactly, the next call finds nothing pending and
		 * zlib emits one more empty stored block: 5 harmless bytes, still ending in the
		 * 00 00 FF FF we strip. Stopping early instead could cut a message short. */
		if (flush == Z_SYNC_FLUSH && d->zs.avail_out != 0)
			return 0;
	}
}

ssize_t ws_deflater_message(ws_deflater *d, const uint8_t *data, size_t len, ws_buf *out)
{
	size_t appended = 0;
	int rc;

	/* RFC 7692 7.2.3.6: the header of an empty stored block; the receiver's appended
	 * 00 00 FF FF completes it. Every message of ours ends byte-aligned after a sync flush,
	 * so this is valid in any context, and it needs no zlib stream. */
	if (len == 0)
		return ws_buf_append(out, "", 1) < 0 ? WS_ENOMEM : 1;
	if (!d->live && (rc = deflater_resume(d)) < 0)
		return rc;
	rc = deflate_into(d, data, len, out, &appended);
	if (rc == 0 && (appended < sizeof(sync_tail) ||
	                memcmp(out->ptr + out->len - sizeof(sync_tail), sync_tail, 4) != 0))
		rc = WS_EINVAL;
	if (rc < 0) {
		/* Drop the partial message and the stream. A fresh stream is a valid continuation
		 * even with context takeover: the peer's window stays where the last whole message
		 * left it, and nothing obliges us to refer back to it. */
		out->len -= appended;
		deflater_end(d);
		return rc;
	}
	out->len -= sizeof(sync_tail);
	if (d->no_context_takeover)
		deflateReset(&d->zs);
	return (ssize_t)(appended - sizeof(sync_tail));
}

size_t ws_deflater_park(ws_deflater *d)
{
	if (d->no_context_takeover || !d->live) {
		ws_deflater_idle(d);
		return 0;
	}
#if ZLIB_VERNUM >= 0x1290
	/* Every message ends with a sync flush, so zlib holds no pending input or output here:
	 * the window is all the state the next message depends on. */
	uInt len = 0;
	if (deflateGetDictionary(&d->zs, Z_NULL, &len) != Z_OK)
		return 0;
	uint8_t *history = NULL;
	if (len &&
	    (!(history = ws_malloc(len)) || deflateGetDictionary(&d->zs, history, &len) != Z_OK)) {
		ws_free(history);
		return 0;
	}
	size_t released = d->zlib_bytes;
	deflater_end(d);
	d->history = history;
	d->history_len = len;
	return released;
#else
	return 0;
#endif
}

bool ws_deflater_parked(const ws_deflater *d)
{
	return d->history != NULL;
}

size_t ws_deflater_memory(const ws_deflater *d)
{
	return sizeof(*d) + d->zlib_bytes + d->history_len;
}

/* ---- decompressor ---- */

struct ws_inflater {
	z_stream zs;
	size_t zlib_bytes; /* held by zs's allocations (zalloc_cb counts them) */
	uint8_t *history;  /* parked: the window for the next stream, history_len bytes; or NULL */
	size_t history_len;
	bool live;        /* zs holds an initialised stream */
	bool in_message;  /* fed since the last message completed */
	bool payload;     /* the current message had payload bytes */
	bool stream_end;  /* zlib saw a final block in this message */
	bool after_final; /* the peer sent the one 00 byte allowed after that final block */
	bool boundary;    /* the last call that moved zlib ended between two blocks */
	bool done;        /* the last message is complete */
	bool no_context_takeover;
	uint8_t window_bits;
	uint8_t tail_fed; /* bytes of 00 00 FF FF given to zlib */
	int failed;       /* sticky WS_E* code, or 0 */
};

ws_inflater *ws_inflater_new(const ws_deflate_params *p)
{
	if (!bits_valid(p->client_max_window_bits))
		return NULL;
	ws_inflater *f = ws_calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->window_bits = p->client_max_window_bits;
	f->no_context_takeover = p->client_no_context_takeover;
	return f;
}

static void inflater_end(ws_inflater *f)
{
	if (f->live) {
		inflateEnd(&f->zs);
		f->live = false;
	}
}

static void inflater_drop_history(ws_inflater *f)
{
	ws_free(f->history);
	f->history = NULL;
	f->history_len = 0;
}

void ws_inflater_free(ws_inflater *f)
{
	if (!f)
		return;
	inflater_end(f);
	inflater_drop_history(f);
	ws_free(f);
}

void ws_inflater_idle(ws_inflater *f)
{
	/* Abandoning a message: without context takeover the next one starts afresh; with it,
	 * our window no longer matches the peer's, so nothing more can decode. */
	if (f->in_message && f->payload && !f->no_context_takeover && !f->failed)
		f->failed = WS_EPROTO;
	f->in_message = false;
	if (f->no_context_takeover || f->failed) {
		inflater_end(f);
		inflater_drop_history(f);
	}
}

size_t ws_inflater_park(ws_inflater *f)
{
	/* Inside a message zlib may hold input and the bits of a block: never parked. */
	if (f->in_message)
		return 0;
	if (f->no_context_takeover || f->failed || !f->live) {
		ws_inflater_idle(f);
		return 0;
	}
#if ZLIB_VERNUM >= 0x1271
	uInt len = 0;
	if (inflateGetDictionary(&f->zs, Z_NULL, &len) != Z_OK)
		return 0;
	uint8_t *history = NULL;
	if (len &&
	    (!(history = ws_malloc(len)) || inflateGetDictionary(&f->zs, history, &len) != Z_OK)) {
		ws_free(history);
		return 0;
	}
	size_t released = f->zlib_bytes;
	inflater_end(f);
	f->history = history;
	f->history_len = len;
	return released;
#else
	return 0;
#endif
}

bool ws_inflater_parked(const ws_inflater *f)
{
	return f->history != NULL;
}

size_t ws_inflater_memory(const ws_inflater *f)
{
	return sizeof(*f) + f->zlib_bytes + f->history_len;
}

bool ws_inflater_done(const ws_inflater *f)
{
	return f->done;
}

static int inflater_start(ws_inflater *f)
{
	memset(&f->zs, 0, sizeof(f->zs));
	f->zs.zalloc = zalloc_cb;
	f->zs.zfree = zfree_cb;
	f->zs.opaque = &f->zlib_bytes;
	int rc = inflateInit2(&f->zs, -(int)f->window_bits);
	if (rc != Z_OK)
		return rc == Z_MEM_ERROR ? WS_ENOMEM : WS_EINVAL;
	f->live = true;
	return 0;
}

/* A new stream for a parked inflater, primed with the saved history, which is then freed.
 * inflateSetDictionary allocates the window, so it too can run out of memory. */
static int inflater_resume(ws_inflater *f)
{
	int rc = inflater_start(f);
	if (rc < 0 || !f->history)
		return rc;
	rc = inflateSetDictionary(&f->zs, f->history, clamp_uint(f->history_len));
	if (rc != Z_OK)
		return rc == Z_MEM_ERROR ? WS_ENOMEM : WS_EINVAL;
	inflater_drop_history(f);
	return 0;
}

/* Errors are sticky: the stream and any parked history are of no more use. */
static ssize_t inflater_fail(ws_inflater *f, int code)
{
	f->failed = code;
	f->in_message = false;
	inflater_end(f);
	inflater_drop_history(f);
	return code;
}

/* After a final block (RFC 7692 7.2.3.4 allows one in place of the sync flush) zlib's stream
 * is over, but with context takeover the next message may still refer to this one: start a
 * new stream that keeps the window. The window is copied through the stack, so the codec
 * still allocates nothing. zlib before 1.2.7.1 cannot read its window back; there the next
 * message starts with an empty one, and a reference into it fails as WS_EPROTO. */
static void restart_keeping_window(ws_inflater *f)
{
#if ZLIB_VERNUM >= 0x1271
	Bytef window[1 << WINDOW_BITS_MAX];
	uInt len = sizeof(window);

	if (inflateGetDictionary(&f->zs, window, &len) != Z_OK)
		len = 0;
	inflateReset(&f->zs);
	if (len)
		inflateSetDictionary(&f->zs, window, len);
#else
	inflateReset(&f->zs);
#endif
}

/* The message is complete. Returns 0 or WS_EPROTO. */
static int finish_message(ws_inflater *f)
{
	/* After the tail a message that ended with a sync flush leaves zlib between blocks; one
	 * that stops inside a block was cut short or was never DEFLATE. */
	if (f->payload && !f->stream_end && !f->boundary)
		return WS_EPROTO;
	if (f->live && f->no_context_takeover)
		inflateReset(&f->zs);
	else if (f->live && f->stream_end)
		restart_keeping_window(f);
	f->in_message = false;
	f->done = true;
	return 0;
}

/* One inflate() call over the payload, else the tail, else nothing (to drain what zlib holds).
 * Returns the zlib result and sets *produced. *drained tells that zlib stopped with output
 * room left after the last input byte of the message: it has written all it can. */
static int inflate_step(ws_inflater *f, const uint8_t **in, size_t *in_len, bool last, uint8_t *out,
                        size_t room, size_t *produced, bool *drained)
{
	static uint8_t no_room; /* zlib wants a pointer even for an empty window */
	bool from_payload = *in_len > 0;

	if (from_payload) {
		f->zs.next_in = (Bytef *)(uintptr_t)*in;
		f->zs.avail_in = clamp_uint(*in_len);
	} else if (last && f->tail_fed < sizeof(sync_tail)) {
		f->zs.next_in = (Bytef *)(uintptr_t)(sync_tail + f->tail_fed);
		f->zs.avail_in = (uInt)(sizeof(sync_tail) - f->tail_fed);
	} else {
		f->zs.next_in = (Bytef *)(uintptr_t)sync_tail;
		f->zs.avail_in = 0;
	}
	uInt avail_in = f->zs.avail_in;
	uInt avail_out = clamp_uint(room);
	f->zs.next_out = room ? out : &no_room;
	f->zs.avail_out = avail_out;
	int rc = inflate(&f->zs, Z_SYNC_FLUSH);
	uInt used = avail_in - f->zs.avail_in;
	if (from_payload) {
		*in += used;
		*in_len -= used;
	} else {
		f->tail_fed = (uint8_t)(f->tail_fed + used);
	}
	*produced = avail_out - f->zs.avail_out;
	/* zlib marks a block boundary (data_type 128) only in the call that reached it; a call
	 * that moves nothing clears the mark, so it keeps the previous one. */
	if (used || *produced)
		f->boundary = (f->zs.data_type & 128) != 0;
	*drained = last && *in_len == 0 && f->tail_fed == sizeof(sync_tail) && f->zs.avail_out != 0;
	return rc;
}

static int zlib_code(int rc)
{
	switch (rc) {
	case Z_MEM_ERROR:
		return WS_ENOMEM;
	case Z_STREAM_ERROR:
		return WS_EINVAL;
	default:
		return WS_EPROTO; /* Z_DATA_ERROR, or Z_NEED_DICT, which raw DEFLATE cannot ask */
	}
}

ssize_t ws_inflater_feed(ws_inflater *f, const uint8_t **in, size_t *in_len, bool last,
                         uint8_t *out, size_t out_cap)
{
	size_t written = 0;
	bool drained = false;
	int rc;

	if (f->failed)
		return f->failed;
	if (!f->in_message) {
		f->in_message = true;
		f->done = f->payload = f->stream_end = f->after_final = f->boundary = false;
		f->tail_fed = 0;
	}
	if (*in_len)
		f->payload = true;
	if (f->payload && !f->live && (rc = inflater_resume(f)) < 0)
		return inflater_fail(f, rc);
	while (f->payload && !f->stream_end) {
		size_t produced;
		uint8_t *dst = out_cap ? out + written : NULL;
		rc = inflate_step(f, in, in_len, last, dst, out_cap - written, &produced, &drained);
		written += produced;
		if (rc == Z_STREAM_END)
			f->stream_end = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return inflater_fail(f, zlib_code(rc));
		else if (written == out_cap || drained ||
		         (!*in_len && !(last && f->tail_fed < sizeof(sync_tail))))
			break;
	}
	if (f->stream_end) {
		/* Nothing may follow a final block (RFC 1951 3.2.3) but the one 00 byte that RFC 7692
		 * 7.2.3.4 has the sender add there: the header of the empty stored block that the
		 * appended tail completes. The tail itself is never fed after a final block. Any
		 * other byte the peer sent would be data that no decoder delivers: corrupt. */
		for (; *in_len; (*in)++, (*in_len)--) {
			if (**in != 0 || f->after_final)
				return inflater_fail(f, WS_EPROTO);
			f->after_final = true;
		}
		drained = last;
	}
	if (last && !*in_len && (drained || !f->payload) && (rc = finish_message(f)) < 0)
		return inflater_fail(f, rc);
	return (ssize_t)written;
}

/* ---- carrying a context to another process (a reload's handoff) ---- */

/* zlib's Get*Dictionary write the whole window whatever *len says, so cap must hold the
 * largest window the stream can have before they are called. A parked codec needs no more
 * room than its history, but asks for the same, so callers meet one rule. */
size_t ws_deflater_window(ws_deflater *d, uint8_t *out, size_t cap)
{
	uInt len = 0;
	if (d->history) {
		if (cap < ((size_t)1 << d->window_bits))
			return 0;
		memcpy(out, d->history, d->history_len);
		return d->history_len;
	}
#if ZLIB_VERNUM >= 0x1290
	if (d->live && !d->no_context_takeover && cap >= ((size_t)1 << d->window_bits) &&
	    deflateGetDictionary(&d->zs, out, &len) != Z_OK)
		len = 0;
#else
	(void)d;
	(void)out;
	(void)cap;
#endif
	return len;
}

int ws_deflater_set_window(ws_deflater *d, const uint8_t *window, size_t len)
{
	if (!len || d->no_context_takeover)
		return 0;
	deflater_drop_history(d);
	int rc = d->live ? 0 : deflater_start(d);
	if (rc < 0)
		return rc;
	return deflateSetDictionary(&d->zs, window, clamp_uint(len)) == Z_OK ? 0 : WS_EINVAL;
}

size_t ws_inflater_window(ws_inflater *f, uint8_t *out, size_t cap)
{
	uInt len = 0;
	if (f->history) {
		if (f->in_message || cap < ((size_t)1 << f->window_bits))
			return 0;
		memcpy(out, f->history, f->history_len);
		return f->history_len;
	}
#if ZLIB_VERNUM >= 0x1271
	if (f->live && !f->no_context_takeover && !f->failed && !f->in_message &&
	    cap >= ((size_t)1 << f->window_bits) && inflateGetDictionary(&f->zs, out, &len) != Z_OK)
		len = 0;
#else
	(void)f;
	(void)out;
	(void)cap;
#endif
	return len;
}

int ws_inflater_set_window(ws_inflater *f, const uint8_t *window, size_t len)
{
	if (!len || f->no_context_takeover)
		return 0;
	inflater_drop_history(f);
	int rc = f->live ? 0 : inflater_start(f);
	if (rc < 0)
		return rc;
	rc = inflateSetDictionary(&f->zs, window, clamp_uint(len));
	if (rc != Z_OK)
		return rc == Z_MEM_ERROR ? WS_ENOMEM : WS_EINVAL;
	return 0;
}
