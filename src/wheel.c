/* wheel.c - see wheel.h. Time is counted in ticks of WS_WHEEL_SLOT_MS; a node due at time d
 * belongs to tick ceil(d / WS_WHEEL_SLOT_MS), the first tick that starts at or after d, and a
 * tick is processed once the loop's time has reached its start, so no node fires early.
 *
 * Two levels. Level 0 has one list per tick for the next 4,096 ticks (65.5 s: the default
 * ping_interval, handshake_timeout and close_timeout, and a one-minute idle_timeout, never
 * leave it). Further deadlines wait in level 1, one list per 4,096 ticks (256 of them: 4.66 h),
 * and move down to level 0, each node once, when the wheel reaches the start of their block.
 * A deadline further still stays in its level-1 list for the rounds before its own (one look
 * every 4.66 h). Each level has a bitmap of the lists that may hold nodes, so the next one to
 * wake up for is found with a few word tests; disarming leaves its bit set, and the search
 * clears bits of lists it finds empty.
 *
 * Lists are doubly linked through the nodes (next, and pprev pointing at whatever points at the
 * node), so unlinking needs no search and no knowledge of the list. Firing a slot moves its
 * list onto the stack first and pops one node at a time, so callbacks can disarm or re-arm
 * anything, including nodes still waiting in that list, and free what they popped. */
#include "wheel.h"
#include "alloc.h"

#define SLOT_SHIFT 4 /* WS_WHEEL_SLOT_MS == 1 << SLOT_SHIFT */
#define L0_BITS    12
#define L0_SLOTS   (1u << L0_BITS)
#define L0_MASK    (L0_SLOTS - 1)
#define L1_BITS    8
#define L1_SLOTS   (1u << L1_BITS)
#define L1_MASK    (L1_SLOTS - 1)
#define NO_TICK    UINT64_MAX

_Static_assert(WS_WHEEL_SLOT_MS == 1 << SLOT_SHIFT, "SLOT_SHIFT must match WS_WHEEL_SLOT_MS");

struct ws_wheel {
	ws_loop *loop;
	ws_timer *timer; /* kept; set for `wakeup` while the wheel holds nodes */
	uint64_t wakeup; /* tick the timer is set for, NO_TICK while unset; never after the next
	                    tick to process */
	ws_wheel_cb cb;
	void *arg;
	uint64_t done; /* every tick up to this one is processed */
	size_t count;
	bool expiring; /* ws_wheel_expire sets the timer when it returns */
	/* Level 0 holds nodes of ticks done+1 .. done+L0_SLOTS, at tick % L0_SLOTS; level 1 those
	 * of later ticks, at (tick / L0_SLOTS) % L1_SLOTS. */
	uint64_t l0_map[L0_SLOTS / 64];
	uint64_t l1_map[L1_SLOTS / 64];
	ws_wheel_node *l0[L0_SLOTS];
	ws_wheel_node *l1[L1_SLOTS];
};

static uint64_t tick_of(uint64_t ms)
{
	return (ms >> SLOT_SHIFT) + ((ms & (WS_WHEEL_SLOT_MS - 1)) != 0);
}

static unsigned lowest_bit(uint64_t x)
{
#if defined(__GNUC__)
	return (unsigned)__builtin_ctzll(x);
#else
	unsigned n = 0;
	while (!(x & 1)) {
		x >>= 1;
		n++;
	}
	return n;
#endif
}

static void link_node(ws_wheel_node **head, ws_wheel_node *n)
{
	n->next = *head;
	if (n->next)
		n->next->pprev = &n->next;
	*head = n;
	n->pprev = head;
}

static void unlink_node(ws_wheel_node *n)
{
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
}

/* Links n into the list of its tick and returns the tick the wheel must wake up at for it:
 * its own (level 0) or the start of its block (level 1). */
static uint64_t place(ws_wheel *w, ws_wheel_node *n)
{
	uint64_t t = tick_of(n->due_ms);
	if (t <= w->done)
		t = w->done + 1;
	if (t - w->done <= L0_SLOTS) {
		size_t s = (size_t)(t & L0_MASK);
		link_node(&w->l0[s], n);
		w->l0_map[s >> 6] |= 1ull << (s & 63);
		return t;
	}
	uint64_t block = t >> L0_BITS;
	size_t s = (size_t)(block & L1_MASK);
	link_node(&w->l1[s], n);
	w->l1_map[s >> 6] |= 1ull << (s & 63);
	return block << L0_BITS;
}

/* The distance from `from` to the first non-empty list at or after it, going round; false when
 * every list is empty. Clears the bits of empty lists it passes. */
static bool scan(uint64_t *map, ws_wheel_node *const *lists, size_t slots, size_t from,
                 size_t *dist)
{
	size_t words = slots / 64, i = from >> 6;
	uint64_t bits = map[i] & (~0ull << (from & 63));
	/* The first word from `from` on, every other word, then the first word below `from`. */
	for (size_t k = 0; k <= words; k++) {
		while (bits) {
			size_t s = (i << 6) | lowest_bit(bits);
			if (lists[s]) {
				*dist = (s - from) & (slots - 1);
				return true;
			}
			map[i] &= ~(1ull << (s & 63));
			bits &= bits - 1;
		}
		i = (i + 1) & (words - 1);
		bits = map[i];
		if (k + 1 == words)
			bits &= (1ull << (from & 63)) - 1;
	}
	return false;
}

/* The first tick after `done` that has nodes to fire or a block to move down. */
static bool next_tick(ws_wheel *w, uint64_t *tick)
{
	uint64_t best = NO_TICK;
	size_t d;
	if (scan(w->l0_map, w->l0, L0_SLOTS, (size_t)((w->done + 1) & L0_MASK), &d))
		best = w->done + 1 + d;
	/* The first block whose start is still to come (a block starting at done+1 included). */
	uint64_t block = (w->done + L0_SLOTS) >> L0_BITS;
	if (scan(w->l1_map, w->l1, L1_SLOTS, (size_t)(block & L1_MASK), &d) &&
	    (block + d) << L0_BITS < best)
		best = (block + d) << L0_BITS;
	*tick = best;
	return best != NO_TICK;
}

static int set_timer(ws_wheel *w, uint64_t tick)
{
	int rc = 0;
	if (w->timer)
		rc = ws_loop_timer_at(w->loop, w->timer, tick << SLOT_SHIFT);
	w->wakeup = rc == 0 ? tick : NO_TICK;
	return rc;
}

static void unset_timer(ws_wheel *w)
{
	if (w->timer && w->wakeup != NO_TICK)
		ws_loop_timer_unset(w->loop, w->timer);
	w->wakeup = NO_TICK;
}

/* Moves the nodes of level-1 list `block` down to level 0 (or back, for a later round). */
static void move_down(ws_wheel *w, uint64_t block)
{
	size_t s = (size_t)(block & L1_MASK);
	ws_wheel_node *list = w->l1[s];
	w->l1[s] = NULL;
	w->l1_map[s >> 6] &= ~(1ull << (s & 63));
	while (list) {
		ws_wheel_node *n = list;
		list = n->next;
		place(w, n);
	}
}

static void fire(ws_wheel *w, size_t s)
{
	ws_wheel_node *list = w->l0[s];
	w->l0[s] = NULL;
	w->l0_map[s >> 6] &= ~(1ull << (s & 63));
	if (!list)
		return;
	/* The list now hangs off `list`: a callback that disarms a node still in it unlinks it
	 * from here. Nodes armed for this slot's next round go into the emptied w->l0[s]. */
	list->pprev = &list;
	while (list) {
		ws_wheel_node *n = list;
		unlink_node(n);
		w->count--;
		w->cb(w, n, w->arg);
	}
}

void ws_wheel_expire(ws_wheel *w, uint64_t now_ms)
{
	uint64_t now = now_ms >> SLOT_SHIFT, t;
	w->expiring = true;
	while (w->count && next_tick(w, &t) && t <= now) {
		if ((t & L0_MASK) == 0) {
			w->done = t - 1;
			move_down(w, t >> L0_BITS);
		}
		w->done = t;
		fire(w, (size_t)(t & L0_MASK));
	}
	if (w->done < now)
		w->done = now;
	w->expiring = false;
	if (w->count && next_tick(w, &t))
		set_timer(w, t);
	else
		unset_timer(w);
}

static void on_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)t;
	ws_wheel *w = arg;
	w->wakeup = NO_TICK; /* the loop made its timer idle */
	ws_wheel_expire(w, ws_loop_now_ms(loop));
}

ws_wheel *ws_wheel_new(ws_loop *loop, ws_wheel_cb cb, void *arg)
{
	ws_wheel *w = ws_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	if (loop && !(w->timer = ws_loop_timer_new(loop, on_timer, w))) {
		ws_free(w);
		return NULL;
	}
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	w->wakeup = NO_TICK;
	w->done = loop ? ws_loop_now_ms(loop) >> SLOT_SHIFT : 0;
	return w;
}

void ws_wheel_free(ws_wheel *w)
{
	if (!w)
		return;
	if (w->timer)
		ws_loop_timer_stop(w->loop, w->timer);
	ws_free(w);
}

int ws_wheel_arm(ws_wheel *w, ws_wheel_node *n, uint64_t due_ms)
{
	if (n->pprev) {
		unlink_node(n);
	} else if (w->count++ == 0 && w->loop) {
		/* Nothing is waiting: the wheel may skip ahead to now, so that a node due within
		 * level 0's span from now lands there. */
		uint64_t now = ws_loop_now_ms(w->loop) >> SLOT_SHIFT;
		if (now > w->done)
			w->done = now;
	}
	n->due_ms = due_ms;
	uint64_t t = place(w, n);
	if (!w->expiring && t < w->wakeup)
		return set_timer(w, t);
	return 0;
}

void ws_wheel_disarm(ws_wheel *w, ws_wheel_node *n)
{
	if (!n->pprev)
		return;
	unlink_node(n);
	/* An emptied slot may still get its wake-up; an emptied wheel gets none. */
	if (--w->count == 0 && !w->expiring)
		unset_timer(w);
}

size_t ws_wheel_count(const ws_wheel *w)
{
	return w->count;
}

uint64_t ws_wheel_wakeup_ms(const ws_wheel *w)
{
	return w->wakeup == NO_TICK ? UINT64_MAX : w->wakeup << SLOT_SHIFT;
}
