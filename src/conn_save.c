/* conn_save.c - a connection as a record and back (see conn.h), for the reload handoff: the
 * sender saves each connection it hands over, the successor restores it around a descriptor
 * it received over SCM_RIGHTS.
 *
 * A record is a fixed head (conn_rec: magic, version and the head's own size, so a record of
 * another layout is refused; then the state, the times, the parser and UTF-8 state, the
 * lengths of the parts) followed by the parts: the message being received, unparsed input,
 * unsent output, the subprotocol, and the compression histories. Loop times travel as their
 * lower 32 bits, as the connection keeps them, and are taken relative to the receiver's loop
 * clock (both ends share the monotonic clock).
 *
 * A record is input: ws_conn_restore checks every length against the record's size and every
 * value against what a connection of this build can hold (parser state included: a control
 * frame in pieces must fit its 125-byte buffer), before it allocates anything. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"

#include <string.h>

#define REC_MAGIC   0x57534331u /* "WSC1" */
#define REC_VERSION 1
#define WINDOW_MAX  (1u << 15) /* the largest compression history */
#define PROTO_MAX   255        /* a subprotocol we could have agreed to */

/* The state of the frame parser of an open connection (its configuration is the receiver's). */
typedef struct rec_frames {
	uint8_t in_frame, in_message, opcode, fin, rsv1, masked;
	uint8_t mask[4];
	uint64_t frame_len, remaining;
} rec_frames;

typedef struct conn_rec {
	uint32_t magic;
	uint16_t version;
	uint16_t head_len; /* sizeof(conn_rec) */
	uint8_t state, role, msg_binary, msg_compressed;
	uint8_t deflate_on, own_deflater, ping_sent, needs_drain;
	uint8_t ctrl_len; /* bytes of a control frame in pieces, in ctrl */
	uint8_t pad[3];
	uint32_t last_read_ms, ping_sent_ms;
	int32_t remote_port;
	uint32_t proto_len, tx_window_len, rx_window_len;
	uint32_t utf8;
	uint64_t id;
	uint64_t msg_len, in_len, out_len;
	/* permessage-deflate's parameters, as bytes (a record never holds a C bool) */
	uint8_t server_bits, client_bits, server_no_context, client_no_context;
	rec_frames frames;
	char remote_ip[WS_NET_ADDR_MAX];
	uint8_t ctrl[WS_FRAME_MAX_CONTROL];
} conn_rec;

/* ---- saving ---- */

static int append_output(const ws_conn *c, ws_buf *out)
{
	for (uint32_t i = 0; i < c->out_count; i++) {
		const ws_chunk *ch = c->out[(c->out_head + i) % c->out_cap];
		size_t skip = i == 0 ? c->out_off : 0;
		if (ws_buf_append(out, ch->data + skip, ch->len - skip) < 0)
			return WS_ENOMEM;
	}
	return 0;
}

/* Appends a codec's history, written straight into out; returns its length in *len. */
static int append_window(ws_buf *out, ws_deflater *d, ws_inflater *f, uint32_t *len)
{
	if (ws_buf_reserve(out, WINDOW_MAX) < 0)
		return WS_ENOMEM;
	size_t n = d ? ws_deflater_window(d, out->ptr + out->len, WINDOW_MAX)
	             : ws_inflater_window(f, out->ptr + out->len, WINDOW_MAX);
	out->len += n;
	*len = (uint32_t)n;
	return 0;
}

static void save_frames(const ws_frame_parser *f, rec_frames *r)
{
	r->in_frame = f->in_frame;
	r->in_message = f->in_message;
	r->opcode = f->opcode;
	r->fin = f->fin;
	r->rsv1 = f->rsv1;
	r->masked = f->masked;
	memcpy(r->mask, f->mask, 4);
	r->frame_len = f->frame_len;
	r->remaining = f->remaining;
}

static void fill_head(const ws_conn *c, conn_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->magic = REC_MAGIC;
	r->version = REC_VERSION;
	r->head_len = (uint16_t)sizeof(*r);
	r->state = (uint8_t)c->state;
	r->role = (uint8_t)c->role;
	r->msg_binary = c->msg_binary;
	r->msg_compressed = c->msg_compressed;
	r->deflate_on = c->deflate_on;
	r->own_deflater = c->deflater != NULL;
	r->ping_sent = c->ping_sent;
	r->needs_drain = c->needs_drain;
	/* ctrl_len is stale once its frame was handled (the buffer is gone then). */
	r->ctrl_len = c->ctrl ? c->ctrl_len : 0;
	if (r->ctrl_len)
		memcpy(r->ctrl, c->ctrl, r->ctrl_len);
	r->last_read_ms = c->last_read_ms;
	r->ping_sent_ms = c->ping_sent_ms;
	r->remote_port = c->remote_port;
	r->proto_len = c->subprotocol ? (uint32_t)strlen(c->subprotocol) : 0;
	r->utf8 = c->utf8.state;
	r->id = c->id;
	r->msg_len = c->msg_len;
	r->in_len = ws_buf_avail(&c->in);
	r->out_len = c->out_bytes;
	r->server_bits = c->deflate.server_max_window_bits;
	r->client_bits = c->deflate.client_max_window_bits;
	r->server_no_context = c->deflate.server_no_context_takeover;
	r->client_no_context = c->deflate.client_no_context_takeover;
	if (c->state == WS_CONN_OPEN)
		save_frames(&c->frames, &r->frames);
	memcpy(r->remote_ip, c->remote_ip, sizeof(r->remote_ip));
}

int ws_conn_save(ws_conn *c, ws_buf *out)
{
	if ((c->state != WS_CONN_HANDSHAKE && c->state != WS_CONN_OPEN) || c->tls)
		return WS_EINVAL;
	if (c->subprotocol && strlen(c->subprotocol) > PROTO_MAX)
		return WS_EINVAL;
	conn_rec r;
	fill_head(c, &r);
	/* Offsets from out's read head: reserving may move the bytes, never their order. */
	size_t start = ws_buf_avail(out);
	if (ws_buf_append(out, &r, sizeof(r)) < 0 ||
	    (r.msg_len && ws_buf_append(out, c->msg_data, r.msg_len) < 0) ||
	    (r.in_len && ws_buf_append(out, c->in.ptr + c->in.head, r.in_len) < 0) ||
	    append_output(c, out) < 0 ||
	    (r.proto_len && ws_buf_append(out, c->subprotocol, r.proto_len) < 0) ||
	    (c->deflater && append_window(out, c->deflater, NULL, &r.tx_window_len) < 0) ||
	    (c->inflater && append_window(out, NULL, c->inflater, &r.rx_window_len) < 0))
		return WS_ENOMEM;
	memcpy(out->ptr + out->head + start, &r, sizeof(r));
	return 0;
}

/* ---- checking ---- */

static bool is_flag(uint8_t v)
{
	return v <= 1;
}

static bool valid_opcode(uint8_t op)
{
	return op <= WS_FRAME_OP_BINARY || (op >= WS_FRAME_OP_CLOSE && op <= WS_FRAME_OP_PONG);
}

/* The parser state of an open connection: a frame under way must be one this connection could
 * have accepted, and a control frame's bytes must fit the control buffer. */
static bool frames_valid(const ws_conn_env *env, const conn_rec *r)
{
	const rec_frames *f = &r->frames;
	if (!is_flag(f->in_frame) || !is_flag(f->in_message) || !is_flag(f->fin) || !is_flag(f->rsv1) ||
	    !is_flag(f->masked) || !valid_opcode(f->opcode))
		return false;
	if (!f->in_frame)
		return f->remaining == 0 && r->ctrl_len == 0 && (r->msg_len == 0 || f->in_message);
	bool control = f->opcode & 0x8;
	uint64_t max_frame = env->limits->max_frame_bytes;
	if (f->remaining > f->frame_len || (max_frame && f->frame_len > max_frame))
		return false;
	if ((f->rsv1 && !r->deflate_on) || f->masked != (r->role == WS_CONN_SERVER))
		return false;
	if (control)
		return f->fin && f->frame_len <= WS_FRAME_MAX_CONTROL &&
		       r->ctrl_len + f->remaining <= WS_FRAME_MAX_CONTROL;
	return r->ctrl_len == 0;
}

/* Takes n bytes off *left; false when fewer are left. */
static bool take(uint64_t n, size_t *left)
{
	if (n > *left)
		return false;
	*left -= (size_t)n;
	return true;
}

static bool head_valid(const ws_conn_env *env, const conn_rec *r, size_t body_len)
{
	if (r->magic != REC_MAGIC || r->version != REC_VERSION || r->head_len != sizeof(*r))
		return false;
	if ((r->state != WS_CONN_HANDSHAKE && r->state != WS_CONN_OPEN) || r->role > WS_CONN_CLIENT ||
	    r->id == 0)
		return false;
	if (!is_flag(r->msg_binary) || !is_flag(r->msg_compressed) || !is_flag(r->deflate_on) ||
	    !is_flag(r->own_deflater) || !is_flag(r->ping_sent) || !is_flag(r->needs_drain))
		return false;
	if (r->remote_port < 0 || r->remote_port > 65535 || r->proto_len > PROTO_MAX ||
	    r->ctrl_len > WS_FRAME_MAX_CONTROL)
		return false;
	if (r->tx_window_len > WINDOW_MAX || r->rx_window_len > WINDOW_MAX ||
	    (r->tx_window_len && !r->own_deflater))
		return false;
	if (r->deflate_on &&
	    (r->server_bits < 8 || r->server_bits > 15 || r->client_bits < 8 || r->client_bits > 15 ||
	     !is_flag(r->server_no_context) || !is_flag(r->client_no_context)))
		return false;
	if (!r->deflate_on &&
	    (r->own_deflater || r->rx_window_len || r->msg_compressed || r->frames.rsv1))
		return false;
	uint64_t max_msg = env->limits->max_message_bytes;
	if ((max_msg && r->msg_len > max_msg) || r->msg_len > SIZE_MAX / 2 ||
	    r->in_len >= env->rbuf_cap)
		return false;
	/* Only the server side of the opening handshake exists. */
	if (r->state == WS_CONN_HANDSHAKE &&
	    (r->msg_len || r->ctrl_len || r->proto_len || r->role != WS_CONN_SERVER))
		return false;
	if (r->state == WS_CONN_OPEN && !frames_valid(env, r))
		return false;
	/* The parts fill the rest of the record exactly. */
	size_t left = body_len;
	return take(r->msg_len, &left) && take(r->in_len, &left) && take(r->out_len, &left) &&
	       take(r->proto_len, &left) && take(r->tx_window_len, &left) &&
	       take(r->rx_window_len, &left) && left == 0;
}

/* ---- restoring ---- */

static void restore_fields(ws_conn *c, const conn_rec *r)
{
	c->state = (ws_conn_state)r->state;
	c->opened = c->state == WS_CONN_OPEN;
	c->last_read_ms = r->last_read_ms;
	c->ping_sent_ms = r->ping_sent_ms;
	c->ping_sent = r->ping_sent;
	c->msg_binary = r->msg_binary;
	c->msg_compressed = r->msg_compressed;
	/* Compression stays on only if this process still offers it. */
	c->deflate_on = r->deflate_on && c->env->limits->deflate;
	c->deflate = (ws_deflate_params){
	    .server_max_window_bits = r->server_bits,
	    .client_max_window_bits = r->client_bits,
	    .server_no_context_takeover = r->server_no_context,
	    .client_no_context_takeover = r->client_no_context,
	};
	c->utf8.state = r->utf8;
	c->ctrl_len = r->ctrl_len;
	c->remote_port = r->remote_port;
	memcpy(c->remote_ip, r->remote_ip, sizeof(c->remote_ip));
	c->remote_ip[sizeof(c->remote_ip) - 1] = '\0';
	if (c->state == WS_CONN_OPEN) {
		const rec_frames *f = &r->frames;
		c->frames.in_frame = f->in_frame;
		c->frames.in_message = f->in_message;
		c->frames.opcode = f->opcode;
		c->frames.fin = f->fin;
		c->frames.rsv1 = f->rsv1;
		c->frames.masked = f->masked;
		memcpy(c->frames.mask, f->mask, 4);
		c->frames.frame_len = f->frame_len;
		c->frames.remaining = f->remaining;
	}
	ws__conn_configure_parser(c); /* the configuration is this process's */
}

/* The output, as one chunk at the head of the queue; env->want_flush waits for resume. */
static int restore_output(ws_conn *c, const uint8_t *p, size_t len, bool needs_drain)
{
	ws_chunk *chunk = ws_chunk_new(len);
	if (!chunk || ws__conn_reserve_out(c, 1) < 0) {
		if (chunk)
			ws_chunk_unref(chunk);
		return WS_ENOMEM;
	}
	memcpy(chunk->data, p, len);
	c->out[0] = chunk;
	c->out_head = 0;
	c->out_count = 1;
	c->out_bytes = len;
	c->needs_drain = needs_drain;
	return 0;
}

/* The codecs of a compressed connection, with the histories its predecessor kept. */
static int restore_codecs(ws_conn *c, const conn_rec *r, const uint8_t *p)
{
	if (r->own_deflater &&
	    (!(c->deflater = ws_deflater_new(&c->deflate, c->env->limits->deflate)) ||
	     ws_deflater_set_window(c->deflater, p, r->tx_window_len) < 0))
		return WS_ENOMEM;
	p += r->tx_window_len;
	if (r->rx_window_len && (!(c->inflater = ws_inflater_new(&c->deflate)) ||
	                         ws_inflater_set_window(c->inflater, p, r->rx_window_len) < 0))
		return WS_ENOMEM;
	return 0;
}

/* Everything after the head; 0 or WS_ENOMEM (what was set is freed with c). */
static int restore_parts(ws_conn *c, const conn_rec *r, const uint8_t *p)
{
	if (r->ctrl_len) {
		if (!(c->ctrl = ws_malloc(WS_FRAME_MAX_CONTROL)))
			return WS_ENOMEM;
		memcpy(c->ctrl, r->ctrl, r->ctrl_len);
	}
	if (r->msg_len) {
		if (!ws__conn_message_storage(c, (size_t)r->msg_len, true))
			return WS_ENOMEM;
		memcpy(c->msg_data, p, (size_t)r->msg_len);
		c->msg_len = (size_t)r->msg_len;
	}
	p += r->msg_len;
	if (r->in_len && ws_buf_append(&c->in, p, (size_t)r->in_len) < 0)
		return WS_ENOMEM;
	p += r->in_len;
	if (r->out_len && restore_output(c, p, (size_t)r->out_len, r->needs_drain) < 0)
		return WS_ENOMEM;
	p += r->out_len;
	if (r->proto_len) {
		if (!(c->subprotocol = ws_malloc(r->proto_len + 1)))
			return WS_ENOMEM;
		memcpy(c->subprotocol, p, r->proto_len);
		c->subprotocol[r->proto_len] = '\0';
	}
	p += r->proto_len;
	return c->deflate_on ? restore_codecs(c, r, p) : 0;
}

ws_conn *ws_conn_restore(ws_conn_env *env, int fd, const uint8_t *rec, size_t len)
{
	conn_rec r;
	if (!rec || len < sizeof(r))
		return NULL;
	memcpy(&r, rec, sizeof(r));
	if (!head_valid(env, &r, len - sizeof(r)))
		return NULL;
	ws_conn *c = ws__conn_create(env, fd, r.id, (ws_conn_role)r.role);
	if (!c)
		return NULL;
	restore_fields(c, &r);
	if (restore_parts(c, &r, rec + sizeof(r)) < 0) {
		ws__conn_destroy(c);
		return NULL;
	}
	return c;
}

void ws_conn_resume(ws_conn *c)
{
	if (c->opened)
		c->env->opened(c->env->server, c);
	if (c->state == WS_CONN_HANDSHAKE)
		ws__conn_set_timer(c, c->env->limits->handshake_timeout_ms);
	else
		ws_conn_keepalive(c); /* from the predecessor's times */
	if (c->out_count)
		ws__conn_want_flush(c);
}
