/* test_server.c - src/server*.c with the whole core linked, serving 127.0.0.1 on a free port in
 * the test's own process: the server's loop runs (ws_server_run), and a 1 ms server timer steps
 * a script that drives plain non-blocking client sockets (wsclient.h) and checks what the hooks
 * and the clients saw. Covers the handshake and on_open, a masked text message, broadcast to
 * three clients, rooms (join, publish, leave), sending to an id, the max_connections refusal,
 * closing from the server and from the client, ws_server_stop closing clients with 1001, and
 * the stats counters. Each script is bounded by a step limit, the binary by alarm(). */
#include "unit.h"

#include "alloc.h"
#include "server.h"
#include "wsclient.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>

#define MAX_CLIENTS 4
#define STEP_LIMIT  5000 /* ticks of about 1 ms */

typedef struct world world;
typedef bool (*step_fn)(world *w); /* true: the script is finished */

struct world {
	ws_server *s;
	int port;
	wsc cl[MAX_CLIENTS];
	int n_clients;
	int phase;
	int ticks;
	bool timed_out;
	step_fn step;
	/* what the hooks saw */
	ws_conn *open[MAX_CLIENTS]; /* in the order they opened */
	int opens;
	int messages;
	char msg[256];
	size_t msg_len;
	bool msg_binary;
	int closes;
	uint16_t close_code[MAX_CLIENTS];
	char close_reason[MAX_CLIENTS][128];
	int releases;
	int send_released;
	uint64_t bytes_out; /* the stats script's figure before its broadcast */
	int stop_closes;    /* Close frames (1001, "server shutting down") the clients got */
};

static void on_open(void *owner, ws_conn *c)
{
	world *w = owner;
	if (w->opens < MAX_CLIENTS)
		w->open[w->opens] = c;
	w->opens++;
}

static void on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)c;
	world *w = owner;
	w->messages++;
	w->msg_len = len < sizeof(w->msg) ? len : sizeof(w->msg);
	memcpy(w->msg, msg, w->msg_len);
	w->msg_binary = binary;
	ws_free(msg);
}

static void on_close(void *owner, ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	(void)c;
	world *w = owner;
	if (w->closes < MAX_CLIENTS) {
		w->close_code[w->closes] = code;
		snprintf(w->close_reason[w->closes], sizeof(w->close_reason[0]), "%.*s", (int)reason_len,
		         reason);
	}
	w->closes++;
}

static const ws_server_hooks hooks = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* Once a script is finished (the server stopping), each client answers the server's Close
 * and closes its socket when the server has closed its side, as a browser would. */
static void clients_settle(world *w)
{
	static wsc_frame f;
	for (int i = 0; i < w->n_clients; i++) {
		wsc *c = &w->cl[i];
		if (c->fd < 0)
			continue;
		while (wsc_frame_take(c, &f)) {
			if (f.opcode != 8)
				continue;
			if (wsc_close_code(&f) == 1001 && f.len == 2 + strlen("server shutting down") &&
			    memcmp(f.payload + 2, "server shutting down", f.len - 2) == 0)
				w->stop_closes++;
			wsc_send_close(c, wsc_close_code(&f), "");
		}
		if (c->eof) {
			close(c->fd);
			c->fd = -1;
		}
	}
}

static void tick(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	world *w = arg;
	if (++w->ticks > STEP_LIMIT) {
		if (!w->timed_out)
			fprintf(stderr, "  script timed out in phase %d\n", w->phase);
		w->timed_out = true;
		ws_server_stop(w->s);
		return;
	}
	/* A client that sent its Close closes its socket once the server closed its side. */
	for (int i = 0; i < w->n_clients; i++) {
		wsc *c = &w->cl[i];
		if (c->fd >= 0 && c->close_sent) {
			wsc_pump(c);
			if (c->eof) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	if (!w->step) {
		clients_settle(w);
	} else if (w->step(w)) {
		w->step = NULL;
		ws_server_stop(w->s);
	}
}

static ws_server_config base_config(void)
{
	return (ws_server_config){
	    .host = "127.0.0.1",
	    .port = 0,
	    .backlog = 64,
	    .max_header_bytes = 8192,
	    .max_frame_bytes = 1 << 20,
	    .max_message_bytes = 1 << 20,
	    .handshake_timeout_ms = 5000,
	    .close_timeout_ms = 2000,
	    .shutdown_timeout_ms = 2000,
	};
}

/* Runs a script against a server made from cfg; returns after the server stopped. */
static void run_script(world *w, const ws_server_config *cfg, step_fn step)
{
	ws_err err = {0};
	w->s = ws_server_new(cfg, &hooks, w, &err);
	CU_ASSERT_FATAL(w->s != NULL);
	CU_ASSERT_FATAL(ws_server_listen(w->s, &err) == 0);
	w->port = ws_server_port(w->s);
	UNIT_CHECK(w->port > 0, "port %d", w->port);
	w->step = step;
	ws_timer *t = ws_server_timer_start(w->s, 1, 1, tick, w);
	CU_ASSERT_FATAL(t != NULL);
	int rc = ws_server_run(w->s, &err);
	UNIT_CHECK(rc == 0, "run: %d %s", rc, err.msg);
	ws_server_timer_stop(w->s, t);
	UNIT_CHECK(!w->timed_out && w->step == NULL, "script finished (phase %d)", w->phase);
	ws_server_free(w->s);
	for (int i = 0; i < w->n_clients; i++)
		wsc_release(&w->cl[i]);
}

/* A new client connected to the server (the connect completes in the kernel's backlog). */
static wsc *client_new(world *w)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		perror("connect");
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	wsc *c = &w->cl[w->n_clients++];
	wsc_init(c, fd);
	return c;
}

/* Connects n clients and sends their requests. */
static void clients_start(world *w, int n)
{
	for (int i = 0; i < n; i++)
		wsc_write(client_new(w), wsc_request, sizeof(wsc_request) - 1);
}

/* True once clients [from, to) have their 101 response. */
static bool upgraded(world *w, int from, int to)
{
	for (int i = from; i < to; i++)
		if (!w->cl[i].upgraded && !wsc_response(&w->cl[i]))
			return false;
	return true;
}

/* Waits for one frame on client i; true when it came (in *f). */
static bool got_frame(world *w, int i, wsc_frame *f)
{
	return wsc_frame_take(&w->cl[i], f);
}

/* Checks that client i received one text frame with `text`. */
static bool got_text(world *w, int i, const char *text)
{
	static wsc_frame f;
	if (!got_frame(w, i, &f))
		return false;
	UNIT_CHECK(f.fin && f.opcode == 1 && f.len == strlen(text) &&
	               memcmp(f.payload, text, f.len) == 0,
	           "client %d: opcode %d len %zu '%.*s', want '%s'", i, f.opcode, f.len, (int)f.len,
	           f.payload, text);
	return true;
}

/* ---- handshake, a message, a close from the client ---- */

static bool script_open_message_close(world *w)
{
	static wsc_frame f;
	switch (w->phase) {
	case 0:
		clients_start(w, 1);
		w->phase++;
		return false;
	case 1:
		if (!upgraded(w, 0, 1) || w->opens < 1)
			return false;
		UNIT_CHECK(w->cl[0].status == 101 && w->opens == 1, "status %d opens %d", w->cl[0].status,
		           w->opens);
		UNIT_CHECK(ws_server_count(w->s) == 1, "count");
		UNIT_CHECK(ws_server_find(w->s, ws_conn_id(w->open[0])) == w->open[0], "find");
		UNIT_CHECK(ws_server_first(w->s) == w->open[0] && ws_server_next(w->open[0]) == NULL,
		           "iteration");
		UNIT_CHECK(strcmp(ws_conn_remote_ip(w->open[0]), "127.0.0.1") == 0 &&
		               ws_conn_remote_port(w->open[0]) > 0 && ws_conn_is_open(w->open[0]),
		           "remote %s", ws_conn_remote_ip(w->open[0]));
		wsc_send_frame(&w->cl[0], true, 1, "hello", 5);
		w->phase++;
		return false;
	case 2:
		if (w->messages < 1)
			return false;
		UNIT_CHECK(w->msg_len == 5 && memcmp(w->msg, "hello", 5) == 0 && !w->msg_binary,
		           "message '%.*s'", (int)w->msg_len, w->msg);
		wsc_send_frame(&w->cl[0], true, 2, "\x00\x01\x02", 3);
		w->phase++;
		return false;
	case 3:
		if (w->messages < 2)
			return false;
		UNIT_CHECK(w->msg_len == 3 && w->msg_binary && memcmp(w->msg, "\x00\x01\x02", 3) == 0,
		           "binary message");
		wsc_send_close(&w->cl[0], 4001, "client leaves");
		w->phase++;
		return false;
	case 4:
		if (!got_frame(w, 0, &f))
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 4001, "echoed close %d",
		           wsc_close_code(&f));
		w->phase++;
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(w->close_code[0] == 4001 && strcmp(w->close_reason[0], "client leaves") == 0,
		           "on_close %d '%s'", w->close_code[0], w->close_reason[0]);
		UNIT_CHECK(ws_server_count(w->s) == 0, "none open");
		return true;
	}
}

static void test_open_message_close(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_open_message_close);
}

/* ---- broadcast ---- */

static bool script_broadcast(world *w)
{
	switch (w->phase) {
	case 0:
		clients_start(w, 3);
		w->phase++;
		return false;
	case 1:
		if (!upgraded(w, 0, 3) || w->opens < 3)
			return false;
		UNIT_CHECK(ws_server_broadcast(w->s, (const uint8_t *)"news", 4, false, NULL, 0) == 3,
		           "queued to 3");
		w->phase++;
		return false;
	case 2:
	case 3:
	case 4:
		if (!got_text(w, w->phase - 2, "news"))
			return false;
		if (++w->phase == 5) {
			uint64_t except = ws_conn_id(w->open[1]);
			UNIT_CHECK(ws_server_broadcast(w->s, (const uint8_t *)"most", 4, false, &except, 1) ==
			               2,
			           "queued to 2");
		}
		return false;
	case 5:
	case 6:
		if (!got_text(w, w->phase == 5 ? 0 : 2, "most"))
			return false;
		w->phase++;
		return false;
	default:
		wsc_pump(&w->cl[1]);
		UNIT_CHECK(w->cl[1].len == 0, "the excepted client got nothing");
		return true;
	}
}

static void test_broadcast(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_broadcast);
}

/* ---- rooms ---- */

static bool script_rooms(world *w)
{
	switch (w->phase) {
	case 0:
		clients_start(w, 3);
		w->phase++;
		return false;
	case 1: {
		if (!upgraded(w, 0, 3) || w->opens < 3)
			return false;
		uint64_t id0 = ws_conn_id(w->open[0]), id1 = ws_conn_id(w->open[1]);
		UNIT_CHECK(ws_server_join(w->s, id0, "lobby", 5) == 1, "join 0");
		UNIT_CHECK(ws_server_join(w->s, id0, "lobby", 5) == 0, "join twice");
		UNIT_CHECK(ws_server_conn_join(w->s, w->open[1], "lobby", 5) == 1, "join 1");
		UNIT_CHECK(ws_server_join(w->s, id1, "other", 5) == 1, "join other");
		UNIT_CHECK(ws_server_room_size(w->s, "lobby", 5) == 2, "size 2");
		UNIT_CHECK(ws_server_conn_rooms(w->open[1]) == 2, "rooms of 1");
		size_t len = 0;
		const char *name = ws_server_conn_room(w->open[0], 0, &len);
		UNIT_CHECK(len == 5 && memcmp(name, "lobby", 5) == 0, "room name");
		UNIT_CHECK(ws_server_join(w->s, id0, "", 0) == WS_EINVAL, "empty name");
		UNIT_CHECK(ws_server_publish(w->s, "lobby", 5, (const uint8_t *)"to lobby", 8, false, NULL,
		                             0) == 2,
		           "published to 2");
		/* A marker everybody gets, so client 2 shows it got nothing before it. */
		ws_server_broadcast(w->s, (const uint8_t *)"marker", 6, false, NULL, 0);
		w->phase++;
		return false;
	}
	case 2:
		if (!got_text(w, 0, "to lobby"))
			return false;
		w->phase++;
		return false;
	case 3:
		if (!got_text(w, 1, "to lobby"))
			return false;
		w->phase++;
		return false;
	case 4:
	case 5:
	case 6:
		if (!got_text(w, w->phase - 4, "marker"))
			return false;
		if (++w->phase == 7) {
			UNIT_CHECK(ws_server_leave(w->s, ws_conn_id(w->open[0]), "lobby", 5) == 1, "leave");
			UNIT_CHECK(ws_server_conn_leave(w->s, w->open[0], "lobby", 5) == 0, "leave again");
			UNIT_CHECK(ws_server_room_size(w->s, "lobby", 5) == 1, "size 1");
			UNIT_CHECK(ws_server_publish(w->s, "lobby", 5, (const uint8_t *)"fewer", 5, false, NULL,
			                             0) == 1,
			           "published to 1");
			UNIT_CHECK(
			    ws_server_publish(w->s, "nobody", 6, (const uint8_t *)"x", 1, false, NULL, 0) == 0,
			    "empty room");
		}
		return false;
	case 7:
		if (!got_text(w, 1, "fewer"))
			return false;
		w->phase++;
		wsc_send_close(&w->cl[1], 1000, "");
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(ws_server_room_size(w->s, "lobby", 5) == 0 &&
		               ws_server_room_size(w->s, "other", 5) == 0,
		           "a finished connection leaves its rooms");
		return true;
	}
}

static void test_rooms(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_rooms);
}

/* ---- send to an id ---- */

static void send_release(void *arg)
{
	((world *)arg)->send_released++;
}

static bool script_send_id(world *w)
{
	switch (w->phase) {
	case 0:
		clients_start(w, 2);
		w->phase++;
		return false;
	case 1: {
		if (!upgraded(w, 0, 2) || w->opens < 2)
			return false;
		static const char text[] = "just for you";
		int rc = ws_server_send(w->s, ws_conn_id(w->open[1]), (const uint8_t *)text,
		                        sizeof(text) - 1, false, send_release, w);
		UNIT_CHECK(rc == 0 && w->send_released == 1, "send %d released %d", rc, w->send_released);
		rc = ws_server_send(w->s, 0xdead, (const uint8_t *)text, 3, false, send_release, w);
		UNIT_CHECK(rc == WS_ECLOSED && w->send_released == 2, "unknown id %d", rc);
		ws_server_broadcast(w->s, (const uint8_t *)"marker", 6, false, NULL, 0);
		w->phase++;
		return false;
	}
	case 2:
		if (!got_text(w, 1, "just for you"))
			return false;
		w->phase++;
		return false;
	default:
		if (!got_text(w, 0, "marker"))
			return false;
		return true;
	}
}

static void test_send_id(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_send_id);
}

/* ---- max_connections ---- */

static bool script_max_connections(world *w)
{
	switch (w->phase) {
	case 0:
		clients_start(w, 2);
		w->phase++;
		return false;
	case 1:
		if (!upgraded(w, 0, 2) || w->opens < 2)
			return false;
		clients_start(w, 1);
		w->phase++;
		return false;
	case 2:
		if (!wsc_response(&w->cl[2]))
			return false;
		UNIT_CHECK(w->cl[2].status == 503, "refused with %d", w->cl[2].status);
		w->phase++;
		return false;
	default:
		wsc_pump(&w->cl[2]);
		if (!w->cl[2].eof)
			return false;
		UNIT_CHECK(w->opens == 2 && ws_server_count(w->s) == 2, "opens %d", w->opens);
		return true;
	}
}

static void test_max_connections(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	cfg.max_connections = 2;
	run_script(&w, &cfg, script_max_connections);
}

/* ---- close from the server ---- */

static bool script_server_close(world *w)
{
	static wsc_frame f;
	switch (w->phase) {
	case 0:
		clients_start(w, 1);
		w->phase++;
		return false;
	case 1:
		if (!upgraded(w, 0, 1) || w->opens < 1)
			return false;
		ws_conn_send(w->open[0], (const uint8_t *)"last words", 10, false);
		UNIT_CHECK(ws_server_close_id(w->s, ws_conn_id(w->open[0]), 4000, "kicked", 6) == 0,
		           "close_id");
		UNIT_CHECK(ws_server_close_id(w->s, 0xdead, 4000, "", 0) == WS_ECLOSED, "unknown id");
		UNIT_CHECK(!ws_conn_is_open(w->open[0]) &&
		               ws_conn_send(w->open[0], (const uint8_t *)"x", 1, false) == WS_ECLOSED,
		           "closing refuses sends");
		w->phase++;
		return false;
	case 2:
		if (!got_text(w, 0, "last words"))
			return false;
		w->phase++;
		return false;
	case 3:
		if (!got_frame(w, 0, &f))
			return false;
		UNIT_CHECK(f.opcode == 8 && wsc_close_code(&f) == 4000 && f.len == 8 &&
		               memcmp(f.payload + 2, "kicked", 6) == 0,
		           "close frame %d len %zu", wsc_close_code(&f), f.len);
		wsc_send_close(&w->cl[0], 4000, "");
		w->phase++;
		return false;
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(w->close_code[0] == 4000, "on_close %d", w->close_code[0]);
		wsc_pump(&w->cl[0]);
		return w->cl[0].eof;
	}
}

static void test_server_close(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_server_close);
}

/* ---- ws_server_stop ---- */

static bool script_stop(world *w)
{
	switch (w->phase) {
	case 0:
		clients_start(w, 2);
		w->phase++;
		return false;
	default:
		if (!upgraded(w, 0, 2) || w->opens < 2)
			return false;
		/* The script ends here: the tick stops the server, and the clients answer below. */
		return true;
	}
}

static void test_stop(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	ws_err err = {0};
	w.s = ws_server_new(&cfg, &hooks, &w, &err);
	CU_ASSERT_FATAL(w.s != NULL);
	CU_ASSERT_FATAL(ws_server_listen(w.s, &err) == 0);
	w.port = ws_server_port(w.s);
	w.step = script_stop;
	ws_timer *t = ws_server_timer_start(w.s, 1, 1, tick, &w);
	UNIT_CHECK(ws_server_run(w.s, &err) == 0, "run");
	ws_server_timer_stop(w.s, t);
	UNIT_CHECK(w.stop_closes == 2, "clients got %d Close frames", w.stop_closes);
	UNIT_CHECK(w.closes == 2 && w.close_code[0] == 1001 && w.close_code[1] == 1001,
	           "closes %d: %d %d", w.closes, w.close_code[0], w.close_code[1]);
	UNIT_CHECK(w.ticks < 1500, "clients answered: the stop did not wait for its timeout (%d)",
	           w.ticks);
	ws_server_free(w.s);
	for (int i = 0; i < w.n_clients; i++)
		wsc_release(&w.cl[i]);
}

/* ---- stats ---- */

static bool script_stats(world *w)
{
	const ws_worker_stats *st = &ws_server_stats(w->s)->w[0];
	switch (w->phase) {
	case 0:
		UNIT_CHECK(ws_server_stats(w->s)->workers == 1 && ws_server_worker(w->s) == 0,
		           "one worker");
		UNIT_CHECK(st->pid == (uint64_t)getpid() && st->started_ms > 0, "pid and start");
		clients_start(w, 2);
		w->phase++;
		return false;
	case 1:
		if (!upgraded(w, 0, 2) || w->opens < 2)
			return false;
		UNIT_CHECK(ws_stat_get(&st->connections) == 2, "connections %llu",
		           (unsigned long long)st->connections);
		wsc_send_frame(&w->cl[0], true, 1, "12345", 5);
		wsc_send_frame(&w->cl[1], true, 1, "123", 3);
		w->phase++;
		return false;
	case 2:
		if (w->messages < 2)
			return false;
		UNIT_CHECK(ws_stat_get(&st->messages_in) == 2, "messages_in %llu",
		           (unsigned long long)st->messages_in);
		/* Two requests and two frames of 6 + 5 and 6 + 3 bytes. */
		UNIT_CHECK(ws_stat_get(&st->bytes_in) == 2 * (sizeof(wsc_request) - 1) + 11 + 9,
		           "bytes_in %llu", (unsigned long long)st->bytes_in);
		/* So far only the two 101 responses went out. */
		w->bytes_out = ws_stat_get(&st->bytes_out);
		UNIT_CHECK(w->bytes_out > 2 * 100, "bytes_out %llu", (unsigned long long)w->bytes_out);
		ws_server_broadcast(w->s, (const uint8_t *)"abc", 3, false, NULL, 0);
		UNIT_CHECK(ws_stat_get(&st->messages_out) == 2, "messages_out %llu",
		           (unsigned long long)st->messages_out);
		w->phase++;
		return false;
	case 3:
	case 4:
		if (!got_text(w, w->phase - 3, "abc"))
			return false;
		w->phase++;
		return false;
	case 5: {
		/* Then two frames of 2 + 3 bytes. */
		uint64_t out = ws_stat_get(&st->bytes_out);
		UNIT_CHECK(out == w->bytes_out + 2 * 5, "bytes_out %llu after %llu",
		           (unsigned long long)out, (unsigned long long)w->bytes_out);
		wsc_send_close(&w->cl[0], 1000, "");
		w->phase++;
		return false;
	}
	default:
		if (w->closes < 1)
			return false;
		UNIT_CHECK(ws_stat_get(&st->connections) == 1, "connections after a close %llu",
		           (unsigned long long)st->connections);
		return true;
	}
}

static void test_stats(void)
{
	world w = {0};
	ws_server_config cfg = base_config();
	run_script(&w, &cfg, script_stats);
}

static const CU_TestInfo tests[] = {
    {"handshake, on_open, messages, close from the client", test_open_message_close},
    {"broadcast to 3 clients, with an exception", test_broadcast},
    {"rooms: join, publish, leave", test_rooms},
    {"send to an id", test_send_id},
    {"max_connections refuses with 503", test_max_connections},
    {"close from the server", test_server_close},
    {"ws_server_stop closes clients with 1001", test_stop},
    {"stats counters", test_stats},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	alarm(60);
	return unit_main("server", tests);
}
