/* loop.h - the event loop: readiness of file descriptors (epoll on Linux, poll() elsewhere),
 * one-shot, repeating and kept timers on a monotonic clock, signals turned into ordinary events
 * through a self-pipe, and two hooks per turn: `prepare` runs just before the loop waits (the
 * server flushes queued writes there) and `check` runs after every callback of the turn has
 * returned (the server frees closed connections there).
 * Single-threaded. Callbacks may add or stop any io or timer, including their own. */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define WS_IO_READ  1u
#define WS_IO_WRITE 2u
#define WS_IO_ERROR 4u /* reported, never requested: hang-up or socket error */

typedef struct ws_loop ws_loop;
typedef struct ws_io ws_io;
typedef struct ws_timer ws_timer;

typedef void (*ws_io_cb)(ws_loop *loop, ws_io *io, unsigned events);
typedef void (*ws_timer_cb)(ws_loop *loop, ws_timer *t, void *arg);
typedef void (*ws_loop_hook)(ws_loop *loop, void *arg);
typedef void (*ws_signal_cb)(ws_loop *loop, int signo, void *arg);

/* Embedded by its owner (a connection, a listener); the loop only borrows it. */
struct ws_io {
	int fd;
	unsigned events; /* currently requested WS_IO_READ | WS_IO_WRITE */
	ws_io_cb cb;
	int slot;    /* private: -1 when not started; index in the poll backend */
	bool active; /* private */
};

/* Creates a loop. Returns NULL and fills err on failure. */
ws_loop *ws_loop_new(ws_err *err);

/* Frees the loop and every timer of ws_loop_timer_start still pending; restores signal
 * dispositions. Ios (and kept timers) are owned by their embedders: stopped before this. */
void ws_loop_free(ws_loop *loop);

/* In a child process after fork(), for a loop that watches nothing yet (timers are kept):
 * gives it a readiness set of its own instead of the one shared with the parent. Returns 0
 * or WS_ESYS. */
int ws_loop_fork_reset(ws_loop *loop);

/* In a child process after fork(): frees the parent's loop without touching what the two
 * processes share (the epoll set, registrations); restores signal dispositions. The
 * descriptors of its ios are the caller's to close. */
void ws_loop_free_forked(ws_loop *loop);

/* Starts watching fd for `events`. io is borrowed until ws_loop_io_stop. Returns 0 or WS_ESYS. */
int ws_loop_io_start(ws_loop *loop, ws_io *io, int fd, unsigned events, ws_io_cb cb);

/* Changes the watched events (0 is allowed: the io stays registered but silent). */
int ws_loop_io_set(ws_loop *loop, ws_io *io, unsigned events);

/* Stops watching; no callback for io is made after this returns, even in the current turn.
 * Does not close the fd. Safe on an io that was never started. */
void ws_loop_io_stop(ws_loop *loop, ws_io *io);

/* Starts a timer firing after delay_ms, then every repeat_ms if repeat_ms > 0. Returns the
 * timer (owned by the loop until it fires for the last time or is stopped) or NULL. */
ws_timer *ws_loop_timer_start(ws_loop *loop, uint64_t delay_ms, uint64_t repeat_ms, ws_timer_cb cb,
                              void *arg);

/* Stops and frees a timer. Must not be called for a one-shot timer of ws_loop_timer_start that
 * has already fired (the loop freed it then), except from inside its own callback. */
void ws_loop_timer_stop(ws_loop *loop, ws_timer *t);

/* A kept timer: made idle, scheduled and unscheduled any number of times without an
 * allocation, and freed only by ws_loop_timer_stop (also before ws_loop_free: the loop never
 * frees it). Firing makes it idle before its callback runs. Returns NULL when out of memory. */
ws_timer *ws_loop_timer_new(ws_loop *loop, ws_timer_cb cb, void *arg);

/* Schedules kept timer t to fire once, in the first turn whose time (ws_loop_now_ms) is at or
 * past at_ms; replaces an earlier schedule. Allowed from t's own callback (then at
 * least 1 ms after the current time). Returns 0, or WS_ENOMEM when t was idle and the loop
 * could not make room for it (t stays idle). */
int ws_loop_timer_at(ws_loop *loop, ws_timer *t, uint64_t at_ms);

/* Makes kept timer t idle; nothing when it is. */
void ws_loop_timer_unset(ws_loop *loop, ws_timer *t);

/* Milliseconds on the monotonic clock, as of the end of the current turn's wait: read again
 * before the turn's timers run. */
uint64_t ws_loop_now_ms(const ws_loop *loop);

/* Reads the clock into ws_loop_now_ms, for work done outside the loop's turns (before it
 * runs); ws_loop_run does it as it starts and after each wait. */
void ws_loop_update_now(ws_loop *loop);

/* Sets the hooks run before each wait and after each turn's callbacks. */
void ws_loop_set_hooks(ws_loop *loop, ws_loop_hook prepare, ws_loop_hook check, void *arg);

/* Routes a signal to cb, called from the loop (never from the signal handler). The previous
 * disposition is restored by ws_loop_signal_reset or ws_loop_free. Returns 0 or WS_ESYS. */
int ws_loop_signal(ws_loop *loop, int signo, ws_signal_cb cb, void *arg);

/* Restores the disposition of every signal routed with ws_loop_signal. */
void ws_loop_signal_reset(ws_loop *loop);

/* Runs turns until ws_loop_stop is called. Returns 0, or WS_ESYS if waiting failed. */
int ws_loop_run(ws_loop *loop);

/* Makes ws_loop_run return after the current turn. */
void ws_loop_stop(ws_loop *loop);

/* Name of the readiness backend ("epoll" or "poll"), for phpinfo(). */
const char *ws_loop_backend(void);

#endif
