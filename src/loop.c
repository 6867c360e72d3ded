/* loop.c - see loop.h. One file, two readiness backends behind the same four static functions
 * (backend_init/add/mod/del/wait): epoll on Linux and poll() elsewhere, or when built with
 * -DWS_LOOP_FORCE_POLL so the fallback is tested on Linux too. Both are level-triggered: a
 * callback that leaves bytes unread is called again next turn, so no event is ever lost.
 * Timers live in a binary min-heap keyed by deadline; each timer knows its heap index, so
 * stopping one is O(log n). A kept timer (ws_loop_timer_new) leaves the heap when it fires or
 * is unset and is pushed back by ws_loop_timer_at; only ws_loop_timer_stop frees it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "loop.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(WS_LOOP_FORCE_POLL)
#define WS_LOOP_EPOLL 1
#include <sys/epoll.h>
#else
#include <poll.h>
#endif

#define MAX_EVENTS 256
#define MAX_SIGNAL 65

struct ws_timer {
	uint64_t deadline_ms;
	uint64_t repeat_ms;
	uint64_t seq; /* ties on deadline fire in start order */
	ws_timer_cb cb;
	void *arg;
	size_t heap_index;
	bool pending; /* in the heap */
	bool kept;    /* made by ws_loop_timer_new: never freed by the loop */
	bool firing;
	bool stopped;
};

typedef struct ws_signal_slot {
	ws_signal_cb cb;
	void *arg;
	bool installed;
	struct sigaction previous;
} ws_signal_slot;

struct ws_loop {
	bool stopping;
	uint64_t now_ms;
	uint64_t timer_seq;
	ws_timer **heap;
	size_t heap_len, heap_cap;
	ws_loop_hook prepare, check;
	void *hook_arg;
	ws_io signal_io;
	int signal_pipe[2];
	ws_signal_slot signals[MAX_SIGNAL];
#ifdef WS_LOOP_EPOLL
	int epfd;
	struct epoll_event events[MAX_EVENTS];
#else
	struct pollfd *pfds;
	ws_io **pios;
	size_t nfds, cap_fds;
#endif
};

/* The signal handler can only reach globals; one loop per process owns the self-pipe. */
static volatile int signal_pipe_w = -1;

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- readiness backends ---- */

#ifdef WS_LOOP_EPOLL

static int backend_init(ws_loop *loop)
{
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? WS_ESYS : 0;
}

static void backend_free(ws_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
}

static uint32_t epoll_mask(unsigned events)
{
	return (events & WS_IO_READ ? EPOLLIN : 0) | (events & WS_IO_WRITE ? EPOLLOUT : 0);
}

static int backend_ctl(ws_loop *loop, int op, ws_io *io)
{
	struct epoll_event ev = {.events = epoll_mask(io->events), .data.ptr = io};
	return epoll_ctl(loop->epfd, op, io->fd, &ev) < 0 ? WS_ESYS : 0;
}

static int backend_add(ws_loop *loop, ws_io *io)
{
	io->slot = 0;
	return backend_ctl(loop, EPOLL_CTL_ADD, io);
}

static int backend_mod(ws_loop *loop, ws_io *io)
{
	return backend_ctl(loop, EPOLL_CTL_MOD, io);
}

static void backend_del(ws_loop *loop, ws_io *io)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

static int backend_wait(ws_loop *loop, int timeout_ms)
{
	int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : WS_ESYS;
	/* The callbacks stamp times (a connection's last read, its deadlines) with the loop's
	 * clock: it must not still say when the wait began, which may be seconds ago. */
	loop->now_ms = monotonic_ms();
	/* Callbacks may stop ios later in this batch; ws_loop_io_stop clears `active`, and the
	 * owners free ios only in the check hook, after this loop, so the pointers stay valid. */
	for (int i = 0; i < n; i++) {
		ws_io *io = loop->events[i].data.ptr;
		uint32_t e = loop->events[i].events;
		unsigned ev = (e & EPOLLIN ? WS_IO_READ : 0) | (e & EPOLLOUT ? WS_IO_WRITE : 0) |
		              (e & (EPOLLERR | EPOLLHUP) ? WS_IO_ERROR : 0);
		if (io->active)
			io->cb(loop, io, ev);
	}
	return 0;
}

#else

static int backend_init(ws_loop *loop)
{
	(void)loop;
	return 0;
}

static void backend_free(ws_loop *loop)
{
	ws_free(loop->pfds);
	ws_free(loop->pios);
}

static short poll_mask(unsigned events)
{
	return (short)((events & WS_IO_READ ? POLLIN : 0) | (events & WS_IO_WRITE ? POLLOUT : 0));
}

static int backend_add(ws_loop *loop, ws_io *io)
{
	if (loop->nfds == loop->cap_fds) {
		size_t cap = loop->cap_fds ? loop->cap_fds * 2 : 64;
		struct pollfd *p = ws_realloc(loop->pfds, cap * sizeof(*p));
		if (!p)
			return WS_ENOMEM;
		loop->pfds = p;
		ws_io **q = ws_realloc(loop->pios, cap * sizeof(*q));
		if (!q)
			return WS_ENOMEM;
		loop->pios = q;
		loop->cap_fds = cap;
	}
	io->slot = (int)loop->nfds++;
	loop->pfds[io->slot] = (struct pollfd){.fd = io->fd, .events = poll_mask(io->events)};
	loop->pios[io->slot] = io;
	return 0;
}

static int backend_mod(ws_loop *loop, ws_io *io)
{
	loop->pfds[io->slot].events = poll_mask(io->events);
	return 0;
}

static void backend_del(ws_loop *loop, ws_io *io)
{
	/* Move the last entry into the hole; backend_wait copes by re-checking `active`. */
	size_t last = --loop->nfds;
	if ((size_t)io->slot != last) {
		loop->pfds[io->slot] = loop->pfds[last];
		loop->pios[io->slot] = loop->pios[last];
		loop->pios[io->slot]->slot = io->slot;
	}
}

static int backend_wait(ws_loop *loop, int timeout_ms)
{
	int n = poll(loop->pfds, (nfds_t)loop->nfds, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : WS_ESYS;
	loop->now_ms = monotonic_ms(); /* see the epoll backend */
	/* Walk a snapshot of the ready ios: callbacks reorder the arrays when they stop ios. */
	size_t count = loop->nfds, ready = 0;
	ws_io **batch = ws_malloc(count * sizeof(*batch));
	unsigned *evs = ws_malloc(count * sizeof(*evs));
	if (!batch || !evs) {
		ws_free(batch);
		ws_free(evs);
		return WS_ENOMEM;
	}
	for (size_t i = 0; i < count && n > 0; i++) {
		short r = loop->pfds[i].revents;
		if (!r)
			continue;
		n--;
		batch[ready] = loop->pios[i];
		evs[ready++] = (r & POLLIN ? WS_IO_READ : 0) | (r & POLLOUT ? WS_IO_WRITE : 0) |
		               (r & (POLLERR | POLLHUP | POLLNVAL) ? WS_IO_ERROR : 0);
	}
	for (size_t i = 0; i < ready; i++)
		if (batch[i]->active)
			batch[i]->cb(loop, batch[i], evs[i]);
	ws_free(batch);
	ws_free(evs);
	return 0;
}

#endif

const char *ws_loop_backend(void)
{
#ifdef WS_LOOP_EPOLL
	return "epoll";
#else
	return "poll";
#endif
}

/* ---- ios ---- */

int ws_loop_io_start(ws_loop *loop, ws_io *io, int fd, unsigned events, ws_io_cb cb)
{
	io->fd = fd;
	io->events = events & (WS_IO_READ | WS_IO_WRITE);
	io->cb = cb;
	int rc = backend_add(loop, io);
	if (rc < 0) {
		io->slot = -1;
		io->active = false;
		return rc;
	}
	io->active = true;
	return 0;
}

int ws_loop_io_set(ws_loop *loop, ws_io *io, unsigned events)
{
	events &= WS_IO_READ | WS_IO_WRITE;
	if (!io->active || io->events == events)
		return 0;
	io->events = events;
	return backend_mod(loop, io);
}

void ws_loop_io_stop(ws_loop *loop, ws_io *io)
{
	if (!io->active)
		return;
	backend_del(loop, io);
	io->active = false;
	io->slot = -1;
}

/* ---- timers ---- */

static bool timer_before(const ws_timer *a, const ws_timer *b)
{
	return a->deadline_ms < b->deadline_ms || (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void heap_set(ws_loop *loop, size_t i, ws_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(ws_loop *loop, size_t i)
{
	ws_timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(ws_loop *loop, size_t i)
{
	ws_timer *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len && timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

static int heap_push(ws_loop *loop, ws_timer *t)
{
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		ws_timer **h = ws_realloc(loop->heap, cap * sizeof(*h));
		if (!h)
			return WS_ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	t->seq = loop->timer_seq++;
	t->pending = true;
	heap_set(loop, loop->heap_len++, t);
	heap_up(loop, t->heap_index);
	return 0;
}

static void heap_remove(ws_loop *loop, ws_timer *t)
{
	size_t i = t->heap_index;
	t->pending = false;
	ws_timer *last = loop->heap[--loop->heap_len];
	if (i == loop->heap_len)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index);
}

ws_timer *ws_loop_timer_start(ws_loop *loop, uint64_t delay_ms, uint64_t repeat_ms, ws_timer_cb cb,
                              void *arg)
{
	ws_timer *t = ws_calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->deadline_ms = monotonic_ms() + delay_ms;
	t->repeat_ms = repeat_ms;
	t->cb = cb;
	t->arg = arg;
	if (heap_push(loop, t) < 0) {
		ws_free(t);
		return NULL;
	}
	return t;
}

void ws_loop_timer_stop(ws_loop *loop, ws_timer *t)
{
	if (t->firing) {
		t->stopped = true; /* run_timers frees it when the callback returns */
		return;
	}
	if (t->pending)
		heap_remove(loop, t);
	ws_free(t);
}

ws_timer *ws_loop_timer_new(ws_loop *loop, ws_timer_cb cb, void *arg)
{
	(void)loop;
	ws_timer *t = ws_calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	t->kept = true;
	return t;
}

int ws_loop_timer_at(ws_loop *loop, ws_timer *t, uint64_t at_ms)
{
	/* Out and back in: the heap keeps its length, so only an idle timer can need room. */
	if (t->pending)
		heap_remove(loop, t);
	/* From its own callback, a time already reached would fire again in the same round. */
	if (t->firing && at_ms <= loop->now_ms)
		at_ms = loop->now_ms + 1;
	t->deadline_ms = at_ms;
	return heap_push(loop, t);
}

void ws_loop_timer_unset(ws_loop *loop, ws_timer *t)
{
	if (t->pending)
		heap_remove(loop, t);
}

static void run_timers(ws_loop *loop)
{
	loop->now_ms = monotonic_ms();
	while (loop->heap_len && loop->heap[0]->deadline_ms <= loop->now_ms) {
		ws_timer *t = loop->heap[0];
		heap_remove(loop, t);
		t->firing = true;
		t->cb(loop, t, t->arg);
		t->firing = false;
		if (t->stopped || (!t->repeat_ms && !t->kept)) {
			ws_free(t);
			continue;
		}
		if (t->kept)
			continue; /* idle, or scheduled again by its callback */
		/* Keep the period without drifting, but never schedule into the past: a timer that
		 * fell behind fires once now rather than once per missed period. */
		t->deadline_ms += t->repeat_ms;
		if (t->deadline_ms < loop->now_ms)
			t->deadline_ms = loop->now_ms + t->repeat_ms;
		if (heap_push(loop, t) < 0)
			ws_free(t);
	}
}

uint64_t ws_loop_now_ms(const ws_loop *loop)
{
	return loop->now_ms;
}

void ws_loop_update_now(ws_loop *loop)
{
	loop->now_ms = monotonic_ms();
}

/* ---- signals ---- */

static void signal_handler(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	if (signal_pipe_w >= 0 && write(signal_pipe_w, &b, 1) < 0) {
		/* A full pipe already holds a pending wake-up; nothing to do. */
	}
	errno = saved;
}

static void signal_read(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)events;
	unsigned char sigs[64];
	ssize_t n;
	while ((n = read(io->fd, sigs, sizeof(sigs))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			ws_signal_slot *s = &loop->signals[sigs[i] % MAX_SIGNAL];
			if (s->installed && s->cb)
				s->cb(loop, sigs[i], s->arg);
		}
	}
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int ws_loop_signal(ws_loop *loop, int signo, ws_signal_cb cb, void *arg)
{
	if (signo <= 0 || signo >= MAX_SIGNAL)
		return WS_EINVAL;
	if (loop->signal_pipe[0] < 0) {
		if (pipe(loop->signal_pipe) < 0)
			return WS_ESYS;
		set_nonblock_cloexec(loop->signal_pipe[0]);
		set_nonblock_cloexec(loop->signal_pipe[1]);
		if (ws_loop_io_start(loop, &loop->signal_io, loop->signal_pipe[0], WS_IO_READ,
		                     signal_read) < 0)
			return WS_ESYS;
		signal_pipe_w = loop->signal_pipe[1];
	}
	ws_signal_slot *s = &loop->signals[signo];
	s->cb = cb;
	s->arg = arg;
	if (!s->installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = signal_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (sigaction(signo, &sa, &s->previous) < 0)
			return WS_ESYS;
		s->installed = true;
	}
	return 0;
}

void ws_loop_signal_reset(ws_loop *loop)
{
	for (int i = 0; i < MAX_SIGNAL; i++) {
		if (loop->signals[i].installed) {
			sigaction(i, &loop->signals[i].previous, NULL);
			loop->signals[i].installed = false;
		}
	}
}

/* ---- the loop ---- */

ws_loop *ws_loop_new(ws_err *err)
{
	ws_loop *loop = ws_calloc(1, sizeof(*loop));
	if (!loop) {
		ws_err_set(err, WS_ENOMEM, 0, "out of memory creating the event loop");
		return NULL;
	}
	loop->signal_pipe[0] = loop->signal_pipe[1] = -1;
	loop->signal_io.slot = -1;
	if (backend_init(loop) < 0) {
		ws_err_set(err, WS_ESYS, errno, "cannot create the %s instance: %s", ws_loop_backend(),
		           strerror(errno));
		ws_free(loop);
		return NULL;
	}
	loop->now_ms = monotonic_ms();
	return loop;
}

/* Frees the loop; ws_loop_free and ws_loop_free_forked differ only in `forked`. A child after
 * fork() shares the epoll set and its registrations with its parent: it must not unregister
 * the signal pipe from it, and since it has no loop of its own yet, the signal handler's pipe
 * is forgotten unconditionally. Otherwise it is forgotten only when it is this loop's. */
static void loop_teardown(ws_loop *loop, bool forked)
{
	if (!loop)
		return;
	ws_loop_signal_reset(loop);
	if (!forked)
		ws_loop_io_stop(loop, &loop->signal_io);
	if (forked || signal_pipe_w == loop->signal_pipe[1])
		signal_pipe_w = -1;
	if (loop->signal_pipe[0] >= 0) {
		close(loop->signal_pipe[0]);
		close(loop->signal_pipe[1]);
	}
	for (size_t i = 0; i < loop->heap_len; i++)
		if (!loop->heap[i]->kept)
			ws_free(loop->heap[i]);
	ws_free(loop->heap);
	backend_free(loop);
	ws_free(loop);
}

void ws_loop_free(ws_loop *loop)
{
	loop_teardown(loop, false);
}

int ws_loop_fork_reset(ws_loop *loop)
{
	backend_free(loop);
	return backend_init(loop);
}

void ws_loop_free_forked(ws_loop *loop)
{
	loop_teardown(loop, true);
}

void ws_loop_set_hooks(ws_loop *loop, ws_loop_hook prepare, ws_loop_hook check, void *arg)
{
	loop->prepare = prepare;
	loop->check = check;
	loop->hook_arg = arg;
}

void ws_loop_stop(ws_loop *loop)
{
	loop->stopping = true;
}

static int next_timeout_ms(ws_loop *loop)
{
	if (!loop->heap_len)
		return -1;
	uint64_t now = monotonic_ms(), at = loop->heap[0]->deadline_ms;
	if (at <= now)
		return 0;
	uint64_t d = at - now;
	return d > 60000 ? 60000 : (int)d;
}

int ws_loop_run(ws_loop *loop)
{
	loop->stopping = false;
	loop->now_ms = monotonic_ms(); /* the loop may have been made long before it runs */
	while (!loop->stopping) {
		if (loop->prepare)
			loop->prepare(loop, loop->hook_arg);
		if (loop->stopping)
			break;
		int rc = backend_wait(loop, next_timeout_ms(loop));
		if (rc < 0)
			return rc;
		loop->now_ms = monotonic_ms();
		run_timers(loop);
		if (loop->check)
			loop->check(loop, loop->hook_arg);
	}
	if (loop->check)
		loop->check(loop, loop->hook_arg);
	return 0;
}
