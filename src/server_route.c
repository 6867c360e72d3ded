/* server_route.c - delivery: broadcast, publish and rooms (join, leave, size), send to and
 * close an id, for this process's connections directly and for other workers' through the bus
 * (worker.c). The local delivery here is also what worker.c calls for a message the bus carried
 * in. */
#include "server_int.h"
#include "bus.h"

/* ---- messages, rooms and closes for any worker's connections ---- */

static bool excepted(const uint64_t *except, size_t n_except, uint64_t id)
{
	for (size_t i = 0; i < n_except; i++)
		if (except[i] == id)
			return true;
	return false;
}

ssize_t ws__server_deliver_all(ws_server *s, const uint8_t *data, size_t len, bool binary,
                               const uint64_t *except, size_t n_except)
{
	ws_frames f = {.data = data, .len = len, .binary = binary};
	ssize_t count = 0;
	/* ws_conn_send_frames refuses a connection that is not open (WS_ECLOSED): one call per
	 * connection, and one more for its id only when ids are excepted. */
	for (ws_conn *c = s->head; c; c = ws_conn_node_of(c)->next) {
		if ((!n_except || !excepted(except, n_except, ws_conn_id(c))) &&
		    ws_conn_send_frames(c, &f) == 0)
			count++;
	}
	ws_frames_release(&f);
	return count;
}

ssize_t ws__server_deliver_room(ws_server *s, const char *room, size_t room_len,
                                const uint8_t *data, size_t len, bool binary,
                                const uint64_t *except, size_t n_except)
{
	ws_room *r = s->rooms ? ws_rooms_find(s->rooms, room, room_len) : NULL;
	if (!r)
		return 0;
	ws_frames f = {.data = data, .len = len, .binary = binary};
	ssize_t count = 0;
	/* Sending never finishes a connection synchronously, so the member list holds still. */
	for (size_t i = 0; i < ws_room_size(r); i++) {
		ws_conn *c = ws_room_member(r, i);
		if ((!n_except || !excepted(except, n_except, ws_conn_id(c))) &&
		    ws_conn_send_frames(c, &f) == 0)
			count++;
	}
	ws_frames_release(&f);
	return count;
}

static bool is_local(const ws_server *s, uint64_t id)
{
	return !s->bus || (id >> ID_WORKER_SHIFT) == s->cfg.worker_index;
}

ssize_t ws_server_broadcast(ws_server *s, const uint8_t *data, size_t len, bool binary,
                            const uint64_t *except, size_t n_except)
{
	if (s->bus)
		ws__worker_post(s, WS_BUS_BROADCAST, binary ? WS_BUS_F_BINARY : 0, 0, 0, except, n_except,
		                NULL, 0, data, len);
	return ws__server_deliver_all(s, data, len, binary, except, n_except);
}

ssize_t ws_server_publish(ws_server *s, const char *room, size_t room_len, const uint8_t *data,
                          size_t len, bool binary, const uint64_t *except, size_t n_except)
{
	if (s->bus)
		ws__worker_post(s, WS_BUS_PUBLISH, binary ? WS_BUS_F_BINARY : 0, 0, 0, except, n_except,
		                room, room_len, data, len);
	return ws__server_deliver_room(s, room, room_len, data, len, binary, except, n_except);
}

int ws_server_send(ws_server *s, uint64_t id, const uint8_t *data, size_t len, bool binary,
                   ws_chunk_release_fn release, void *arg)
{
	ws_conn *c = NULL;
	int rc = WS_ECLOSED;
	if (!is_local(s, id))
		rc = ws__worker_post(s, WS_BUS_SEND, binary ? WS_BUS_F_BINARY : 0, 0, id, NULL, 0, NULL, 0,
		                     data, len);
	else if ((c = ws_server_find(s, id)) != NULL)
		return ws_conn_send_borrowed(c, data, len, binary, release, arg);
	release(arg);
	return rc;
}

static void room_size_changed(void *arg, const char *name, size_t len, uint64_t hash, size_t size)
{
	(void)name;
	(void)len;
	ws_server *s = arg;
	if (s->bus)
		ws_stats_room_set(s->stats, s->cfg.worker_index, hash, size);
}

int ws_server_conn_join(ws_server *s, ws_conn *c, const char *room, size_t len)
{
	if (ws_conn_state_of(c) >= WS_CONN_LINGER)
		return 0;
	if (!s->rooms && !(s->rooms = ws_rooms_new(room_size_changed, s)))
		return WS_ENOMEM;
	return ws_rooms_join(s->rooms, &ws_conn_node_of(c)->rooms, c, room, len);
}

static int join_or_leave(ws_server *s, uint64_t id, const char *room, size_t len, bool join)
{
	if (!len || len > WS_ROOM_NAME_MAX)
		return WS_EINVAL;
	if (!is_local(s, id)) {
		int rc = ws__worker_post(s, join ? WS_BUS_JOIN : WS_BUS_LEAVE, 0, 0, id, NULL, 0, room, len,
		                         NULL, 0);
		return rc < 0 ? rc : 0;
	}
	ws_conn *c = ws_server_find(s, id);
	if (!c)
		return 0;
	return join ? ws_server_conn_join(s, c, room, len) : ws_server_conn_leave(s, c, room, len);
}

int ws_server_join(ws_server *s, uint64_t id, const char *room, size_t len)
{
	return join_or_leave(s, id, room, len, true);
}

int ws_server_leave(ws_server *s, uint64_t id, const char *room, size_t len)
{
	return join_or_leave(s, id, room, len, false);
}

int ws_server_conn_leave(ws_server *s, ws_conn *c, const char *room, size_t len)
{
	return s->rooms && ws_rooms_leave(s->rooms, &ws_conn_node_of(c)->rooms, room, len) ? 1 : 0;
}

uint64_t ws_server_room_size(ws_server *s, const char *room, size_t len)
{
	ws_room *r = s->rooms ? ws_rooms_find(s->rooms, room, len) : NULL;
	uint64_t size = r ? ws_room_size(r) : 0;
	if (s->bus)
		size += ws_stats_room_others(s->stats, s->cfg.worker_index, ws_rooms_hash(room, len));
	return size;
}

size_t ws_server_conn_rooms(const ws_conn *c)
{
	return ws_room_set_count(&ws_conn_node_of_const(c)->rooms);
}

const char *ws_server_conn_room(const ws_conn *c, size_t i, size_t *len)
{
	return ws_room_name(ws_conn_node_of_const(c)->rooms.links[i].room, len);
}

int ws_server_close_id(ws_server *s, uint64_t id, uint16_t code, const char *reason,
                       size_t reason_len)
{
	if (!is_local(s, id))
		return ws__worker_post(s, WS_BUS_CLOSE, 0, code, id, NULL, 0, NULL, 0,
		                       (const uint8_t *)reason, reason_len);
	ws_conn *c = ws_server_find(s, id);
	return c ? ws_conn_close(c, code, reason, reason_len) : WS_ECLOSED;
}
