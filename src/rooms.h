/* rooms.h - named groups of members (connections) for publish: many-to-many membership with
 * O(1) size and room lookup, join and leave in O(rooms of that member), and removal of a
 * member from all its rooms when it goes.
 *
 * A member embeds a ws_room_set (zero-initialised is empty) that records its rooms; every
 * call that changes membership takes both the table and that set, and a member always uses
 * the same set. The rooms keep a pointer to the set, so a member must leave_all before its set
 * goes. A set in no room holds no storage. A room exists while it has members. Members are
 * opaque pointers. Names are bytes (NUL allowed) of 1 to WS_ROOM_NAME_MAX. Plain C, no Zend. */
#ifndef WS_ROOMS_H
#define WS_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_ROOM_NAME_MAX 256 /* bytes; longer names are refused with WS_EINVAL */

typedef struct ws_rooms ws_rooms;
typedef struct ws_room ws_room;

/* One membership, stored in the member's set: the room and the member's index in it. */
typedef struct ws_room_link {
	ws_room *room;
	uint32_t index;
} ws_room_link;

typedef struct ws_room_set {
	ws_room_link *links;
	uint32_t count, cap;
} ws_room_set;

/* Called by the table after every change of a room's member count, with the new size (1 for
 * a new room, 0 when it goes: it is already out of the table then), so the caller can keep a
 * cross-process count. name is valid during the call only. The callback must not change
 * membership. May be NULL. */
typedef void (*ws_room_size_cb)(void *arg, const char *name, size_t len, uint64_t hash,
                                size_t size);

/* A table without rooms; on_size (may be NULL) gets arg. Returns NULL when out of memory. */
ws_rooms *ws_rooms_new(ws_room_size_cb on_size, void *arg);

/* Frees the table and every room without calling on_size. The sets of members still in a
 * room are emptied (their storage freed), so those sets must still exist. NULL is a no-op. */
void ws_rooms_free(ws_rooms *r);

/* Adds member (borrowed) to the room `name` (copied), creating it. Returns 1 if added, 0 if
 * the set was already in the room, WS_EINVAL for an empty or too long name, WS_ENOMEM (nothing
 * changed then). Calls on_size when it returns 1. */
int ws_rooms_join(ws_rooms *r, ws_room_set *set, void *member, const char *name, size_t len);

/* Removes the set's member from the room. Returns true if it was a member (false for an
 * invalid name). The room goes with its last member. Calls on_size when it returns true. */
bool ws_rooms_leave(ws_rooms *r, ws_room_set *set, const char *name, size_t len);

/* Removes the set's member from every room (on_size for each) and frees the set's storage. */
void ws_rooms_leave_all(ws_rooms *r, ws_room_set *set);

/* The room, or NULL when it has no members. */
ws_room *ws_rooms_find(const ws_rooms *r, const char *name, size_t len);

/* Members of a room, in no particular order: member(room, i) for i < size(room). A leave
 * during iteration moves the last member into the freed index; the last leave frees the room. */
size_t ws_room_size(const ws_room *room);
void *ws_room_member(const ws_room *room, size_t i);

/* The room's name (not NUL-terminated; its length in *len unless len is NULL) and its 64-bit
 * hash (stable across processes of one build: FNV-1a 64 of the name). */
const char *ws_room_name(const ws_room *room, size_t *len);
uint64_t ws_room_hash(const ws_room *room);
uint64_t ws_rooms_hash(const char *name, size_t len);

/* Rooms of a member: set->count links, each with ->room. */
static inline size_t ws_room_set_count(const ws_room_set *set)
{
	return set->count;
}

/* Number of rooms with members. */
size_t ws_rooms_count(const ws_rooms *r);

#endif
