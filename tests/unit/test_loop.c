/* test_loop.c - the event loop: timer order and cancellation (also from inside a callback),
 * repeating timers, kept timers (re-set, unset, set again from their own callback), readiness
 * of a pipe, the loop's time as io callbacks see it, stopping an io so that it gets no further
 * callback in the same turn, signals routed through the self-pipe, and the prepare/check hooks.
 * test_loop_poll.c builds the same tests against the poll() backend. */
#include "unit.h"

#include "loop.h"

#include <signal.h>
#include <sys/wait.h>

static char order[64];
static size_t order_len;
static ws_loop *loop;

static void record(ws_loop *l, ws_timer *t, void *arg)
{
	(void)l;
	(void)t;
	order[order_len++] = *(const char *)arg;
	if (order_len == 4)
		ws_loop_stop(l);
}

static void test_timer_order(void)
{
	ws_err err;
	loop = ws_loop_new(&err);
	UNIT_CHECK(loop != NULL, "%s", err.msg);
	order_len = 0;
	static const char a = 'a', b = 'b', c = 'c', d = 'd', x = 'x';
	ws_loop_timer_start(loop, 30, 0, record, (void *)&c);
	ws_loop_timer_start(loop, 10, 0, record, (void *)&a);
	ws_timer *cancelled = ws_loop_timer_start(loop, 5, 0, record, (void *)&x);
	ws_loop_timer_start(loop, 10, 0, record, (void *)&b); /* same deadline: start order */
	ws_loop_timer_start(loop, 40, 0, record, (void *)&d);
	ws_loop_timer_stop(loop, cancelled);
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	order[order_len] = '\0';
	UNIT_CHECK(strcmp(order, "abcd") == 0, "order %s", order);
	ws_loop_free(loop);
}

static int repeats;

static void repeat_cb(ws_loop *l, ws_timer *t, void *arg)
{
	(void)arg;
	if (++repeats == 3) {
		ws_loop_timer_stop(l, t); /* from inside its own callback */
		ws_loop_timer_start(l, 20, 0, record, (void *)"z");
	}
}

static void test_repeat_and_stop_inside(void)
{
	ws_err err;
	loop = ws_loop_new(&err);
	repeats = 0;
	order_len = 3; /* record() stops the loop at the 4th entry */
	ws_loop_timer_start(loop, 1, 2, repeat_cb, NULL);
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	UNIT_CHECK(repeats == 3, "repeats %d", repeats);
	UNIT_CHECK(order[3] == 'z', "got %c", order[3]);
	ws_loop_free(loop);
}

static int kept_fires;
static uint64_t kept_at[4];

static void kept_cb(ws_loop *l, ws_timer *t, void *arg)
{
	(void)arg;
	kept_at[kept_fires++ & 3] = ws_loop_now_ms(l);
	if (kept_fires == 2)
		ws_loop_timer_at(l, t, ws_loop_now_ms(l) + 20); /* again, from its own callback */
	if (kept_fires == 3)
		ws_loop_stop(l);
}

static void test_kept_timer(void)
{
	ws_err err;
	loop = ws_loop_new(&err);
	kept_fires = 0;
	ws_timer *t = ws_loop_timer_new(loop, kept_cb, NULL);
	ws_timer *idle = ws_loop_timer_new(loop, kept_cb, NULL);
	UNIT_CHECK(t && idle, "new");
	uint64_t t0 = ws_loop_now_ms(loop);
	UNIT_CHECK(ws_loop_timer_at(loop, t, t0 + 200) == 0, "at");
	UNIT_CHECK(ws_loop_timer_at(loop, t, t0 + 30) == 0, "earlier"); /* replaces the first */
	ws_loop_timer_at(loop, idle, t0 + 10);
	ws_loop_timer_unset(loop, idle); /* never fires */
	ws_loop_timer_unset(loop, idle);
	ws_timer *stopper = ws_loop_timer_start(loop, 100, 0, record, (void *)"s");
	order_len = 3; /* record() stops the loop */
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	UNIT_CHECK(kept_fires == 1 && kept_at[0] >= t0 + 30, "fired %d times, at +%lld", kept_fires,
	           (long long)(kept_at[0] - t0));
	/* Fired, it is idle but still there: set it again; its callback sets it once more. */
	UNIT_CHECK(ws_loop_timer_at(loop, t, ws_loop_now_ms(loop) + 10) == 0, "at again");
	UNIT_CHECK(ws_loop_run(loop) == 0, "run again");
	UNIT_CHECK(kept_fires == 3 && kept_at[2] >= kept_at[1] + 20, "fired %d times", kept_fires);
	(void)stopper;
	ws_loop_timer_stop(loop, t);
	ws_loop_timer_stop(loop, idle);
	ws_loop_free(loop);
}

static uint64_t seen_now;

static void on_late_byte(ws_loop *l, ws_io *io, unsigned events)
{
	(void)events;
	char b;
	if (read(io->fd, &b, 1) != 1)
		UNIT_CHECK(0, "read");
	seen_now = ws_loop_now_ms(l);
	ws_loop_stop(l);
}

static void test_now_after_wait(void)
{
	/* A byte that arrives 80 ms into the wait: its callback sees the loop's time as of then,
	 * not as of the start of the wait (deadlines set there count from it). */
	ws_err err;
	int p[2];
	loop = ws_loop_new(&err);
	UNIT_CHECK(pipe(p) == 0, "pipe");
	ws_io io = {.slot = -1};
	UNIT_CHECK(ws_loop_io_start(loop, &io, p[0], WS_IO_READ, on_late_byte) == 0, "start");
	pid_t pid = fork();
	if (pid == 0) {
		usleep(80 * 1000);
		_exit(write(p[1], "x", 1) == 1 ? 0 : 1);
	}
	ws_loop_update_now(loop);
	uint64_t t0 = ws_loop_now_ms(loop);
	seen_now = 0;
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	waitpid(pid, NULL, 0);
	UNIT_CHECK(seen_now >= t0 + 70, "io callback saw +%lld ms", (long long)(seen_now - t0));
	ws_loop_io_stop(loop, &io);
	close(p[0]);
	close(p[1]);
	ws_loop_free(loop);
}

typedef struct pipe_io {
	ws_io io;
	int calls;
	struct pipe_io *other; /* stopped by our callback */
} pipe_io;

static void on_readable(ws_loop *l, ws_io *io, unsigned events)
{
	pipe_io *p = (pipe_io *)io;
	char buf[16];
	UNIT_CHECK(events & WS_IO_READ, "events %u", events);
	p->calls++;
	if (read(io->fd, buf, sizeof(buf)) < 0)
		UNIT_CHECK(0, "read");
	if (p->other)
		ws_loop_io_stop(l, &p->other->io);
	ws_loop_stop(l);
}

static void test_io_stop_in_same_turn(void)
{
	ws_err err;
	int a[2], b[2];
	loop = ws_loop_new(&err);
	UNIT_CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe");
	pipe_io pa = {.io = {.slot = -1}}, pb = {.io = {.slot = -1}};
	pa.other = &pb;
	pb.other = &pa;
	UNIT_CHECK(ws_loop_io_start(loop, &pa.io, a[0], WS_IO_READ, on_readable) == 0, "start a");
	UNIT_CHECK(ws_loop_io_start(loop, &pb.io, b[0], WS_IO_READ, on_readable) == 0, "start b");
	/* Both are ready in the same turn; whichever runs first stops the other. */
	UNIT_CHECK(write(a[1], "x", 1) == 1 && write(b[1], "y", 1) == 1, "write");
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	UNIT_CHECK(pa.calls + pb.calls == 1, "calls %d + %d", pa.calls, pb.calls);
	ws_loop_io_stop(loop, &pa.io);
	ws_loop_io_stop(loop, &pb.io);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	ws_loop_free(loop);
}

static int signalled, prepared, checked;

static void on_signal(ws_loop *l, int signo, void *arg)
{
	(void)arg;
	signalled = signo;
	ws_loop_stop(l);
}

static void raise_usr2(ws_loop *l, ws_timer *t, void *arg)
{
	(void)l;
	(void)t;
	(void)arg;
	raise(SIGUSR2);
}

static void on_prepare(ws_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	prepared++;
}

static void on_check(ws_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	checked++;
}

static void test_signal_and_hooks(void)
{
	ws_err err;
	loop = ws_loop_new(&err);
	signalled = prepared = checked = 0;
	ws_loop_set_hooks(loop, on_prepare, on_check, NULL);
	UNIT_CHECK(ws_loop_signal(loop, SIGUSR2, on_signal, NULL) == 0, "signal");
	ws_loop_timer_start(loop, 5, 0, raise_usr2, NULL);
	UNIT_CHECK(ws_loop_run(loop) == 0, "run");
	UNIT_CHECK(signalled == SIGUSR2, "signalled %d", signalled);
	UNIT_CHECK(prepared >= 1 && checked >= 1, "prepare %d check %d", prepared, checked);
	ws_loop_free(loop);
	/* ws_loop_free restored the disposition that was there before ws_loop_signal. */
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	UNIT_CHECK(sa.sa_handler == SIG_DFL, "handler restored");
}

static const CU_TestInfo tests[] = {
    {"timers fire by deadline, then start order", test_timer_order},
    {"repeating timer stopped inside its callback", test_repeat_and_stop_inside},
    {"kept timer: re-set, unset, set from its callback", test_kept_timer},
    {"io callbacks see the time after the wait", test_now_after_wait},
    {"an io stopped in a turn gets no callback", test_io_stop_in_same_turn},
    {"signals and hooks", test_signal_and_hooks},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	printf("backend: %s\n", ws_loop_backend());
	return unit_main("loop", tests);
}
