/* conn_in.c - the input side of a connection (see conn.h): reading the socket, parsing frames,
 * control frames, message reassembly with UTF-8 validation, inflating compressed messages, and
 * delivering whole messages to on_message.
 *
 * The socket is read into the loop's shared receive buffer, after any unparsed bytes carried
 * over from the previous read (at most a partial frame header, or the request head while the
 * opening handshake is incomplete). Frames are parsed where they lie. A control frame's payload
 * is unmasked in place by the parser; a data payload is left masked and unmasked as it is
 * copied into the message being assembled, so each byte is touched once. A message therefore
 * costs one copy from the receive buffer (into storage the owner's msg_alloc may provide); a
 * compressed one is kept compressed until it is whole and then inflated into new storage. Whatever
 * is left unparsed is copied into c->in; an idle connection therefore holds no input buffer at all.
 *
 * A peer's mistake (a bad frame, bad UTF-8, an oversize message) fails the connection: a Close
 * with the right code is queued, input is ignored from then on, and the connection goes once
 * the Close is written. The functions here return normally in that case. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"

#include <string.h>

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

void ws__conn_release_message(ws_conn *c)
{
	if (!c->msg)
		return;
	free_storage(c, c->msg, c->msg_cap);
	c->msg = NULL;
	c->msg_data = NULL;
	c->msg_len = c->msg_cap = 0;
}
/* Fails the WebSocket connection (RFC 6455 7.1.7): send a Close with `code`, ignore all
 * further input, and drop the TCP connection once the Close is written. */
static void fail(ws_conn *c, uint16_t code)
{
	ws__conn_release_message(c);
	c->read_paused = true;
	/* Report why we failed it: the peer's answer, if any, is no longer read. */
	if (!c->close_received)
		c->close_code = code;
	if (!c->close_sent && ws__conn_queue_close(c, code, NULL, 0) < 0) {
		ws__conn_finish(c);
		return;
	}
	ws__conn_start_closing(c);
	c->shutdown_after_flush = true;
	ws__conn_want_flush(c); /* our Close may have left already: shut down now */
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
	ws__conn_release_message(c);
	if (!c->close_sent && ws__conn_queue_close(c, code, NULL, 0) < 0) {
		ws__conn_finish(c);
		return;
	}
	/* Both Close frames are exchanged: the server closes the TCP connection first
	 * (RFC 6455 7.1.1) once ours is written. */
	ws__conn_start_closing(c);
	c->read_paused = true;
	c->shutdown_after_flush = true;
	ws__conn_want_flush(c);
}

static void handle_control(ws_conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	switch (opcode) {
	case WS_FRAME_OP_PING:
		/* A peer that sends pings without reading the pongs is held to the same limit. */
		if (ws__conn_admit(c) == 0 && ws__conn_queue_frame(c, WS_FRAME_OP_PONG, payload, len) < 0)
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
bool ws__conn_message_storage(ws_conn *c, size_t cap, bool held)
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
	if (!ws__conn_message_storage(c, (size_t)cap, !whole || need > MSG_UNHELD_MAX)) {
		fail_overloaded(c);
		return false;
	}
	return true;
}

/* Inflates in[0, in_len), a whole compressed message, into new message storage, growing the
 * output as needed but never past max_message_bytes (a decompression bomb ends in 1009 having
 * cost at most the limit). The message must have no storage yet. Returns false after failing
 * the connection. */
static bool inflate_into(ws_conn *c, const uint8_t *in, size_t in_len)
{
	if (!c->inflater && !(c->inflater = ws_inflater_new(&c->deflate))) {
		fail(c, WS_CLOSE_INTERNAL_ERROR);
		return false;
	}
	uint64_t limit = c->env->limits->max_message_bytes;
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
			if (!ws__conn_message_storage(c, cap, cap > MSG_UNHELD_MAX)) {
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
	ws__conn_codec_used(c);
	c->msg_compressed = false;
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

/* Replaces the compressed bytes gathered in the message's storage (a message in several frames
 * or reads) with what they inflate to. Returns false after failing the connection. */
static bool inflate_message(ws_conn *c)
{
	void *zipped = c->msg;
	const uint8_t *in = c->msg_data;
	size_t in_len = c->msg_len, zipped_cap = c->msg_cap;
	c->msg = NULL;
	c->msg_data = NULL;
	c->msg_len = c->msg_cap = 0;
	bool ok = inflate_into(c, in, in_len);
	free_storage(c, zipped, zipped_cap);
	return ok;
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
	if (c->msg_compressed && whole && ch->first && ch->opcode != WS_FRAME_OP_CONT) {
		/* A compressed message of one frame, all here: inflated from where it lies, unmasked
		 * in place in the receive buffer, so its compressed bytes need no storage. */
		ws_frame_mask(ch->data, ch->len, ch->mask, 0);
		if (inflate_into(c, ch->data, ch->len))
			deliver(c);
		return;
	}
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

/* The side of the opening handshake that c's role runs over every byte received so far:
 * the server's (conn_upgrade.c). The client's side is not written: no client-role connection
 * is ever in HANDSHAKE (ws_conn_restore refuses such a record), and one would be dropped. */
static size_t opening_handshake(ws_conn *c, const uint8_t *buf, size_t len)
{
	if (c->role == WS_CONN_SERVER)
		return ws__conn_upgrade(c, buf, len);
	ws__conn_finish(c);
	return len;
}

/* Processes buf[0, len) and returns how many bytes were used; the caller keeps the rest. */
static size_t process(ws_conn *c, uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		if (c->read_paused || c->state >= WS_CONN_LINGER)
			return len;
		if (c->state == WS_CONN_HANDSHAKE) {
			size_t n = opening_handshake(c, buf, len);
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
		ws__conn_finish(c);
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
		ws__conn_finish(c);
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

void ws__conn_on_io(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)loop;
	ws_conn *c = (ws_conn *)(void *)((char *)io - offsetof(ws_conn, io));
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
