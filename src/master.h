/* master.h - the master of a server with several worker processes. It binds one
 * SO_REUSEPORT listening socket per worker slot (kept across restarts, so connections that
 * wait in a backlog survive a worker's death), maps the shared stats area, forks the workers,
 * relays the bus between them, restarts a worker that dies, turns SIGTERM/SIGINT (and a
 * worker's WS_BUS_STOP_ALL) into the graceful stop and SIGUSR1 into a reload (each worker in turn
 * hands its connections to a fresh one). The master runs no application code. Plain C, no Zend. */
#ifndef WS_MASTER_H
#define WS_MASTER_H

#include "err.h"
#include "server.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ws_master_config {
	const char *host;
	int port;
	int tls_port; /* an extra TLS listener per slot (0: any port), or -1 */
	int backlog;
	unsigned workers; /* >= 2 */
	size_t bus_max;   /* bound of each bus queue, bytes */
	uint32_t shutdown_timeout_ms;
	uint32_t reload_timeout_ms;
	size_t max_connections; /* per worker: sizes the shared room tables */
	/* Called in the master as a reload begins, before the new workers are forked (a renewed
	 * certificate is loaded there, so that they inherit it). May be NULL. */
	void (*before_reload)(void *arg);
	void *arg;
} ws_master_config;

typedef struct ws_master ws_master;

/* Binds the listening sockets and maps the shared area. NULL with err filled on failure
 * (the address is in use, ...). */
ws_master *ws_master_new(const ws_master_config *cfg, ws_err *err);

/* The bound port (useful with port 0), and the extra TLS port (or -1). */
int ws_master_port(const ws_master *m);
int ws_master_tls_port(const ws_master *m);

/* Runs the master until the server has stopped and every worker has exited: returns 0.
 * In a freshly forked worker it returns 1 instead, with *child filled for
 * ws_server_set_worker; m is then already freed in that process (do not use it again) and
 * child->stats is the worker's to free with ws_stats_free after its server is freed.
 * Returns a negative WS_E* with err filled if the master cannot run. */
int ws_master_run(ws_master *m, ws_worker_env *child, ws_err *err);

/* Frees the master (in the master process, after ws_master_run returned 0 or failed). */
void ws_master_free(ws_master *m);

#endif
