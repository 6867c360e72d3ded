/* server.h - a WebSocket server on one event loop: the listening socket, accepting, the
 * connection table (ids to connections), broadcasting, timers and the graceful stop.
 * It reports every event through the ws_server_hooks declared in conn.h. Plain C, no Zend. */
#ifndef WS_SERVER_H
#define WS_SERVER_H

#include "conn.h"
#include "deflate.h"
#include "stats.h"
#include "tls.h"

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
	size_t max_connections;          /* beyond it: the oldest pending one goes, or 503 */
	size_t max_connections_per_ip;   /* 0: off; beyond it: 429 */
	size_t max_handshakes;           /* 0: off; beyond it the oldest handshake is dropped */
	size_t max_handshakes_per_ip;    /* 0: off; beyond it: 429 */
	size_t max_output_bytes;         /* 0: no limit */
	size_t max_receive_bytes;        /* receive budget of the process (see conn.h); 0: none */
	bool overflow_rejects;           /* see ws_conn_limits */
	const char *const *subprotocols; /* copied */
	size_t num_subprotocols;
	const char *const *allowed_origins; /* copied */
	size_t num_allowed_origins;
	const ws_deflate_config *deflate; /* permessage-deflate, or NULL (off); copied */
	size_t deflate_min_bytes;         /* shorter messages are sent uncompressed */
	uint32_t deflate_idle_ms;         /* see ws_conn_limits.codec_idle_ms */
	const ws_tls_config *tls;         /* wss://, or NULL; files are loaded by ws_server_new */
	int tls_port; /* with tls: < 0 makes `port` speak TLS; else an extra TLS listener (0: any) */
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

/* The port that speaks TLS (`port` itself, or the extra one), or -1. */
int ws_server_tls_port(const ws_server *s);

/* Loads the TLS files again (renewed certificates); connections accepted from now on use
 * them. On failure the old ones stay and err says why. 0 without TLS. */
int ws_server_tls_reload(ws_server *s, ws_err *err);

/* Runs the loop until ws_server_stop (or SIGINT/SIGTERM, routed to it while running) and every
 * connection is finished. Returns 0 or a negative WS_E* with err filled. */
int ws_server_run(ws_server *s, ws_err *err);

/* Begins the graceful stop: no new connections, every open connection gets Close 1001 after
 * its queued data, and connections still open after shutdown_timeout_ms are dropped.
 * Safe to call from any hook, more than once, and before ws_server_run. While one worker of
 * several runs, it asks the master (WS_BUS_STOP_ALL) to stop every worker instead; a worker
 * whose master is gone stops alone. */
void ws_server_stop(ws_server *s);

/* Same as ws_server_stop, but as one worker of several stops this process only (its master
 * restarts it) instead of asking the master to stop every worker. */
void ws_server_stop_here(ws_server *s);

/* The connection with this id, or NULL (unknown, or already finished). */
ws_conn *ws_server_find(ws_server *s, uint64_t id);

/* Sends one message to every open connection whose id is not in except[0, n_except), on
 * every worker. The frame is encoded once per worker and shared. Returns how many of this
 * worker's connections it was queued to, or WS_ENOMEM. Other workers get it through the bus
 * unless its queue is full (counted in bus_dropped and reported to on_bus_overflow). */
ssize_t ws_server_broadcast(ws_server *s, const uint8_t *data, size_t len, bool binary,
                            const uint64_t *except, size_t n_except);

/* Sends to the connection `id` of any worker. Returns 0 when queued (here or on the bus);
 * WS_ECLOSED for an unknown or closing local id; WS_ETOOBIG (output or bus queue full);
 * WS_ENOMEM. The payload is borrowed as ws_conn_send_borrowed borrows it for a local
 * connection, and copied for the bus; release(arg) is called once either way. */
int ws_server_send(ws_server *s, uint64_t id, const uint8_t *data, size_t len, bool binary,
                   ws_chunk_release_fn release, void *arg);

/* Like broadcast, to the members of a room on every worker. */
ssize_t ws_server_publish(ws_server *s, const char *room, size_t room_len, const uint8_t *data,
                          size_t len, bool binary, const uint64_t *except, size_t n_except);

/* Room membership of the connection `id` of any worker. Returns 1 (changed), 0 (already so,
 * or unknown local id), 0 for a remote id once queued, WS_EINVAL (bad name), WS_ETOOBIG (bus
 * queue full) or WS_ENOMEM. */
int ws_server_join(ws_server *s, uint64_t id, const char *room, size_t len);
int ws_server_leave(ws_server *s, uint64_t id, const char *room, size_t len);

/* Members of a room over every worker (other workers' figures as of their last change). */
uint64_t ws_server_room_size(ws_server *s, const char *room, size_t len);

/* Room membership of a local connection: 1 joined, 0 already a member, WS_EINVAL, WS_ENOMEM. */
int ws_server_conn_join(ws_server *s, ws_conn *c, const char *room, size_t len);
/* 1 left, 0 was not a member. */
int ws_server_conn_leave(ws_server *s, ws_conn *c, const char *room, size_t len);

/* The rooms of a local connection: count, then name i. */
size_t ws_server_conn_rooms(const ws_conn *c);
const char *ws_server_conn_room(const ws_conn *c, size_t i, size_t *len);

/* Closes the connection `id` of any worker (see ws_conn_close). Returns 0 when done or
 * queued, WS_ECLOSED for an unknown local id, WS_ETOOBIG when the bus queue is full. */
int ws_server_close_id(ws_server *s, uint64_t id, uint16_t code, const char *reason,
                       size_t reason_len);

/* Every worker's counters (a one-worker area without a master). */
const ws_stats *ws_server_stats(const ws_server *s);

/* This process's worker index. */
unsigned ws_server_worker(const ws_server *s);

/* ---- as one worker of several (master.h starts them) ---- */

typedef struct ws_worker_env {
	unsigned index;    /* this worker */
	unsigned workers;  /* how many */
	int bus_fd;        /* socket to the master (the server owns it from now on) */
	int listen_fd;     /* the listening socket of this worker's slot (borrowed) */
	int tls_listen_fd; /* the slot's extra TLS listening socket (borrowed), or -1 */
	int handoff_fd;    /* a reload's successor: receive the predecessor's connections, or -1 */
	ws_stats *stats;   /* shared; borrowed */
	size_t bus_max;    /* bound of the queue to the master, bytes */
} ws_worker_env;

/* Makes s a worker: it serves w->listen_fd, talks to the master over w->bus_fd, and stops
 * when the master says so (SIGINT and SIGTERM are then ignored by this process). Call
 * before ws_server_run. Returns 0 or WS_ENOMEM. */
int ws_server_set_worker(ws_server *s, const ws_worker_env *w, ws_err *err);

/* Open connections (handshake completed, not closing). */
size_t ws_server_count(const ws_server *s);

/* Iterates over every connection that has not finished: first, then next until NULL. Open
 * connections come first, in the order they opened, then those still in their handshake. */
ws_conn *ws_server_first(ws_server *s);
ws_conn *ws_server_next(ws_conn *c);

/* Timers on the server's loop (see ws_loop_timer_start / ws_loop_timer_stop). */
ws_timer *ws_server_timer_start(ws_server *s, uint64_t delay_ms, uint64_t repeat_ms, ws_timer_cb cb,
                                void *arg);
void ws_server_timer_stop(ws_server *s, ws_timer *t);

/* Checks the binding makes on what a script passes, answered by the protocol modules so that
 * src/php needs no header below this one and conn.h. */

/* True when data is valid UTF-8, as a text message and a close reason must be (RFC 6455 5.6,
 * 5.5.1). data is borrowed. */
static inline bool ws_server_text_valid(const uint8_t *data, size_t len)
{
	return ws_utf8_validate(data, len) == 0;
}

/* True for a close code an endpoint may send (1000-1003, 1007-1014, 3000-4999). */
static inline bool ws_server_close_code_valid(unsigned code)
{
	return ws_frame_close_code_valid(code);
}

/* The event loop's readiness backend ("epoll" or "poll"), for phpinfo(). */
static inline const char *ws_server_loop_backend(void)
{
	return ws_loop_backend();
}

#endif
