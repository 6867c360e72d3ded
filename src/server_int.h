/* server_int.h - the server's state, shared by server.c (life: new/free, listen, run, stop),
 * server_conns.c (the connection table: accept, admission, flush, free), server_route.c
 * (delivery: broadcast, rooms, sends and closes by id) and worker.c (the same server as one
 * worker of several: bus, routing, reload handoff). Private to those files. */
#ifndef WS_SERVER_INT_H
#define WS_SERVER_INT_H

#include "bus.h"
#include "rooms.h"
#include "server.h"
#include "stats.h"

#define ACCEPT_BATCH    64
#define ACCEPT_RETRY_MS 100
#define RBUF_MIN        (64 * 1024)
#define ID_WORKER_SHIFT 40

typedef struct ip_count {
	struct ip_count *next;
	uint32_t count;   /* connections, when max_connections_per_ip is set */
	uint32_t pending; /* handshakes, when max_handshakes_per_ip is set */
	char ip[WS_NET_ADDR_MAX];
} ip_count;

/* A slot of the id table: the key is kept beside the connection, so a lookup never reads a
 * connection that is not the one sought. Empty when conn is NULL. */
typedef struct ws_id_slot {
	uint64_t id;
	ws_conn *conn;
} ws_id_slot;

/* A listening socket; io comes first, so the accept callback finds the rest. */
typedef struct ws_listener {
	ws_io io;
	ws_server *server;
	int fd; /* -1: not listening */
	int port;
	bool tls;
} ws_listener;

struct ws_server {
	ws_server_config cfg;
	char *host;
	char **subprotocols;
	char **origins;
	ws_conn_limits limits;
	ws_deflate_config deflate; /* limits.deflate points here when compression is on */
	ws_server_hooks hooks;
	ws_conn_env env;
	ws_loop *loop;
	ws_listener listeners[2]; /* `port`, then the extra TLS port (tls_port >= 0) */
	ws_tls_ctx *tls;          /* the TLS listeners' context, or NULL */
	ws_tls_config tls_cfg;    /* its settings, copied (a reload loads the files again) */
	ws_timer *accept_timer;
	ws_timer *stop_timer;
	int reserve_fd; /* spent to accept and refuse a connection when descriptors run out */
	ip_count *
	    *ips; /* per remote address, when max_connections_per_ip or _handshakes_per_ip is set */
	size_t ip_buckets;
	bool stopping;
	bool running;
	uint64_t next_seq;
	/* Every connection not yet finished: the open ones (handshake completed) first, then the
	 * pending ones (still in the opening handshake, or being answered without an upgrade) from
	 * first_pending to tail, oldest first, so the oldest is found in O(1) when one must go. */
	ws_conn *head, *tail, *first_pending;
	size_t num_conns; /* in that list */
	size_t num_open;  /* of those, handshake completed (num_conns - num_open are pending) */
	ws_conn *pending; /* connections with output to flush this turn */
	ws_conn **dead;   /* finished, to free after the turn */
	size_t num_dead, cap_dead;
	ws_id_slot *slots; /* id table, open addressing with linear probing */
	size_t slot_cap, slot_count;
	ws_rooms *rooms;     /* created with the first join */
	ws_stats *stats;     /* every worker's counters (shared) or this process's (private) */
	ws_worker_stats *my; /* this process's record in stats */
	ws_stats *own_stats; /* what ws_server_new mapped (freed with the server) */
	/* as one worker of several (see worker.c); bus is NULL otherwise */
	ws_bus_chan *bus;
	unsigned workers; /* 1 without a master */
	int handoff_fd;   /* a successor receives its predecessor's connections here, or -1 */
	int stop_phase;   /* 0 serving; 1 quiesced, waiting for the master's FLUSH; 2 closing */
	bool handed_off;  /* every connection went to the successor: exit when the rest is done */
	uint64_t last_drop_report_ms;
	uint64_t drops_unreported;
};

/* worker.c, called by server*.c */
int ws__worker_start(ws_server *s, ws_err *err); /* in ws_server_run, before the loop */
void ws__worker_turn(ws_server *s);              /* before the loop waits: flush the bus */
void ws__worker_free(ws_server *s);
/* Asks the master to stop every worker (WS_BUS_STOP_ALL, sent before the loop next waits).
 * Returns 0; WS_ECLOSED when there is no bus (the master is gone); WS_ENOMEM. */
int ws__worker_stop_all(ws_server *s);
/* Queues a message for the master (see bus.h); a full queue counts a drop. Returns 0,
 * WS_ETOOBIG or WS_ENOMEM. */
int ws__worker_post(ws_server *s, uint8_t type, uint8_t flags, uint16_t code, uint64_t target,
                    const uint64_t *except, size_t n_except, const char *room, size_t room_len,
                    const uint8_t *data, size_t len);

/* server.c, called by worker.c */
void ws__server_close_listener(ws_server *s);
/* Serves bound sockets: fd as `port` and tls_fd (or -1) as the extra TLS port. */
int ws__server_listen_fds(ws_server *s, int fd, int tls_fd, ws_err *err);

/* server_conns.c, called by worker.c */
int ws__server_link(ws_server *s, ws_conn *c); /* joins the list and id table; 0 or WS_ENOMEM */

/* server_conns.c, called by server.c: what ws_server_new hands the connections (ws_conn_env)
 * and the loop (prepare and check hooks), and the listeners' read callback. */
void ws__server_conn_want_flush(void *server, ws_conn *c);
void ws__server_conn_opened(void *server, ws_conn *c);
void ws__server_conn_done(void *server, ws_conn *c);
void ws__server_flush_pending(ws_loop *loop, void *arg); /* flushes queued output, then the bus */
void ws__server_free_dead(ws_loop *loop, void *arg);     /* frees finished connections */
void ws__server_on_accept(ws_loop *loop, ws_io *io, unsigned events);

/* server_route.c, called by worker.c. Local delivery only (the bus already carried the
 * message here). */
ssize_t ws__server_deliver_all(ws_server *s, const uint8_t *data, size_t len, bool binary,
                               const uint64_t *except, size_t n_except);
ssize_t ws__server_deliver_room(ws_server *s, const char *room, size_t room_len,
                                const uint8_t *data, size_t len, bool binary,
                                const uint64_t *except, size_t n_except);

#endif
