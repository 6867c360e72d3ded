/* stats.c - see stats.h. A room table is open addressing on the name's hash. A slot whose
 * room emptied keeps its hash (size 0) so probe runs stay intact; when used slots pass three
 * quarters, the writer rebuilds the table in place under rooms_seq, which readers check. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "stats.h"
#include "alloc.h"

#include <string.h>
#include <sys/mman.h>

#define ROOM_SLOTS_MIN 4096
#define ROOM_SLOTS_MAX (1u << 22)

ws_stats *ws_stats_new(unsigned workers, size_t max_connections, bool shared)
{
	ws_stats *st = ws_calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	size_t slots = ROOM_SLOTS_MIN;
	while (slots < ROOM_SLOTS_MAX && slots < max_connections * 4)
		slots *= 2;
	st->workers = workers;
	st->room_slots = slots;
	st->shared = shared;
	size_t head = (workers * sizeof(ws_worker_stats) + 63) & ~(size_t)63;
	st->bytes = head + (size_t)workers * slots * sizeof(ws_room_slot);
	/* Untouched pages of the room tables cost nothing (MAP_NORESERVE, zero-filled). */
	void *p = mmap(NULL, st->bytes, PROT_READ | PROT_WRITE,
	               (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		ws_free(st);
		return NULL;
	}
	st->w = p;
	st->rooms = (ws_room_slot *)((char *)p + head);
	return st;
}

void ws_stats_free(ws_stats *st)
{
	if (!st)
		return;
	munmap(st->w, st->bytes);
	ws_free(st);
}

void ws_stats_reset(ws_stats *st, unsigned worker)
{
	ws_worker_stats *w = &st->w[worker];
	ws_worker_stats keep = *w;
	memset(w, 0, offsetof(ws_worker_stats, next_seq));
	w->next_seq = keep.next_seq;
	ws_room_slot *t = st->rooms + (size_t)worker * st->room_slots;
	__atomic_store_n(&w->rooms_seq, keep.rooms_seq + 1, __ATOMIC_RELEASE);
	memset(t, 0, st->room_slots * sizeof(*t));
	w->rooms_used = w->rooms_full = 0;
	__atomic_store_n(&w->rooms_seq, keep.rooms_seq + 2, __ATOMIC_RELEASE);
}

static size_t slot_of(uint64_t hash, size_t slots)
{
	return (size_t)(hash ^ (hash >> 29)) & (slots - 1);
}

/* Moves the rooms that still have members to a clean table (same storage). */
static void rebuild(ws_stats *st, unsigned worker)
{
	ws_worker_stats *w = &st->w[worker];
	ws_room_slot *t = st->rooms + (size_t)worker * st->room_slots;
	size_t n = st->room_slots, live = 0;
	for (size_t i = 0; i < n; i++)
		if (t[i].hash && t[i].size)
			t[live++] = t[i];
	ws_room_slot *tmp = ws_malloc(live * sizeof(*tmp) + 1);
	if (!tmp)
		return; /* keep the tombstones; the next insertion may mark the table full */
	memcpy(tmp, t, live * sizeof(*tmp));
	uint64_t seq = w->rooms_seq;
	__atomic_store_n(&w->rooms_seq, seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset(t, 0, n * sizeof(*t));
	for (size_t i = 0; i < live; i++) {
		size_t j = slot_of(tmp[i].hash, n);
		while (t[j].hash)
			j = (j + 1) & (n - 1);
		t[j] = tmp[i];
	}
	w->rooms_used = live;
	__atomic_store_n(&w->rooms_seq, seq + 2, __ATOMIC_RELEASE);
	ws_free(tmp);
}

void ws_stats_room_set(ws_stats *st, unsigned worker, uint64_t hash, size_t size)
{
	ws_worker_stats *w = &st->w[worker];
	ws_room_slot *t = st->rooms + (size_t)worker * st->room_slots;
	hash |= !hash; /* 0 marks a free slot */
	size_t n = st->room_slots, j = slot_of(hash, n);
	for (size_t probes = 0; t[j].hash; probes++, j = (j + 1) & (n - 1)) {
		if (t[j].hash == hash) {
			ws_stat_set(&t[j].size, size);
			return;
		}
		if (probes == n)
			return;
	}
	if (!size)
		return;
	if ((w->rooms_used + 1) * 4 > n * 3) {
		rebuild(st, worker);
		if ((w->rooms_used + 1) * 4 > n * 3) {
			ws_stat_set(&w->rooms_full, 1);
			return;
		}
		j = slot_of(hash, n);
		while (t[j].hash)
			j = (j + 1) & (n - 1);
	}
	/* Size first, then the hash that makes the slot visible. */
	ws_stat_set(&t[j].size, size);
	__atomic_store_n(&t[j].hash, hash, __ATOMIC_RELEASE);
	w->rooms_used++;
}

static uint64_t room_size_of(const ws_stats *st, unsigned worker, uint64_t hash)
{
	const ws_worker_stats *w = &st->w[worker];
	const ws_room_slot *t = st->rooms + (size_t)worker * st->room_slots;
	size_t n = st->room_slots;
	for (;;) {
		uint64_t seq = __atomic_load_n(&w->rooms_seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue; /* a rebuild is copying a few thousand slots: spin briefly */
		uint64_t size = 0;
		size_t j = slot_of(hash, n);
		for (size_t probes = 0; probes < n; probes++, j = (j + 1) & (n - 1)) {
			uint64_t h = __atomic_load_n(&t[j].hash, __ATOMIC_ACQUIRE);
			if (!h)
				break;
			if (h == hash) {
				size = ws_stat_get(&t[j].size);
				break;
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&w->rooms_seq, __ATOMIC_RELAXED) == seq)
			return size;
	}
}

uint64_t ws_stats_room_others(const ws_stats *st, unsigned skip, uint64_t hash)
{
	hash |= !hash;
	uint64_t sum = 0;
	for (unsigned i = 0; i < st->workers; i++)
		if (i != skip)
			sum += room_size_of(st, i, hash);
	return sum;
}
