/* server_conns.c - the server's connection table: every connection from accept to free.
 * Connections are kept in a doubly linked list (iteration, broadcast; open ones first, then
 * pending handshakes oldest first, so the one to drop under a flood is found in O(1)) and in an
 * open-addressing table keyed by id (send to an id in O(1)), counted per remote address when a
 * per-address limit is set. Admission refuses or evicts when a limit is reached. Queued output is
 * flushed in the loop's prepare hook, so all frames queued for a connection during one turn leave
 * in one writev; finished connections are freed in the check hook, after the turn's callbacks
 * have returned. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "server_int.h"
#include "alloc.h"
#include "bus.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

void ws__server_conn_want_flush(void *server, ws_conn *c)
{
	ws_server *s = server;
	ws_conn_node *n = ws_conn_node_of(c);
	if (n->pending)
		return; /* flushed from its write event since, and still on the list */
	n->pending = true;
	n->pending_next = s->pending;
	s->pending = c;
}

void ws__server_conn_opened(void *server, ws_conn *c)
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

void ws__server_conn_done(void *server, ws_conn *c)
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

void ws__server_flush_pending(ws_loop *loop, void *arg)
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
		ws__worker_turn(s);
}

void ws__server_free_dead(ws_loop *loop, void *arg)
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

int ws__server_link(ws_server *s, ws_conn *c)
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

static void resume_accept(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	ws_server *s = arg;
	s->accept_timer = NULL;
	for (int i = 0; i < 2 && !s->stopping; i++)
		if (s->listeners[i].fd >= 0)
			ws_loop_io_set(loop, &s->listeners[i].io, WS_IO_READ);
}

void ws__server_on_accept(ws_loop *loop, ws_io *io, unsigned events)
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
