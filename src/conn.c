/* conn.c - see conn.h. Input path: the socket is read into the loop's shared receive buffer
 * (after any partial header carried over in c->in), the bytes are parsed there, payloads are
 * unmasked in place and copied once into the message, and whatever is left unparsed (at most
 * a partial frame header or request head) is carried over. An idle connection therefore holds
 * no input buffer at all. Output path: frames are queued as chunk references and written by
 * ws_conn_flush, which the server calls once per loop turn for every connection with output.
 * The opening handshake (the request head, 101 or an HTTP answer) is in upgrade.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IOV_BATCH 64
#define LINGER_MS 2000 /* how long a shut-down connection may take to send its EOF */

static void fail(ws_conn *c, uint16_t code);

static int queue_frame(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len);

/* ---- the deadline ---- */

void ws_conn_set_timer(ws_conn *c, uint32_t ms)
{
	if (ms)
		ws_wheel_arm(c->env->wheel, &c->timer, ws_loop_now_ms(c->env->loop) + ms);
	else
		ws_wheel_disarm(c->env->wheel, &c->timer);
}

/* A loop time from its lower 32 bits, which lie within 24 days of now (either side: times
 * handed over by another process may be ahead of a clock that was read a little earlier). */
static uint64_t widen_ms(uint64_t now, uint32_t low)
{
	int64_t ahead = (int32_t)(low - (uint32_t)now);
	return (uint64_t)((int64_t)now + ahead);
}

void ws_conn_keepalive(ws_conn *c)
{
	const ws_conn_limits *lim = c->env->limits;
	uint64_t now = ws_loop_now_ms(c->env->loop), due = UINT64_MAX;
	if (lim->idle_timeout_ms)
		due = widen_ms(now, c->last_read_ms) + lim->idle_timeout_ms;
	if (lim->ping_interval_ms) {
		uint32_t since = c->ping_sent ? c->ping_sent_ms : c->last_read_ms;
		uint64_t ping_due = widen_ms(now, since) + lim->ping_interval_ms;
		if (ping_due < due)
			due = ping_due;
	}
	if (due == UINT64_MAX)
		ws_wheel_disarm(c->env->wheel, &c->timer);
	else
		ws_wheel_arm(c->env->wheel, &c->timer, due);
}

/* The keep-alive deadline of an open connection came; bytes may have arrived since it was set
 * (reading only notes their time), so it decides from the times, not from the deadline. */
static void check_alive(ws_conn *c)
{
	const ws_conn_limits *lim = c->env->limits;
	uint32_t now = (uint32_t)ws_loop_now_ms(c->env->loop);
	uint32_t quiet = now - c->last_read_ms;
	if (lim->idle_timeout_ms && quiet >= lim->idle_timeout_ms) {
		ws_conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout", 12);
		return;
	}
	if (lim->ping_interval_ms && c->ping_sent) {
		/* No byte since our ping: the peer vanished without a FIN (half-open TCP), or
		 * cannot answer; either way its socket is only costing us. */
		if (now - c->ping_sent_ms >= lim->ping_interval_ms) {
			ws_conn_abort(c);
			return;
		}
	} else if (lim->ping_interval_ms && quiet >= lim->ping_interval_ms &&
	           queue_frame(c, WS_FRAME_OP_PING, NULL, 0) == 0) {
		c->ping_sent = true;
		c->ping_sent_ms = now;
	}
	ws_conn_keepalive(c);
}

/* How often a closing connection that still holds bytes for its peer is looked at: 8 times per
 * close_timeout, so whether the peer took any is known to within an eighth of it. Flushes alone
 * cannot tell: the kernel takes more only once the peer has freed a good part of a send buffer
 * that holds seconds of a slow reader (up to 4 MiB on Linux), and nothing after our Close. */
static uint32_t close_look_ms(const ws_conn *c)
{
	uint32_t look = c->env->limits->close_timeout_ms / 8;
	return look ? look : 1;
}

void ws_conn_start_closing(ws_conn *c)
{
	if (c->state == WS_CONN_CLOSING)
		return; /* the deadline runs already: a second reason to close does not extend it */
	c->state = WS_CONN_CLOSING;
	c->close_progress_ms = (uint32_t)ws_loop_now_ms(c->env->loop);
	c->close_unsent = ws_net_unsent(c->io.fd);
	ws_conn_set_timer(c, close_look_ms(c));
}

/* The close deadline of a closing connection: the peer must take some of what we still hold
 * for it (queued, or in the kernel's send queue) within every close_timeout, and answer our
 * Close, the last thing queued, within close_timeout of having taken it. Otherwise it is cut
 * with a reset: the kernel would keep its unsent bytes and retransmit them for minutes. */
static void check_closing(ws_conn *c)
{
	uint32_t now = (uint32_t)ws_loop_now_ms(c->env->loop);
	uint32_t timeout = c->env->limits->close_timeout_ms;
	uint32_t unsent = ws_net_unsent(c->io.fd);
	if (unsent != c->close_unsent) {
		c->close_unsent = unsent;
		c->close_progress_ms = now;
	}
	uint32_t quiet = now - c->close_progress_ms;
	if (quiet >= timeout) {
		ws_net_reset_on_close(c->io.fd);
		ws_conn_finish(c);
		return;
	}
	uint32_t wait = timeout - quiet, look = close_look_ms(c);
	ws_conn_set_timer(c, (c->out_count || unsent) && wait > look ? look : wait);
}

void ws_conn_expire(ws_wheel *w, ws_wheel_node *n, void *arg)
{
	(void)w;
	(void)arg;
	ws_conn *c = (ws_conn *)(void *)((char *)n - offsetof(ws_conn, timer));
	if (c->state == WS_CONN_OPEN)
		check_alive(c);
	else if (c->state == WS_CONN_CLOSING)
		check_closing(c);
	else
		ws_conn_finish(c); /* handshake too slow (slowloris), or EOF not sent after our FIN */
}

/* ---- output ---- */

/* Makes room in the output ring for n more chunks. Returns 0 or WS_ENOMEM. */
static int reserve_out(ws_conn *c, uint32_t n)
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

int ws_conn_queue(ws_conn *c, ws_chunk *chunk)
{
	if (reserve_out(c, 1) < 0)
		return WS_ENOMEM;
	c->out[(c->out_head + c->out_count) % c->out_cap] = chunk;
	c->out_count++;
	c->out_bytes += chunk->len;
	if (!c->pending)
		c->env->want_flush(c->env->server, c);
	return 0;
}

static void drop_output(ws_conn *c)
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

ws_chunk *ws_conn_frame(uint8_t opcode, const uint8_t *data, size_t len)
{
	uint8_t hdr[WS_FRAME_MAX_HEADER];
	size_t hlen = ws_frame_write_header(hdr, opcode, true, false, len);
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

/* Small frames queued in one turn (pipelined replies, pongs) share a chunk: the first
 * allocates room for more and the next ones are appended to it while it is the queue's last
 * and unshared. One allocation and one iovec per batch instead of one per frame. */
#define SMALL_FRAME_MAX 256
#define SMALL_CHUNK     1000

static int queue_frame(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
	if (len > SMALL_FRAME_MAX - 2) { /* a header of 2 bytes, or more */
		ws_chunk *chunk = ws_conn_frame(opcode, data, len);
		if (!chunk)
			return WS_ENOMEM;
		if (ws_conn_queue(c, chunk) < 0) {
			ws_chunk_unref(chunk);
			return WS_ENOMEM;
		}
		return 0;
	}
	uint8_t hdr[WS_FRAME_MAX_HEADER];
	size_t hlen = ws_frame_write_header(hdr, opcode, true, false, len), n = hlen + len;
	ws_chunk *tail = c->out_count ? c->out[(c->out_head + c->out_count - 1) % c->out_cap] : NULL;
	if (tail && tail->spare >= n && tail->refs == 1) {
		memcpy(tail->data + tail->len, hdr, hlen);
		if (len)
			memcpy(tail->data + tail->len + hlen, data, len);
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
	if (ws_conn_queue(c, chunk) < 0) {
		ws_chunk_unref(chunk);
		return WS_ENOMEM;
	}
	return 0;
}

static int queue_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
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
	return queue_frame(c, WS_FRAME_OP_CLOSE, payload, len);
}

/* Polls for writability, unless a TLS write waits for the peer's bytes first (on_io then
 * resumes it on readability; polling writability would spin). */
static void want_writable(ws_conn *c)
{
	if (!c->tls || !ws_tls_write_wants_read(c->tls))
		ws_loop_io_set(c->env->loop, &c->io, c->io.events | WS_IO_WRITE);
	c->needs_drain = c->opened;
}

void ws_conn_flush(ws_conn *c)
{
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
			ws_conn_finish(c);
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
		ws_conn_set_timer(c, LINGER_MS);
		return;
	}
	if (c->needs_drain && c->state == WS_CONN_OPEN) {
		c->needs_drain = false;
		if (c->env->hooks->on_drain)
			c->env->hooks->on_drain(c->env->owner, c);
	}
}

/* ---- closing ---- */

/* Storage of cap bytes leaves the receive budget (freed, or handed to the owner). */
static void unbudget(ws_conn *c, size_t cap)
{
	c->env->receiving -= cap;
	ws_stat_set(&c->env->stats->receiving, c->env->receiving);
}

/* Frees a message's storage (msg, cap bytes) and returns its bytes to the receive budget. */
static void free_storage(ws_conn *c, void *msg, size_t cap)
{
	const ws_server_hooks *h = c->env->hooks;
	if (h->msg_free && h->msg_alloc)
		h->msg_free(c->env->owner, msg);
	else
		ws_free(msg);
	unbudget(c, cap);
}

static void release_message(ws_conn *c)
{
	if (!c->msg)
		return;
	free_storage(c, c->msg, c->msg_cap);
	c->msg = NULL;
	c->msg_data = NULL;
	c->msg_len = c->msg_cap = 0;
}

void ws_conn_finish(ws_conn *c)
{
	if (c->state == WS_CONN_DONE)
		return;
	c->state = WS_CONN_DONE;
	ws_loop_io_stop(c->env->loop, &c->io);
	close(c->io.fd);
	ws_conn_set_timer(c, 0);
	release_message(c);
	drop_output(c);
	ws_buf_release(&c->in);
	ws_deflater_free(c->deflater);
	ws_inflater_free(c->inflater);
	ws_tls_free(c->tls);
	c->deflater = NULL;
	c->inflater = NULL;
	c->tls = NULL;
	c->env->done(c->env->server, c);
	if (c->opened && !c->handed_over && c->env->hooks->on_close) {
		uint16_t code = c->close_code ? c->close_code : WS_CLOSE_ABNORMAL;
		c->env->hooks->on_close(c->env->owner, c, code, c->close_reason ? c->close_reason : "",
		                        c->reason_len);
	}
}

/* Fails the WebSocket connection (RFC 6455 7.1.7): send a Close with `code`, ignore all
 * further input, and drop the TCP connection once the Close is written. */
static void fail(ws_conn *c, uint16_t code)
{
	release_message(c);
	c->read_paused = true;
	/* Report why we failed it: the peer's answer, if any, is no longer read. */
	if (!c->close_received)
		c->close_code = code;
	if (!c->close_sent && queue_close(c, code, NULL, 0) < 0) {
		ws_conn_finish(c);
		return;
	}
	ws_conn_start_closing(c);
	c->shutdown_after_flush = true;
	if (!c->pending) /* our Close may have left already: shut down now */
		c->env->want_flush(c->env->server, c);
}

int ws_conn_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	if (c->state == WS_CONN_HANDSHAKE) {
		ws_conn_finish(c);
		return 0;
	}
	if (c->state != WS_CONN_OPEN)
		return WS_ECLOSED;
	/* Wait for the peer's Close; its absence is bounded by the close timeout. */
	ws_conn_start_closing(c);
	if (queue_close(c, code, reason, reason_len) < 0)
		ws_conn_finish(c);
	return 0;
}

void ws_conn_abort(ws_conn *c)
{
	ws_conn_finish(c);
}

void ws_conn_forget(ws_conn *c)
{
	c->handed_over = true; /* no on_close: the connection lives on in another process */
	ws_conn_finish(c);
}

/* ---- sending ---- */

/* Applies max_output_bytes before an application frame (or a Pong) is queued. The queue may
 * pass the limit by one message: a single large message to a reader that keeps up is fine;
 * a reader that stops reading is caught at its next message and memory stays bounded. */
static int admit(ws_conn *c)
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
	if (!c->pending)
		c->env->want_flush(c->env->server, c);
	return WS_ETOOBIG;
}

/* A frame with RSV1 holding the message deflated by d. NULL when out of memory, or, when
 * *useless is given, when compressing did not make the message smaller (*useless is set). */
static ws_chunk *deflated_frame(ws_deflater *d, uint8_t opcode, const uint8_t *data, size_t len,
                                bool *useless)
{
	ws_buf z = {0};
	ws_chunk *chunk = NULL;
	if (ws_deflater_message(d, data, len, &z) >= 0) {
		uint8_t hdr[WS_FRAME_MAX_HEADER];
		size_t n = ws_buf_avail(&z);
		if (useless && n >= len) {
			*useless = true;
			ws_buf_release(&z);
			return NULL;
		}
		size_t hlen = ws_frame_write_header(hdr, opcode, true, true, n);
		if ((chunk = ws_chunk_new(hlen + n)) != NULL) {
			memcpy(chunk->data, hdr, hlen);
			if (n)
				memcpy(chunk->data + hlen, z.ptr + z.head, n);
		}
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
		int rc = admit(c);
		if (rc == 0)
			rc = queue_frame(c, binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT, data, len);
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
	if (len < WS_SEND_BORROW_MIN || compresses(c, len)) {
		/* Copying a small payload costs less than a second chunk; deflate reads it once. */
		int rc = ws_conn_send(c, data, len, binary);
		release(arg);
		return rc;
	}
	uint8_t opcode = binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT;
	uint8_t hdr[WS_FRAME_MAX_HEADER];
	size_t hlen = ws_frame_write_header(hdr, opcode, true, false, len);
	int rc = admit(c);
	ws_chunk *head = NULL, *body = NULL;
	if (rc == 0 &&
	    ((head = ws_chunk_new(hlen)) == NULL ||
	     (body = ws_chunk_borrow(data, len, release, arg)) == NULL || reserve_out(c, 2) < 0))
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
	ws_conn_queue(c, head);
	ws_conn_queue(c, body);
	ws_stat_add(&c->env->stats->messages_out, 1);
	return 0;
}

int ws_conn_send_frames(ws_conn *c, ws_frames *f)
{
	int rc = admit(c);
	if (rc < 0)
		return rc;
	uint8_t opcode = f->binary ? WS_FRAME_OP_BINARY : WS_FRAME_OP_TEXT;
	ws_chunk *frame, *own = NULL;
	if (!compresses(c, f->len)) {
		if (!f->plain)
			f->plain = ws_conn_frame(opcode, f->data, f->len);
		frame = f->plain;
	} else if (c->deflater) {
		/* Context takeover: this connection's stream, so its own frame. */
		frame = own = deflated_frame(c->deflater, opcode, f->data, f->len, NULL);
	} else {
		/* No context: the stream restarts with every message, so a message that does not
		 * shrink (random bytes) can go out as it is and the client's window stays right. */
		ws_chunk **shared = &f->deflated[c->deflate.server_max_window_bits & 15];
		ws_deflater *d = deflater_of(c);
		bool useless = false;
		if (!*shared && d)
			*shared = deflated_frame(d, opcode, f->data, f->len, &useless);
		if (useless) {
			if (!f->plain)
				f->plain = ws_conn_frame(opcode, f->data, f->len);
			*shared = f->plain ? ws_chunk_ref(f->plain) : NULL;
		}
		frame = *shared;
	}
	if (!frame)
		return WS_ENOMEM;
	if (ws_conn_queue(c, own ? own : ws_chunk_ref(frame)) < 0) {
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
	int rc = admit(c);
	if (rc < 0)
		return rc;
	return queue_frame(c, WS_FRAME_OP_PING, data, len);
}

/* ---- frames and messages ---- */

static void handle_close_frame(ws_conn *c, const uint8_t *payload, size_t len)
{
	uint16_t code;
	const uint8_t *reason;
	size_t reason_len;
	int rc = ws_frame_close_parse(payload, len, &code, &reason, &reason_len);
	if (rc < 0) {
		fail(c, rc == WS_EUTF8 ? WS_CLOSE_INVALID_DATA : WS_CLOSE_PROTOCOL_ERROR);
		return;
	}
	c->close_received = true;
	c->close_code = code;
	if (reason_len && !c->close_reason && (c->close_reason = ws_malloc(reason_len)) != NULL) {
		memcpy(c->close_reason, reason, reason_len);
		c->reason_len = (uint8_t)reason_len;
	}
	release_message(c);
	if (!c->close_sent && queue_close(c, code, NULL, 0) < 0) {
		ws_conn_finish(c);
		return;
	}
	/* Both Close frames are exchanged: the server closes the TCP connection first
	 * (RFC 6455 7.1.1) once ours is written. */
	ws_conn_start_closing(c);
	c->read_paused = true;
	c->shutdown_after_flush = true;
	if (!c->pending)
		c->env->want_flush(c->env->server, c);
}

static void handle_control(ws_conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	switch (opcode) {
	case WS_FRAME_OP_PING:
		/* A peer that sends pings without reading the pongs is held to the same limit. */
		if (admit(c) == 0 && queue_frame(c, WS_FRAME_OP_PONG, payload, len) < 0)
			fail(c, WS_CLOSE_INTERNAL_ERROR);
		break;
	case WS_FRAME_OP_CLOSE:
		handle_close_frame(c, payload, len);
		break;
	default: /* an unsolicited pong is allowed and needs no answer */
		break;
	}
}

/* ---- message storage ----
 * Storage follows the bytes that have arrived, never what a frame header announces: a header
 * that announces 16 MiB costs nothing until its bytes come. The storage grows to twice what
 * has arrived, up to where the message is known to end, so a message that arrives whole is
 * allocated once at its exact size and one that trickles in is reallocated a few times. What
 * the messages of every connection hold together is bounded by the receive budget: the
 * connection that would pass it, or whose storage cannot be had, is closed with 1013 (Try
 * Again Later) and no other connection notices. */

#define MSG_MIN_CAP 256
/* A message that completes in the bytes at hand and is no larger than this is delivered
 * before the next read: it is never held, so the budget does not refuse it. Small messages
 * keep flowing while the budget is spent on large ones. */
#define MSG_UNHELD_MAX (64 * 1024)

/* Resizes the message being received to cap bytes; `held` storage counts against the budget.
 * False when the budget or the allocator refuses. */
static bool message_storage(ws_conn *c, size_t cap, bool held)
{
	ws_conn_env *env = c->env;
	size_t budget = env->limits->max_receive_bytes;
	if (held && budget && cap > c->msg_cap && env->receiving + (cap - c->msg_cap) > budget)
		return false;
	const ws_server_hooks *h = env->hooks;
	uint8_t *data = NULL;
	void *msg;
	if (h->msg_alloc && h->msg_grow) {
		msg = c->msg ? h->msg_grow(env->owner, c->msg, cap, &data)
		             : h->msg_alloc(env->owner, cap, &data);
	} else {
		msg = ws_realloc(c->msg, cap ? cap : 1);
		data = msg;
	}
	if (!msg)
		return false;
	env->receiving = env->receiving - c->msg_cap + cap;
	ws_stat_set(&env->stats->receiving, env->receiving);
	c->msg = msg;
	c->msg_data = data;
	c->msg_cap = cap;
	return true;
}

/* The receive budget is spent, or memory is short: this connection goes, the others stay. */
static void fail_overloaded(ws_conn *c)
{
	ws_stat_add(&c->env->stats->receive_refused, 1);
	fail(c, WS_CLOSE_TRY_AGAIN);
}

/* Makes room for n more bytes of the message, which ends at `end` at the latest (the end a
 * final frame announced, or the message limit); `whole` when these bytes complete it.
 * Returns false after failing the connection. */
static bool message_room(ws_conn *c, size_t n, uint64_t end, bool whole)
{
	size_t need = c->msg_len + n;
	if (need <= c->msg_cap && c->msg)
		return true;
	uint64_t cap = (uint64_t)need * 2;
	if (cap < MSG_MIN_CAP)
		cap = MSG_MIN_CAP;
	if (cap > end)
		cap = end;
	if (cap < need)
		cap = need;
	if (!message_storage(c, (size_t)cap, !whole || need > MSG_UNHELD_MAX)) {
		fail_overloaded(c);
		return false;
	}
	return true;
}

int ws_conn_restore_message(ws_conn *c, const uint8_t *data, size_t len)
{
	if (!message_storage(c, len, true))
		return WS_ENOMEM;
	memcpy(c->msg_data, data, len);
	c->msg_len = len;
	return 0;
}

/* Replaces the compressed bytes of the message with what they inflate to, growing the output
 * as needed but never past max_message_bytes (a decompression bomb ends in 1009 having cost
 * at most the limit). Returns false after failing the connection. */
static bool inflate_message(ws_conn *c)
{
	if (!c->inflater && !(c->inflater = ws_inflater_new(&c->deflate))) {
		fail(c, WS_CLOSE_INTERNAL_ERROR);
		return false;
	}
	void *zipped = c->msg;
	const uint8_t *in = c->msg_data;
	size_t in_len = c->msg_len, zipped_cap = c->msg_cap;
	uint64_t limit = c->env->limits->max_message_bytes;
	c->msg = NULL;
	c->msg_data = NULL;
	c->msg_len = c->msg_cap = 0;
	int code = 0;
	for (;;) {
		if (c->msg_len == c->msg_cap) {
			if (limit && c->msg_len > limit) {
				code = WS_CLOSE_TOO_BIG;
				break;
			}
			/* Room for the limit plus one byte: producing that byte proves the excess. */
			size_t cap = c->msg_cap ? c->msg_cap * 2 : (in_len < 1024 ? 4096 : in_len * 4);
			if (limit && cap > limit + 1)
				cap = (size_t)limit + 1;
			/* Inflated in this call and delivered right after: held only when large. */
			if (!message_storage(c, cap, cap > MSG_UNHELD_MAX)) {
				code = WS_CLOSE_TRY_AGAIN;
				break;
			}
		}
		ssize_t n = ws_inflater_feed(c->inflater, &in, &in_len, true, c->msg_data + c->msg_len,
		                             c->msg_cap - c->msg_len);
		if (n < 0) {
			code = n == WS_ENOMEM ? WS_CLOSE_INTERNAL_ERROR : WS_CLOSE_INVALID_DATA;
			break;
		}
		c->msg_len += (size_t)n;
		if (limit && c->msg_len > limit) {
			code = WS_CLOSE_TOO_BIG;
			break;
		}
		if (!in_len && ws_inflater_done(c->inflater))
			break;
	}
	ws_inflater_idle(c->inflater);
	c->msg_compressed = false;
	free_storage(c, zipped, zipped_cap);
	if (!code && !c->msg_binary &&
	    ws_utf8_validate(c->msg_data ? c->msg_data : (const uint8_t *)"", c->msg_len) < 0)
		code = WS_CLOSE_INVALID_DATA;
	if (code == WS_CLOSE_TRY_AGAIN) {
		fail_overloaded(c);
		return false;
	}
	if (code) {
		fail(c, (uint16_t)code);
		return false;
	}
	/* an empty message still needs storage */
	return c->msg || message_room(c, 0, 0, true);
}

static void deliver(ws_conn *c)
{
	if (c->msg_compressed && !inflate_message(c))
		return;
	void *msg = c->msg;
	size_t len = c->msg_len;
	unbudget(c, c->msg_cap); /* the message is the owner's from here */
	c->msg = NULL;
	c->msg_data = NULL;
	c->msg_len = c->msg_cap = 0;
	const ws_server_hooks *h = c->env->hooks;
	ws_stat_add(&c->env->stats->messages_in, 1);
	if (h->on_message)
		h->on_message(c->env->owner, c, msg, len, c->msg_binary);
	else if (h->msg_free && h->msg_alloc)
		h->msg_free(c->env->owner, msg);
	else
		ws_free(msg);
}

static void handle_data(ws_conn *c, const ws_frame_chunk *ch)
{
	if (c->state != WS_CONN_OPEN)
		return; /* after our Close, data is discarded (RFC 6455 5.5.1) */
	uint64_t limit = c->env->limits->max_message_bytes;
	if (ch->first) {
		if (ch->opcode != WS_FRAME_OP_CONT) {
			c->msg_binary = ch->opcode == WS_FRAME_OP_BINARY;
			/* The parser allows RSV1 only on a first frame, and only once negotiated. */
			c->msg_compressed = ch->rsv1;
			ws_utf8_reset(&c->utf8);
			c->msg_len = 0;
		}
		/* The announced size is checked against the limit; nothing is allocated for it. */
		uint64_t announced = (uint64_t)c->msg_len + ch->frame_len;
		if ((limit && announced > limit) || announced > SIZE_MAX / 2) {
			fail(c, WS_CLOSE_TOO_BIG);
			return;
		}
	}
	bool whole = ch->last && ch->fin;
	if (ch->len || (whole && !c->msg)) {
		/* A final frame tells where the message ends; a fragment only that it is within the
		 * limit. */
		uint64_t end = ch->fin ? (uint64_t)c->msg_len + ch->len + c->frames.remaining
		                       : (limit ? limit : SIZE_MAX / 2);
		if (!message_room(c, ch->len, end, whole))
			return;
	}
	/* The parser left the payload masked: it is unmasked on its way into the message. */
	const uint8_t *text = ch->data; /* an empty piece: no storage may exist yet */
	if (ch->len) {
		uint8_t *dst = c->msg_data + c->msg_len;
		ws_frame_unmask_copy(dst, ch->data, ch->len, ch->mask, 0);
		c->msg_len += ch->len;
		text = dst;
	}
	/* Compressed text is validated once inflated, when the message is whole. */
	if (!c->msg_binary && !c->msg_compressed && ws_utf8_feed(&c->utf8, text, ch->len) < 0) {
		/* Fail fast (RFC 6455 8.1): the rest of the message is not awaited. */
		fail(c, WS_CLOSE_INVALID_DATA);
		return;
	}
	if (whole) {
		if (!c->msg_binary && !c->msg_compressed && !ws_utf8_complete(&c->utf8)) {
			fail(c, WS_CLOSE_INVALID_DATA);
			return;
		}
		deliver(c);
	}
}

static void handle_chunk(ws_conn *c, const ws_frame_chunk *ch)
{
	if (ch->opcode & 0x8) {
		if (ch->first && ch->last) {
			handle_control(c, ch->opcode, ch->data, ch->len);
			return;
		}
		if (ch->first)
			c->ctrl_len = 0;
		if (!c->ctrl && (c->ctrl = ws_malloc(WS_FRAME_MAX_CONTROL)) == NULL) {
			fail(c, WS_CLOSE_INTERNAL_ERROR);
			return;
		}
		/* The parser bounds control payloads to 125 bytes, so this always fits. */
		memcpy(c->ctrl + c->ctrl_len, ch->data, ch->len);
		c->ctrl_len = (uint8_t)(c->ctrl_len + ch->len);
		if (ch->last) {
			uint8_t *payload = c->ctrl;
			c->ctrl = NULL; /* a Pong or Close may be queued from it; then it goes */
			handle_control(c, ch->opcode, payload, c->ctrl_len);
			ws_free(payload);
		}
		return;
	}
	handle_data(c, ch);
}

/* Processes buf[0, len) and returns how many bytes were used; the caller keeps the rest. */
static size_t process(ws_conn *c, uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		if (c->read_paused || c->state >= WS_CONN_LINGER)
			return len;
		if (c->state == WS_CONN_HANDSHAKE) {
			size_t n = ws_conn_upgrade(c, buf, len);
			if (!n)
				return 0;
			off = n;
			continue;
		}
		ws_frame_chunk ch;
		ssize_t n = ws_frame_parse(&c->frames, buf + off, len - off, &ch);
		if (n == WS_EAGAIN)
			break;
		if (n < 0) {
			fail(c, c->frames.close_code ? c->frames.close_code : WS_CLOSE_PROTOCOL_ERROR);
			return len;
		}
		off += (size_t)n;
		handle_chunk(c, &ch);
	}
	return off;
}

/* ---- reading ---- */

static void drain_linger(ws_conn *c)
{
	ssize_t n = ws_net_read(c->io.fd, c->env->rbuf, c->env->rbuf_cap);
	if (n == 0 || (n < 0 && n != WS_EAGAIN))
		ws_conn_finish(c);
}

/* A client that spoke plain HTTP to the TLS port gets a readable answer instead of a reset;
 * from here on the connection is plain TCP. */
static void refuse_plain_http(ws_conn *c)
{
	static const char body[] = "This port speaks TLS: use https:// or wss://.\n";
	ws_tls_free(c->tls);
	c->tls = NULL;
	ws_conn_reject(c, 400, body, sizeof(body) - 1);
}

static ssize_t read_socket(ws_conn *c, void *buf, size_t len)
{
	if (!c->tls)
		return ws_net_read(c->io.fd, buf, len);
	ssize_t n = ws_tls_read(c->tls, buf, len);
	/* A handshake that must write before it can read on waits for writability. */
	if (n == WS_EAGAIN && ws_tls_read_wants_write(c->tls))
		ws_loop_io_set(c->env->loop, &c->io, c->io.events | WS_IO_WRITE);
	return n;
}

/* Reads once; returns the bytes read (0 when nothing was there or the connection ended). */
static size_t read_input(ws_conn *c)
{
	ws_conn_env *env = c->env;
	size_t carried = ws_buf_avail(&c->in);
	if (carried >= env->rbuf_cap) {
		fail(c, WS_CLOSE_TOO_BIG); /* cannot happen with sane limits; never overflow */
		return 0;
	}
	if (carried)
		memcpy(env->rbuf, c->in.ptr + c->in.head, carried);
	ssize_t n = read_socket(c, env->rbuf + carried, env->rbuf_cap - carried);
	if (n == WS_EAGAIN)
		return 0;
	if (n == WS_EPROTO && c->tls && ws_tls_plain_http(c->tls)) {
		refuse_plain_http(c);
		return 0;
	}
	if (n <= 0) {
		/* The peer closed or reset the connection; without a Close frame this is 1006. */
		ws_conn_finish(c);
		return 0;
	}
	ws_stat_add(&env->stats->bytes_in, (uint64_t)n);
	/* Any bytes prove the peer alive. The keep-alive deadline stays where it is: when it comes
	 * it finds this time and waits on. */
	c->last_read_ms = (uint32_t)ws_loop_now_ms(env->loop);
	c->ping_sent = false;
	size_t total = carried + (size_t)n;
	size_t used = process(c, env->rbuf, total);
	if (c->state == WS_CONN_DONE)
		return 0;
	c->in.head = c->in.len = 0;
	if (used < total) {
		if (ws_buf_append(&c->in, env->rbuf + used, total - used) < 0)
			fail(c, WS_CLOSE_INTERNAL_ERROR);
	} else if (c->in.cap) {
		ws_buf_release(&c->in);
	}
	return (size_t)n;
}

void ws_conn_hold_input(ws_conn *c, bool hold)
{
	if (c->state == WS_CONN_DONE || c->input_held == hold)
		return;
	c->input_held = hold;
	unsigned events = c->io.events & ~WS_IO_READ;
	ws_loop_io_set(c->env->loop, &c->io, hold ? events : events | WS_IO_READ);
}

void ws_conn_read_pending(ws_conn *c, size_t max_bytes)
{
	size_t got = 0, n = 1;
	while (n && got < max_bytes && c->state < WS_CONN_LINGER) {
		n = read_input(c);
		got += n;
	}
}

/* A TLS session may need the other direction: a read that had to write (handshake) resumes
 * on writability, a write that had to read resumes on readability. */
static unsigned tls_crossed(ws_conn *c, unsigned events)
{
	if ((events & WS_IO_WRITE) && ws_tls_read_wants_write(c->tls))
		events |= WS_IO_READ;
	if ((events & (WS_IO_READ | WS_IO_ERROR)) && ws_tls_write_wants_read(c->tls))
		events |= WS_IO_WRITE;
	return events;
}

static void on_io(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)loop;
	ws_conn *c = (ws_conn *)io; /* io is the first member */
	if (c->tls)
		events = tls_crossed(c, events);
	if (events & WS_IO_WRITE)
		ws_conn_flush(c);
	if (c->state == WS_CONN_DONE || c->input_held || !(events & (WS_IO_READ | WS_IO_ERROR)))
		return;
	if (c->state == WS_CONN_LINGER) {
		drain_linger(c);
		return;
	}
	/* Records already decrypted inside the session do not make the socket readable again. */
	while (read_input(c) && c->tls && ws_tls_pending(c->tls) && !c->input_held &&
	       c->state < WS_CONN_LINGER)
		;
}

/* ---- life ---- */

ws_conn *ws_conn_adopt(ws_conn_env *env, int fd, uint64_t id, ws_conn_state state)
{
	ws_conn *c = ws_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->env = env;
	c->id = id;
	c->io.slot = -1;
	c->state = state;
	c->opened = state == WS_CONN_OPEN;
	c->http.max_head_bytes = env->limits->max_header_bytes;
	c->frames.require_mask = true;
	c->frames.defer_unmask = true;
	c->frames.max_frame_bytes = env->limits->max_frame_bytes;
	if (ws_loop_io_start(env->loop, &c->io, fd, WS_IO_READ, on_io) < 0) {
		ws_free(c);
		return NULL;
	}
	c->last_read_ms = (uint32_t)ws_loop_now_ms(env->loop);
	if (state == WS_CONN_HANDSHAKE)
		ws_conn_set_timer(c, env->limits->handshake_timeout_ms);
	else
		ws_conn_keepalive(c);
	return c;
}

ws_conn *ws_conn_new(ws_conn_env *env, int fd, uint64_t id, const struct sockaddr_storage *addr,
                     ws_tls_ctx *tls)
{
	ws_tls *session = tls ? ws_tls_new(tls, fd) : NULL;
	if (tls && !session)
		return NULL;
	ws_conn *c = ws_conn_adopt(env, fd, id, WS_CONN_HANDSHAKE);
	if (!c) {
		ws_tls_free(session);
		return NULL;
	}
	c->tls = session;
	ws_net_format_addr(addr, c->remote_ip, sizeof(c->remote_ip), &c->remote_port);
	return c;
}

int ws_conn_queue_raw(ws_conn *c, ws_chunk *chunk)
{
	ws_chunk_ref(chunk);
	if (ws_conn_queue(c, chunk) < 0) {
		ws_chunk_unref(chunk);
		return WS_ENOMEM;
	}
	return 0;
}

void ws_conn_free(ws_conn *c)
{
	if (c->user && c->env->hooks->on_release)
		c->env->hooks->on_release(c->env->owner, c);
	ws_free(c->subprotocol);
	ws_free(c->ctrl);
	ws_free(c->close_reason);
	ws_free(c);
}
