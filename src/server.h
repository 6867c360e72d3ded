/* server.h - a WebSocket server on one event loop: the listening socket, accepting, the
 * connection table (ids to connections), broadcasting, timers and the graceful stop.
 * It reports every event through the ws_server_hooks declared in conn.h. Plain C, no Zend. */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include "conn.h"

typedef struct ws_server ws_server;

typedef struct ws_server_config {
	const char *host; /* copied */
	int port;         /* 0 picks a free port (see ws_server_port) */
	int backlog;
	bool reuse_port;
	unsigned worker_index; /* becomes the high bits of connection ids */
	size_t max_header_bytes;
	uint64_t max_frame_bytes;
	uint64_t max_message_bytes;
	uint32_t handshake_timeout_ms;
	uint32_t close_timeout_ms;
	uint32_t shutdown_timeout_ms;
	uint32_t idle_timeout_ms;        /* 0: off */
	uint32_t ping_interval_ms;       /* 0: off */
	size_t max_connections;          /* beyond it: 503 */
	size_t max_connections_per_ip;   /* 0: off; beyond it: 429 */
	size_t max_output_bytes;         /* 0: no limit */
	bool overflow_rejects;           /* see ws_conn_limits */
	const char *const *subprotocols; /* copied */
	size_t num_subprotocols;
	const char *const *allowed_origins; /* copied */
	size_t num_allowed_origins;
} ws_server_config;

/* Creates a server (nothing is bound yet). hooks is copied; owner is passed to every hook.
 * Returns NULL and fills err on failure. */
ws_server *ws_server_new(const ws_server_config *cfg, const ws_server_hooks *hooks, void *owner,
                         ws_err *err);

/* Frees the server; every connection must be finished (ws_server_run has returned). */
void ws_server_free(ws_server *s);

/* Binds and listens. Returns 0, or a negative WS_E* with err naming host, port and reason. */
int ws_server_listen(ws_server *s, ws_err *err);

/* The port actually bound (useful with port 0), or -1 before ws_server_listen. */
int ws_server_port(const ws_server *s);

/* Runs the loop until ws_server_stop (or SIGINT/SIGTERM, routed to it while running) and every
 * connection is finished. Returns 0 or a negative WS_E* with err filled. */
int ws_server_run(ws_server *s, ws_err *err);

/* Begins the graceful stop: no new connections, every open connection gets Close 1001 after
 * its queued data, and connections still open after shutdown_timeout_ms are dropped.
 * Safe to call from any hook, more than once, and before ws_server_run. */
void ws_server_stop(ws_server *s);

/* The connection with this id, or NULL (unknown, or already finished). */
ws_conn *ws_server_find(ws_server *s, uint64_t id);

/* Sends one message to every open connection whose id is not in except[0, n_except).
 * The frame is encoded once and shared. Returns how many connections it was queued to,
 * or WS_ENOMEM. */
ssize_t ws_server_broadcast(ws_server *s, const uint8_t *data, size_t len, bool binary,
                            const uint64_t *except, size_t n_except);

/* Open connections (handshake completed, not closing). */
size_t ws_server_count(const ws_server *s);

/* Iterates over every connection that has not finished: first, then next until NULL. */
ws_conn *ws_server_first(ws_server *s);
ws_conn *ws_server_next(ws_conn *c);

/* Timers on the server's loop (see ws_loop_timer_start / ws_loop_timer_stop). */
ws_timer *ws_server_timer_start(ws_server *s, uint64_t delay_ms, uint64_t repeat_ms, ws_timer_cb cb,
                                void *arg);
void ws_server_timer_stop(ws_server *s, ws_timer *t);

#endif
