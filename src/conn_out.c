/* conn_out.c - the output side of a connection (see conn.h): the queue of chunk references,
 * framing of what we send (data, control, compressed), the output limit, and writing the queue
 * with writev.
 *
 * Frames are queued as references to reference-counted chunks: a broadcast frame is encoded
 * once and shared, a borrowed payload is written from where it lies, and small frames queued
 * in one turn share one chunk. Nothing is written while queueing: the connection asks its
 * server for a flush (want_flush), and the server calls ws_conn_flush once per loop turn for
 * every connection with output, so everything queued in a turn leaves in one writev. When the
 * kernel refuses part of it, the connection polls for writability until the queue empties.
 *
 * The role decides the framing (RFC 6455 5.1, 5.3): a server's frames are unmasked and may be
 * shared between connections; a client's are masked, each with a fresh key from the system's
 * CSPRNG, and so are never shared nor borrowed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#define IOV_BATCH 64
#define LINGER_MS 2000 /* how long a shut-down connection may take to send its EOF */

/* ---- output ---- */

int ws__conn_reserve_out(ws_conn *c, uint32_t n)
{
	if (c->out_cap - c->out_count >= n)
		return 0;
	uint32_t cap = c->out_cap ? c->out_cap * 2 : 4;
	while (cap - c->out_count < n)
		cap *= 2;
	ws_chunk **ring = ws_malloc(cap * sizeof(*ring));
	if (!ring)
		return WS_ENOMEM;
	for (uint32_t i = 0; i < c->out_count; i++)
		ring[i] = c->out[(c->out_head + i) % c->out_cap];
	ws_free(c->out);
	c->out = ring;
	c->out_head = 0;
	c->out_cap = cap;
	return 0;
}

int ws__conn_queue(ws_conn *c, ws_chunk *chunk)
{
	if (ws__conn_reserve_out(c, 1) < 0)
		return WS_ENOMEM;
	c->out[(c->out_head + c->out_count) % c->out_cap] = chunk;
	c->out_count++;
	c->out_bytes += chunk->len;
	ws__conn_want_flush(c);
	return 0;
}

void ws__conn_drop_output(ws_conn *c)
{
	while (c->out_count) {
		ws_chunk_unref(c->out[c->out_head]);
		c->out_head = (c->out_head + 1) % c->out_cap;
		c->out_count--;
	}
	ws_free(c->out);
	c->out = NULL;
	c->out_cap = c->out_head = 0;
	c->out_off = c->out_bytes = 0;
}

/* ---- framing by role ---- */

/* A fresh masking key for each frame a client sends: RFC 6455 5.3 asks for keys that the
 * application cannot predict, so they come from the system's CSPRNG. */
static int mask_key(uint8_t key[4])
{
#if defined(__linux__)
	return getrandom(key, 4, 0) == 4 ? 0 : WS_ESYS;
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
	arc4random_buf(key, 4);
	return 0;
#else
	(void)key;
	return WS_EINVAL; /* no CSPRNG known here: a client-role connection cannot send */
#endif
}

/* Writes the header of a frame that c sends (RFC 6455 5.1): unmasked from a server, masked
 * from a client with a fresh key, left in key for mask_payload. Returns the header's length,
 * or 0 when no key could be had. */
static size_t frame_header(const ws_conn *c, uint8_t *hdr, uint8_t opcode, bool rsv1, size_t len,
                           uint8_t key[4])
{
	if (c->role == WS_CONN_SERVER)
		return ws_frame_write_header(hdr, opcode, true, rsv1, len);
	if (mask_key(key) < 0)
		return 0;
	return ws_frame_write_header_masked(hdr, opcode, true, rsv1, len, key);
}

/* Masks a payload that frame_header introduced (a client's); nothing for a server. */
static void mask_payload(const ws_conn *c, uint8_t *p, size_t len, const uint8_t key[4])
{
	if (c->role == WS_CONN_CLIENT && len)
		ws_frame_mask(p, len, key, 0);
}

/* A new chunk (one reference) holding hdr[0, hlen) and then data[0, len). NULL on failure. */
static ws_chunk *header_and_payload(const uint8_t *hdr, size_t hlen, const uint8_t *data,
                                    size_t len)
{
	if (len > SIZE_MAX - hlen)
		return NULL;
	ws_chunk *chunk = ws_chunk_new(hlen + len);
	if (!chunk)
		return NULL;
	memcpy(chunk->data, hdr, hlen);
	if (len)
		memcpy(chunk->data + hlen, data, len);
	return chunk;
}

/* One frame of c in a new chunk (one reference): header, then the payload copied (and masked
 * for a client). NULL on failure. */
static ws_chunk *own_frame(const ws_conn *c, uint8_t opcode, bool rsv1, const uint8_t *data,
                           size_t len)
{
	uint8_t hdr[WS_FRAME_MAX_HEADER], key[4];
	size_t hlen = frame_header(c, hdr, opcode, rsv1, len, key);
	ws_chunk *chunk = hlen ? header_and_payload(hdr, hlen, data, len) : NULL;
	if (chunk)
		mask_payload(c, chunk->data + hlen, len, key);
	return chunk;
}

ws_chunk *ws_conn_frame(uint8_t opcode, const uint8_t *data, size_t len)
{
	uint8_t hdr[WS_FRAME_MAX_HEADER];
	size_t hlen = ws_frame_write_header(hdr, opcode, true, false, len);
	return header_and_payload(hdr, hlen, data, len);
}

/* Small frames queued in one turn (pipelined replies, pongs) share a chunk: the first
 * allocates room for more and the next ones are appended to it while it is the queue's last
 * and unshared. One allocation and one iovec per batch instead of one per frame. */
#define SMALL_FRAME_MAX 256
#define SMALL_CHUNK     1000

int ws__conn_queue_frame(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
	if (len > SMALL_FRAME_MAX - 2) { /* a header of 2 bytes, or more */
		ws_chunk *chunk = own_frame(c, opcode, false, data, len);
		if (!chunk)
			return WS_ENOMEM;
		if (ws__conn_queue(c, chunk) < 0) {
			ws_chunk_unref(chunk);
			return WS_ENOMEM;
		}
		return 0;
	}
	uint8_t hdr[WS_FRAME_MAX_HEADER], key[4];
	size_t hlen = frame_header(c, hdr, opcode, false, len, key), n = hlen + len;
	if (!hlen)
		return WS_ESYS;
	ws_chunk *tail = c->out_count ? c->out[(c->out_head + c->out_count - 1) % c->out_cap] : NULL;
	if (tail && tail->spare >= n && tail->refs == 1) {
		memcpy(tail->data + tail->len, hdr, hlen);
		if (len)
			memcpy(tail->data + tail->len + hlen, data, len);
		mask_payload(c, tail->data + tail->len + hlen, len, key);
		tail->len += n;
		tail->spare = (uint16_t)(tail->spare - n);
		c->out_bytes += n;
		return 0;
	}
	ws_chunk *chunk = ws_chunk_new_spare(n, (uint16_t)(SMALL_CHUNK - n));
	if (!chunk)
		return WS_ENOMEM;
	memcpy(chunk->data, hdr, hlen);
	if (len)
		memcpy(chunk->data + hlen, data, len);
	mask_payload(c, chunk->data + hlen, len, key);
	if (ws__conn_queue(c, chunk) < 0) {
		ws_chunk_unref(chunk);
		return WS_ENOMEM;
	}
	return 0;
}

int ws__conn_queue_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	uint8_t payload[WS_FRAME_MAX_CONTROL];
	size_t len = 0;
	/* 1005 means "no code": answer such a Close with an empty one (RFC 6455 5.5.1). */
	if (code != WS_CLOSE_NO_STATUS) {
		payload[0] = (uint8_t)(code >> 8);
		payload[1] = (uint8_t)code;
		if (reason_len > WS_FRAME_MAX_CONTROL - 2)
			reason_len = WS_FRAME_MAX_CONTROL - 2;
		if (reason_len)
			memcpy(payload + 2, reason, reason_len);
		len = 2 + reason_len;
	}
	c->close_sent = true;
	return ws__conn_queue_frame(c, WS_FRAME_OP_CLOSE, payload, len);
}

/* Polls for writability, unless a TLS write waits for the peer's bytes first (the socket's
 * callback then resumes it on readability; polling writability would spin). */
static void want_writable(ws_conn *c)
{
	if (!c->tls || !ws_tls_write_wants_read(c->tls))
		ws_loop_io_set(c->env->loop, &c->io, c->io.events | WS_IO_WRITE);
	c->needs_drain = c->opened;
}

void ws_conn_flush(ws_conn *c)
{
	c->flush_asked = false;
	if (c->overflowed) {
		/* A send found the queue full and started the close: reported here, from the loop,
		 * not from inside that send. */
		c->overflowed = false;
		if (c->env->hooks->on_overflow)
			c->env->hooks->on_overflow(c->env->owner, c, c->out_bytes);
	}
	if (c->state == WS_CONN_DONE)
		return;
	while (c->out_count) {
		struct iovec iov[IOV_BATCH];
		int n = 0;
		size_t total = 0;
		for (uint32_t i = 0; i < c->out_count && n < IOV_BATCH; i++) {
			ws_chunk *ch = c->out[(c->out_head + i) % c->out_cap];
			size_t skip = i == 0 ? c->out_off : 0;
			iov[n].iov_base = ch->data + skip;
			iov[n].iov_len = ch->len - skip;
			total += iov[n++].iov_len;
		}
		ssize_t w = c->tls ? ws_tls_writev(c->tls, iov, n) : ws_net_writev(c->io.fd, iov, n);
		if (w == WS_EAGAIN) {
			want_writable(c);
			return;
		}
		if (w < 0) {
			/* EPIPE or ECONNRESET: the peer is gone; nothing queued can be delivered. */
			ws__conn_finish(c);
			return;
		}
		size_t left = (size_t)w;
		c->out_bytes -= left;
		if (c->state == WS_CONN_CLOSING)
			c->close_progress_ms = (uint32_t)ws_loop_now_ms(c->env->loop);
		ws_stat_add(&c->env->stats->bytes_out, left);
		while (left) {
			ws_chunk *ch = c->out[c->out_head];
			size_t rest = ch->len - c->out_off;
			if (left < rest) {
				c->out_off += left;
				break;
			}
			left -= rest;
			c->out_off = 0;
			ws_chunk_unref(ch);
			c->out_head = (c->out_head + 1) % c->out_cap;
			c->out_count--;
		}
		if ((size_t)w < total) {
			want_writable(c);
			return;
		}
	}
	if (!c->tls || !ws_tls_read_wants_write(c->tls))
		ws_loop_io_set(c->env->loop, &c->io, c->io.events & ~WS_IO_WRITE);
	if (c->shutdown_after_flush) {
		/* Our last frame is out: send FIN (after close_notify), then keep reading until the
		 * peer's EOF so that closing the socket never resets a connection whose data the peer
		 * has not read. */
		c->shutdown_after_flush = false;
		if (c->tls)
			ws_tls_shutdown(c->tls);
		shutdown(c->io.fd, SHUT_WR);
		c->state = WS_CONN_LINGER;
		ws__conn_set_timer(c, LINGER_MS);
		return;
	}
	if (c->needs_drain && c->state == WS_CONN_OPEN) {
		c->needs_drain = false;
		if (c->env->hooks->on_drain)
			c->env->hooks->on_drain(c->env->owner, c);
	}
}

/* ---- sending ---- */

/* Applies max_output_bytes before an application frame (or a Pong) is queued. The queue may
 * pass the limit by one message: a single large message to a reader that keeps up is fine;
 * a reader that stops reading is caught at its next message and memory stays bounded. */
int ws__conn_admit(ws_conn *c)
{
	const ws_conn_limits *lim = c->env->limits;
	if (c->state != WS_CONN_OPEN)
		return WS_ECLOSED;
	if (!lim->max_output_bytes || c->out_bytes < lim->max_output_bytes)
		return 0;
	if (lim->overflow_rejects)
		return WS_ETOOBIG;
	/* Close with 1008 behind what is queued; the close timeout bounds a reader that stops
	 * taking it. The owner hears of it from the loop, not from inside this send. */
	ws_conn_close(c, WS_CLOSE_POLICY, "output buffer full", 18);
	c->overflowed = true;
	ws__conn_want_flush(c);
	return WS_ETOOBIG;
}

/* A frame of c with RSV1 holding the message deflated by d. NULL when out of memory, or, when
 * *useless is given, when compressing did not make the message smaller (*useless is set). */
static ws_chunk *deflated_frame(const ws_conn *c, ws_deflater *d, uint8_t opcode,
                                const uint8_t *data, size_t len, bool *useless)
{
	ws_buf z = {0};
	ws_chunk *chunk = NULL;
	if (ws_deflater_message(d, data, len, &z) >= 0) {
		size_t n = ws_buf_avail(&z);
		if (useless && n >= len)
			*useless = true;
		else
			chunk = own_frame(c, opcode, true, z.ptr + z.head, n);
	}
	ws_buf_release(&z);
	return chunk;
}

/* The compressor for c's messages: its own (context takeover) or the shared one. */
static ws_deflater *deflater_of(ws_conn *c)
{
	if (c->deflater)
		return c->deflater;
	ws_deflater **shared = &c->env->deflaters[c->deflate.server_max_window_bits & 15];
	if (!*shared)
		*shared = ws_deflater_new(&c->deflate, c->env->limits->deflate);
	return *shared;
}

static bool compresses(const ws_conn *c, size_t len)
{
	return c->deflate_on && len >= c->env->limits->deflate_min_bytes;
}

int ws_conn_send(ws_conn *c, const uint8_t *data, size_t len, bool binary)
{
	if (!compresses(c, len)) {
		/* One connection, uncompressed: nothing to share, so no frame set to fill and free. */
		int rc = ws__conn_admit(c);
		if (rc == 0)
			rc = ws__conn_queue_frame(c, binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT, data, len);
		if (rc == 0)
			ws_stat_add(&c->env->stats->messages_out, 1);
		return rc;
	}
	ws_frames f = {.data = data, .len = len, .binary = binary};
	int rc = ws_conn_send_frames(c, &f);
	ws_frames_release(&f);
	return rc;
}

int ws_conn_send_borrowed(ws_conn *c, const uint8_t *data, size_t len, bool binary,
                          ws_chunk_release_fn release, void *arg)
{
	if (len < WS_SEND_BORROW_MIN || compresses(c, len) || c->role == WS_CONN_CLIENT) {
		/* Copying a small payload costs less than a second chunk; deflate reads it once; a
		 * client masks it, which needs a copy anyway. */
		int rc = ws_conn_send(c, data, len, binary);
		release(arg);
		return rc;
	}
	uint8_t opcode = binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT;
	uint8_t hdr[WS_FRAME_MAX_HEADER];
	size_t hlen = ws_frame_write_header(hdr, opcode, true, false, len);
	int rc = ws__conn_admit(c);
	ws_chunk *head = NULL, *body = NULL;
	if (rc == 0 && ((head = ws_chunk_new(hlen)) == NULL ||
	                (body = ws_chunk_borrow(data, len, release, arg)) == NULL ||
	                ws__conn_reserve_out(c, 2) < 0))
		rc = WS_ENOMEM;
	if (rc < 0) {
		ws_chunk_unref(head);
		if (body)
			ws_chunk_unref(body); /* calls release */
		else
			release(arg);
		return rc;
	}
	memcpy(head->data, hdr, hlen);
	/* Room for both was made above, so the frame is never queued in part. */
	ws__conn_queue(c, head);
	ws__conn_queue(c, body);
	ws_stat_add(&c->env->stats->messages_out, 1);
	return 0;
}

int ws_conn_send_frames(ws_conn *c, ws_frames *f)
{
	int rc = ws__conn_admit(c);
	if (rc < 0)
		return rc;
	uint8_t opcode = f->binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT;
	ws_chunk *frame, *own = NULL;
	bool client = c->role == WS_CONN_CLIENT; /* masked frames with their own keys: unshared */
	if (!compresses(c, f->len) && client) {
		frame = own = own_frame(c, opcode, false, f->data, f->len);
	} else if (!compresses(c, f->len)) {
		if (!f->plain)
			f->plain = ws_conn_frame(opcode, f->data, f->len);
		frame = f->plain;
	} else if (c->deflater || client) {
		/* Context takeover (this connection's stream), or a client: its own frame. */
		ws_deflater *d = deflater_of(c);
		frame = own = d ? deflated_frame(c, d, opcode, f->data, f->len, NULL) : NULL;
		ws__conn_codec_used(c);
	} else {
		/* No context: the stream restarts with every message, so a message that does not
		 * shrink (random bytes) can go out as it is and the client's window stays right. */
		ws_chunk **shared = &f->deflated[c->deflate.server_max_window_bits & 15];
		ws_deflater *d = deflater_of(c);
		bool useless = false;
		if (!*shared && d)
			*shared = deflated_frame(c, d, opcode, f->data, f->len, &useless);
		if (useless) {
			if (!f->plain)
				f->plain = ws_conn_frame(opcode, f->data, f->len);
			*shared = f->plain ? ws_chunk_ref(f->plain) : NULL;
		}
		frame = *shared;
	}
	if (!frame)
		return WS_ENOMEM;
	if (ws__conn_queue(c, own ? own : ws_chunk_ref(frame)) < 0) {
		ws_chunk_unref(frame);
		return WS_ENOMEM;
	}
	ws_stat_add(&c->env->stats->messages_out, 1);
	return 0;
}

void ws_frames_release(ws_frames *f)
{
	if (f->plain)
		ws_chunk_unref(f->plain);
	for (int i = 0; i < 16; i++)
		if (f->deflated[i])
			ws_chunk_unref(f->deflated[i]);
	f->plain = NULL;
	memset(f->deflated, 0, sizeof(f->deflated));
}

int ws_conn_ping(ws_conn *c, const uint8_t *data, size_t len)
{
	if (len > WS_FRAME_MAX_CONTROL)
		return WS_EINVAL;
	int rc = ws__conn_admit(c);
	if (rc < 0)
		return rc;
	return ws__conn_queue_frame(c, WS_FRAME_OP_PING, data, len);
}
