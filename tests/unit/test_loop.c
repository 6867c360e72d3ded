/* test_loop.c - the event loop: timer order and cancellation (also from inside a callback),
 * repeating timers, readiness of a pipe, stopping an io so that it gets no further callback in
 * the same turn, signals routed through the self-pipe, and the prepare/check hooks.
 * test_loop_poll.c builds the same tests against the poll() backend. */
#include "unit.h"

#include "loop.h"

#include <signal.h>

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
    {"an io stopped in a turn gets no callback", test_io_stop_in_same_turn},
    {"signals and hooks", test_signal_and_hooks},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	printf("backend: %s\n", ws_loop_backend());
	return unit_main("loop", tests);
}
