/* server.c - see server.h. Connections are kept in a doubly linked list (iteration, broadcast;
 * open ones first, then pending handshakes oldest first, so the one to drop under a flood is
 * found in O(1)) and in an open-addressing table keyed by id (send to an id in O(1)). Queued output
 * is flushed in the loop's prepare hook, so all frames queued for a connection during one turn
 * leave in one writev; finished connections are freed in the check hook, after the turn's
 * callbacks have returned. */
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

/* ---- id table ---- */

static size_t id_hash(uint64_t id, size_t cap)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int id_grow(ws_server *s)
{
	size_t cap = s->slot_cap ? s->slot_cap * 2 : 1024;
	ws_id_slot *slots = ws_calloc(cap, sizeof(*slots));
	if (!slots)
		return WS_ENOMEM;
	for (size_t i = 0; i < s->slot_cap; i++) {
		if (!s->slots[i].conn)
			continue;
		size_t j = id_hash(s->slots[i].id, cap);
		while (slots[j].conn)
			j = (j + 1) & (cap - 1);
		slots[j] = s->slots[i];
	}
	ws_free(s->slots);
	s->slots = slots;
	s->slot_cap = cap;
	return 0;
}

static int id_insert(ws_server *s, ws_conn *c)
{
	if ((s->slot_count + 1) * 2 > s->slot_cap && id_grow(s) < 0)
		return WS_ENOMEM;
	uint64_t id = ws_conn_id(c);
	size_t j = id_hash(id, s->slot_cap);
	while (s->slots[j].conn)
		j = (j + 1) & (s->slot_cap - 1);
	s->slots[j] = (ws_id_slot){.id = id, .conn = c};
	s->slot_count++;
	return 0;
}

static void id_remove(ws_server *s, uint64_t id)
{
	if (!s->slot_cap)
		return;
	size_t mask = s->slot_cap - 1, j = id_hash(id, s->slot_cap);
	while (s->slots[j].conn && s->slots[j].id != id)
		j = (j + 1) & mask;
	if (!s->slots[j].conn)
		return;
	s->slots[j].conn = NULL;
	s->slot_count--;
	/* Backward-shift deletion: move later members of the probe run into the hole when their
	 * home slot does not lie between the hole and their position, so lookups never stop at a
	 * hole that used to be on their path. */
	for (size_t k = (j + 1) & mask; s->slots[k].conn; k = (k + 1) & mask) {
		size_t home = id_hash(s->slots[k].id, s->slot_cap);
		bool between = j <= k ? (home > j && home <= k) : (home > j || home <= k);
		if (!between) {
			s->slots[j] = s->slots[k];
			s->slots[k].conn = NULL;
			j = k;
		}
	}
}

ws_conn *ws_server_find(ws_server *s, uint64_t id)
{
	if (!s->slot_cap)
		return NULL;
	size_t mask = s->slot_cap - 1;
	for (size_t j = id_hash(id, s->slot_cap); s->slots[j].conn; j = (j + 1) & mask)
		if (s->slots[j].id == id)
			return s->slots[j].conn;
	return NULL;
}

/* ---- connections per remote address ---- */

static size_t ip_hash(const char *ip, size_t buckets)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *ip; ip++)
		h = (h ^ (uint8_t)*ip) * 16777619u;
	return h & (buckets - 1);
}

/* The entry of c's address, created when missing (NULL without memory). */
static ip_count *ip_entry(ws_server *s, const ws_conn *c)
{
	const char *ip = ws_conn_remote_ip(c);
	ip_count **slot = &s->ips[ip_hash(ip, s->ip_buckets)];
	ip_count *e = *slot;
	while (e && strcmp(e->ip, ip) != 0)
		e = e->next;
	if (!e && (e = ws_calloc(1, sizeof(*e))) != NULL) {
		size_t n = strlen(ip);
		memcpy(e->ip, ip, n < sizeof(e->ip) ? n : sizeof(e->ip) - 1);
		e->next = *slot;
		*slot = e;
	}
	return e;
}

/* Counts c from its address: as a connection and as a pending handshake, for the limits that
 * are set. Until it opens, c counts as pending (an adopted open one too: opening it, the
 * handoff releases that count again). */
static void ip_add(ws_server *s, ws_conn *c, ip_count *e)
{
	e->count += s->cfg.max_connections_per_ip ? 1 : 0;
	e->pending += s->cfg.max_handshakes_per_ip ? 1 : 0;
	ws_conn_node_of(c)->ip_counted = true;
}

/* Counts a new connection from c's address. Returns NULL, or the refusal's reason when that
 * address is at a limit (or the table is out of memory). */
static const char *ip_admit(ws_server *s, ws_conn *c)
{
	static const char conns[] = "Too many connections from your address.\n";
	static const char handshakes[] = "Too many pending handshakes from your address.\n";
	ip_count *e = ip_entry(s, c);
	if (!e)
		return conns;
	if (s->cfg.max_connections_per_ip && e->count >= s->cfg.max_connections_per_ip)
		return conns;
	if (s->cfg.max_handshakes_per_ip && e->pending >= s->cfg.max_handshakes_per_ip)
		return handshakes;
	ip_add(s, c, e);
	return NULL;
}

/* Takes c's counts off its address (pending: if it never opened; opening it took that one)
 * and forgets the address when nothing counts it any more. */
static void ip_release(ws_server *s, ws_conn *c, bool opening)
{
	const char *ip = ws_conn_remote_ip(c);
	ip_count **pp = &s->ips[ip_hash(ip, s->ip_buckets)];
	while (*pp && strcmp((*pp)->ip, ip) != 0)
		pp = &(*pp)->next;
	ip_count *e = *pp;
	if (!e)
		return;
	if (s->cfg.max_handshakes_per_ip && !ws_conn_was_opened(c))
		e->pending--;
	if (s->cfg.max_handshakes_per_ip && opening)
		e->pending--;
	if (s->cfg.max_connections_per_ip && !opening)
		e->count--;
	/* Counted only as a handshake, an open connection no longer needs its entry. */
	ws_conn_node_of(c)->ip_counted = opening && s->cfg.max_connections_per_ip;
	if (!e->count && !e->pending) {
		*pp = e->next;
		ws_free(e);
	}
}

/* ---- the connection list: open ones first, then pending ones, oldest first ---- */

static void list_unlink(ws_server *s, ws_conn *c)
{
	ws_conn_node *n = ws_conn_node_of(c);
	if (c == s->first_pending)
		s->first_pending = n->next;
	if (n->prev)
		ws_conn_node_of(n->prev)->next = n->next;
	else
		s->head = n->next;
	if (n->next)
		ws_conn_node_of(n->next)->prev = n->prev;
	else
		s->tail = n->prev;
	n->prev = n->next = NULL;
}

/* Inserts c before `at`, or at the tail when at is NULL. */
static void list_insert(ws_server *s, ws_conn *c, ws_conn *at)
{
	ws_conn_node *n = ws_conn_node_of(c);
	n->next = at;
	n->prev = at ? ws_conn_node_of(at)->prev : s->tail;
	if (n->prev)
		ws_conn_node_of(n->prev)->next = c;
	else
		s->head = c;
	if (at)
		ws_conn_node_of(at)->prev = c;
	else
		s->tail = c;
}

/* A new pending connection goes to the tail (the newest), or with `first` becomes the first to
 * be dropped when room is needed. */
static void list_add_pending(ws_server *s, ws_conn *c, bool first)
{
	list_insert(s, c, first ? s->first_pending : NULL);
	if (first || !s->first_pending)
		s->first_pending = c;
}

/* ---- callbacks from connections ---- */

static void conn_want_flush(void *server, ws_conn *c)
{
	ws_server *s = server;
	ws_conn_node *n = ws_conn_node_of(c);
	if (n->pending)
		return; /* flushed from its write event since, and still on the list */
	n->pending = true;
	n->pending_next = s->pending;
	s->pending = c;
}

static void conn_opened(void *server, ws_conn *c)
{
	ws_server *s = server;
	ws_stat_set(&s->my->connections, ++s->num_open);
	/* It joins the open ones, at the end of their part of the list: never to be evicted. */
	ws_conn *at = s->first_pending == c ? ws_conn_node_of(c)->next : s->first_pending;
	list_unlink(s, c);
	list_insert(s, c, at);
	s->first_pending = at;
	if (ws_conn_node_of(c)->ip_counted)
		ip_release(s, c, true);
}

static void conn_done(void *server, ws_conn *c)
{
	ws_server *s = server;
	ws_conn_node *n = ws_conn_node_of(c);
	list_unlink(s, c);
	s->num_conns--;
	if (ws_conn_was_opened(c))
		ws_stat_set(&s->my->connections, --s->num_open);
	if (n->rooms.count)
		ws_rooms_leave_all(s->rooms, &n->rooms);
	if (n->ip_counted)
		ip_release(s, c, false);
	id_remove(s, ws_conn_id(c));
	if (s->num_dead == s->cap_dead) {
		size_t cap = s->cap_dead ? s->cap_dead * 2 : 64;
		ws_conn **d = ws_realloc(s->dead, cap * sizeof(*d));
		if (!d) {
			/* Leaking one connection beats freeing it while a caller may still use it. */
			return;
		}
		s->dead = d;
		s->cap_dead = cap;
	}
	s->dead[s->num_dead++] = c;
}

/* ---- loop hooks ---- */

static void flush_pending(ws_loop *loop, void *arg)
{
	(void)loop;
	ws_server *s = arg;
	while (s->pending) {
		ws_conn *c = s->pending;
		ws_conn_node *n = ws_conn_node_of(c);
		s->pending = n->pending_next;
		n->pending = false;
		n->pending_next = NULL;
		ws_conn_flush(c);
	}
	ws_conn_trim(&s->env);
	if (s->bus)
		ws_worker_turn(s);
}

static void free_dead(ws_loop *loop, void *arg)
{
	ws_server *s = arg;
	/* A connection may still be on the flush list if it finished after queueing. */
	ws_conn **pp = &s->pending;
	while (*pp) {
		ws_conn_node *n = ws_conn_node_of(*pp);
		if (ws_conn_state_of(*pp) == WS_CONN_DONE) {
			n->pending = false;
			*pp = n->pending_next;
		} else {
			pp = &n->pending_next;
		}
	}
	for (size_t i = 0; i < s->num_dead; i++)
		ws_conn_free(s->dead[i]);
	s->num_dead = 0;
	if ((s->stopping || s->handed_off) && s->num_conns == 0)
		ws_loop_stop(loop);
}

/* ---- accepting ---- */

int ws_server_link(ws_server *s, ws_conn *c)
{
	list_add_pending(s, c, false);
	s->num_conns++;
	ip_count *e = s->ips ? ip_entry(s, c) : NULL;
	if (e)
		ip_add(s, c, e); /* handed over: counted, even beyond a limit */
	return id_insert(s, c);
}

/* A handshake younger than this is never dropped to keep within max_handshakes: a burst of
 * real clients (a load test, every browser reconnecting after a restart) passes, up to
 * max_connections; one that has waited this long is taken for a slow one. */
#define HANDSHAKE_GRACE_MS 1000

/* Pending for at least HANDSHAKE_GRACE_MS, or already answered (a refusal or an HTTP reply,
 * waiting for the client to go). */
static bool stale(ws_server *s, const ws_conn *c)
{
	if (ws_conn_state_of(c) != WS_CONN_HANDSHAKE)
		return true;
	return ws_loop_now_ms(s->loop) - ws_conn_accepted_ms(c) >= HANDSHAKE_GRACE_MS;
}

/* Makes room for c, just accepted, by dropping the oldest pending connections without an
 * answer: any of them when the total would pass max_connections, and those past their grace
 * when the pending ones would pass max_handshakes. A flood of connections that never finish
 * their request (or hold a refusal open) then cannot lock out a client that does. Open
 * connections are never dropped, and c itself is not. Returns false when there is no room. */
static bool make_room(ws_server *s, ws_conn *c)
{
	while (s->num_conns > s->cfg.max_connections) {
		if (s->first_pending == c)
			return false;
		ws_conn_abort(s->first_pending);
	}
	size_t max_pending = s->cfg.max_handshakes ? s->cfg.max_handshakes : SIZE_MAX;
	while (s->num_conns - s->num_open > max_pending && s->first_pending != c &&
	       stale(s, s->first_pending))
		ws_conn_abort(s->first_pending);
	return true;
}

/* A new connection: counted, placed and given room, or refused (a refusal is the first to be
 * dropped when room is needed, so refusing one never costs another client its handshake). */
static void admit(ws_server *s, ws_conn *c)
{
	static const char full[] = "Too many connections.\n";
	const char *refusal = s->ips ? ip_admit(s, c) : NULL;
	list_add_pending(s, c, refusal != NULL);
	s->num_conns++;
	if (id_insert(s, c) < 0) {
		ws_conn_abort(c);
		return;
	}
	bool room = make_room(s, c);
	if (!room && refusal)
		ws_conn_abort(c); /* no room even to answer it */
	else if (!room)
		ws_conn_reject(c, 503, full, sizeof(full) - 1);
	else if (refusal)
		ws_conn_reject(c, 429, refusal, strlen(refusal));
}

static void on_accept(ws_loop *loop, ws_io *io, unsigned events);

static void resume_accept(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	ws_server *s = arg;
	s->accept_timer = NULL;
	for (int i = 0; i < 2 && !s->stopping; i++)
		if (s->listeners[i].fd >= 0)
			ws_loop_io_set(loop, &s->listeners[i].io, WS_IO_READ);
}

static void on_accept(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)events;
	ws_listener *l = (ws_listener *)io;
	ws_server *s = l->server;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		int fd = ws_net_accept(io->fd, &addr);
		if (fd == WS_EAGAIN)
			return;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->reserve_fd >= 0) {
			/* Out of descriptors: spend the reserve one to take the connection off the
			 * backlog and close it at once, so the client learns now instead of hanging,
			 * then take the reserve back. */
			close(s->reserve_fd);
			fd = ws_net_accept(io->fd, &addr);
			if (fd >= 0)
				close(fd);
			s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && s->reserve_fd >= 0)
				continue;
			fd = -1;
		}
		if (fd < 0) {
			/* The pending connection stays in the backlog and the listener stays readable,
			 * so polling it now would spin at 100% CPU. Pause, retry soon. */
			ws_loop_io_set(loop, io, 0);
			if (!s->accept_timer)
				s->accept_timer = ws_loop_timer_start(loop, ACCEPT_RETRY_MS, 0, resume_accept, s);
			return;
		}
		uint64_t seq = s->my->next_seq + 1;
		ws_stat_set(&s->my->next_seq, seq);
		uint64_t id = ((uint64_t)s->cfg.worker_index << ID_WORKER_SHIFT) | seq;
		ws_conn *c = ws_conn_new(&s->env, fd, id, &addr, l->tls ? s->tls : NULL);
		if (!c) {
			close(fd);
			continue;
		}
		admit(s, c);
	}
}

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
	    .want_flush = conn_want_flush,
	    .done = conn_done,
	    .opened = conn_opened,
	};
	ws_loop_set_hooks(s->loop, flush_pending, free_dead, s);
	return s;
}

void ws_server_free(ws_server *s)
{
	if (!s)
		return;
	ws_server_close_listener(s);
	ws_worker_free(s);
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
	return ws_server_listen_fds(s, fd, tls_fd, err);
}

static int listen_on(ws_server *s, ws_listener *l, int fd, bool tls, ws_err *err)
{
	if (ws_loop_io_start(s->loop, &l->io, fd, WS_IO_READ, on_accept) < 0) {
		close(fd);
		return ws_err_set(err, WS_ESYS, errno, "cannot watch the listening socket: %s",
		                  strerror(errno));
	}
	l->fd = fd;
	l->port = ws_net_local_port(fd);
	l->tls = tls;
	return 0;
}

int ws_server_listen_fds(ws_server *s, int fd, int tls_fd, ws_err *err)
{
	bool extra = s->tls && s->cfg.tls_port >= 0;
	int rc = listen_on(s, &s->listeners[0], fd, s->tls && !extra, err);
	if (rc < 0) {
		if (tls_fd >= 0)
			close(tls_fd);
		return rc;
	}
	if (tls_fd >= 0 && (rc = listen_on(s, &s->listeners[1], tls_fd, true, err)) < 0) {
		ws_server_close_listener(s);
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
		if ((rc = ws_worker_start(s, err)) < 0)
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

void ws_server_close_listener(ws_server *s)
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
	if (s->bus && s->running && ws_worker_stop_all(s) == 0)
		return;
	ws_server_stop_here(s);
}

void ws_server_stop_here(ws_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	ws_server_close_listener(s);
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

/* ---- messages, rooms and closes for any worker's connections ---- */

static bool excepted(const uint64_t *except, size_t n_except, uint64_t id)
{
	for (size_t i = 0; i < n_except; i++)
		if (except[i] == id)
			return true;
	return false;
}

ssize_t ws_server_deliver_all(ws_server *s, const uint8_t *data, size_t len, bool binary,
                              const uint64_t *except, size_t n_except)
{
	ws_frames f = {.data = data, .len = len, .binary = binary};
	ssize_t count = 0;
	/* ws_conn_send_frames refuses a connection that is not open (WS_ECLOSED): one call per
	 * connection, and one more for its id only when ids are excepted. */
	for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next) {
		if ((!n_except || !excepted(except, n_except, ws_conn_id(c))) &&
		    ws_conn_send_frames(c, &f) == 0)
			count++;
	}
	ws_frames_release(&f);
	return count;
}

ssize_t ws_server_deliver_room(ws_server *s, const char *room, size_t room_len, const uint8_t *data,
                               size_t len, bool binary, const uint64_t *except, size_t n_except)
{
	ws_room *r = s->rooms ? ws_rooms_find(s->rooms, room, room_len) : NULL;
	if (!r)
		return 0;
	ws_frames f = {.data = data, .len = len, .binary = binary};
	ssize_t count = 0;
	/* Sending never finishes a connection synchronously, so the member list holds still. */
	for (size_t i = 0; i < ws_room_size(r); i++) {
		ws_conn *c = ws_room_member(r, i);
		if ((!n_except || !excepted(except, n_except, ws_conn_id(c))) &&
		    ws_conn_send_frames(c, &f) == 0)
			count++;
	}
	ws_frames_release(&f);
	return count;
}

static bool is_local(const ws_server *s, uint64_t id)
{
	return !s->bus || (id >> ID_WORKER_SHIFT) == s->cfg.worker_index;
}

ssize_t ws_server_broadcast(ws_server *s, const uint8_t *data, size_t len, bool binary,
                            const uint64_t *except, size_t n_except)
{
	if (s->bus)
		ws_worker_post(s, WS_BUS_BROADCAST, binary ? WS_BUS_F_BINARY : 0, 0, 0, except, n_except,
		               NULL, 0, data, len);
	return ws_server_deliver_all(s, data, len, binary, except, n_except);
}

ssize_t ws_server_publish(ws_server *s, const char *room, size_t room_len, const uint8_t *data,
                          size_t len, bool binary, const uint64_t *except, size_t n_except)
{
	if (s->bus)
		ws_worker_post(s, WS_BUS_PUBLISH, binary ? WS_BUS_F_BINARY : 0, 0, 0, except, n_except,
		               room, room_len, data, len);
	return ws_server_deliver_room(s, room, room_len, data, len, binary, except, n_except);
}

int ws_server_send(ws_server *s, uint64_t id, const uint8_t *data, size_t len, bool binary,
                   ws_chunk_release_fn release, void *arg)
{
	ws_conn *c = NULL;
	int rc = WS_ECLOSED;
	if (!is_local(s, id))
		rc = ws_worker_post(s, WS_BUS_SEND, binary ? WS_BUS_F_BINARY : 0, 0, id, NULL, 0, NULL, 0,
		                    data, len);
	else if ((c = ws_server_find(s, id)) != NULL)
		return ws_conn_send_borrowed(c, data, len, binary, release, arg);
	release(arg);
	return rc;
}

static void room_size_changed(void *arg, const char *name, size_t len, uint64_t hash, size_t size)
{
	(void)name;
	(void)len;
	ws_server *s = arg;
	if (s->bus)
		ws_stats_room_set(s->stats, s->cfg.worker_index, hash, size);
}

int ws_server_conn_join(ws_server *s, ws_conn *c, const char *room, size_t len)
{
	if (ws_conn_state_of(c) >= WS_CONN_LINGER)
		return 0;
	if (!s->rooms && !(s->rooms = ws_rooms_new(room_size_changed, s)))
		return WS_ENOMEM;
	return ws_rooms_join(s->rooms, &ws_conn_node_of(c)->rooms, c, room, len);
}

static int join_or_leave(ws_server *s, uint64_t id, const char *room, size_t len, bool join)
{
	if (!len || len > WS_ROOM_NAME_MAX)
		return WS_EINVAL;
	if (!is_local(s, id)) {
		int rc = ws_worker_post(s, join ? WS_BUS_JOIN : WS_BUS_LEAVE, 0, 0, id, NULL, 0, room, len,
		                        NULL, 0);
		return rc < 0 ? rc : 0;
	}
	ws_conn *c = ws_server_find(s, id);
	if (!c)
		return 0;
	return join ? ws_server_conn_join(s, c, room, len) : ws_server_conn_leave(s, c, room, len);
}

int ws_server_join(ws_server *s, uint64_t id, const char *room, size_t len)
{
	return join_or_leave(s, id, room, len, true);
}

int ws_server_leave(ws_server *s, uint64_t id, const char *room, size_t len)
{
	return join_or_leave(s, id, room, len, false);
}

int ws_server_conn_leave(ws_server *s, ws_conn *c, const char *room, size_t len)
{
	return s->rooms && ws_rooms_leave(s->rooms, &ws_conn_node_of(c)->rooms, room, len) ? 1 : 0;
}

uint64_t ws_server_room_size(ws_server *s, const char *room, size_t len)
{
	ws_room *r = s->rooms ? ws_rooms_find(s->rooms, room, len) : NULL;
	uint64_t size = r ? ws_room_size(r) : 0;
	if (s->bus)
		size += ws_stats_room_others(s->stats, s->cfg.worker_index, ws_rooms_hash(room, len));
	return size;
}

size_t ws_server_conn_rooms(const ws_conn *c)
{
	return ws_room_set_count(&ws_conn_node_of_const(c)->rooms);
}

const char *ws_server_conn_room(const ws_conn *c, size_t i, size_t *len)
{
	return ws_room_name(ws_conn_node_of_const(c)->rooms.links[i].room, len);
}

int ws_server_close_id(ws_server *s, uint64_t id, uint16_t code, const char *reason,
                       size_t reason_len)
{
	if (!is_local(s, id))
		return ws_worker_post(s, WS_BUS_CLOSE, 0, code, id, NULL, 0, NULL, 0,
		                      (const uint8_t *)reason, reason_len);
	ws_conn *c = ws_server_find(s, id);
	return c ? ws_conn_close(c, code, reason, reason_len) : WS_ECLOSED;
}

const ws_stats *ws_server_stats(const ws_server *s)
{
	return s->stats;
}

unsigned ws_server_worker(const ws_server *s)
{
	return s->cfg.worker_index;
}

size_t ws_server_count(const ws_server *s)
{
	return s->num_open;
}

ws_conn *ws_server_first(ws_server *s)
{
	return s->head;
}

ws_conn *ws_server_next(ws_conn *c)
{
	return ws_conn_node_of(c)->next;
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
