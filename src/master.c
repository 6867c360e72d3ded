/* master.c - see master.h. The master's loop reacts to signals (SIGCHLD, SIGTERM, SIGINT,
 * SIGUSR1) and to its bus channels; it never forks from inside a callback. A callback that
 * wants a worker started marks the slot and stops the loop; ws_master_run forks at top level,
 * so a child leaves the master's code by returning, with nothing of the master's turn left
 * to run in it.
 *
 * Routing: a message for a connection goes to the slot in the id's high bits; a broadcast or
 * publish goes to every slot but its origin. Each message is re-encoded once into a chunk and
 * every destination queue holds a reference. A slot's queue that reaches bus_max drops what
 * follows (counted in master_dropped): a stuck worker never blocks the master or the others.
 *
 * Reload of slot i: fork a successor with one end of a fresh socketpair; when it reports
 * READY, route slot i's traffic to it (it reads its bus only after the handoff) and send the
 * old worker HANDOFF with the other end; on HANDED the successor is the slot's worker and the
 * next slot follows. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "master.h"
#include "alloc.h"
#include "bus.h"
#include "loop.h"
#include "net.h"
#include "stats.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ID_WORKER_SHIFT 40
#define RESTART_MIN_MS  1000 /* a worker that dies sooner is restarted this long after start */
#define KILL_AFTER_MS   1000 /* after the grace period, before SIGKILL */

typedef struct slot {
	unsigned index;
	int listen_fd;
	int tls_listen_fd; /* the extra TLS port's socket, or -1 */
	pid_t pid;         /* the slot's worker, 0 when none */
	ws_bus_chan *bus;
	pid_t next_pid; /* a reload's successor, before it took over */
	ws_bus_chan *next_bus;
	int handoff_fd;     /* for the old worker, until the successor is READY; -1 */
	ws_bus_chan *route; /* where messages for this slot go (bus, or next_bus in a handoff) */
	/* workers that handed off and are finishing (closing TLS connections can take a while,
	 * and another reload may come meanwhile) */
	struct finishing {
		pid_t pid;
		ws_bus_chan *bus;
	} * old;
	unsigned n_old, cap_old;
	bool want_fork, want_successor;
	bool quiesced;
	bool overflowing; /* dropping messages: logged once per episode */
	uint64_t started_ms, fork_at_ms;
} slot;

typedef enum phase { RUNNING = 0, QUIESCING, FLUSHING } phase;

struct ws_master {
	ws_master_config cfg;
	char *host;
	ws_loop *loop;
	ws_stats *stats;
	slot *slots;
	int port, tls_port;
	phase phase;
	bool stop_forced;
	int reloading; /* the slot being reloaded, or -1 */
	bool reload_again;
	unsigned reload_handed;
	uint64_t reload_started_ms, started_ms;
	ws_timer *phase_timer, *reload_timer, *fork_timer;
};

static void say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "websocket: %s\n", line);
	fflush(stderr);
}

static void describe_exit(int status, char *out, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(out, n, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
}

static uint64_t now_ms(ws_master *m)
{
	return ws_loop_now_ms(m->loop);
}

static void drop_chan(ws_bus_chan **ch)
{
	if (*ch) {
		ws_bus_chan_free(*ch);
		*ch = NULL;
	}
}

/* ---- relaying ---- */

static void forward(ws_master *m, slot *to, ws_chunk *chunk)
{
	if (!to->route)
		return; /* no worker in the slot: its connections are gone with it */
	if (ws_bus_chan_queue(to->route, chunk) == 0)
		return;
	ws_stat_add(&m->stats->w[to->index].master_dropped, 1);
	if (!to->overflowing) {
		to->overflowing = true;
		say("worker %u is not reading its bus (%zu bytes queued): dropping its messages "
		    "until it catches up",
		    to->index, to->route->out_bytes);
	}
}

static void send_control(ws_bus_chan *ch, uint8_t type, int fd)
{
	ws_chunk *c = ws_bus_encode_ids(type, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0);
	if (!c) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd >= 0)
		ws_bus_chan_queue_fd(ch, c, fd);
	else
		ws_bus_chan_queue(ch, c);
	ws_chunk_unref(c);
}

static void maybe_flush_all(ws_master *m);
static void begin_stop(ws_master *m, int signo);
static void reload_next(ws_master *m);
static void reload_abort(ws_master *m, const char *why);

static slot *slot_of_chan(ws_master *m, ws_bus_chan *ch)
{
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		if (s->bus == ch || s->next_bus == ch)
			return s;
		for (unsigned k = 0; k < s->n_old; k++)
			if (s->old[k].bus == ch)
				return s;
	}
	return NULL;
}

static void on_relay(ws_bus_chan *ch, const ws_bus_msg *msg, void *arg)
{
	ws_master *m = arg;
	slot *from = slot_of_chan(m, ch);
	if (!from)
		return;
	switch (msg->type) {
	case WS_BUS_SEND:
	case WS_BUS_CLOSE:
	case WS_BUS_JOIN:
	case WS_BUS_LEAVE: {
		uint64_t owner = msg->target >> ID_WORKER_SHIFT;
		if (owner >= m->cfg.workers)
			return;
		ws_chunk *c = ws_bus_encode(msg);
		if (c) {
			forward(m, &m->slots[owner], c);
			ws_chunk_unref(c);
		}
		return;
	}
	case WS_BUS_BROADCAST:
	case WS_BUS_PUBLISH: {
		ws_chunk *c = ws_bus_encode(msg);
		if (!c)
			return;
		for (unsigned i = 0; i < m->cfg.workers; i++)
			if (i != from->index)
				forward(m, &m->slots[i], c);
		ws_chunk_unref(c);
		return;
	}
	case WS_BUS_READY:
		if (ch == from->next_bus && from->handoff_fd >= 0) {
			/* The successor has loaded the code: from now on the slot's messages wait in
			 * its queue, behind everything the old worker will hand over. */
			from->route = from->next_bus;
			send_control(from->bus, WS_BUS_HANDOFF, from->handoff_fd);
			from->handoff_fd = -1;
		}
		return;
	case WS_BUS_HANDED:
		if (ch == from->bus && from->next_bus) {
			m->reload_handed += (unsigned)msg->target;
			if (from->n_old == from->cap_old) {
				unsigned cap = from->cap_old ? from->cap_old * 2 : 2;
				struct finishing *more = ws_malloc(cap * sizeof(*more));
				if (!more) {
					/* Cannot follow it: let it go now rather than lose track of it. */
					kill(from->pid, SIGKILL);
					drop_chan(&from->bus);
				} else {
					if (from->n_old)
						memcpy(more, from->old, from->n_old * sizeof(*more));
					ws_free(from->old);
					from->old = more;
					from->cap_old = cap;
				}
			}
			if (from->bus)
				from->old[from->n_old++] = (struct finishing){from->pid, from->bus};
			from->pid = from->next_pid;
			from->bus = from->next_bus;
			from->route = from->bus;
			from->next_pid = 0;
			from->next_bus = NULL;
			from->started_ms = now_ms(m);
			reload_next(m);
		}
		return;
	case WS_BUS_QUIESCED:
		if (ch == from->bus) {
			from->quiesced = true;
			maybe_flush_all(m);
		}
		return;
	case WS_BUS_STOP_ALL:
		/* A worker's stop(): the same graceful stop as SIGTERM, whichever process asked. */
		begin_stop(m, SIGTERM);
		return;
	default:
		return;
	}
}

static void on_chan_eof(ws_bus_chan *ch, int err, void *arg)
{
	(void)ch;
	(void)err;
	(void)arg;
	/* The process is exiting or gone; SIGCHLD settles the slot. */
}

/* ---- the stop ---- */

static bool any_alive(ws_master *m)
{
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		if (s->pid || s->next_pid || s->n_old)
			return true;
	}
	return false;
}

static void kill_all(ws_master *m, int sig)
{
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		if (s->pid)
			kill(s->pid, sig);
		if (s->next_pid)
			kill(s->next_pid, sig);
		for (unsigned k = 0; k < s->n_old; k++)
			kill(s->old[k].pid, sig);
	}
}

static void on_kill_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	ws_master *m = arg;
	m->phase_timer = NULL;
	say("workers still running after the grace period: killing them");
	kill_all(m, SIGKILL);
}

static void flush_all(ws_master *m)
{
	if (m->phase_timer)
		ws_loop_timer_stop(m->loop, m->phase_timer);
	m->phase = FLUSHING;
	for (unsigned i = 0; i < m->cfg.workers; i++)
		if (m->slots[i].bus)
			send_control(m->slots[i].bus, WS_BUS_FLUSH, -1);
	m->phase_timer = ws_loop_timer_start(m->loop, m->cfg.shutdown_timeout_ms + KILL_AFTER_MS, 0,
	                                     on_kill_timer, m);
}

static void maybe_flush_all(ws_master *m)
{
	if (m->phase != QUIESCING)
		return;
	for (unsigned i = 0; i < m->cfg.workers; i++)
		if (m->slots[i].bus && !m->slots[i].quiesced)
			return;
	flush_all(m);
}

static void on_quiesce_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	ws_master *m = arg;
	m->phase_timer = NULL;
	say("a worker did not answer the stop in time; closing the others' connections anyway");
	flush_all(m);
}

static void begin_stop(ws_master *m, int signo)
{
	if (m->phase != RUNNING) {
		/* A second Ctrl-C means "now"; a repeated SIGTERM (a service manager) or stop
		 * request (a worker's stop()) changes nothing. */
		if (signo == SIGINT && !m->stop_forced) {
			m->stop_forced = true;
			say("stop requested again: killing the workers now");
			kill_all(m, SIGKILL);
		}
		return;
	}
	say("stopping %u workers", m->cfg.workers);
	if (m->reloading >= 0)
		reload_abort(m, "the server is stopping");
	m->phase = QUIESCING;
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		s->want_fork = s->want_successor = false;
		if (s->bus)
			send_control(s->bus, WS_BUS_STOP, -1);
	}
	m->phase_timer =
	    ws_loop_timer_start(m->loop, m->cfg.shutdown_timeout_ms, 0, on_quiesce_timer, m);
	maybe_flush_all(m);
	if (!any_alive(m))
		ws_loop_stop(m->loop);
}

/* ---- reload ---- */

static void on_reload_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	ws_master *m = arg;
	m->reload_timer = NULL;
	reload_abort(m, "the new worker did not take over within reload_timeout");
}

static void start_successor(ws_master *m, unsigned i)
{
	m->reloading = (int)i;
	m->slots[i].want_successor = true;
	if (m->reload_timer)
		ws_loop_timer_stop(m->loop, m->reload_timer);
	m->reload_timer = ws_loop_timer_start(m->loop, m->cfg.reload_timeout_ms, 0, on_reload_timer, m);
	ws_loop_stop(m->loop); /* fork at top level */
}

static void reload_next(ws_master *m)
{
	unsigned i = (unsigned)(m->reloading + 1);
	while (i < m->cfg.workers && !m->slots[i].pid)
		i++;
	if (i < m->cfg.workers) {
		start_successor(m, i);
		return;
	}
	if (m->reload_timer)
		ws_loop_timer_stop(m->loop, m->reload_timer);
	m->reload_timer = NULL;
	m->reloading = -1;
	say("reloaded %u workers: %u connections handed over in %llu ms", m->cfg.workers,
	    m->reload_handed, (unsigned long long)(now_ms(m) - m->reload_started_ms));
	if (m->reload_again) {
		m->reload_again = false;
		m->reload_handed = 0;
		m->reload_started_ms = now_ms(m);
		m->reloading = -1;
		reload_next(m);
	}
}

static void reload_abort(ws_master *m, const char *why)
{
	if (m->reloading < 0)
		return;
	slot *s = &m->slots[m->reloading];
	say("reload of worker %d abandoned (%s); the running workers keep the old code", m->reloading,
	    why);
	m->reloading = -1;
	m->reload_again = false;
	s->want_successor = false;
	if (m->reload_timer)
		ws_loop_timer_stop(m->loop, m->reload_timer);
	m->reload_timer = NULL;
	if (s->handoff_fd >= 0) {
		close(s->handoff_fd);
		s->handoff_fd = -1;
	}
	if (s->next_pid && s->route != s->next_bus) {
		/* Not yet handing over: the old worker keeps everything. */
		kill(s->next_pid, SIGKILL);
	}
}

static void begin_reload(ws_master *m)
{
	if (m->phase != RUNNING)
		return;
	if (m->reloading >= 0) {
		m->reload_again = true;
		return;
	}
	say("reloading %u workers", m->cfg.workers);
	if (m->cfg.before_reload)
		m->cfg.before_reload(m->cfg.arg);
	m->reload_handed = 0;
	m->reload_started_ms = now_ms(m);
	m->reloading = -1;
	reload_next(m);
}

/* ---- supervision ---- */

static void on_fork_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	ws_master *m = arg;
	m->fork_timer = NULL;
	ws_loop_stop(loop);
}

static void schedule_restart(ws_master *m, slot *s)
{
	uint64_t now = now_ms(m);
	s->want_fork = true;
	s->fork_at_ms = s->started_ms + RESTART_MIN_MS > now ? s->started_ms + RESTART_MIN_MS : now;
	ws_stat_add(&m->stats->w[s->index].restarts, 1);
	ws_loop_stop(m->loop);
}

static void reap(ws_master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[64];
		describe_exit(status, how, sizeof(how));
		for (unsigned i = 0; i < m->cfg.workers; i++) {
			slot *s = &m->slots[i];
			unsigned k = 0;
			while (k < s->n_old && s->old[k].pid != pid)
				k++;
			if (k < s->n_old) {
				drop_chan(&s->old[k].bus);
				s->old[k] = s->old[--s->n_old];
			} else if (pid == s->next_pid) {
				bool handing = s->route == s->next_bus;
				s->next_pid = 0;
				if (handing)
					s->route = NULL;
				drop_chan(&s->next_bus);
				if (m->reloading == (int)i) {
					say("the new worker %u %s", i, how);
					reload_abort(m, "the new worker failed to start");
				}
			} else if (pid == s->pid) {
				s->pid = 0;
				if (s->route == s->bus)
					s->route = NULL;
				drop_chan(&s->bus);
				s->quiesced = false;
				if (m->phase == RUNNING) {
					say("worker %u (pid %d) %s; restarting it", i, (int)pid, how);
					if (m->reloading == (int)i)
						reload_abort(m, "the old worker died");
					schedule_restart(m, s);
				} else {
					maybe_flush_all(m);
				}
			} else {
				continue;
			}
			break;
		}
	}
	if (m->phase != RUNNING && !any_alive(m))
		ws_loop_stop(m->loop);
}

static void on_signal(ws_loop *loop, int signo, void *arg)
{
	(void)loop;
	ws_master *m = arg;
	switch (signo) {
	case SIGCHLD:
		reap(m);
		break;
	case SIGUSR1:
		begin_reload(m);
		break;
	default:
		begin_stop(m, signo);
		break;
	}
}

static void flush_buses(ws_loop *loop, void *arg)
{
	(void)loop;
	ws_master *m = arg;
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		ws_bus_chan *chans[2] = {s->bus, s->next_bus};
		for (int k = 0; k < 2; k++)
			if (chans[k])
				ws_bus_chan_flush(chans[k]);
		for (unsigned k = 0; k < s->n_old; k++)
			ws_bus_chan_flush(s->old[k].bus);
		size_t queued = s->route ? s->route->out_bytes : 0;
		ws_stat_set(&m->stats->w[i].master_queue, queued);
		if (s->overflowing && queued < m->cfg.bus_max / 2) {
			s->overflowing = false;
			say("worker %u reads its bus again", i);
		}
	}
}

/* ---- forking ---- */

/* In the child: drop everything of the master's but the shared area and this slot's socket. */
static void become_worker(ws_master *m, slot *me, int bus_fd, int handoff_fd, ws_worker_env *w)
{
	for (unsigned i = 0; i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		if (s != me) {
			close(s->listen_fd);
			if (s->tls_listen_fd >= 0)
				close(s->tls_listen_fd);
		}
		ws_bus_chan *chans[2] = {s->bus, s->next_bus};
		for (int k = 0; k < 2; k++)
			if (chans[k])
				ws_bus_chan_free_forked(chans[k]);
		for (unsigned k = 0; k < s->n_old; k++)
			ws_bus_chan_free_forked(s->old[k].bus);
		ws_free(s->old);
		if (s->handoff_fd >= 0)
			close(s->handoff_fd);
	}
	*w = (ws_worker_env){
	    .index = me->index,
	    .workers = m->cfg.workers,
	    .bus_fd = bus_fd,
	    .listen_fd = me->listen_fd,
	    .tls_listen_fd = me->tls_listen_fd,
	    .handoff_fd = handoff_fd,
	    .stats = m->stats,
	    .bus_max = m->cfg.bus_max,
	};
	ws_loop_free_forked(m->loop);
	ws_free(m->slots);
	ws_free(m->host);
	ws_free(m);
	/* The master coordinates stops and reloads; Ctrl-C reaches the whole process group. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
}

/* Forks a worker (or a successor) for slot s. Returns 1 in the child, 0 in the master,
 * WS_ESYS on failure. */
static int fork_worker(ws_master *m, slot *s, bool successor, ws_worker_env *w)
{
	int bus[2], hand[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, bus) < 0)
		return WS_ESYS;
	if (successor && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hand) < 0) {
		close(bus[0]);
		close(bus[1]);
		return WS_ESYS;
	}
	if (!successor)
		ws_stats_reset(m->stats, s->index);
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(bus[0]);
		if (hand[0] >= 0)
			close(hand[0]);
		become_worker(m, s, bus[1], hand[1], w);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(bus[1]);
	if (hand[1] >= 0)
		close(hand[1]);
	if (pid < 0) {
		close(bus[0]);
		if (hand[0] >= 0)
			close(hand[0]);
		return WS_ESYS;
	}
	ws_bus_chan *ch = ws_bus_chan_new(m->loop, bus[0], m->cfg.bus_max, on_relay, on_chan_eof, m);
	if (successor) {
		s->next_pid = pid;
		s->next_bus = ch;
		s->handoff_fd = hand[0];
	} else {
		s->pid = pid;
		s->bus = ch;
		s->route = ch;
		s->started_ms = now_ms(m);
		s->quiesced = false;
		s->overflowing = false;
	}
	if (!ch) {
		kill(pid, SIGKILL); /* unreachable worker: SIGCHLD restarts or aborts it */
		return 0;
	}
	return 0;
}

/* ---- life ---- */

ws_master *ws_master_new(const ws_master_config *cfg, ws_err *err)
{
	ws_master *m = ws_calloc(1, sizeof(*m));
	if (!m) {
		ws_err_set(err, WS_ENOMEM, 0, "out of memory");
		return NULL;
	}
	m->cfg = *cfg;
	m->reloading = -1;
	m->tls_port = -1;
	size_t hlen = strlen(cfg->host ? cfg->host : "0.0.0.0") + 1;
	m->host = ws_malloc(hlen);
	m->slots = ws_calloc(cfg->workers, sizeof(slot));
	m->stats = ws_stats_new(cfg->workers, cfg->max_connections, true);
	if (!m->host || !m->slots || !m->stats) {
		ws_err_set(err, WS_ENOMEM, 0, "out of memory (or no shared memory) for %u workers",
		           cfg->workers);
		ws_master_free(m);
		return NULL;
	}
	memcpy(m->host, cfg->host ? cfg->host : "0.0.0.0", hlen);
	m->cfg.host = m->host;
	for (unsigned i = 0; i < cfg->workers; i++) {
		m->slots[i].index = i;
		m->slots[i].listen_fd = -1;
		m->slots[i].tls_listen_fd = -1;
		m->slots[i].handoff_fd = -1;
	}
	int port = cfg->port, tls_port = cfg->tls_port;
	for (unsigned i = 0; i < cfg->workers; i++) {
		int fd = ws_net_listen(m->host, port, cfg->backlog, true, err);
		if (fd < 0) {
			ws_master_free(m);
			return NULL;
		}
		m->slots[i].listen_fd = fd;
		if (i == 0)
			port = m->port = ws_net_local_port(fd);
		if (tls_port < 0)
			continue;
		if ((fd = ws_net_listen(m->host, tls_port, cfg->backlog, true, err)) < 0) {
			ws_master_free(m);
			return NULL;
		}
		m->slots[i].tls_listen_fd = fd;
		if (i == 0)
			tls_port = m->tls_port = ws_net_local_port(fd);
	}
	m->loop = ws_loop_new(err);
	if (!m->loop) {
		ws_master_free(m);
		return NULL;
	}
	ws_loop_set_hooks(m->loop, flush_buses, NULL, m);
	return m;
}

int ws_master_port(const ws_master *m)
{
	return m->port;
}

int ws_master_tls_port(const ws_master *m)
{
	return m->tls_port;
}

void ws_master_free(ws_master *m)
{
	if (!m)
		return;
	for (unsigned i = 0; m->slots && i < m->cfg.workers; i++) {
		slot *s = &m->slots[i];
		drop_chan(&s->bus);
		drop_chan(&s->next_bus);
		for (unsigned k = 0; k < s->n_old; k++)
			drop_chan(&s->old[k].bus);
		ws_free(s->old);
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		if (s->tls_listen_fd >= 0)
			close(s->tls_listen_fd);
		if (s->handoff_fd >= 0)
			close(s->handoff_fd);
	}
	if (m->loop)
		ws_loop_free(m->loop);
	ws_stats_free(m->stats);
	ws_free(m->slots);
	ws_free(m->host);
	ws_free(m);
}

static uint64_t served(ws_master *m)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < m->cfg.workers; i++)
		n += ws_stat_get(&m->stats->w[i].next_seq);
	return n;
}

int ws_master_run(ws_master *m, ws_worker_env *child, ws_err *err)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGUSR1};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (ws_loop_signal(m->loop, sigs[i], on_signal, m) < 0)
			return ws_err_set(err, WS_ESYS, errno, "cannot route signal %d: %s", sigs[i],
			                  strerror(errno));
	}
	struct sigaction ign, old_pipe;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	m->started_ms = now_ms(m);
	for (unsigned i = 0; i < m->cfg.workers; i++)
		m->slots[i].want_fork = true;
	if (m->tls_port >= 0)
		say("master %d started %u workers on %s:%d and, with TLS, :%d", (int)getpid(),
		    m->cfg.workers, m->host, m->port, m->tls_port);
	else
		say("master %d started %u workers on %s:%d", (int)getpid(), m->cfg.workers, m->host,
		    m->port);
	for (;;) {
		uint64_t now = now_ms(m), next_fork = 0;
		for (unsigned i = 0; i < m->cfg.workers; i++) {
			slot *s = &m->slots[i];
			int rc = 0;
			if (s->want_successor && m->phase == RUNNING) {
				s->want_successor = false;
				rc = fork_worker(m, s, true, child);
			} else if (s->want_fork && m->phase == RUNNING) {
				if (s->fork_at_ms > now) {
					if (!next_fork || s->fork_at_ms < next_fork)
						next_fork = s->fork_at_ms;
					continue;
				}
				s->want_fork = false;
				rc = fork_worker(m, s, false, child);
				if (rc < 0) {
					say("cannot fork worker %u: %s; retrying", i, strerror(errno));
					s->want_fork = true;
					s->fork_at_ms = now + RESTART_MIN_MS;
				}
			}
			if (rc == 1)
				return 1; /* in the new worker */
		}
		if (m->phase != RUNNING && !any_alive(m))
			break;
		if (next_fork && !m->fork_timer)
			m->fork_timer = ws_loop_timer_start(m->loop, next_fork - now, 0, on_fork_timer, m);
		if (ws_loop_run(m->loop) < 0) {
			ws_err_set(err, WS_ESYS, errno, "the master's loop failed: %s", strerror(errno));
			kill_all(m, SIGKILL);
			break;
		}
	}
	if (m->fork_timer)
		ws_loop_timer_stop(m->loop, m->fork_timer);
	if (m->phase_timer)
		ws_loop_timer_stop(m->loop, m->phase_timer);
	if (m->reload_timer)
		ws_loop_timer_stop(m->loop, m->reload_timer);
	m->fork_timer = m->phase_timer = m->reload_timer = NULL;
	ws_loop_signal_reset(m->loop);
	sigaction(SIGPIPE, &old_pipe, NULL);
	say("stopped after %.1f s; %llu connections served", (double)(now_ms(m) - m->started_ms) / 1000,
	    (unsigned long long)served(m));
	return err && err->code ? err->code : 0;
}
