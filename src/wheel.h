/* wheel.h - a hashed timing wheel: one deadline per connection (handshake, close, linger,
 * keep-alive) for tens of thousands of connections, each armed, re-armed and disarmed in O(1)
 * with no allocation, all driven by one loop timer that is set only for the next slot holding
 * a deadline (no periodic wake-up; no timer at all while the wheel is empty).
 *
 * A node is embedded in its owner and armed for an absolute time on the loop's clock
 * (ws_loop_now_ms). It never fires before that time, and at most one slot (WS_WHEEL_SLOT_MS)
 * after it, plus whatever the loop itself is late by. Nodes of different slots fire in the
 * order of their slots; nodes of one slot in no particular order.
 *
 * The callback receives its node already disarmed. It may arm or disarm any node (its own,
 * others of the same slot) and may free the node's owner. An owner must disarm its node before
 * freeing it otherwise. Single-threaded, like the loop. */
#ifndef WS_WHEEL_H
#define WS_WHEEL_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The width of a slot. The deadlines kept here are seconds long (handshake 10 s, close 5 s,
 * linger 2 s, keep-alive 30 s by default) and set with millisecond resolution: 16 ms is under
 * 1% of the shortest default, and deadlines spread thinly over time wake the loop at most 62
 * times a second (8 ms would double that for no visible gain). A power of two, so that the slot
 * of a time is a shift. */
#define WS_WHEEL_SLOT_MS 16

typedef struct ws_wheel ws_wheel;
typedef struct ws_wheel_node ws_wheel_node;

/* Called for each node whose time has come; arg is ws_wheel_new's. */
typedef void (*ws_wheel_cb)(ws_wheel *w, ws_wheel_node *n, void *arg);

/* Embedded by its owner; zero-initialised is disarmed. Private but for due_ms, which keeps the
 * time the node was last armed for, also after it fired. */
struct ws_wheel_node {
	ws_wheel_node *next;
	ws_wheel_node **pprev; /* what points at this node; NULL while disarmed */
	uint64_t due_ms;
};

/* Creates a wheel whose nodes all report to cb. With a loop, the wheel keeps one of its timers
 * (ws_loop_timer_new) and fires nodes from it; with NULL, nothing fires but through
 * ws_wheel_expire (for tests). Returns NULL when out of memory. */
ws_wheel *ws_wheel_new(ws_loop *loop, ws_wheel_cb cb, void *arg);

/* Frees the wheel and its loop timer (before the loop is freed). Nodes still armed are
 * forgotten: their owners must not arm or disarm them again. */
void ws_wheel_free(ws_wheel *w);

/* Arms n (borrowed until it fires or is disarmed) for due_ms, moving it if it is armed already;
 * a time already past fires in the next slot. Returns 0, or WS_ENOMEM when the loop timer
 * could not be set: n is armed nevertheless and fires once a later arm sets it. */
int ws_wheel_arm(ws_wheel *w, ws_wheel_node *n, uint64_t due_ms);

/* Disarms n; nothing when it is not armed. */
void ws_wheel_disarm(ws_wheel *w, ws_wheel_node *n);

static inline bool ws_wheel_armed(const ws_wheel_node *n)
{
	return n->pprev != NULL;
}

/* Fires every node due at now_ms (the slots that have ended by then), then sets the loop timer
 * for the next slot holding a node, or leaves it unset. The loop timer calls this with the
 * loop's time. May call back. */
void ws_wheel_expire(ws_wheel *w, uint64_t now_ms);

/* Armed nodes. */
size_t ws_wheel_count(const ws_wheel *w);

/* The time the loop timer is set for, or UINT64_MAX while it is not set. */
uint64_t ws_wheel_wakeup_ms(const ws_wheel *w);

#endif
