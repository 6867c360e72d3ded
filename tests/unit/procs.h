/* procs.h - shared by the multi-process unit tests (test_master.c, test_worker.c): a master
 * with N workers run in a forked process, the small server each worker runs, the lines they
 * report on a pipe, and a blocking WebSocket client (wsclient.h with a timeout).
 *
 * The test process forks the master process; ws_master_run forks the workers from there, so
 * the test can kill the master or one worker as an outsider would. Reports are single write()
 * calls shorter than PIPE_BUF, so lines from several processes never interleave:
 *   "port P"            the master process bound P
 *   "start I PID"       worker I runs (its loop turned once)
 *   "stop I PID"        worker I's ws_server_run returned
 *   "master RC"         ws_master_run returned RC in the master process
 * A worker answers text messages: "who" with "w<index> <pid>", "bcast <text>" by broadcasting
 * <text> to every client of every worker, "stop" by calling ws_server_stop. Every process
 * forked here ends with _exit(), so nothing of the test's own state runs twice.
 * Include after unit.h. */
#ifndef WS_UNIT_PROCS_H
#define WS_UNIT_PROCS_H

#include "alloc.h"
#include "master.h"
#include "server.h"
#include "wsclient.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

/* What the workers do besides answering messages; set before procs_start. */
typedef struct procs_plan {
	int stop_all_worker;     /* this worker (-1: none) calls ws_server_stop, once, */
	uint32_t stop_all_ms;    /* this long after its first start */
	bool stop_when_orphaned; /* a connection that finishes once the master is gone makes its
	                            worker call ws_server_stop */
	uint32_t shutdown_ms;    /* the workers' and the master's shutdown_timeout_ms */
	const char *log_path;    /* the master process's stderr goes here (NULL: inherited) */
} procs_plan;

typedef struct procs {
	pid_t master; /* the master process, 0 once reaped */
	int port;
	int report; /* read end of the report pipe */
	char pending[4096];
	size_t pending_len;
} procs;

static procs_plan procs_cfg = {.stop_all_worker = -1, .shutdown_ms = 1000};
static int procs_report_fd = -1;

static inline uint64_t procs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void procs_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(line) - 2)
		return;
	line[n++] = '\n';
	if (write(procs_report_fd, line, (size_t)n) < 0)
		_exit(3);
}

/* ---- the worker's server ---- */

typedef struct procs_worker {
	ws_server *server;
	unsigned index;
	pid_t master; /* the parent at start */
	ws_timer *stop_timer;
} procs_worker;

static inline void procs_on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	procs_worker *w = owner;
	const char *text = msg;
	(void)binary;
	if (len == 3 && memcmp(text, "who", 3) == 0) {
		char reply[64];
		int n = snprintf(reply, sizeof(reply), "w%u %ld", w->index, (long)getpid());
		ws_conn_send(c, (const uint8_t *)reply, (size_t)n, false);
	} else if (len > 6 && memcmp(text, "bcast ", 6) == 0) {
		ws_server_broadcast(w->server, (const uint8_t *)text + 6, len - 6, false, NULL, 0);
	} else if (len == 4 && memcmp(text, "stop", 4) == 0) {
		ws_server_stop(w->server);
	}
	ws_free(msg);
}

static inline void procs_on_close(void *owner, ws_conn *c, uint16_t code, const char *reason,
                                  size_t reason_len)
{
	procs_worker *w = owner;
	(void)c;
	(void)code;
	(void)reason;
	(void)reason_len;
	if (procs_cfg.stop_when_orphaned && getppid() != w->master)
		ws_server_stop(w->server);
}

static inline void procs_on_started(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	procs_worker *w = arg;
	procs_say("start %u %ld", w->index, (long)getpid());
}

static inline void procs_on_stop_timer(ws_loop *loop, ws_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	procs_worker *w = arg;
	w->stop_timer = NULL;
	ws_server_stop(w->server);
}

static inline int procs_worker_main(ws_worker_env *env)
{
	static const ws_server_hooks hooks = {
	    .on_message = procs_on_message,
	    .on_close = procs_on_close,
	};
	ws_server_config cfg = {
	    .host = "127.0.0.1",
	    .backlog = 64,
	    .max_header_bytes = 8192,
	    .max_frame_bytes = 1 << 20,
	    .max_message_bytes = 1 << 20,
	    .handshake_timeout_ms = 5000,
	    .close_timeout_ms = 1000,
	    .shutdown_timeout_ms = procs_cfg.shutdown_ms,
	    .max_connections = 64,
	    .tls_port = -1,
	};
	procs_worker w = {.index = env->index, .master = getppid()};
	ws_err err = {0};
	w.server = ws_server_new(&cfg, &hooks, &w, &err);
	if (!w.server || ws_server_set_worker(w.server, env, &err) < 0) {
		procs_say("error %u %s", env->index, err.msg);
		_exit(2);
	}
	ws_server_timer_start(w.server, 0, 0, procs_on_started, &w);
	alarm(60); /* a worker that hangs ends anyway */
	bool restarted = ws_stat_get(&env->stats->w[env->index].restarts) > 0;
	if ((int)env->index == procs_cfg.stop_all_worker && !restarted)
		w.stop_timer =
		    ws_server_timer_start(w.server, procs_cfg.stop_all_ms, 0, procs_on_stop_timer, &w);
	int rc = ws_server_run(w.server, &err);
	procs_say("stop %u %ld", env->index, (long)getpid());
	ws_server_free(w.server);
	ws_stats_free(env->stats);
	_exit(rc < 0 ? 1 : 0);
}

/* ---- the master process ---- */

static inline void procs_master_main(unsigned workers)
{
	ws_master_config mc = {
	    .host = "127.0.0.1",
	    .port = 0,
	    .tls_port = -1,
	    .backlog = 64,
	    .workers = workers,
	    .bus_max = 1 << 20,
	    .shutdown_timeout_ms = procs_cfg.shutdown_ms,
	    .reload_timeout_ms = 5000,
	    .max_connections = 64,
	};
	ws_err err = {0};
	ws_master *m = ws_master_new(&mc, &err);
	if (!m) {
		procs_say("error master %s", err.msg);
		_exit(2);
	}
	procs_say("port %d", ws_master_port(m));
	ws_worker_env env;
	int rc = ws_master_run(m, &env, &err);
	if (rc == 1)
		procs_worker_main(&env); /* in a new worker: does not return */
	ws_master_free(m);
	procs_say("master %d", rc);
	_exit(rc == 0 ? 0 : 1);
}

/* ---- the test's side ---- */

/* Reads the next report line into line (without its newline) within timeout_ms. Returns
 * false on timeout or when every writer is gone. */
static inline bool procs_line(procs *p, char *line, size_t cap, int timeout_ms)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		char *nl = memchr(p->pending, '\n', p->pending_len);
		if (nl) {
			size_t n = (size_t)(nl - p->pending);
			size_t k = n < cap - 1 ? n : cap - 1;
			memcpy(line, p->pending, k);
			line[k] = '\0';
			memmove(p->pending, nl + 1, p->pending_len - n - 1);
			p->pending_len -= n + 1;
			return true;
		}
		uint64_t now = procs_now_ms();
		if (now >= until || p->pending_len == sizeof(p->pending))
			return false;
		struct pollfd pfd = {.fd = p->report, .events = POLLIN};
		if (poll(&pfd, 1, (int)(until - now)) <= 0)
			continue;
		ssize_t r =
		    read(p->report, p->pending + p->pending_len, sizeof(p->pending) - p->pending_len);
		if (r <= 0)
			return false;
		p->pending_len += (size_t)r;
	}
}

/* Waits for a line that starts with prefix (skipping others); true when one came. */
static inline bool procs_expect(procs *p, const char *prefix, char *line, size_t cap,
                                int timeout_ms)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = procs_now_ms();
		if (now >= until || !procs_line(p, line, cap, (int)(until - now)))
			return false;
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			return true;
	}
}

/* Forks the master process with `workers` workers and waits for its port. */
static inline bool procs_start(procs *p, unsigned workers)
{
	memset(p, 0, sizeof(*p));
	int fds[2];
	if (pipe(fds) != 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		close(fds[0]);
		procs_report_fd = fds[1];
		if (procs_cfg.log_path) {
			FILE *f = freopen(procs_cfg.log_path, "w", stderr);
			(void)f;
		}
		alarm(60); /* a master that hangs ends anyway */
		procs_master_main(workers);
	}
	close(fds[1]);
	p->master = pid;
	p->report = fds[0];
	char line[128];
	if (!procs_expect(p, "port ", line, sizeof(line), 5000))
		return false;
	p->port = atoi(line + 5);
	return p->port > 0;
}

/* Reads "start I PID" lines until every index in [0, workers) has started; pids[i] gets
 * each worker's pid. */
static inline bool procs_wait_started(procs *p, unsigned workers, pid_t *pids, int timeout_ms)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	unsigned seen = 0;
	while (seen < workers) {
		uint64_t now = procs_now_ms();
		char line[128];
		if (now >= until || !procs_expect(p, "start ", line, sizeof(line), (int)(until - now)))
			return false;
		unsigned i;
		long pid;
		if (sscanf(line, "start %u %ld", &i, &pid) != 2 || i >= workers)
			return false;
		if (!pids[i])
			seen++;
		pids[i] = (pid_t)pid;
	}
	return true;
}

/* Waits up to timeout_ms for the master process to exit; returns its wait status, or -1
 * (then it is killed and reaped). */
static inline int procs_wait_master(procs *p, int timeout_ms)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	int status = -1;
	while (p->master) {
		pid_t r = waitpid(p->master, &status, WNOHANG);
		if (r == p->master) {
			p->master = 0;
			return status;
		}
		if (procs_now_ms() >= until) {
			kill(p->master, SIGKILL);
			waitpid(p->master, NULL, 0);
			p->master = 0;
			return -1;
		}
		struct timespec pause = {.tv_nsec = 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return status;
}

/* Ends whatever is left: the master process, killed and reaped, and the pipe. Workers of a
 * killed master see their bus end and exit on their own. */
static inline void procs_finish(procs *p)
{
	if (p->master) {
		kill(p->master, SIGKILL);
		waitpid(p->master, NULL, 0);
		p->master = 0;
	}
	if (p->report >= 0)
		close(p->report);
	p->report = -1;
}

/* ---- a blocking WebSocket client: wsclient.h's, waiting up to a timeout for input ---- */

typedef struct procs_client {
	wsc ws; /* ws.fd is -1 when closed */
	int timeout_ms;
} procs_client;

/* Waits for input; false on timeout or error. */
static inline bool procs_client_wait(procs_client *c)
{
	struct pollfd pfd = {.fd = c->ws.fd, .events = POLLIN};
	return poll(&pfd, 1, c->timeout_ms) > 0;
}

/* Connects to 127.0.0.1:port and completes the opening handshake; each wait for input times
 * out after timeout_ms. */
static inline bool procs_client_open(procs_client *c, int port, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	wsc_init(&c->ws, fd);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    !wsc_write(&c->ws, wsc_request, sizeof(wsc_request) - 1))
		goto fail;
	while (!wsc_response(&c->ws))
		if (c->ws.eof || !procs_client_wait(c))
			goto fail;
	if (c->ws.upgraded)
		return true;
fail:
	wsc_release(&c->ws);
	return false;
}

/* Sends one masked, final frame (opcode 1 text, 8 close). */
static inline bool procs_client_send(procs_client *c, int opcode, const void *data, size_t len)
{
	return wsc_send_frame(&c->ws, true, (uint8_t)opcode, data, len);
}

/* Reads one whole frame from the server: its opcode (or -1 on timeout, end of stream or a
 * payload of cap bytes or more), with the payload copied into out (NUL-terminated). */
static inline int procs_client_recv(procs_client *c, char *out, size_t cap, size_t *out_len)
{
	static wsc_frame f; /* 64 KiB: not on the stack */
	while (!wsc_frame_take(&c->ws, &f))
		if (c->ws.eof || !procs_client_wait(c))
			return -1;
	if (f.len >= cap)
		return -1;
	memcpy(out, f.payload, f.len);
	out[f.len] = '\0';
	if (out_len)
		*out_len = f.len;
	return f.opcode;
}

static inline bool procs_client_text(procs_client *c, const char *text)
{
	return procs_client_send(c, 1, text, strlen(text));
}

/* Sends text and returns the first text message that comes back (skipping others that may
 * arrive first, such as broadcasts), or false. */
static inline bool procs_client_ask(procs_client *c, const char *text, const char *prefix,
                                    char *reply, size_t cap)
{
	if (!procs_client_text(c, text))
		return false;
	for (int i = 0; i < 100; i++) {
		int op = procs_client_recv(c, reply, cap, NULL);
		if (op < 0)
			return false;
		if (op == 1 && strncmp(reply, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

/* Reads until the server's Close frame and answers it; returns its code, or -1. */
static inline int procs_client_await_close(procs_client *c)
{
	char payload[128];
	size_t len = 0;
	for (int i = 0; i < 1000; i++) {
		int op = procs_client_recv(c, payload, sizeof(payload), &len);
		if (op < 0)
			return -1;
		if (op != 8)
			continue;
		procs_client_send(c, 8, payload, len >= 2 ? 2 : 0);
		return len >= 2 ? ((uint8_t)payload[0] << 8 | (uint8_t)payload[1]) : 1005;
	}
	return -1;
}

static inline void procs_client_close(procs_client *c)
{
	wsc_release(&c->ws);
}

#endif
