/* rooms.c - see rooms.h. The table is an open-addressing hash (linear probing, power-of-two
 * capacity, at most 3/4 full, backward-shift deletion so there are no tombstones) of room
 * pointers keyed by FNV-1a 64 of the name; names compare by length and memcmp.
 *
 * Membership is stored twice, each side pointing at the other's index, so that leaving is a
 * swap-remove on both sides:
 *   room->entries[i] = {member, set, link_index}  with  set->links[link_index] = {room, i}.
 * Whoever moves an element into a freed index updates the back-pointer of the element moved.
 * A set with no links holds no storage (links == NULL), so a member that is in no room needs
 * no cleanup, even after a join that failed. */
#include "rooms.h"
#include "alloc.h"
#include "err.h"

#include <string.h>

#define TABLE_MIN_CAP 16
#define ARRAY_MIN_CAP 4

typedef struct ws_room_entry {
	void *member;
	ws_room_set *set;
	uint32_t link_index; /* this membership's index in set->links */
} ws_room_entry;

struct ws_room {
	uint64_t hash;
	ws_room_entry *entries;
	uint32_t len, cap;
	size_t name_len;
	char name[];
};

struct ws_rooms {
	ws_room **slots; /* NULL or a room; slot_cap is 0 or a power of two */
	size_t slot_cap;
	size_t count; /* rooms */
	ws_room_size_cb on_size;
	void *arg;
};

uint64_t ws_rooms_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The low k bits of an FNV hash depend only on the low k bits of each byte (multiplication
 * carries upward only), so names that differ in high bits alone would share a slot; the high
 * half, which depends on every bit, is folded in. */
static size_t home_slot(uint64_t hash, size_t mask)
{
	return (size_t)(hash ^ (hash >> 32)) & mask;
}

static bool valid_name(size_t len)
{
	return len > 0 && len <= WS_ROOM_NAME_MAX;
}

ws_rooms *ws_rooms_new(ws_room_size_cb on_size, void *arg)
{
	ws_rooms *r = ws_calloc(1, sizeof(*r));

	if (r) {
		r->on_size = on_size;
		r->arg = arg;
	}
	return r;
}

/* Index of the slot that holds the room with this name, or of the empty slot that ends its
 * probe sequence. The table must have slots. */
static size_t find_slot(const ws_rooms *r, const char *name, size_t len, uint64_t hash)
{
	size_t mask = r->slot_cap - 1;
	size_t i = home_slot(hash, mask);

	for (;;) {
		const ws_room *room = r->slots[i];
		if (!room ||
		    (room->hash == hash && room->name_len == len && memcmp(room->name, name, len) == 0))
			return i;
		i = (i + 1) & mask;
	}
}

static void place(ws_room **slots, size_t cap, ws_room *room)
{
	size_t mask = cap - 1;
	size_t i = home_slot(room->hash, mask);

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = room;
}

/* Moves every room into a new slot array of `cap` slots. On failure nothing changes. */
static int rehash(ws_rooms *r, size_t cap)
{
	ws_room **slots = ws_calloc(cap, sizeof(*slots));

	if (!slots)
		return WS_ENOMEM;
	for (size_t i = 0; i < r->slot_cap; i++)
		if (r->slots[i])
			place(slots, cap, r->slots[i]);
	ws_free(r->slots);
	r->slots = slots;
	r->slot_cap = cap;
	return 0;
}

/* Makes sure one more room fits under the 3/4 load limit. */
static int reserve_slot(ws_rooms *r)
{
	size_t cap = r->slot_cap ? r->slot_cap : TABLE_MIN_CAP;

	while ((r->count + 1) > cap / 4 * 3) {
		if (cap > SIZE_MAX / 2 / sizeof(ws_room *))
			return WS_ENOMEM;
		cap *= 2;
	}
	return cap == r->slot_cap ? 0 : rehash(r, cap);
}

/* Removes the room from the table (it does not free it). Later entries of the same probe run
 * shift back into the hole when the hole lies between their home slot and where they are, so
 * every lookup still reaches its room without tombstones. */
static void unlink_room(ws_rooms *r, const ws_room *room)
{
	size_t mask = r->slot_cap - 1;
	size_t hole = home_slot(room->hash, mask);

	while (r->slots[hole] != room)
		hole = (hole + 1) & mask;
	for (size_t j = (hole + 1) & mask; r->slots[j]; j = (j + 1) & mask) {
		size_t home = home_slot(r->slots[j]->hash, mask);
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			r->slots[hole] = r->slots[j];
			hole = j;
		}
	}
	r->slots[hole] = NULL;
	r->count--;
	/* Shrinking is best effort: a failed allocation only keeps the larger array. */
	if (r->count == 0) {
		ws_free(r->slots);
		r->slots = NULL;
		r->slot_cap = 0;
	} else if (r->slot_cap > TABLE_MIN_CAP && r->count < r->slot_cap / 8) {
		rehash(r, r->slot_cap / 2);
	}
}

ws_room *ws_rooms_find(const ws_rooms *r, const char *name, size_t len)
{
	if (!valid_name(len) || r->count == 0)
		return NULL;
	return r->slots[find_slot(r, name, len, ws_rooms_hash(name, len))];
}

/* Returns arr (of *cap elements of `size` bytes) grown so that one more than `len` fit: arr
 * itself when they already do, NULL (arr and *cap unchanged) when out of memory. */
static void *grow_array(void *arr, uint32_t *cap, uint32_t len, size_t size)
{
	if (len < *cap)
		return arr;
	if (len == UINT32_MAX)
		return NULL;
	uint32_t n = *cap ? (*cap > UINT32_MAX / 2 ? UINT32_MAX : *cap * 2) : ARRAY_MIN_CAP;
	if ((size_t)n > SIZE_MAX / size)
		return NULL;
	void *p = ws_realloc(arr, (size_t)n * size);
	if (p)
		*cap = n;
	return p;
}

/* Returns arr halved when it is at most a quarter full; best effort, arr when that fails. */
static void *shrink_array(void *arr, uint32_t *cap, uint32_t len, size_t size)
{
	if (*cap <= ARRAY_MIN_CAP || len > *cap / 4)
		return arr;
	void *p = ws_realloc(arr, (size_t)(*cap / 2) * size);
	if (!p)
		return arr;
	*cap /= 2;
	return p;
}

static void set_release(ws_room_set *set)
{
	ws_free(set->links);
	set->links = NULL;
	set->count = set->cap = 0;
}

static void notify(const ws_rooms *r, const ws_room *room)
{
	if (r->on_size)
		r->on_size(r->arg, room->name, room->name_len, room->hash, room->len);
}

static ws_room *room_new(const char *name, size_t len, uint64_t hash)
{
	ws_room *room = ws_malloc(sizeof(*room) + len);

	if (!room)
		return NULL;
	room->hash = hash;
	room->entries = NULL;
	room->len = room->cap = 0;
	room->name_len = len;
	memcpy(room->name, name, len);
	room->entries = grow_array(NULL, &room->cap, 0, sizeof(ws_room_entry));
	if (!room->entries) {
		ws_free(room);
		return NULL;
	}
	return room;
}

static void room_free(ws_room *room)
{
	ws_free(room->entries);
	ws_free(room);
}

/* Index of the set's link to room, or set->count. */
static uint32_t link_of(const ws_room_set *set, const ws_room *room)
{
	uint32_t j = 0;

	while (j < set->count && set->links[j].room != room)
		j++;
	return j;
}

int ws_rooms_join(ws_rooms *r, ws_room_set *set, void *member, const char *name, size_t len)
{
	if (!valid_name(len))
		return WS_EINVAL;
	uint64_t hash = ws_rooms_hash(name, len);
	ws_room *room = r->count ? r->slots[find_slot(r, name, len, hash)] : NULL;
	if (room && link_of(set, room) < set->count)
		return 0;

	/* Every allocation comes before the first change, so a failure leaves both sides as they
	 * were (a set that had no links gives its new storage back). */
	ws_room_link *links = grow_array(set->links, &set->cap, set->count, sizeof(*links));
	if (!links)
		goto nomem;
	set->links = links;
	if (room) {
		ws_room_entry *entries = grow_array(room->entries, &room->cap, room->len, sizeof(*entries));
		if (!entries)
			goto nomem;
		room->entries = entries;
	} else {
		if (reserve_slot(r) < 0)
			goto nomem;
		room = room_new(name, len, hash);
		if (!room)
			goto nomem;
		r->slots[find_slot(r, name, len, hash)] = room;
		r->count++;
	}

	room->entries[room->len] = (ws_room_entry){member, set, set->count};
	set->links[set->count] = (ws_room_link){room, room->len};
	room->len++;
	set->count++;
	notify(r, room);
	return 1;

nomem:
	if (set->count == 0)
		set_release(set);
	return WS_ENOMEM;
}

/* Removes the entry at index i from room and the link it points to from its set; frees the
 * room when it was the last entry. Calls on_size. */
static void remove_member(ws_rooms *r, ws_room *room, uint32_t i)
{
	ws_room_set *set = room->entries[i].set;
	uint32_t j = room->entries[i].link_index;
	uint32_t last;

	/* Room side: the last entry moves into i, so its member's link must now say i. */
	last = room->len - 1;
	if (i != last) {
		room->entries[i] = room->entries[last];
		ws_room_entry *moved = &room->entries[i];
		moved->set->links[moved->link_index].index = i;
	}
	room->len--;

	/* Set side: the last link moves into j, so its room's entry must now say j. The moved
	 * link belongs to another room (a member is in a room once), untouched above. */
	last = set->count - 1;
	if (j != last) {
		set->links[j] = set->links[last];
		ws_room_link *moved = &set->links[j];
		moved->room->entries[moved->index].link_index = j;
	}
	set->count--;
	if (set->count == 0)
		set_release(set);
	else
		set->links = shrink_array(set->links, &set->cap, set->count, sizeof(ws_room_link));

	if (room->len == 0) {
		/* Out of the table before the call, so on_size sees a consistent table; the name
		 * stays valid until the call returns. */
		unlink_room(r, room);
		notify(r, room);
		room_free(room);
	} else {
		room->entries = shrink_array(room->entries, &room->cap, room->len, sizeof(ws_room_entry));
		notify(r, room);
	}
}

bool ws_rooms_leave(ws_rooms *r, ws_room_set *set, const char *name, size_t len)
{
	ws_room *room = ws_rooms_find(r, name, len);

	if (!room)
		return false;
	uint32_t j = link_of(set, room);
	if (j == set->count)
		return false;
	remove_member(r, room, set->links[j].index);
	return true;
}

void ws_rooms_leave_all(ws_rooms *r, ws_room_set *set)
{
	/* From the last link, so the set side never has to move one. */
	while (set->count) {
		ws_room_link link = set->links[set->count - 1];
		remove_member(r, link.room, link.index);
	}
	set_release(set);
}

void ws_rooms_free(ws_rooms *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->slot_cap; i++) {
		ws_room *room = r->slots[i];
		if (!room)
			continue;
		for (uint32_t k = 0; k < room->len; k++)
			set_release(room->entries[k].set);
		room_free(room);
	}
	ws_free(r->slots);
	ws_free(r);
}

size_t ws_room_size(const ws_room *room)
{
	return room->len;
}

void *ws_room_member(const ws_room *room, size_t i)
{
	return room->entries[i].member;
}

const char *ws_room_name(const ws_room *room, size_t *len)
{
	if (len)
		*len = room->name_len;
	return room->name;
}

uint64_t ws_room_hash(const ws_room *room)
{
	return room->hash;
}

size_t ws_rooms_count(const ws_rooms *r)
{
	return r->count;
}
