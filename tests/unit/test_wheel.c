/* test_wheel.c - the timing wheel: arm, disarm and re-arm; firing in slot order, never before
 * the due time and at most one slot after it, for deadlines up to days away; callbacks that
 * disarm a sibling of their slot or free their node's owner; one loop timer, set only while a
 * node waits and only for the next slot that holds one; 100,000 nodes.
 * Most cases drive the wheel by hand (a wheel without a loop, ws_wheel_expire with made-up
 * times), which makes hours pass in microseconds; the rest run on a real loop. */
#include "unit.h"

#include "alloc.h"
#include "loop.h"
#include "wheel.h"

#include <time.h>

#define SLOT WS_WHEEL_SLOT_MS
#define HOUR (3600ull * 1000)

typedef struct item {
	ws_wheel_node node; /* first: the callback casts back */
	int id;
	int fired;
	uint64_t fired_at;
	uint64_t fired_due;  /* node.due_ms at the firing */
	struct item *victim; /* disarmed (and with free_victim freed) by this item's callback */
	bool free_self;
	bool free_victim;
	bool rearm_victim; /* arms the victim for `now` instead */
} item;

static uint64_t clock_now; /* the made-up time passed to ws_wheel_expire */
static int order[64];
static size_t order_len; /* callbacks recorded in order[], at most 64 */
static size_t fires;     /* every callback */

static void on_fire(ws_wheel *w, ws_wheel_node *n, void *arg)
{
	(void)arg;
	item *it = (item *)n;
	UNIT_CHECK(!ws_wheel_armed(n), "item %d fired armed", it->id);
	it->fired++;
	fires++;
	it->fired_at = clock_now;
	it->fired_due = n->due_ms;
	if (order_len < 64)
		order[order_len++] = it->id;
	if (it->victim) {
		if (it->rearm_victim) {
			ws_wheel_arm(w, &it->victim->node, clock_now);
		} else {
			ws_wheel_disarm(w, &it->victim->node);
			if (it->free_victim)
				ws_free(it->victim);
		}
	}
	if (it->free_self)
		ws_free(it);
}

/* Advances the made-up clock to `to` one millisecond at a time. */
static void step_to(ws_wheel *w, uint64_t to)
{
	while (clock_now < to) {
		clock_now++;
		ws_wheel_expire(w, clock_now);
	}
}

static ws_wheel *manual_wheel(uint64_t start)
{
	ws_wheel *w = ws_wheel_new(NULL, on_fire, NULL);
	UNIT_CHECK(w != NULL, "new");
	clock_now = start;
	ws_wheel_expire(w, clock_now);
	order_len = 0;
	return w;
}

static void test_arm_disarm_rearm(void)
{
	ws_wheel *w = manual_wheel(1000);
	item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
	UNIT_CHECK(!ws_wheel_armed(&a.node), "zeroed node is disarmed");
	UNIT_CHECK(ws_wheel_arm(w, &a.node, 1100) == 0, "arm a");
	UNIT_CHECK(ws_wheel_arm(w, &b.node, 1200) == 0, "arm b");
	UNIT_CHECK(ws_wheel_arm(w, &c.node, 1300) == 0, "arm c");
	UNIT_CHECK(ws_wheel_count(w) == 3, "count %zu", ws_wheel_count(w));
	ws_wheel_disarm(w, &b.node);
	ws_wheel_disarm(w, &b.node); /* twice is harmless */
	UNIT_CHECK(!ws_wheel_armed(&b.node) && ws_wheel_count(w) == 2, "count %zu", ws_wheel_count(w));
	ws_wheel_arm(w, &c.node, 1050); /* re-armed earlier: moved, not added */
	ws_wheel_arm(w, &a.node, 1500); /* and later */
	UNIT_CHECK(ws_wheel_count(w) == 2, "count after re-arms %zu", ws_wheel_count(w));
	UNIT_CHECK(ws_wheel_wakeup_ms(w) <= 1050 + SLOT, "wakeup %llu",
	           (unsigned long long)ws_wheel_wakeup_ms(w));
	step_to(w, 2000);
	UNIT_CHECK(a.fired == 1 && b.fired == 0 && c.fired == 1, "fired a %d b %d c %d", a.fired,
	           b.fired, c.fired);
	UNIT_CHECK(c.fired_at >= 1050 && c.fired_at < 1050 + SLOT, "c at %llu",
	           (unsigned long long)c.fired_at);
	UNIT_CHECK(a.fired_at >= 1500 && a.fired_at < 1500 + SLOT, "a at %llu",
	           (unsigned long long)a.fired_at);
	UNIT_CHECK(order_len == 2 && order[0] == 3 && order[1] == 1, "order %d %d", order[0], order[1]);
	UNIT_CHECK(ws_wheel_count(w) == 0 && ws_wheel_wakeup_ms(w) == UINT64_MAX, "empty");
	/* A fired node can be armed again; a time already past fires in the next slot. */
	ws_wheel_arm(w, &a.node, 10);
	UNIT_CHECK(ws_wheel_armed(&a.node), "re-armed");
	step_to(w, 2000 + SLOT);
	UNIT_CHECK(a.fired == 2 && a.fired_due == 10, "past due fired %d", a.fired);
	ws_wheel_free(w);
}

/* Checks that every item fired once, at or after its due time and before the end of the slot
 * after the one holding it. */
static void check_timely(item *items, size_t n, const char *what)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		item *it = &items[i];
		uint64_t due = it->node.due_ms;
		if (it->fired != 1 || it->fired_at < due || it->fired_at - due >= SLOT) {
			if (bad++ < 5)
				UNIT_CHECK(false, "%s: item %zu due %llu fired %d times, at %llu", what, i,
				           (unsigned long long)due, it->fired, (unsigned long long)it->fired_at);
		}
	}
	UNIT_CHECK(bad == 0, "%s: %zu of %zu untimely", what, bad, n);
}

static void test_order_never_early_one_slot_late(void)
{
	/* Every due time in a span of a few slots, at an odd start: each fires in the millisecond
	 * its slot ends in, in slot order. */
	ws_wheel *w = manual_wheel(5003);
	item items[200];
	memset(items, 0, sizeof(items));
	for (int i = 0; i < 200; i++) {
		items[i].id = i;
		ws_wheel_arm(w, &items[i].node, 5003 + (uint64_t)((i * 37) % 200));
	}
	uint64_t last_slot = 0;
	size_t fired = 0;
	while (clock_now < 5003 + 200 + SLOT) {
		clock_now++;
		order_len = 0;
		ws_wheel_expire(w, clock_now);
		for (size_t k = 0; k < order_len; k++) {
			uint64_t slot = (items[order[k]].node.due_ms + SLOT - 1) / SLOT;
			UNIT_CHECK(slot >= last_slot, "slot %llu after %llu", (unsigned long long)slot,
			           (unsigned long long)last_slot);
			last_slot = slot;
			fired++;
		}
	}
	UNIT_CHECK(fired == 200, "fired %zu", fired);
	check_timely(items, 200, "span");
	ws_wheel_free(w);
}

/* Drives the wheel as its loop timer would: to each wake-up time, checking first that nothing
 * fires a millisecond before it. Returns the number of wake-ups. */
static size_t run_wakeups(ws_wheel *w, uint64_t until)
{
	size_t wakeups = 0;
	uint64_t at;
	while ((at = ws_wheel_wakeup_ms(w)) != UINT64_MAX && at <= until) {
		UNIT_CHECK(at >= clock_now, "wake-up %llu in the past (now %llu)", (unsigned long long)at,
		           (unsigned long long)clock_now);
		if (at > clock_now + 1) {
			size_t before = fires;
			clock_now = at - 1;
			ws_wheel_expire(w, clock_now);
			UNIT_CHECK(fires == before, "fired before its wake-up %llu", (unsigned long long)at);
		}
		clock_now = at;
		ws_wheel_expire(w, clock_now);
		wakeups++;
	}
	return wakeups;
}

static void test_beyond_one_revolution(void)
{
	/* Level 0 spans 65.5 s and level 1 4.66 h: deadlines in each, across the edges, and far
	 * beyond both, all fire on time, with few wake-ups while nothing is due. */
	uint64_t start = 7 * HOUR + 12345;
	static const uint64_t after[] = {
	    1,         SLOT,      65535,     65536,      65537,          70000,
	    4096 * 16, 4097 * 16, HOUR,      4 * HOUR,   4 * HOUR + 7,   5 * HOUR,
	    10 * HOUR, 30 * HOUR, 72 * HOUR, 200 * HOUR, 1000 * HOUR + 3};
	enum { N = sizeof(after) / sizeof(after[0]) };
	ws_wheel *w = manual_wheel(start);
	item items[N];
	memset(items, 0, sizeof(items));
	for (int i = 0; i < N; i++) {
		items[i].id = i;
		ws_wheel_arm(w, &items[i].node, start + after[i]);
	}
	size_t wakeups = run_wakeups(w, UINT64_MAX);
	check_timely(items, N, "far");
	/* Per deadline: its own wake-up, one to bring it down to level 0, and one per level-1
	 * round (4.66 h) it waits beyond the first. Nothing else. */
	size_t most = 0;
	for (int i = 0; i < N; i++)
		most += 2 + (size_t)(after[i] / (256ull * 4096 * SLOT));
	UNIT_CHECK(wakeups <= most, "%zu wake-ups, expected at most %zu", wakeups, most);
	UNIT_CHECK(ws_wheel_count(w) == 0, "count %zu", ws_wheel_count(w));
	ws_wheel_free(w);
}

static void test_callback_disarms_sibling(void)
{
	ws_wheel *w = manual_wheel(0);
	/* Same slot: whichever fires first disarms the other, which must then never fire. */
	item a = {.id = 1}, b = {.id = 2};
	a.victim = &b;
	b.victim = &a;
	ws_wheel_arm(w, &a.node, 100);
	ws_wheel_arm(w, &b.node, 100);
	/* A third in that slot re-arms a fourth of that slot for "now": it goes to the next slot,
	 * not lost and not fired twice. */
	item c = {.id = 3}, d = {.id = 4};
	c.victim = &d;
	c.rearm_victim = true;
	ws_wheel_arm(w, &d.node, 100);
	ws_wheel_arm(w, &c.node, 100);
	step_to(w, 300);
	UNIT_CHECK(a.fired + b.fired == 1, "a %d b %d", a.fired, b.fired);
	UNIT_CHECK(c.fired == 1, "c %d", c.fired);
	UNIT_CHECK(d.fired == 1, "d %d", d.fired);
	UNIT_CHECK(ws_wheel_count(w) == 0, "count %zu", ws_wheel_count(w));
	ws_wheel_free(w);
}

static void test_callback_frees_owner(void)
{
	ws_wheel *w = manual_wheel(0);
	/* Owners on the heap, in pairs in one slot: whichever of a pair fires first frees itself,
	 * and disarms and frees the other, which is still waiting in the same slot. ASan reports
	 * any touch of freed memory (and LeakSanitizer any owner left over). */
	item *its[8];
	for (int i = 0; i < 8; i++) {
		its[i] = ws_calloc(1, sizeof(item));
		its[i]->id = i;
		its[i]->free_self = true;
		its[i]->free_victim = true;
	}
	for (int i = 0; i < 8; i++) {
		its[i]->victim = its[i ^ 1];
		ws_wheel_arm(w, &its[i]->node, 40);
	}
	step_to(w, 100);
	UNIT_CHECK(order_len == 4, "fired %zu", order_len);
	for (size_t k = 0; k < order_len; k++)
		for (size_t j = k + 1; j < order_len; j++)
			UNIT_CHECK(order[k] / 2 != order[j] / 2, "both of pair %d fired", order[k] / 2);
	UNIT_CHECK(ws_wheel_count(w) == 0, "count %zu", ws_wheel_count(w));
	ws_wheel_free(w);
}

/* ---- on a real loop ---- */

static int turns;
static ws_wheel *loop_wheel;

static void count_turn(ws_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	turns++;
}

static void stop_loop(ws_loop *l, ws_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	ws_loop_stop(l);
}

typedef struct timed {
	ws_wheel_node node;
	ws_loop *loop;
	uint64_t fired_at;
	bool stops;
} timed;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_timed(ws_wheel *w, ws_wheel_node *n, void *arg)
{
	(void)w;
	(void)arg;
	timed *t = (timed *)n;
	t->fired_at = mono_ms();
	if (t->stops)
		ws_loop_stop(t->loop);
}

static void test_loop_timer_only_when_needed(void)
{
	ws_err err;
	ws_loop *l = ws_loop_new(&err);
	UNIT_CHECK(l != NULL, "loop");
	loop_wheel = ws_wheel_new(l, on_timed, NULL);
	ws_loop_set_hooks(l, count_turn, NULL, NULL); /* prepare: once per wait */
	UNIT_CHECK(ws_wheel_wakeup_ms(loop_wheel) == UINT64_MAX, "a new wheel sets no timer");

	/* Armed and disarmed again: no timer, so the loop sleeps through to the stopper. */
	timed a = {.loop = l}, b = {.loop = l, .stops = true};
	ws_wheel_arm(loop_wheel, &a.node, ws_loop_now_ms(l) + 30);
	UNIT_CHECK(ws_wheel_wakeup_ms(loop_wheel) != UINT64_MAX, "armed: timer set");
	ws_wheel_disarm(loop_wheel, &a.node);
	UNIT_CHECK(ws_wheel_wakeup_ms(loop_wheel) == UINT64_MAX, "emptied: timer unset");
	turns = 0;
	ws_loop_timer_start(l, 80, 0, stop_loop, NULL);
	ws_loop_run(l);
	UNIT_CHECK(turns == 1, "%d turns with an emptied wheel", turns);
	UNIT_CHECK(a.fired_at == 0, "disarmed node fired");

	/* Two deadlines 150 ms apart: one wake-up each, nothing in between. */
	uint64_t t0 = ws_loop_now_ms(l);
	ws_wheel_arm(loop_wheel, &a.node, t0 + 50);
	ws_wheel_arm(loop_wheel, &b.node, t0 + 200);
	turns = 0;
	ws_loop_run(l);
	UNIT_CHECK(turns <= 2, "%d turns for two deadlines", turns);
	UNIT_CHECK(a.fired_at >= t0 + 50 && b.fired_at >= t0 + 200, "early: a +%lld b +%lld",
	           (long long)(a.fired_at - t0), (long long)(b.fired_at - t0));
	/* One slot late at most, and a little for a busy machine. */
	UNIT_CHECK(a.fired_at < t0 + 50 + SLOT + 10 && b.fired_at < t0 + 200 + SLOT + 10,
	           "late: a +%lld b +%lld", (long long)(a.fired_at - t0), (long long)(b.fired_at - t0));
	UNIT_CHECK(ws_wheel_wakeup_ms(loop_wheel) == UINT64_MAX, "all fired: timer unset");
	turns = 0;
	ws_loop_timer_start(l, 50, 0, stop_loop, NULL);
	ws_loop_run(l);
	UNIT_CHECK(turns == 1, "%d turns after the wheel emptied", turns);
	ws_wheel_free(loop_wheel);
	ws_loop_free(l);
}

static void test_many_nodes(void)
{
	/* 100,000 nodes over two minutes (both levels), half re-armed, a tenth disarmed. */
	enum { N = 100000 };
	uint64_t start = 123456789;
	ws_wheel *w = manual_wheel(start);
	item *items = ws_calloc(N, sizeof(item));
	uint32_t seed = 12345;
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++) {
		items[i].id = i % 64;
		ws_wheel_arm(w, &items[i].node, start + 1 + unit_rand(&seed) % 120000);
	}
	for (int i = 0; i < N; i += 2)
		ws_wheel_arm(w, &items[i].node, start + 1 + unit_rand(&seed) % 120000);
	size_t disarmed = 0;
	for (int i = 1; i < N; i += 10, disarmed++)
		ws_wheel_disarm(w, &items[i].node);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	UNIT_CHECK(ws_wheel_count(w) == N - disarmed, "count %zu", ws_wheel_count(w));
	size_t wakeups = run_wakeups(w, UINT64_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	size_t bad = 0;
	for (int i = 0; i < N; i++) {
		item *it = &items[i];
		bool off = i % 10 == 1;
		uint64_t due = it->node.due_ms;
		if (off ? it->fired != 0
		        : (it->fired != 1 || it->fired_at < due || it->fired_at - due >= SLOT))
			bad++;
	}
	UNIT_CHECK(bad == 0, "%zu nodes fired wrongly", bad);
	/* At most one wake-up per slot of the two minutes, plus one for the block move. */
	UNIT_CHECK(wakeups <= 120000 / SLOT + 2, "%zu wake-ups", wakeups);
	double arm_ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
	                (N + N / 2 + (double)disarmed);
	double fire_ns = ((double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec)) /
	                 (double)(N - disarmed);
	printf("100k nodes: %.0f ns per arm/disarm, %.0f ns per firing (incl. %zu wake-ups)\n", arm_ns,
	       fire_ns, wakeups);
	/* Generous (ASan, a shared machine): a heap of 100k would still pass, a list scan not. */
	UNIT_CHECK(arm_ns < 5000 && fire_ns < 20000, "arm %.0f ns, fire %.0f ns", arm_ns, fire_ns);
	ws_free(items);
	ws_wheel_free(w);
}

static const CU_TestInfo tests[] = {
    {"arm, disarm, re-arm", test_arm_disarm_rearm},
    {"slot order, never early, at most one slot late", test_order_never_early_one_slot_late},
    {"deadlines beyond one revolution", test_beyond_one_revolution},
    {"a callback disarms a sibling of its slot", test_callback_disarms_sibling},
    {"a callback frees its owner", test_callback_frees_owner},
    {"one loop timer, only while needed", test_loop_timer_only_when_needed},
    {"100,000 nodes", test_many_nodes},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("wheel", tests);
}
