/* worker.c - a server as one worker of several (ws_server_set_worker): the bus to the master,
 * delivery of what other workers sent, the two-phase graceful stop, and the reload handoff.
 *
 * Stop: STOP from the master makes the worker read what its clients already sent, stop
 * accepting and reading, and answer QUIESCED after every message it produced. Once every
 * worker has answered, the master relays what is still in flight and then sends FLUSH, which
 * starts this process's ordinary graceful stop (Close 1001 after queued data). A worker's own
 * stop() asks the master for that stop with STOP_ALL; once the master is gone (the bus hit its
 * end) the bus is freed and the worker stops alone.
 *
 * Handoff: a successor sends READY, then reads its predecessor's connections from a socket
 * the master gave it, before it accepts or reads the bus. The predecessor, on HANDOFF, stops
 * reading its clients and writes one record per connection (descriptor over SCM_RIGHTS, the
 * connection's own record from ws_conn_save, its rooms, the user object's blob), then HANDED
 * on the bus; it finishes only the connections that were already
 * closing, and exits. Bytes a client sends meanwhile wait in the kernel for the successor. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "server_int.h"
#include "alloc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STOP_READ_MAX     (1024 * 1024) /* what a stop reads per connection before closing */
#define HANDOFF_MAGIC     0x57534830u   /* "WSH0" */
#define HANDOFF_MAX       (1ull << 31)  /* bytes of one connection after its header */
#define HANDOFF_TIMEO_S   10
#define DROP_REPORT_MS    1000
#define BUS_FLUSH_WAIT_MS 5000

/* One connection on the handoff socket: this header, with the connection's descriptor
 * (SCM_RIGHTS), then conn_len bytes of the connection's record (ws_conn_save), rooms_len bytes
 * of its rooms (each a u16 length and the name) and user_len bytes of the user object's blob
 * (handoff_save). A header with all three lengths zero ends the stream. Both ends are forks of
 * one binary; the record is checked all the same (ws_conn_restore). */
typedef struct handoff_rec {
	uint32_t magic;
	uint32_t conn_len, rooms_len, user_len;
} handoff_rec;

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- posting to the master ---- */

int ws__worker_post(ws_server *s, uint8_t type, uint8_t flags, uint16_t code, uint64_t target,
                    const uint64_t *except, size_t n_except, const char *room, size_t room_len,
                    const uint8_t *data, size_t len)
{
	if (!s->bus || s->handed_off)
		return WS_ECLOSED;
	ws_chunk *m = n_except > UINT32_MAX
	                  ? NULL
	                  : ws_bus_encode_ids(type, flags, code, s->cfg.worker_index, target, except,
	                                      (uint32_t)n_except, room, (uint32_t)room_len, data, len);
	int rc = m ? ws_bus_chan_queue(s->bus, m) : WS_ENOMEM;
	if (m)
		ws_chunk_unref(m);
	if (rc < 0 && type <= WS_BUS_LEAVE) {
		ws_stat_add(&s->my->bus_dropped, 1);
		s->drops_unreported++;
	}
	return rc == WS_ECLOSED ? WS_ETOOBIG : rc;
}

static void post_control(ws_server *s, uint8_t type, uint64_t arg)
{
	ws_chunk *m =
	    ws_bus_encode_ids(type, 0, 0, s->cfg.worker_index, arg, NULL, 0, NULL, 0, NULL, 0);
	if (m) {
		ws_bus_chan_queue(s->bus, m); /* control messages are few and tiny: max_out allows */
		ws_chunk_unref(m);
	}
}

void ws__worker_turn(ws_server *s)
{
	ws_bus_chan_flush(s->bus);
	if (!s->bus) /* the flush found the master gone (on_bus_eof) */
		return;
	ws_stat_set(&s->my->bus_queue, s->bus->out_bytes);
	if (s->drops_unreported && s->hooks.on_bus_overflow) {
		uint64_t now = ws_loop_now_ms(s->loop);
		if (now - s->last_drop_report_ms >= DROP_REPORT_MS) {
			uint64_t n = s->drops_unreported;
			s->drops_unreported = 0;
			s->last_drop_report_ms = now;
			s->hooks.on_bus_overflow(s->env.owner, n);
		}
	}
}

/* ---- the stop ---- */

int ws__worker_stop_all(ws_server *s)
{
	if (!s->bus)
		return WS_ECLOSED;
	ws_chunk *m =
	    ws_bus_encode_ids(WS_BUS_STOP_ALL, 0, 0, s->cfg.worker_index, 0, NULL, 0, NULL, 0, NULL, 0);
	if (!m)
		return WS_ENOMEM;
	/* Past max_out too: a stop request is not dropped behind a full queue. */
	int rc = ws_bus_chan_queue_fd(s->bus, m, -1);
	ws_chunk_unref(m);
	return rc;
}

/* Phase 1: take in what clients already sent, then stop accepting and reading. */
static void quiesce(ws_server *s)
{
	if (s->stop_phase)
		return;
	s->stop_phase = 1;
	ws__server_close_listener(s);
	/* Hooks run by the reads may finish connections; walk a snapshot of ids. */
	size_t n = 0, cap = s->num_conns;
	uint64_t *ids = cap ? ws_malloc(cap * sizeof(*ids)) : NULL;
	for (ws_conn *c = s->head; c && ids && n < cap; c = ws_conn_node_of(c)->next)
		ids[n++] = ws_conn_id(c);
	for (size_t i = 0; i < n; i++) {
		ws_conn *c = ws_server_find(s, ids[i]);
		if (c && ws_conn_is_open(c))
			ws_conn_read_pending(c, STOP_READ_MAX);
	}
	ws_free(ids);
	for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next)
		ws_conn_hold_input(c, true);
	post_control(s, WS_BUS_QUIESCED, 0);
}

/* Phase 2: everything relayed has arrived; close like a single process does. */
static void finish_stop(ws_server *s)
{
	s->stop_phase = 2;
	for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next)
		ws_conn_hold_input(c, false); /* to read the clients' Close replies */
	ws_server_stop_here(s);
}

/* ---- the handoff: sending ---- */

static int send_all(int fd, const void *data, size_t len)
{
	return len ? ws_bus_send_fd(fd, data, len, -1) : 0;
}

/* Appends the names of c's rooms to out, each as a u16 length and the name. */
static int save_rooms(ws_conn *c, ws_buf *out)
{
	for (size_t i = 0; i < ws_server_conn_rooms(c); i++) {
		size_t len;
		const char *name = ws_server_conn_room(c, i, &len);
		uint16_t l16 = (uint16_t)len;
		if (ws_buf_append(out, &l16, 2) < 0 || ws_buf_append(out, name, len) < 0)
			return WS_ENOMEM;
	}
	return 0;
}

#define SKIPPED 1 /* send_conn: the connection could not be described; nothing was written */

/* Writes one connection to the handoff socket. Returns 0, SKIPPED, or a negative WS_E* once
 * the stream is broken (the successor is gone or stopped reading). */
static int send_conn(ws_server *s, int sock, ws_conn *c)
{
	ws_buf blob = {0};
	handoff_rec r = {.magic = HANDOFF_MAGIC};
	int rc = ws_conn_save(c, &blob);
	size_t conn_len = ws_buf_avail(&blob);
	if (rc == 0)
		rc = save_rooms(c, &blob);
	size_t rooms_len = ws_buf_avail(&blob) - conn_len, user_len = 0;
	uint8_t *user = rc == 0 && ws_conn_user(c) && s->hooks.handoff_save
	                    ? s->hooks.handoff_save(s->env.owner, c, &user_len)
	                    : NULL;
	/* Out of memory, or more than the successor accepts: this one stays (and is dropped). */
	if (rc < 0 || (uint64_t)conn_len + rooms_len + user_len > HANDOFF_MAX) {
		ws_buf_release(&blob);
		ws_free(user);
		return SKIPPED;
	}
	r.conn_len = (uint32_t)conn_len;
	r.rooms_len = (uint32_t)rooms_len;
	r.user_len = (uint32_t)user_len;
	rc = ws_bus_send_fd(sock, &r, sizeof(r), ws_conn_fd(c));
	if (rc == 0)
		rc = send_all(sock, blob.ptr ? blob.ptr + blob.head : NULL, conn_len + rooms_len);
	if (rc == 0)
		rc = send_all(sock, user, user_len);
	ws_buf_release(&blob);
	ws_free(user);
	return rc;
}

static void hand_off(ws_server *s, int sock)
{
	ws__server_close_listener(s);
	/* From here on this process's figures are no longer the slot's: the successor's are. */
	s->handed_off = true;
	ws_worker_stats *mine = &s->own_stats->w[0];
	*mine = *s->my;
	s->my = mine;
	s->env.stats = mine;
	for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next)
		ws_conn_hold_input(c, true);
	uint64_t handed = 0;
	int rc = 0;
	for (ws_conn *c = s->head, *next; c && rc == 0; c = next) {
		next = ws_conn_node_of(c)->next;
		ws_conn_state state = ws_conn_state_of(c);
		if (state != WS_CONN_OPEN && state != WS_CONN_HANDSHAKE) {
			ws_conn_hold_input(c, false); /* closing: finish it here */
			continue;
		}
		if (ws_conn_is_secure(c)) {
			/* A TLS session's keys cannot move to another process: the client is told to
			 * reconnect (1012), and the new code serves it then. */
			ws_conn_hold_input(c, false);
			ws_conn_close(c, WS_CLOSE_SERVICE_RESTART, "service restart", 15);
			continue;
		}
		rc = send_conn(s, sock, c);
		if (rc == 0) {
			ws_conn_forget(c);
			handed++;
		}
		if (rc == SKIPPED)
			rc = 0; /* nothing of it was written: the stream goes on without it */
	}
	handoff_rec end = {.magic = HANDOFF_MAGIC};
	if (rc == 0)
		send_all(sock, &end, sizeof(end));
	close(sock);
	/* Connections that could not be handed (the successor died) are dropped, not kept with
	 * no one reading them. */
	for (ws_conn *c = s->head, *next; c; c = next) {
		next = ws_conn_node_of(c)->next;
		if (ws_conn_input_held(c))
			ws_conn_abort(c);
	}
	post_control(s, WS_BUS_HANDED, handed);
	ws_bus_chan_flush_all(s->bus, BUS_FLUSH_WAIT_MS);
}

/* ---- the handoff: receiving ---- */

static int recv_all(int fd, void *data, size_t len)
{
	int ignored;
	int rc = len ? ws_bus_recv_fd(fd, data, len, &ignored) : 0;
	if (len && rc == 0 && ignored >= 0)
		close(ignored);
	return rc;
}

static void restore_rooms(ws_server *s, ws_conn *c, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		uint16_t l;
		memcpy(&l, p, 2);
		if ((size_t)l + 2 > len)
			return;
		ws_server_conn_join(s, c, (const char *)p + 2, l);
		p += 2 + l;
		len -= 2 + (size_t)l;
	}
}

/* Rebuilds one connection from its record and body; takes fd. The order is ws_conn_restore,
 * linking, ws_conn_resume (see conn.h), then rooms and the user object. */
static void adopt(ws_server *s, const handoff_rec *r, int fd, const uint8_t *body)
{
	/* The loop has not run yet: its clock still says when it was made (in the master, maybe
	 * days ago), and the times in the record are re-based on it. */
	ws_loop_update_now(s->loop);
	ws_conn *c = ws_conn_restore(&s->env, fd, body, r->conn_len);
	if (!c) {
		close(fd);
		return;
	}
	bool linked = ws__server_link(s, c) == 0;
	/* Counted as open at once, so that a failure below finishes it as one. */
	ws_conn_resume(c);
	if (!linked) {
		ws_conn_abort(c);
		return;
	}
	const uint8_t *p = body + r->conn_len;
	restore_rooms(s, c, p, r->rooms_len);
	p += r->rooms_len;
	/* A connection still in its handshake gets its user object when the request is whole. */
	if (ws_conn_is_open(c) && s->hooks.handoff_restore)
		s->hooks.handoff_restore(s->env.owner, c, r->user_len ? p : NULL, r->user_len);
	/* Input that arrived with the record (a request head, a partial frame) may already be
	 * complete enough to parse; the next read will do it, and the socket may hold more. */
}

static void receive_handoff(ws_server *s, int sock)
{
	struct timeval tv = {.tv_sec = HANDOFF_TIMEO_S};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		handoff_rec r;
		int fd = -1;
		if (ws_bus_recv_fd(sock, &r, sizeof(r), &fd) < 0 || r.magic != HANDOFF_MAGIC) {
			if (fd >= 0)
				close(fd);
			break;
		}
		uint64_t size = (uint64_t)r.conn_len + r.rooms_len + r.user_len;
		if (size == 0) {
			if (fd >= 0)
				close(fd);
			break;
		}
		uint8_t *body = size <= HANDOFF_MAX ? ws_malloc(size) : NULL;
		if (!body || fd < 0 || recv_all(sock, body, size) < 0) {
			ws_free(body);
			if (fd >= 0)
				close(fd);
			break;
		}
		adopt(s, &r, fd, body);
		ws_free(body);
	}
	close(sock);
}

/* ---- the bus ---- */

static void on_bus(ws_bus_chan *ch, const ws_bus_msg *m, void *arg)
{
	(void)ch;
	ws_server *s = arg;
	bool binary = m->flags & WS_BUS_F_BINARY;
	uint64_t stack_ids[16], *ids = stack_ids;
	if (m->n_except > 16 && !(ids = ws_malloc(m->n_except * sizeof(*ids))))
		return;
	for (uint32_t i = 0; i < m->n_except; i++)
		ids[i] = ws_bus_except(m, i);
	ws_conn *c = NULL;
	switch (m->type) {
	case WS_BUS_SEND:
		if ((c = ws_server_find(s, m->target)) != NULL)
			ws_conn_send(c, m->data, m->len, binary);
		break;
	case WS_BUS_BROADCAST:
		ws__server_deliver_all(s, m->data, m->len, binary, ids, m->n_except);
		break;
	case WS_BUS_PUBLISH:
		ws__server_deliver_room(s, m->room, m->room_len, m->data, m->len, binary, ids, m->n_except);
		break;
	case WS_BUS_CLOSE:
		if ((c = ws_server_find(s, m->target)) != NULL)
			ws_conn_close(c, m->code, (const char *)m->data, m->len);
		break;
	case WS_BUS_JOIN:
		if ((c = ws_server_find(s, m->target)) != NULL)
			ws_server_conn_join(s, c, m->room, m->room_len);
		break;
	case WS_BUS_LEAVE:
		if ((c = ws_server_find(s, m->target)) != NULL)
			ws_server_conn_leave(s, c, m->room, m->room_len);
		break;
	case WS_BUS_STOP:
		quiesce(s);
		break;
	case WS_BUS_FLUSH:
		finish_stop(s);
		break;
	case WS_BUS_HANDOFF: {
		int fd = ws_bus_chan_take_fd(ch);
		if (fd >= 0)
			hand_off(s, fd);
		break;
	}
	default:
		break;
	}
	if (ids != stack_ids)
		ws_free(ids);
}

static void on_bus_eof(ws_bus_chan *ch, int err, void *arg)
{
	(void)err;
	ws_server *s = arg;
	/* The master is gone: nobody will relay, supervise or take a stop request. The channel
	 * goes with it, so that nothing is posted to a dead end: from here on this process is
	 * on its own, and a stop() stops just this process. */
	ws_bus_chan_free(ch);
	s->bus = NULL;
	ws_stat_set(&s->my->bus_queue, 0);
	if (!s->handed_off) {
		for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next)
			ws_conn_hold_input(c, false);
		ws_server_stop_here(s);
	}
}

/* This process's figures become the slot's (a successor's only once it takes over). */
static void claim_slot(ws_server *s)
{
	ws_stat_set(&s->my->pid, (uint64_t)getpid());
	ws_stat_set(&s->my->started_ms, wall_ms());
}

int ws_server_set_worker(ws_server *s, const ws_worker_env *w, ws_err *err)
{
	/* The loop was made before the fork: its epoll set is the master's too. */
	if (ws_loop_fork_reset(s->loop) < 0)
		return ws_err_set(err, WS_ESYS, errno, "cannot create the worker's event loop: %s",
		                  strerror(errno));
	s->workers = w->workers;
	s->cfg.worker_index = w->index;
	s->stats = w->stats;
	s->my = &w->stats->w[w->index];
	s->env.stats = s->my;
	s->handoff_fd = w->handoff_fd;
	if (s->handoff_fd < 0)
		claim_slot(s);
	s->bus = ws_bus_chan_new(s->loop, w->bus_fd, w->bus_max, on_bus, on_bus_eof, s);
	if (!s->bus)
		return ws_err_set(err, WS_ENOMEM, 0, "out of memory setting up the worker's bus");
	ws_bus_chan_pause(s->bus, true);
	return ws__server_listen_fds(s, w->listen_fd, w->tls_listen_fd, err);
}

int ws__worker_start(ws_server *s, ws_err *err)
{
	(void)err;
	post_control(s, WS_BUS_READY, 0);
	if (s->handoff_fd >= 0) {
		/* The master hands our predecessor the other end once it has read READY. */
		ws_bus_chan_flush_all(s->bus, BUS_FLUSH_WAIT_MS);
		int sock = s->handoff_fd;
		s->handoff_fd = -1;
		claim_slot(s); /* the predecessor has stopped writing the slot's figures */
		receive_handoff(s, sock);
	}
	ws_bus_chan_pause(s->bus, false);
	return 0;
}

void ws__worker_free(ws_server *s)
{
	if (s->bus) {
		ws_bus_chan_free(s->bus);
		s->bus = NULL;
	}
	if (s->handoff_fd >= 0) {
		close(s->handoff_fd);
		s->handoff_fd = -1;
	}
}
