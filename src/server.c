/* server.c - see server.h. The server's life: new/free (with copies of the caller's
 * configuration), listening, run (signals), stop and TLS reload. The connection table is in
 * server_conns.c, delivery (broadcast, rooms, sends and closes by id) in server_route.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "server_int.h"
#include "alloc.h"
#include "bus.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- life ---- */

static void free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		ws_free(list[i]);
	ws_free(list);
}

static char *dup_str(const char *str)
{
	size_t n = strlen(str) + 1;
	char *d = ws_malloc(n);
	if (d)
		memcpy(d, str, n);
	return d;
}

static void tls_config_free(ws_tls_config *t)
{
	ws_free((char *)t->cert);
	ws_free((char *)t->key);
	ws_free((char *)t->passphrase);
	ws_free((char *)t->ca);
	ws_free((char *)t->ciphers);
	memset(t, 0, sizeof(*t));
}

/* Keeps the TLS settings (a reload reads the files again) and loads them. */
static int tls_config_copy(ws_server *s, const ws_tls_config *src, ws_err *err)
{
	ws_tls_config *t = &s->tls_cfg;
	*t = *src;
	t->cert = src->cert ? dup_str(src->cert) : NULL;
	t->key = src->key ? dup_str(src->key) : NULL;
	t->passphrase = src->passphrase ? dup_str(src->passphrase) : NULL;
	t->ca = src->ca ? dup_str(src->ca) : NULL;
	t->ciphers = src->ciphers ? dup_str(src->ciphers) : NULL;
	if ((src->cert && !t->cert) || (src->key && !t->key) || (src->passphrase && !t->passphrase) ||
	    (src->ca && !t->ca) || (src->ciphers && !t->ciphers))
		return ws_err_set(err, WS_ENOMEM, 0, "out of memory");
	s->cfg.tls = t;
	s->tls = ws_tls_ctx_new(t, err);
	return s->tls ? 0 : WS_EINVAL;
}

/* Copies n strings into a NULL-terminated array; NULL on failure (nothing leaks). */
static char **dup_list(const char *const *src, size_t n)
{
	char **list = ws_calloc(n + 1, sizeof(char *));
	for (size_t i = 0; list && i < n; i++) {
		if ((list[i] = dup_str(src[i])) == NULL) {
			free_list(list);
			return NULL;
		}
	}
	return list;
}

ws_server *ws_server_new(const ws_server_config *cfg, const ws_server_hooks *hooks, void *owner,
                         ws_err *err)
{
	ws_server *s = ws_calloc(1, sizeof(*s));
	if (!s) {
		ws_err_set(err, WS_ENOMEM, 0, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	for (int i = 0; i < 2; i++) {
		s->listeners[i] = (ws_listener){.server = s, .fd = -1, .port = -1};
		s->listeners[i].io.slot = -1;
	}
	s->reserve_fd = -1;
	s->handoff_fd = -1;
	s->workers = 1;
	s->host = dup_str(cfg->host ? cfg->host : "0.0.0.0");
	s->subprotocols = dup_list(cfg->subprotocols, cfg->num_subprotocols);
	s->origins = dup_list(cfg->allowed_origins, cfg->num_allowed_origins);
	bool ok = s->host && s->subprotocols && s->origins;
	if (ok && (cfg->max_connections_per_ip || cfg->max_handshakes_per_ip)) {
		s->ips = ws_calloc(1024, sizeof(*s->ips));
		ok = s->ips != NULL;
		s->ip_buckets = ok ? 1024 : 0;
	}
	s->own_stats = ok ? ws_stats_new(1, cfg->max_connections, false) : NULL;
	ok = ok && s->own_stats;
	s->loop = ok ? ws_loop_new(err) : NULL;
	/* Every connection's deadline (handshake, keep-alive, close, linger) is on this wheel. */
	s->env.wheel = s->loop ? ws_wheel_new(s->loop, ws_conn_expire, NULL) : NULL;
	size_t rbuf_cap = cfg->max_header_bytes + 16 * 1024;
	if (rbuf_cap < RBUF_MIN)
		rbuf_cap = RBUF_MIN;
	s->env.rbuf = ok ? ws_malloc(rbuf_cap) : NULL;
	if (!s->loop || !s->env.wheel || !s->env.rbuf) {
		if (!ok || s->loop)
			ws_err_set(err, WS_ENOMEM, 0, "out of memory");
		ws_server_free(s);
		return NULL;
	}
	s->stats = s->own_stats;
	s->my = &s->stats->w[0];
	s->cfg.host = s->host;
	s->cfg.subprotocols = (const char *const *)s->subprotocols;
	s->cfg.allowed_origins = (const char *const *)s->origins;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = SIZE_MAX;
	s->hooks = *hooks;
	s->limits = (ws_conn_limits){
	    .max_header_bytes = cfg->max_header_bytes,
	    .max_frame_bytes = cfg->max_frame_bytes,
	    .max_message_bytes = cfg->max_message_bytes,
	    .handshake_timeout_ms = cfg->handshake_timeout_ms,
	    .close_timeout_ms = cfg->close_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .ping_interval_ms = cfg->ping_interval_ms,
	    .max_output_bytes = cfg->max_output_bytes,
	    .max_receive_bytes = cfg->max_receive_bytes,
	    .overflow_rejects = cfg->overflow_rejects,
	    .subprotocols = s->cfg.subprotocols,
	    .num_subprotocols = cfg->num_subprotocols,
	    .allowed_origins = s->cfg.allowed_origins,
	    .num_allowed_origins = cfg->num_allowed_origins,
	    .deflate = cfg->deflate ? &s->deflate : NULL,
	    .deflate_min_bytes = cfg->deflate_min_bytes,
	    .codec_idle_ms = cfg->deflate_idle_ms,
	};
	if (cfg->deflate)
		s->deflate = *cfg->deflate;
	s->cfg.deflate = NULL; /* the caller's; limits.deflate is the copy */
	if (cfg->tls && cfg->tls_port > 0 && cfg->tls_port == cfg->port) {
		ws_err_set(err, WS_EINVAL, 0, "the TLS port must differ from the plain port (%d)",
		           cfg->port);
		ws_server_free(s);
		return NULL;
	}
	if (cfg->tls && tls_config_copy(s, cfg->tls, err) < 0) {
		ws_server_free(s);
		return NULL;
	}
	s->env = (ws_conn_env){
	    .loop = s->loop,
	    .wheel = s->env.wheel,
	    .limits = &s->limits,
	    .hooks = &s->hooks,
	    .owner = owner,
	    .rbuf = s->env.rbuf,
	    .rbuf_cap = rbuf_cap,
	    .stats = s->my,
	    .server = s,
	    .want_flush = ws__server_conn_want_flush,
	    .done = ws__server_conn_done,
	    .opened = ws__server_conn_opened,
	};
	ws_loop_set_hooks(s->loop, ws__server_flush_pending, ws__server_free_dead, s);
	return s;
}

void ws_server_free(ws_server *s)
{
	if (!s)
		return;
	ws__server_close_listener(s);
	ws__worker_free(s);
	ws_wheel_free(s->env.wheel); /* its loop timer is its own to free */
	if (s->loop)
		ws_loop_free(s->loop); /* frees pending timers, including accept/stop timers */
	ws_rooms_free(s->rooms);
	ws_stats_free(s->own_stats);
	for (int i = 0; i < 16; i++)
		ws_deflater_free(s->env.deflaters[i]);
	free_list(s->subprotocols);
	free_list(s->origins);
	for (size_t i = 0; i < s->ip_buckets; i++) {
		while (s->ips[i]) {
			ip_count *e = s->ips[i];
			s->ips[i] = e->next;
			ws_free(e);
		}
	}
	ws_free(s->ips);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	ws_tls_ctx_free(s->tls);
	tls_config_free(&s->tls_cfg);
	ws_free(s->host);
	ws_free(s->env.rbuf);
	ws_free(s->dead);
	ws_free(s->slots);
	ws_free(s);
}

int ws_server_listen(ws_server *s, ws_err *err)
{
	if (s->listeners[0].fd >= 0 || s->stopping)
		return 0;
	int fd = ws_net_listen(s->host, s->cfg.port, s->cfg.backlog, s->cfg.reuse_port, err);
	if (fd < 0)
		return fd;
	int tls_fd = -1;
	if (s->tls && s->cfg.tls_port >= 0) {
		tls_fd = ws_net_listen(s->host, s->cfg.tls_port, s->cfg.backlog, s->cfg.reuse_port, err);
		if (tls_fd < 0) {
			close(fd);
			return tls_fd;
		}
	}
	return ws__server_listen_fds(s, fd, tls_fd, err);
}

static int listen_on(ws_server *s, ws_listener *l, int fd, bool tls, ws_err *err)
{
	if (ws_loop_io_start(s->loop, &l->io, fd, WS_IO_READ, ws__server_on_accept) < 0) {
		close(fd);
		return ws_err_set(err, WS_ESYS, errno, "cannot watch the listening socket: %s",
		                  strerror(errno));
	}
	l->fd = fd;
	l->port = ws_net_local_port(fd);
	l->tls = tls;
	return 0;
}

int ws__server_listen_fds(ws_server *s, int fd, int tls_fd, ws_err *err)
{
	bool extra = s->tls && s->cfg.tls_port >= 0;
	int rc = listen_on(s, &s->listeners[0], fd, s->tls && !extra, err);
	if (rc < 0) {
		if (tls_fd >= 0)
			close(tls_fd);
		return rc;
	}
	if (tls_fd >= 0 && (rc = listen_on(s, &s->listeners[1], tls_fd, true, err)) < 0) {
		ws__server_close_listener(s);
		return rc;
	}
	if (s->reserve_fd < 0)
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

int ws_server_port(const ws_server *s)
{
	return s->listeners[0].port;
}

int ws_server_tls_port(const ws_server *s)
{
	for (int i = 0; i < 2; i++)
		if (s->listeners[i].tls)
			return s->listeners[i].port;
	return -1;
}

int ws_server_tls_reload(ws_server *s, ws_err *err)
{
	if (!s->tls)
		return 0;
	ws_tls_ctx *fresh = ws_tls_ctx_new(&s->tls_cfg, err);
	if (!fresh)
		return err ? err->code : WS_EINVAL;
	ws_tls_ctx_free(s->tls);
	s->tls = fresh;
	return 0;
}

static void on_signal(ws_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	ws_server_stop(arg);
}

static void on_reload_signal(ws_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	(void)arg;
	fprintf(stderr, "websocket: reloading (SIGUSR1) needs 'workers' >= 2: there is no master "
	                "to start new workers; ignored\n");
}

static void on_stop_timeout(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	ws_server *s = arg;
	s->stop_timer = NULL;
	/* Grace period over: drop whoever did not finish the closing handshake. */
	while (s->head)
		ws_conn_abort(s->head);
}

int ws_server_run(ws_server *s, ws_err *err)
{
	if (s->stopping)
		return 0; /* stopped before it ran: a server runs once */
	int rc = ws_server_listen(s, err);
	if (rc < 0)
		return rc;
	/* Writes use MSG_NOSIGNAL; ignoring SIGPIPE covers shutdown() and anything else. */
	struct sigaction ign, old_pipe;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	struct sigaction old_int, old_term;
	bool worker = s->bus != NULL; /* the bus goes if the master does (on_bus_eof) */
	if (worker) {
		/* The master coordinates the stop; Ctrl-C reaches the whole process group. */
		sigaction(SIGINT, &ign, &old_int);
		sigaction(SIGTERM, &ign, &old_term);
		if ((rc = ws__worker_start(s, err)) < 0)
			goto out;
	} else {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		ws_stat_set(&s->my->pid, (uint64_t)getpid());
		ws_stat_set(&s->my->started_ms,
		            (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
		ws_loop_signal(s->loop, SIGINT, on_signal, s);
		ws_loop_signal(s->loop, SIGTERM, on_signal, s);
		ws_loop_signal(s->loop, SIGUSR1, on_reload_signal, s);
	}
	s->running = true;
	rc = ws_loop_run(s->loop);
	s->running = false;
	if (s->stop_timer) {
		ws_loop_timer_stop(s->loop, s->stop_timer);
		s->stop_timer = NULL;
	}
	if (rc < 0)
		rc = ws_err_set(err, WS_ESYS, errno, "event loop failed: %s", strerror(errno));
out:
	ws_loop_signal_reset(s->loop);
	if (worker) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	sigaction(SIGPIPE, &old_pipe, NULL);
	return rc;
}

void ws__server_close_listener(ws_server *s)
{
	for (int i = 0; i < 2; i++) {
		ws_listener *l = &s->listeners[i];
		if (l->fd < 0)
			continue;
		ws_loop_io_stop(s->loop, &l->io);
		close(l->fd);
		l->fd = -1;
	}
	if (s->accept_timer) {
		ws_loop_timer_stop(s->loop, s->accept_timer);
		s->accept_timer = NULL;
	}
}

void ws_server_stop(ws_server *s)
{
	/* One worker of several: the master stops them all, in order (see worker.c). Without a
	 * master (its bus is gone) this process stops alone. */
	if (s->bus && s->running && ws__worker_stop_all(s) == 0)
		return;
	ws_server_stop_here(s);
}

void ws_server_stop_here(ws_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	ws__server_close_listener(s);
	for (ws_conn *c = s->head, *next; c; c = next) {
		next = ws_conn_node_of(c)->next;
		ws_conn_state state = ws_conn_state_of(c);
		if (state == WS_CONN_OPEN)
			ws_conn_close(c, WS_CLOSE_GOING_AWAY, "server shutting down", 20);
		else if (state == WS_CONN_HANDSHAKE)
			ws_conn_abort(c);
	}
	if (s->head)
		s->stop_timer =
		    ws_loop_timer_start(s->loop, s->cfg.shutdown_timeout_ms, 0, on_stop_timeout, s);
	else
		ws_loop_stop(s->loop);
}

const ws_stats *ws_server_stats(const ws_server *s)
{
	return s->stats;
}

unsigned ws_server_worker(const ws_server *s)
{
	return s->cfg.worker_index;
}

ws_timer *ws_server_timer_start(ws_server *s, uint64_t delay_ms, uint64_t repeat_ms, ws_timer_cb cb,
                                void *arg)
{
	return ws_loop_timer_start(s->loop, delay_ms, repeat_ms, cb, arg);
}

void ws_server_timer_stop(ws_server *s, ws_timer *t)
{
	ws_loop_timer_stop(s->loop, t);
}
