/* stats.h - per-worker counters, and per-worker room sizes for counting room members across
 * workers. With several workers the area lives in anonymous shared memory mapped by the
 * master before it forks, so any process reads every worker's figures without a round trip.
 *
 * Each field has one writer: a worker writes its own record, the master only the fields
 * marked (master). Writers use relaxed atomic stores, readers relaxed atomic loads: a reader
 * may see a figure one message old, never a torn one. Plain C, no Zend. */
#ifndef WS_STATS_H
#define WS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One slot of a worker's room-size table: FNV-1a 64 of the room name, and its local size. */
typedef struct ws_room_slot {
	uint64_t hash; /* 0: never used */
	uint64_t size;
} ws_room_slot;

typedef struct ws_worker_stats {
	uint64_t pid;
	uint64_t started_ms; /* wall clock, ms since the epoch */
	uint64_t connections;
	uint64_t messages_in;
	uint64_t messages_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t bus_queue;       /* bytes waiting in this worker's queue to the master */
	uint64_t bus_dropped;     /* messages this worker could not hand to the master */
	uint64_t next_seq;        /* connection id sequence: survives restarts and reloads */
	uint64_t master_queue;    /* (master) bytes waiting in the master's queue to this worker */
	uint64_t master_dropped;  /* (master) messages for this worker the master dropped */
	uint64_t restarts;        /* (master) */
	uint64_t rooms_seq;       /* odd while the room table is being rebuilt */
	uint64_t rooms_used;      /* slots with a non-zero hash */
	uint64_t rooms_full;      /* a room did not fit: this worker's room sizes are incomplete */
	uint64_t receiving;       /* bytes held by messages still being received */
	uint64_t receive_refused; /* connections closed with 1013: the receive budget was spent */
} ws_worker_stats;

typedef struct ws_stats {
	unsigned workers;
	size_t room_slots; /* per worker, a power of two */
	bool shared;
	size_t bytes;
	ws_worker_stats *w;  /* workers records */
	ws_room_slot *rooms; /* workers * room_slots */
} ws_stats;

/* Maps the area for `workers` records with room tables sized for max_connections per
 * worker; shared (MAP_SHARED, for forked workers) or private. NULL on failure. */
ws_stats *ws_stats_new(unsigned workers, size_t max_connections, bool shared);
void ws_stats_free(ws_stats *st);

/* Clears a worker's record except next_seq and the master's fields (a new process in the
 * slot). */
void ws_stats_reset(ws_stats *st, unsigned worker);

static inline uint64_t ws_stat_get(const uint64_t *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static inline void ws_stat_set(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}

/* Single writer: a load and a store, no locked instruction. */
static inline void ws_stat_add(uint64_t *field, uint64_t n)
{
	ws_stat_set(field, ws_stat_get(field) + n);
}

/* Records the local size of a room in worker's table (called by that worker only). */
void ws_stats_room_set(ws_stats *st, unsigned worker, uint64_t hash, size_t size);

/* The size of a room summed over every worker but `skip` (pass the caller's own index and add
 * the exact local size yourself). */
uint64_t ws_stats_room_others(const ws_stats *st, unsigned skip, uint64_t hash);

#endif
