/* test_worker.c - unit tests for src/worker.c (a server as one worker of several) with a real
 * master, real workers and plain TCP clients that speak just enough WebSocket (procs.h): a
 * broadcast from a client of one worker reaches the clients of the other through the bus;
 * a client's stop request in one worker stops both, every client getting Close 1001; and a
 * worker whose master died stops alone, closing its clients with 1001, and never signals
 * anyone when it is asked to stop afterwards (the test process becomes the workers' parent
 * as a subreaper, and counts any SIGTERM it receives). Every process is reaped; alarm()
 * bounds the run. */
#include "unit.h"

#include "procs.h"

#include <sys/prctl.h>

#define WORKERS   2
#define TRIES_MAX 64

static char log_path[64];

static void reset_plan(void)
{
	procs_cfg = (procs_plan){.stop_all_worker = -1, .shutdown_ms = 1000, .log_path = log_path};
}

/* Opens clients until one is served by each worker; closes the others. */
static bool open_one_per_worker(procs *p, procs_client *cl)
{
	unsigned have = 0;
	for (unsigned i = 0; i < WORKERS; i++)
		cl[i] = (procs_client){.ws = {.fd = -1}};
	for (int tries = 0; tries < TRIES_MAX && have < WORKERS; tries++) {
		procs_client c;
		char reply[64];
		if (!procs_client_open(&c, p->port, 3000))
			return false;
		unsigned w;
		if (!procs_client_ask(&c, "who", "w", reply, sizeof(reply)) ||
		    sscanf(reply, "w%u", &w) != 1 || w >= WORKERS || cl[w].ws.fd >= 0) {
			procs_client_close(&c);
			continue;
		}
		cl[w] = c;
		have++;
	}
	return have == WORKERS;
}

/* Reads text messages until one equals want. */
static bool receive_text(procs_client *c, const char *want)
{
	char msg[256];
	for (int i = 0; i < 100; i++) {
		int op = procs_client_recv(c, msg, sizeof(msg), NULL);
		if (op < 0)
			return false;
		if (op == 1 && strcmp(msg, want) == 0)
			return true;
	}
	return false;
}

/* Reads report lines until both workers said "stop" (and, with master, "master 0"). */
static bool await_stops(procs *p, bool master, int timeout_ms)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	unsigned stops = 0;
	bool master_done = !master;
	while (stops < WORKERS || !master_done) {
		char line[128];
		uint64_t now = procs_now_ms();
		if (now >= until || !procs_line(p, line, sizeof(line), (int)(until - now)))
			return false;
		int rc;
		if (strncmp(line, "stop ", 5) == 0)
			stops++;
		else if (sscanf(line, "master %d", &rc) == 1)
			master_done = rc == 0;
	}
	return true;
}

static void test_broadcast_crosses_workers(void)
{
	reset_plan();
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	procs_client cl[WORKERS];
	CU_ASSERT_FATAL(open_one_per_worker(&p, cl));
	/* From worker 0's client: its own client gets it locally, worker 1's over the bus. */
	CU_ASSERT_TRUE(procs_client_text(&cl[0], "bcast from zero"));
	CU_ASSERT_TRUE(receive_text(&cl[1], "from zero"));
	CU_ASSERT_TRUE(receive_text(&cl[0], "from zero"));
	/* And the other way. */
	CU_ASSERT_TRUE(procs_client_text(&cl[1], "bcast from one"));
	CU_ASSERT_TRUE(receive_text(&cl[0], "from one"));
	CU_ASSERT_TRUE(receive_text(&cl[1], "from one"));
	/* The graceful stop reaches the clients of both. */
	CU_ASSERT_EQUAL(kill(p.master, SIGTERM), 0);
	for (unsigned i = 0; i < WORKERS; i++) {
		UNIT_CHECK(procs_client_await_close(&cl[i]) == 1001, "close code for client %u", i);
		procs_client_close(&cl[i]);
	}
	CU_ASSERT_TRUE(await_stops(&p, true, 8000));
	int status = procs_wait_master(&p, 5000);
	UNIT_CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	           "master process status %d", status);
	procs_finish(&p);
}

static void test_client_stop_request_stops_every_worker(void)
{
	reset_plan();
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	procs_client cl[WORKERS];
	CU_ASSERT_FATAL(open_one_per_worker(&p, cl));
	CU_ASSERT_TRUE(procs_client_text(&cl[1], "stop"));
	for (unsigned i = 0; i < WORKERS; i++) {
		UNIT_CHECK(procs_client_await_close(&cl[i]) == 1001, "close code for client %u", i);
		procs_client_close(&cl[i]);
	}
	CU_ASSERT_TRUE(await_stops(&p, true, 8000));
	int status = procs_wait_master(&p, 5000);
	UNIT_CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	           "master process status %d", status);
	procs_finish(&p);
}

static volatile sig_atomic_t terms;

static void on_term(int sig)
{
	(void)sig;
	terms++;
}

static void test_orphaned_worker_stops_alone(void)
{
	reset_plan();
	procs_cfg.stop_when_orphaned = true;
	/* The workers' parent once the master is gone: a stop that still signalled its parent
	 * would reach this process. */
	CU_ASSERT_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, &old);
	terms = 0;
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	procs_client cl[WORKERS];
	CU_ASSERT_FATAL(open_one_per_worker(&p, cl));
	CU_ASSERT_EQUAL(kill(p.master, SIGKILL), 0);
	CU_ASSERT_EQUAL(waitpid(p.master, NULL, 0), p.master);
	p.master = 0;
	/* Each worker sees its bus end, closes its client with 1001 and, when the client has
	 * answered, calls ws_server_stop from on_close. */
	for (unsigned i = 0; i < WORKERS; i++) {
		UNIT_CHECK(procs_client_await_close(&cl[i]) == 1001, "close code for client %u", i);
		procs_client_close(&cl[i]);
	}
	CU_ASSERT_TRUE(await_stops(&p, false, 8000));
	for (unsigned i = 0; i < WORKERS; i++) {
		int status = -1;
		pid_t r = 0;
		uint64_t until = procs_now_ms() + 5000;
		while ((r = waitpid(pids[i], &status, WNOHANG)) == 0 && procs_now_ms() < until) {
			struct timespec pause = {.tv_nsec = 10 * 1000000L};
			nanosleep(&pause, NULL);
		}
		if (r != pids[i]) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &status, 0);
		}
		UNIT_CHECK(r == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		           "worker %u: waitpid %ld, status %d", i, (long)r, status);
	}
	CU_ASSERT_EQUAL(terms, 0);
	sigaction(SIGTERM, &old, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	procs_finish(&p);
}

static const CU_TestInfo tests[] = {
    {"broadcast crosses workers", test_broadcast_crosses_workers},
    {"client stop request stops every worker", test_client_stop_request_stops_every_worker},
    {"orphaned worker stops alone", test_orphaned_worker_stops_alone},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	alarm(120);
	signal(SIGPIPE, SIG_IGN);
	snprintf(log_path, sizeof(log_path), "/tmp/ws-test-worker-%ld.log", (long)getpid());
	int rc = unit_main("worker", tests);
	unlink(log_path);
	return rc;
}
