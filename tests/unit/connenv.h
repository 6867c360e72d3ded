/* connenv.h - what a server gives its connections, built by hand so that tests and fuzz
 * targets can run one ws_conn (src/conn.h) over a socketpair with the real loop and no server:
 * a loop and a wheel, limits, the caller's hooks, the shared receive buffer, a stats record,
 * and the three callbacks of ws_conn_env. Connections that want to write are flushed in the
 * loop's prepare hook; connections that finished are freed in its check hook, after every
 * callback of the turn, as the server does. Uses only conn.h's functions, never its fields.
 * Header-only. */
#ifndef WS_CONNENV_H
#define WS_CONNENV_H

#include "alloc.h"
#include "conn.h"
#include "deflate.h"
#include "loop.h"
#include "wheel.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNENV_MAX 16

typedef struct connenv {
	ws_loop *loop;
	ws_conn_limits limits;
	ws_server_hooks hooks;
	ws_conn_env env;
	ws_worker_stats stats;
	ws_conn *pending[CONNENV_MAX]; /* want a flush before the loop waits */
	size_t n_pending;
	ws_conn *live[CONNENV_MAX]; /* made by connenv_conn, not finished */
	size_t n_live;
	ws_conn *dead[CONNENV_MAX]; /* finished: freed after the turn */
	size_t n_dead;
	int opened; /* handshakes completed */
	int done;   /* connections that finished */
} connenv;

/* Limits for tests: 8 KiB of headers, 1 MiB frames and messages, a 5 s handshake and a 2 s
 * close timeout; no output limit, receive budget or keep-alive. */
static inline ws_conn_limits connenv_limits(void)
{
	return (ws_conn_limits){
	    .max_header_bytes = 8192,
	    .max_frame_bytes = 1 << 20,
	    .max_message_bytes = 1 << 20,
	    .handshake_timeout_ms = 5000,
	    .close_timeout_ms = 2000,
	};
}

static inline void connenv_forget(ws_conn **list, size_t *n, ws_conn *c)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i] == c) {
			list[i] = list[--*n];
			return;
		}
	}
}

static void connenv_want_flush(void *server, ws_conn *c)
{
	connenv *e = server;
	for (size_t i = 0; i < e->n_pending; i++)
		if (e->pending[i] == c)
			return;
	if (e->n_pending < CONNENV_MAX)
		e->pending[e->n_pending++] = c;
}

static void connenv_done(void *server, ws_conn *c)
{
	connenv *e = server;
	connenv_forget(e->pending, &e->n_pending, c);
	connenv_forget(e->live, &e->n_live, c);
	e->done++;
	if (e->n_dead < CONNENV_MAX)
		e->dead[e->n_dead++] = c;
}

static void connenv_opened(void *server, ws_conn *c)
{
	(void)c;
	((connenv *)server)->opened++;
}

static void connenv_flush(ws_loop *loop, void *arg)
{
	(void)loop;
	connenv *e = arg;
	/* A flush may finish a connection (which takes it off the list) or queue more. */
	for (int round = 0; e->n_pending && round < CONNENV_MAX; round++) {
		ws_conn *c = e->pending[0];
		e->pending[0] = e->pending[--e->n_pending];
		ws_conn_flush(c);
	}
}

static void connenv_free_dead(ws_loop *loop, void *arg)
{
	(void)loop;
	connenv *e = arg;
	for (size_t i = 0; i < e->n_dead; i++)
		ws_conn_free(e->dead[i]);
	e->n_dead = 0;
}

/* Builds the environment; limits NULL takes connenv_limits(). Returns false when out of
 * memory or descriptors. */
static inline bool connenv_init(connenv *e, const ws_server_hooks *hooks, void *owner,
                                const ws_conn_limits *limits)
{
	ws_err err;
	memset(e, 0, sizeof(*e));
	e->limits = limits ? *limits : connenv_limits();
	e->hooks = *hooks;
	e->loop = ws_loop_new(&err);
	if (!e->loop)
		return false;
	e->env.loop = e->loop;
	e->env.wheel = ws_wheel_new(e->loop, ws_conn_expire, NULL);
	e->env.rbuf_cap = 64 * 1024;
	e->env.rbuf = ws_malloc(e->env.rbuf_cap);
	e->env.limits = &e->limits;
	e->env.hooks = &e->hooks;
	e->env.owner = owner;
	e->env.stats = &e->stats;
	e->env.server = e;
	e->env.want_flush = connenv_want_flush;
	e->env.done = connenv_done;
	e->env.opened = connenv_opened;
	ws_loop_set_hooks(e->loop, connenv_flush, connenv_free_dead, e);
	return e->env.wheel && e->env.rbuf;
}

/* A connection in its handshake over one end of a new non-blocking socketpair; the other end
 * goes to *peer. NULL on failure. */
static inline ws_conn *connenv_conn(connenv *e, uint64_t id, int *peer)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return NULL;
	for (int i = 0; i < 2; i++)
		fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK);
	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof(addr));
	addr.ss_family = AF_UNIX;
	ws_conn *c = ws_conn_new(&e->env, sv[0], id, &addr, NULL);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	*peer = sv[1];
	if (e->n_live < CONNENV_MAX)
		e->live[e->n_live++] = c;
	return c;
}

/* Ends the connections that have not finished (reported as 1006), frees every connection
 * and what connenv_init made. */
static inline void connenv_release(connenv *e)
{
	for (int i = 0; e->n_live && i < CONNENV_MAX; i++)
		ws_conn_abort(e->live[0]);
	connenv_free_dead(e->loop, e);
	ws_wheel_free(e->env.wheel);
	if (e->loop)
		ws_loop_free(e->loop);
	for (int i = 0; i < 16; i++)
		ws_deflater_free(e->env.deflaters[i]);
	ws_free(e->env.rbuf);
}

#endif
