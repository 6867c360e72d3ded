/* conn_life.c - the life of a connection (see conn.h): creating one (a new socket, or one adopted
 * with a chosen state), its one deadline (handshake timeout, keep-alive, close timeout, linger),
 * the closing handshake's start, and the end (finish, abort, forget, free).
 *
 * The rest of the connection module: conn_in.c reads and parses what the peer sends,
 * conn_out.c queues and writes what we send, conn_upgrade.c answers the opening handshake,
 * conn_save.c turns a connection into a record and back (the reload handoff). They share the
 * struct and their helpers through conn_int.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"

#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/socket.h>
#include <unistd.h>

/* ---- the deadline ---- */

void ws__conn_set_timer(ws_conn *c, uint32_t ms)
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

/* Our own zlib streams that hold memory while idle: a deflater (server context takeover) and an
 * inflater that keeps the client's context, when not parked already. */
static bool codecs_live(const ws_conn *c)
{
	return (c->deflater && !ws_deflater_parked(c->deflater)) ||
	       (c->inflater && !c->deflate.client_no_context_takeover &&
	        !ws_inflater_parked(c->inflater));
}

void ws__conn_codec_used(ws_conn *c)
{
	uint32_t idle = c->env->limits->codec_idle_ms;
	if (!idle || c->state != WS_CONN_OPEN || !codecs_live(c))
		return; /* nothing kept between messages: nothing to park */
	uint64_t now = ws_loop_now_ms(c->env->loop);
	c->codec_used_ms = (uint32_t)now;
	/* Only an earlier deadline is set here: one already due by then (a keep-alive check, or
	 * this same check armed by an earlier message) looks at codec_used_ms when it comes. */
	if (!ws_wheel_armed(&c->timer) || c->timer.due_ms > now + idle)
		ws_wheel_arm(c->env->wheel, &c->timer, now + idle);
}

#define TRIM_EVERY_MS 1000

static void trim_later(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	ws_conn_env *env = arg;
	env->trim_waiting = false;
	ws_conn_trim(env);
}

void ws_conn_trim(ws_conn_env *env)
{
	if (!env->trim_due)
		return;
	uint64_t now = ws_loop_now_ms(env->loop);
	if (env->trimmed_ms && now - env->trimmed_ms < TRIM_EVERY_MS) {
		/* Too soon after the last one; the loop may have nothing else to wake it. */
		if (!env->trim_waiting &&
		    ws_loop_timer_start(env->loop, env->trimmed_ms + TRIM_EVERY_MS - now, 0, trim_later,
		                        env))
			env->trim_waiting = true;
		return;
	}
	env->trim_due = false;
	env->trimmed_ms = now;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

void ws_conn_keepalive(ws_conn *c)
{
	const ws_conn_limits *lim = c->env->limits;
	uint64_t now = ws_loop_now_ms(c->env->loop), due = UINT64_MAX;
	if (lim->codec_idle_ms && codecs_live(c))
		due = widen_ms(now, c->codec_used_ms) + lim->codec_idle_ms;
	if (lim->idle_timeout_ms && widen_ms(now, c->last_read_ms) + lim->idle_timeout_ms < due)
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

/* The deadline of an open connection came (keep-alive, or idle codecs); bytes may have arrived
 * since it was set (reading only notes their time), so it decides from the times, not from the
 * deadline. */
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
	           ws__conn_queue_frame(c, WS_FRAME_OP_PING, NULL, 0) == 0) {
		c->ping_sent = true;
		c->ping_sent_ms = now;
	}
	if (lim->codec_idle_ms && codecs_live(c) && now - c->codec_used_ms >= lim->codec_idle_ms) {
		/* Idle: keep only the history (at most one window) and free the zlib streams; the
		 * next message recreates them from it (deflate.h). */
		size_t freed = c->deflater ? ws_deflater_park(c->deflater) : 0;
		freed += c->inflater ? ws_inflater_park(c->inflater) : 0;
		if (freed)
			c->env->trim_due = true;
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

void ws__conn_start_closing(ws_conn *c)
{
	if (c->state == WS_CONN_CLOSING)
		return; /* the deadline runs already: a second reason to close does not extend it */
	c->state = WS_CONN_CLOSING;
	c->close_progress_ms = (uint32_t)ws_loop_now_ms(c->env->loop);
	c->close_unsent = ws_net_unsent(c->io.fd);
	ws__conn_set_timer(c, close_look_ms(c));
}

void ws__conn_want_flush(ws_conn *c)
{
	if (c->flush_asked)
		return;
	c->flush_asked = true;
	c->env->want_flush(c->env->server, c);
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
		ws__conn_finish(c);
		return;
	}
	uint32_t wait = timeout - quiet, look = close_look_ms(c);
	ws__conn_set_timer(c, (c->out_count || unsent) && wait > look ? look : wait);
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
		ws__conn_finish(c); /* handshake too slow (slowloris), or EOF not sent after our FIN */
}

/* ---- closing ---- */

/* Lets go of what only a live connection needs: the socket's watch, the deadline, the message
 * being received, the output, the input carried between reads, the codecs and TLS. What the
 * hooks may still read (subprotocol, close reason) stays until the connection is freed. */
static void release_live(ws_conn *c)
{
	ws_loop_io_stop(c->env->loop, &c->io);
	ws__conn_set_timer(c, 0);
	ws__conn_release_message(c);
	ws__conn_drop_output(c);
	ws_buf_release(&c->in);
	ws_deflater_free(c->deflater);
	ws_inflater_free(c->inflater);
	ws_tls_free(c->tls);
	c->deflater = NULL;
	c->inflater = NULL;
	c->tls = NULL;
}

static void free_rest(ws_conn *c)
{
	ws_free(c->subprotocol);
	ws_free(c->ctrl);
	ws_free(c->close_reason);
	ws_free(c);
}

void ws__conn_finish(ws_conn *c)
{
	if (c->state == WS_CONN_DONE)
		return;
	c->state = WS_CONN_DONE;
	release_live(c);
	close(c->io.fd);
	c->env->done(c->env->server, c);
	if (c->opened && !c->handed_over && c->env->hooks->on_close) {
		uint16_t code = c->close_code ? c->close_code : WS_CLOSE_ABNORMAL;
		c->env->hooks->on_close(c->env->owner, c, code, c->close_reason ? c->close_reason : "",
		                        c->reason_len);
	}
}

int ws_conn_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	if (c->state == WS_CONN_HANDSHAKE) {
		ws__conn_finish(c);
		return 0;
	}
	if (c->state != WS_CONN_OPEN)
		return WS_ECLOSED;
	/* Wait for the peer's Close; its absence is bounded by the close timeout. */
	ws__conn_start_closing(c);
	if (ws__conn_queue_close(c, code, reason, reason_len) < 0)
		ws__conn_finish(c);
	return 0;
}

void ws_conn_abort(ws_conn *c)
{
	ws__conn_finish(c);
}

void ws_conn_forget(ws_conn *c)
{
	c->handed_over = true; /* no on_close: the connection lives on in another process */
	ws__conn_finish(c);
}

/* ---- life ---- */

void ws__conn_configure_parser(ws_conn *c)
{
	/* RFC 6455 5.1: a client masks every frame it sends and a server none, so a server
	 * requires the mask and a client does not. */
	c->frames.require_mask = c->role == WS_CONN_SERVER;
	c->frames.defer_unmask = true;
	c->frames.allow_rsv1 = c->deflate_on;
	c->frames.max_frame_bytes = c->env->limits->max_frame_bytes;
}

ws_conn *ws__conn_create(ws_conn_env *env, int fd, uint64_t id, ws_conn_role role)
{
	ws_conn *c = ws_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->env = env;
	c->id = id;
	c->role = role;
	c->io.slot = -1;
	c->http.max_head_bytes = env->limits->max_header_bytes;
	ws__conn_configure_parser(c);
	if (ws_loop_io_start(env->loop, &c->io, fd, WS_IO_READ, ws__conn_on_io) < 0) {
		ws_free(c);
		return NULL;
	}
	c->last_read_ms = (uint32_t)ws_loop_now_ms(env->loop);
	c->codec_used_ms = c->last_read_ms;
	return c;
}

ws_conn *ws_conn_adopt(ws_conn_env *env, int fd, uint64_t id, ws_conn_state state)
{
	ws_conn *c = ws__conn_create(env, fd, id, WS_CONN_SERVER);
	if (!c)
		return NULL;
	c->state = state;
	c->opened = state == WS_CONN_OPEN;
	if (state == WS_CONN_HANDSHAKE)
		ws__conn_set_timer(c, env->limits->handshake_timeout_ms);
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

void ws__conn_destroy(ws_conn *c)
{
	release_live(c);
	free_rest(c);
}

void ws_conn_free(ws_conn *c)
{
	if (c->user && c->env->hooks->on_release)
		c->env->hooks->on_release(c->env->owner, c);
	free_rest(c);
}

/* ---- accessors ---- */

uint64_t ws_conn_id(const ws_conn *c)
{
	return c->id;
}

ws_conn_state ws_conn_state_of(const ws_conn *c)
{
	return c->state;
}

ws_conn_role ws_conn_role_of(const ws_conn *c)
{
	return c->role;
}

bool ws_conn_is_open(const ws_conn *c)
{
	return c->state == WS_CONN_OPEN;
}

bool ws_conn_was_opened(const ws_conn *c)
{
	return c->opened;
}

uint64_t ws_conn_accepted_ms(const ws_conn *c)
{
	/* The handshake deadline was set when the connection was accepted. */
	return c->timer.due_ms - c->env->limits->handshake_timeout_ms;
}

bool ws_conn_is_secure(const ws_conn *c)
{
	return c->tls != NULL;
}

int ws_conn_fd(const ws_conn *c)
{
	return c->io.fd;
}

bool ws_conn_input_held(const ws_conn *c)
{
	return c->input_held;
}

size_t ws_conn_buffered(const ws_conn *c)
{
	return c->out_bytes;
}

const char *ws_conn_remote_ip(const ws_conn *c)
{
	return c->remote_ip;
}

int ws_conn_remote_port(const ws_conn *c)
{
	return c->remote_port;
}

const char *ws_conn_subprotocol(const ws_conn *c)
{
	return c->subprotocol;
}

void *ws_conn_user(const ws_conn *c)
{
	return c->user;
}

void ws_conn_set_user(ws_conn *c, void *user)
{
	c->user = user;
}
