/* test_rooms.c - unit tests for src/rooms.c: the name rules and the FNV-1a hash, the on_size
 * calls, random join/leave/leave_all sequences checked against a naive model after every step
 * (which also checks both sides of every back-pointer), members in many rooms and rooms with
 * many members, leaving during iteration, and every allocation failing in turn. */
#include "unit.h"

#include "alloc.h"
#include "failalloc.h"
#include "err.h"
#include "rooms.h"

#define N_MEMBERS 200
#define N_ROOMS   50

typedef struct member {
	ws_room_set set;
	int id;
} member;

/* Room k of the model is named "room", NUL, k: binary names with a NUL inside. */
static size_t room_name(char *buf, int k)
{
	memcpy(buf, "room\0", 5);
	buf[5] = (char)k;
	return 6;
}

static int room_id(const ws_room *room)
{
	size_t len;
	const char *name = ws_room_name(room, &len);

	if (len != 6 || memcmp(name, "room\0", 5) != 0)
		return -1;
	return (uint8_t)name[5];
}

/* ---- on_size recorder ---- */

typedef struct size_log {
	size_t calls;
	size_t last_size;
	char last_name[WS_ROOM_NAME_MAX];
	size_t last_len;
	uint64_t last_hash;
	long sizes[N_ROOMS]; /* last size reported for model room k, -1 before any */
	bool bad;            /* a call with a wrong hash or for an unknown room */
} size_log;

static void size_log_init(size_log *log)
{
	memset(log, 0, sizeof(*log));
	for (int k = 0; k < N_ROOMS; k++)
		log->sizes[k] = -1;
}

static void on_size(void *arg, const char *name, size_t len, uint64_t hash, size_t size)
{
	size_log *log = arg;

	log->calls++;
	log->last_size = size;
	log->last_len = len;
	log->last_hash = hash;
	if (len <= sizeof(log->last_name))
		memcpy(log->last_name, name, len);
	if (hash != ws_rooms_hash(name, len))
		log->bad = true;
	if (len == 6 && memcmp(name, "room\0", 5) == 0 && (uint8_t)name[5] < N_ROOMS)
		log->sizes[(uint8_t)name[5]] = (long)size;
}

/* ---- the naive model ---- */

typedef struct model {
	bool in[N_MEMBERS][N_ROOMS];
	size_t size[N_ROOMS];
} model;

/* Checks the table against the model completely: every link of every set points at a room
 * index that holds that very member (so the set->room back-pointers are right), the rooms of
 * each set are exactly the model's, and the room sizes add up to the number of links (so the
 * links cover every room entry once). Returns false after the first few mismatches. */
static bool check_model(const ws_rooms *r, member *members, const model *m, const size_log *log,
                        const char *ctx)
{
	size_t links = 0, entries = 0, rooms = 0;
	bool ok = true;

	for (int a = 0; a < N_MEMBERS && ok; a++) {
		const ws_room_set *set = &members[a].set;
		bool seen[N_ROOMS] = {false};
		links += set->count;
		UNIT_CHECK(set->count <= set->cap, "%s: member %d count %u cap %u", ctx, a, set->count,
		           set->cap);
		UNIT_CHECK(set->count > 0 || set->links == NULL, "%s: member %d keeps storage", ctx, a);
		for (uint32_t j = 0; j < set->count && ok; j++) {
			const ws_room_link *l = &set->links[j];
			int k = room_id(l->room);
			ok = k >= 0 && k < N_ROOMS && !seen[k] && m->in[a][k];
			UNIT_CHECK(ok, "%s: member %d link %u names room %d", ctx, a, j, k);
			if (!ok)
				break;
			seen[k] = true;
			ok = l->index < ws_room_size(l->room) &&
			     ws_room_member(l->room, l->index) == &members[a];
			UNIT_CHECK(ok, "%s: member %d link %u: room %d index %u is not it", ctx, a, j, k,
			           l->index);
		}
		for (int k = 0; k < N_ROOMS && ok; k++) {
			ok = seen[k] == m->in[a][k];
			UNIT_CHECK(ok, "%s: member %d room %d: set says %d, model %d", ctx, a, k, seen[k],
			           m->in[a][k]);
		}
	}
	for (int k = 0; k < N_ROOMS && ok; k++) {
		char name[8];
		size_t len = room_name(name, k);
		const ws_room *room = ws_rooms_find(r, name, len);
		ok = (room != NULL) == (m->size[k] > 0);
		UNIT_CHECK(ok, "%s: room %d found %d, model size %zu", ctx, k, room != NULL, m->size[k]);
		if (!room || !ok)
			continue;
		rooms++;
		entries += ws_room_size(room);
		ok = ws_room_size(room) == m->size[k] && room_id(room) == k &&
		     ws_room_hash(room) == ws_rooms_hash(name, len);
		UNIT_CHECK(ok, "%s: room %d size %zu, model %zu", ctx, k, ws_room_size(room), m->size[k]);
	}
	if (ok) {
		ok = links == entries && rooms == ws_rooms_count(r);
		UNIT_CHECK(ok, "%s: %zu links, %zu entries, %zu rooms, count %zu", ctx, links, entries,
		           rooms, ws_rooms_count(r));
	}
	for (int k = 0; k < N_ROOMS && ok && log; k++) {
		long want = m->size[k] || log->sizes[k] >= 0 ? (long)m->size[k] : -1;
		ok = log->sizes[k] == want && !log->bad;
		UNIT_CHECK(ok, "%s: room %d last on_size %ld, model %zu", ctx, k, log->sizes[k],
		           m->size[k]);
	}
	return ok;
}

/* One random operation on the table and the model; checks its result and how many on_size
 * calls it made. `join_pct` sets how full the table drifts. Returns false on a mismatch. */
static bool random_step(ws_rooms *r, member *members, model *m, size_log *log, uint32_t *rng,
                        unsigned join_pct, bool may_fail, const char *ctx)
{
	unsigned op = unit_rand(rng) % 100;
	int a = (int)(unit_rand(rng) % N_MEMBERS);
	int k = (int)(unit_rand(rng) % N_ROOMS);
	char name[8];
	size_t len = room_name(name, k);
	size_t calls = log->calls;
	bool ok;

	if (op == 0) {
		size_t n = 0;
		for (int q = 0; q < N_ROOMS; q++) {
			if (m->in[a][q]) {
				m->in[a][q] = false;
				m->size[q]--;
				n++;
			}
		}
		ws_rooms_leave_all(r, &members[a].set);
		ok = log->calls == calls + n && members[a].set.links == NULL && members[a].set.count == 0 &&
		     members[a].set.cap == 0;
		UNIT_CHECK(ok, "%s: leave_all member %d: %zu calls for %zu rooms", ctx, a,
		           log->calls - calls, n);
	} else if (op < join_pct) {
		int rc = ws_rooms_join(r, &members[a].set, &members[a], name, len);
		int want = m->in[a][k] ? 0 : 1;
		if (rc == WS_ENOMEM && may_fail && want == 1) {
			ok = log->calls == calls;
		} else {
			ok = rc == want && log->calls == calls + (size_t)want;
			if (rc == 1) {
				m->in[a][k] = true;
				m->size[k]++;
			}
		}
		UNIT_CHECK(ok, "%s: join member %d room %d gave %d, want %d", ctx, a, k, rc, want);
	} else {
		bool rc = ws_rooms_leave(r, &members[a].set, name, len);
		bool want = m->in[a][k];
		ok = rc == want && log->calls == calls + (want ? 1 : 0);
		if (rc) {
			m->in[a][k] = false;
			m->size[k]--;
		}
		UNIT_CHECK(ok, "%s: leave member %d room %d gave %d", ctx, a, k, rc);
	}
	return ok;
}

static void init_members(member *members)
{
	memset(members, 0, sizeof(*members) * N_MEMBERS);
	for (int a = 0; a < N_MEMBERS; a++)
		members[a].id = a;
}

/* ---- tests ---- */

static void test_hash(void)
{
	static const struct {
		const char *s;
		size_t len;
		uint64_t h;
	} v[] = {
	    {"", 0, 0xcbf29ce484222325ull},
	    {"a", 1, 0xaf63dc4c8601ec8cull},
	    {"foobar", 6, 0x85944171f73967e8ull},
	    {"\0", 1, 0xaf63bd4c8601b7dfull},
	};
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	member a = {0};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		UNIT_CHECK(ws_rooms_hash(v[i].s, v[i].len) == v[i].h, "vector %zu", i);
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "foobar", 6) == 1, "join");
	const ws_room *room = ws_rooms_find(r, "foobar", 6);
	UNIT_CHECK(room && ws_room_hash(room) == 0x85944171f73967e8ull, "room hash");
	ws_rooms_leave_all(r, &a.set);
	ws_rooms_free(r);
}

static void test_join_leave_basics(void)
{
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	member a = {0}, b = {0};
	size_t len;

	UNIT_CHECK(r != NULL, "new");
	UNIT_CHECK(ws_rooms_count(r) == 0, "empty");
	UNIT_CHECK(ws_rooms_find(r, "lobby", 5) == NULL, "find in empty table");
	UNIT_CHECK(!ws_rooms_leave(r, &a.set, "lobby", 5), "leave in empty table");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "lobby", 5) == 1, "join a");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "lobby", 5) == 0, "join a twice");
	UNIT_CHECK(ws_rooms_join(r, &b.set, &b, "lobby", 5) == 1, "join b");
	UNIT_CHECK(ws_rooms_count(r) == 1, "one room");
	ws_room *room = ws_rooms_find(r, "lobby", 5);
	UNIT_CHECK(room != NULL && ws_room_size(room) == 2, "size 2");
	UNIT_CHECK(ws_room_member(room, 0) == &a && ws_room_member(room, 1) == &b, "members");
	UNIT_CHECK(memcmp(ws_room_name(room, &len), "lobby", 5) == 0 && len == 5, "name");
	UNIT_CHECK(ws_room_name(room, NULL) != NULL, "name without len");
	UNIT_CHECK(ws_room_set_count(&a.set) == 1 && a.set.links[0].room == room, "set of a");
	UNIT_CHECK(ws_rooms_find(r, "lobb", 4) == NULL && ws_rooms_find(r, "lobby!", 6) == NULL,
	           "prefixes are other rooms");
	UNIT_CHECK(!ws_rooms_leave(r, &a.set, "other", 5), "leave a room that does not exist");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "other", 5) == 1, "join other");
	UNIT_CHECK(!ws_rooms_leave(r, &b.set, "other", 5), "leave a room one is not in");
	UNIT_CHECK(ws_rooms_leave(r, &a.set, "lobby", 5), "leave a");
	UNIT_CHECK(!ws_rooms_leave(r, &a.set, "lobby", 5), "leave a twice");
	UNIT_CHECK(ws_room_size(room) == 1 && ws_room_member(room, 0) == &b, "b moved to 0");
	UNIT_CHECK(b.set.links[0].index == 0, "b's link follows");
	UNIT_CHECK(ws_rooms_leave(r, &b.set, "lobby", 5), "leave b");
	UNIT_CHECK(ws_rooms_find(r, "lobby", 5) == NULL && ws_rooms_count(r) == 1, "room gone");
	UNIT_CHECK(b.set.links == NULL && b.set.cap == 0, "empty set holds no storage");
	ws_rooms_leave_all(r, &a.set);
	UNIT_CHECK(ws_rooms_count(r) == 0 && a.set.links == NULL, "leave_all");
	ws_rooms_leave_all(r, &a.set);
	UNIT_CHECK(a.set.count == 0, "leave_all on an empty set");
	ws_rooms_free(r);
	ws_rooms_free(NULL);
}

static void test_names(void)
{
	char name[WS_ROOM_NAME_MAX + 1];
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	member a = {0};

	memset(name, 'x', sizeof(name));
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, name, 0) == WS_EINVAL, "empty");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, name, WS_ROOM_NAME_MAX + 1) == WS_EINVAL, "too long");
	UNIT_CHECK(a.set.count == 0 && a.set.links == NULL && ws_rooms_count(r) == 0, "unchanged");
	UNIT_CHECK(ws_rooms_find(r, name, 0) == NULL, "find empty");
	UNIT_CHECK(!ws_rooms_leave(r, &a.set, name, WS_ROOM_NAME_MAX + 1), "leave too long");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, name, WS_ROOM_NAME_MAX) == 1, "longest");
	UNIT_CHECK(ws_rooms_find(r, name, WS_ROOM_NAME_MAX) != NULL, "find longest");
	UNIT_CHECK(ws_rooms_find(r, name, WS_ROOM_NAME_MAX + 1) == NULL, "find too long");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, name, 1) == 1, "one byte");

	/* Binary names: NUL bytes anywhere, and names equal up to a NUL. */
	static const struct {
		const char *s;
		size_t len;
	} bin[] = {{"\0", 1}, {"\0\0", 2}, {"a\0b", 3}, {"a\0c", 3}, {"a", 1}, {"\xff\x80", 2}};
	for (size_t i = 0; i < sizeof(bin) / sizeof(bin[0]); i++)
		UNIT_CHECK(ws_rooms_join(r, &a.set, &a, bin[i].s, bin[i].len) == 1, "binary %zu", i);
	UNIT_CHECK(ws_rooms_count(r) == 8, "eight rooms, got %zu", ws_rooms_count(r));
	for (size_t i = 0; i < sizeof(bin) / sizeof(bin[0]); i++) {
		const ws_room *room = ws_rooms_find(r, bin[i].s, bin[i].len);
		size_t len = 0;
		const char *got = room ? ws_room_name(room, &len) : NULL;
		UNIT_CHECK(got && len == bin[i].len && memcmp(got, bin[i].s, len) == 0, "find %zu", i);
		UNIT_CHECK(ws_rooms_join(r, &a.set, &a, bin[i].s, bin[i].len) == 0, "again %zu", i);
	}
	UNIT_CHECK(ws_rooms_leave(r, &a.set, "a\0b", 3), "leave a\\0b");
	UNIT_CHECK(ws_rooms_find(r, "a\0c", 3) != NULL && ws_rooms_find(r, "a", 1) != NULL,
	           "neighbours stay");
	ws_rooms_leave_all(r, &a.set);
	UNIT_CHECK(ws_rooms_count(r) == 0, "all gone");
	ws_rooms_free(r);
}

static void test_on_size_calls(void)
{
	size_log log;
	ws_rooms *r;
	member a = {0}, b = {0};

	size_log_init(&log);
	r = ws_rooms_new(on_size, &log);
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "news", 4) == 1, "join a");
	UNIT_CHECK(log.calls == 1 && log.last_size == 1, "first member: %zu calls", log.calls);
	UNIT_CHECK(log.last_len == 4 && memcmp(log.last_name, "news", 4) == 0, "name");
	UNIT_CHECK(log.last_hash == ws_rooms_hash("news", 4), "hash");
	UNIT_CHECK(ws_rooms_join(r, &b.set, &b, "news", 4) == 1, "join b");
	UNIT_CHECK(log.calls == 2 && log.last_size == 2, "second member");
	UNIT_CHECK(ws_rooms_join(r, &b.set, &b, "news", 4) == 0, "join b again");
	UNIT_CHECK(log.calls == 2, "no call when nothing changed");
	UNIT_CHECK(ws_rooms_join(r, &b.set, &b, "", 0) == WS_EINVAL, "bad name");
	UNIT_CHECK(!ws_rooms_leave(r, &b.set, "sport", 5), "not there");
	UNIT_CHECK(log.calls == 2, "no call for failures");
	UNIT_CHECK(ws_rooms_leave(r, &a.set, "news", 4), "leave a");
	UNIT_CHECK(log.calls == 3 && log.last_size == 1, "down to one");
	UNIT_CHECK(ws_rooms_join(r, &b.set, &b, "sport", 5) == 1, "b joins sport");
	UNIT_CHECK(log.calls == 4 && log.last_size == 1 && log.last_len == 5, "sport");
	ws_rooms_leave_all(r, &b.set);
	UNIT_CHECK(log.calls == 6 && log.last_size == 0, "leave_all: one call per room");
	UNIT_CHECK(ws_rooms_count(r) == 0, "no rooms");
	UNIT_CHECK(!log.bad, "hashes match names");
	UNIT_CHECK(ws_rooms_join(r, &a.set, &a, "news", 4) == 1, "a again");
	ws_rooms_free(r);
	UNIT_CHECK(log.calls == 7, "free does not call on_size");
	UNIT_CHECK(a.set.count == 0 && a.set.links == NULL, "free empties the sets");
}

/* The back-pointers on both sides after every single step of long random sequences, in
 * phases that fill the table, churn it and drain it, so rooms are created and freed often. */
static void test_random_against_model(void)
{
	static const unsigned phases[] = {90, 50, 20, 70, 10, 60, 5};
	static member members[N_MEMBERS];
	static model m;
	size_log log;
	uint32_t rng = 12345;
	bool ok = true;
	char ctx[64];

	for (int round = 0; round < 3 && ok; round++) {
		ws_rooms *r;
		size_log_init(&log);
		r = ws_rooms_new(on_size, &log);
		init_members(members);
		memset(&m, 0, sizeof(m));
		for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]) && ok; p++) {
			for (int step = 0; step < 1500 && ok; step++) {
				snprintf(ctx, sizeof(ctx), "round %d phase %zu step %d", round, p, step);
				ok = random_step(r, members, &m, &log, &rng, phases[p], false, ctx);
				ok = ok && check_model(r, members, &m, &log, ctx);
			}
		}
		for (int a = 0; a < N_MEMBERS; a++)
			ws_rooms_leave_all(r, &members[a].set);
		UNIT_CHECK(ws_rooms_count(r) == 0, "round %d: rooms left", round);
		ws_rooms_free(r);
	}
}

/* One member in 1000 rooms, leaving them in a scrambled order; then 1000 members in one room,
 * likewise. Checks every remaining link after each leave. */
static void test_many_rooms_and_members(void)
{
	enum { N = 1000 };
	static member many[N];
	static int order[N];
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	member one = {0};
	uint32_t rng = 777;
	char name[16];
	bool ok = true;

	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "r%d", i);
		UNIT_CHECK(ws_rooms_join(r, &one.set, &one, name, (size_t)len) == 1, "join %d", i);
		order[i] = i;
	}
	UNIT_CHECK(ws_rooms_count(r) == N && one.set.count == N, "in %u rooms", one.set.count);
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(unit_rand(&rng) % (uint32_t)(i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < N && ok; i++) {
		int len = snprintf(name, sizeof(name), "r%d", order[i]);
		ok = ws_rooms_leave(r, &one.set, name, (size_t)len) &&
		     ws_rooms_find(r, name, (size_t)len) == NULL;
		UNIT_CHECK(ok, "leave r%d", order[i]);
		for (uint32_t j = 0; j < one.set.count && ok; j++) {
			const ws_room_link *l = &one.set.links[j];
			ok = ws_room_size(l->room) == 1 && l->index == 0 && ws_room_member(l->room, 0) == &one;
			UNIT_CHECK(ok, "after %d leaves, link %u", i + 1, j);
		}
	}
	UNIT_CHECK(ws_rooms_count(r) == 0 && one.set.links == NULL, "all left");

	memset(many, 0, sizeof(many));
	for (int i = 0; i < N; i++)
		UNIT_CHECK(ws_rooms_join(r, &many[i].set, &many[i], "hall", 4) == 1, "join %d", i);
	ws_room *hall = ws_rooms_find(r, "hall", 4);
	UNIT_CHECK(hall && ws_room_size(hall) == N, "hall full");
	for (int i = 0; i < N && ok; i++) {
		member *who = &many[order[i]];
		ok = ws_rooms_leave(r, &who->set, "hall", 4) && who->set.count == 0;
		UNIT_CHECK(ok, "member %d leaves", order[i]);
		if (i == N - 1)
			break;
		for (size_t k = 0; k < ws_room_size(hall) && ok; k++) {
			member *in = ws_room_member(hall, k);
			ok = in->set.count == 1 && in->set.links[0].room == hall && in->set.links[0].index == k;
			UNIT_CHECK(ok, "after %d leaves, index %zu", i + 1, k);
		}
	}
	UNIT_CHECK(ws_rooms_find(r, "hall", 4) == NULL && ws_rooms_count(r) == 0, "hall gone");
	ws_rooms_free(r);
}

/* Many members in many rooms each, then leave_all for each member in turn: the rooms of the
 * others keep consistent indices, each room goes with its last member. */
static void test_leave_all(void)
{
	static member members[N_MEMBERS];
	static model m;
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	uint32_t rng = 99;
	char name[8], ctx[32];
	bool ok = true;

	init_members(members);
	memset(&m, 0, sizeof(m));
	for (int a = 0; a < N_MEMBERS; a++) {
		for (int k = 0; k < N_ROOMS; k++) {
			if (unit_rand(&rng) % 3 == 0 || a == 0) {
				size_t len = room_name(name, k);
				UNIT_CHECK(ws_rooms_join(r, &members[a].set, &members[a], name, len) == 1,
				           "join %d %d", a, k);
				m.in[a][k] = true;
				m.size[k]++;
			}
		}
	}
	ok = check_model(r, members, &m, NULL, "filled");
	for (int i = 0; i < N_MEMBERS && ok; i++) {
		int a = (i * 37) % N_MEMBERS; /* 37 is coprime with 200: every member once */
		ws_rooms_leave_all(r, &members[a].set);
		for (int k = 0; k < N_ROOMS; k++) {
			if (m.in[a][k]) {
				m.in[a][k] = false;
				m.size[k]--;
			}
		}
		snprintf(ctx, sizeof(ctx), "leave_all %d", a);
		ok = check_model(r, members, &m, NULL, ctx);
	}
	UNIT_CHECK(ws_rooms_count(r) == 0, "no rooms left");
	ws_rooms_free(r);
}

/* The table grows through many rooms, then shrinks as they go; every room stays findable. */
static void test_growth(void)
{
	enum { N = 5000 };
	static member members[N];
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	char name[16];
	bool ok = true;

	memset(members, 0, sizeof(members));
	for (int i = 0; i < N && ok; i++) {
		int len = snprintf(name, sizeof(name), "%d", i);
		ok = ws_rooms_join(r, &members[i].set, &members[i], name, (size_t)len) == 1;
		UNIT_CHECK(ok, "join %d", i);
	}
	for (int i = 0; i < N && ok; i++) {
		int len = snprintf(name, sizeof(name), "%d", i);
		const ws_room *room = ws_rooms_find(r, name, (size_t)len);
		ok = room && ws_room_member(room, 0) == &members[i];
		UNIT_CHECK(ok, "find %d", i);
	}
	/* Leave every other room first, so deletions land in the middle of probe runs. */
	for (int pass = 0; pass < 2 && ok; pass++) {
		for (int i = pass; i < N && ok; i += 2) {
			int len = snprintf(name, sizeof(name), "%d", i);
			ok = ws_rooms_leave(r, &members[i].set, name, (size_t)len);
			UNIT_CHECK(ok, "leave %d", i);
		}
		for (int i = 0; i < N && ok; i++) {
			int len = snprintf(name, sizeof(name), "%d", i);
			bool gone = i % 2 == 0 || pass == 1;
			ok = (ws_rooms_find(r, name, (size_t)len) == NULL) == gone;
			UNIT_CHECK(ok, "pass %d: find %d", pass, i);
		}
	}
	UNIT_CHECK(ws_rooms_count(r) == 0, "empty");
	ws_rooms_free(r);
}

/* rooms.h: a leave during iteration moves the last member into the freed index, so an
 * iteration that does not advance after a leave visits every member once. */
static void test_leave_while_iterating(void)
{
	enum { N = 10 };
	member members[N];
	bool visited[N] = {false};
	ws_rooms *r = ws_rooms_new(NULL, NULL);
	ws_room *room;

	memset(members, 0, sizeof(members));
	for (int i = 0; i < N; i++) {
		members[i].id = i;
		ws_rooms_join(r, &members[i].set, &members[i], "it", 2);
	}
	room = ws_rooms_find(r, "it", 2);
	for (size_t i = 0; i < ws_room_size(room);) {
		member *who = ws_room_member(room, i);
		UNIT_CHECK(!visited[who->id], "member %d visited twice", who->id);
		visited[who->id] = true;
		if (who->id % 3 == 0)
			ws_rooms_leave(r, &who->set, "it", 2);
		else
			i++;
	}
	for (int i = 0; i < N; i++)
		UNIT_CHECK(visited[i], "member %d not visited", i);
	UNIT_CHECK(ws_room_size(room) == N - 4, "size %zu", ws_room_size(room));
	ws_rooms_free(r);
	for (int i = 0; i < N; i++)
		UNIT_CHECK(members[i].set.count == 0 && members[i].set.links == NULL, "set %d", i);
}

/* ---- allocation failures ---- */

/* One random sequence against the model with allocation n failing (alone, or with all that
 * follow; n == 0: none fails). A failed join must change nothing and return WS_ENOMEM; leaves
 * and leave_all must succeed anyway (shrinking is best effort). The model is checked after
 * every failure and every few steps; ASan's leak check covers what a failure path might
 * forget. Returns the number of allocations made, or 0 after a mismatch. */
static unsigned long run_failing(unsigned long n, bool after)
{
	static member members[N_MEMBERS];
	static model m;
	size_log log;
	uint32_t rng = 4242;
	ws_rooms *r;
	bool ok = true;
	char ctx[64];

	failalloc_fail_at(n, after);
	size_log_init(&log);
	r = ws_rooms_new(on_size, &log);
	if (!r) {
		UNIT_CHECK(n == 1, "new failed at %lu", n);
		return n == 1 ? 1 : 0;
	}
	init_members(members);
	memset(&m, 0, sizeof(m));
	for (int step = 0; step < 400 && ok; step++) {
		unsigned long before = failalloc.attempts;
		snprintf(ctx, sizeof(ctx), "fail at %lu%s, step %d", n, after ? " and after" : "", step);
		ok = random_step(r, members, &m, &log, &rng, step < 250 ? 85 : 25, n != 0, ctx);
		bool failed_here = n && before < n && failalloc.attempts >= n;
		if (ok && (failed_here || step % 16 == 0 || step == 399))
			ok = check_model(r, members, &m, &log, ctx);
	}
	for (int a = 0; a < N_MEMBERS; a++)
		ws_rooms_leave_all(r, &members[a].set);
	UNIT_CHECK(ws_rooms_count(r) == 0, "fail at %lu: rooms left", n);
	ws_rooms_free(r);
	failalloc.fail_at = 0;
	return ok ? failalloc.attempts : 0;
}

static void test_alloc_failures(void)
{
	unsigned long total;

	failalloc_install();
	total = run_failing(0, false);
	UNIT_CHECK(total > 100, "only %lu allocations", total);
	for (unsigned long n = 1; n <= total; n++)
		if (!run_failing(n, false) || !run_failing(n, true))
			break;
	ws_alloc_set(NULL);
}

static const CU_TestInfo tests[] = {
    {"hash is FNV-1a 64", test_hash},
    {"join and leave basics", test_join_leave_basics},
    {"names: limits and binary", test_names},
    {"on_size on every change", test_on_size_calls},
    {"random sequences against a model", test_random_against_model},
    {"one member in many rooms, many members in one room", test_many_rooms_and_members},
    {"leave_all", test_leave_all},
    {"table growth and shrinking", test_growth},
    {"leave while iterating", test_leave_while_iterating},
    {"every allocation failing", test_alloc_failures},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("rooms", tests);
}
