/* test_master.c - unit tests for src/master.c with real processes and the real loop, no PHP:
 * a master with two workers (each a small ws_server, see procs.h) run in a forked process.
 * A worker killed with SIGKILL is restarted in its slot while the other keeps running;
 * SIGTERM stops every worker and ws_master_run returns 0; a worker's stop request over the
 * bus (ws_server_stop in a worker) stops the whole server the same way, as does a second
 * worker's request while the stop is under way. Every process is reaped (the master reaps
 * its workers, the test reaps the master); alarm() bounds the run. */
#include "unit.h"

#include "procs.h"

#define WORKERS 2

static char log_path[64];

/* The master process's stderr so far. */
static void read_log(char *out, size_t cap)
{
	out[0] = '\0';
	FILE *f = fopen(log_path, "r");
	if (!f)
		return;
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static bool gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Reads report lines until "master RC"; records which workers reported their stop. Returns
 * RC, or -100 on timeout. */
static int collect_until_master(procs *p, pid_t *stopped, int timeout_ms, unsigned *starts)
{
	uint64_t until = procs_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		char line[128];
		uint64_t now = procs_now_ms();
		if (now >= until || !procs_line(p, line, sizeof(line), (int)(until - now)))
			return -100;
		unsigned i;
		long pid;
		int rc;
		if (sscanf(line, "stop %u %ld", &i, &pid) == 2 && i < WORKERS)
			stopped[i] = (pid_t)pid;
		else if (sscanf(line, "start %u %ld", &i, &pid) == 2 && starts)
			(*starts)++;
		else if (sscanf(line, "master %d", &rc) == 1)
			return rc;
	}
}

static void reset_plan(void)
{
	procs_cfg = (procs_plan){.stop_all_worker = -1, .shutdown_ms = 1000, .log_path = log_path};
}

static void test_restart_after_sigkill_then_sigterm(void)
{
	reset_plan();
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	CU_ASSERT_NOT_EQUAL(pids[0], pids[1]);
	/* Worker 1 dies hard: the master restarts the slot (at most a second after the start of
	 * the worker that died), and worker 0 is left alone. */
	CU_ASSERT_EQUAL(kill(pids[1], SIGKILL), 0);
	char line[128];
	pid_t fresh = 0;
	bool other_restarted = false, killed_reported_stop = false;
	uint64_t until = procs_now_ms() + 5000;
	while (!fresh && procs_now_ms() < until) {
		if (!procs_line(&p, line, sizeof(line), (int)(until - procs_now_ms())))
			break;
		unsigned i;
		long pid;
		if (sscanf(line, "start %u %ld", &i, &pid) == 2) {
			if (i == 1)
				fresh = (pid_t)pid;
			else
				other_restarted = true;
		} else if (sscanf(line, "stop %u %ld", &i, &pid) == 2 && (pid_t)pid == pids[1]) {
			killed_reported_stop = true;
		}
	}
	UNIT_CHECK(fresh && fresh != pids[1], "worker 1 restarted as pid %ld (was %ld)", (long)fresh,
	           (long)pids[1]);
	CU_ASSERT_FALSE(other_restarted);
	CU_ASSERT_FALSE(killed_reported_stop);
	CU_ASSERT_FALSE(gone(pids[0]));
	CU_ASSERT_TRUE(gone(pids[1])); /* reaped by the master */
	/* SIGTERM: every worker stops, then ws_master_run returns 0. */
	CU_ASSERT_EQUAL(kill(p.master, SIGTERM), 0);
	pid_t stopped[WORKERS] = {0};
	int rc = collect_until_master(&p, stopped, 8000, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(stopped[0], pids[0]);
	CU_ASSERT_EQUAL(stopped[1], fresh);
	int status = procs_wait_master(&p, 5000);
	UNIT_CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	           "master process status %d", status);
	CU_ASSERT_TRUE(gone(pids[0]));
	CU_ASSERT_TRUE(fresh && gone(fresh));
	char log[8192];
	read_log(log, sizeof(log));
	UNIT_CHECK(strstr(log, "was killed by signal 9; restarting it") != NULL, "log: %s", log);
	UNIT_CHECK(strstr(log, "stopping 2 workers") != NULL, "log: %s", log);
	procs_finish(&p);
}

static void test_stop_request_from_a_worker_stops_all(void)
{
	reset_plan();
	procs_cfg.stop_all_worker = 1;
	procs_cfg.stop_all_ms = 300;
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	/* Nobody signals anything: worker 1's ws_server_stop() travels over the bus. */
	pid_t stopped[WORKERS] = {0};
	unsigned starts = 0;
	uint64_t t0 = procs_now_ms();
	int rc = collect_until_master(&p, stopped, 8000, &starts);
	uint64_t took = procs_now_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(stopped[0], pids[0]);
	CU_ASSERT_EQUAL(stopped[1], pids[1]);
	CU_ASSERT_EQUAL(starts, 0); /* no worker was restarted: they were stopped */
	UNIT_CHECK(took < 5000, "the stop took %llu ms", (unsigned long long)took);
	int status = procs_wait_master(&p, 5000);
	UNIT_CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	           "master process status %d", status);
	char log[8192];
	read_log(log, sizeof(log));
	UNIT_CHECK(strstr(log, "stopping 2 workers") != NULL, "log: %s", log);
	UNIT_CHECK(strstr(log, "restarting") == NULL, "log: %s", log);
	procs_finish(&p);
}

static void test_stop_requests_from_every_worker(void)
{
	/* Both workers ask (the second while the stop is under way): one stop, as with a
	 * repeated SIGTERM. */
	reset_plan();
	procs_cfg.stop_all_worker = 0;
	procs_cfg.stop_all_ms = 800;
	procs p;
	CU_ASSERT_FATAL(procs_start(&p, WORKERS));
	pid_t pids[WORKERS] = {0};
	CU_ASSERT_FATAL(procs_wait_started(&p, WORKERS, pids, 5000));
	procs_client c;
	/* Worker 1 is asked by a client; worker 0 asks on its own timer. */
	bool asked = false;
	for (int tries = 0; tries < 40 && !asked; tries++) {
		char reply[64];
		if (!procs_client_open(&c, p.port, 2000))
			break;
		if (procs_client_ask(&c, "who", "w", reply, sizeof(reply)) && reply[1] == '1')
			asked = procs_client_text(&c, "stop");
		else
			procs_client_close(&c);
	}
	CU_ASSERT_TRUE(asked);
	pid_t stopped[WORKERS] = {0};
	int rc = collect_until_master(&p, stopped, 8000, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(stopped[0], pids[0]);
	CU_ASSERT_EQUAL(stopped[1], pids[1]);
	if (asked)
		procs_client_close(&c);
	int status = procs_wait_master(&p, 5000);
	UNIT_CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	           "master process status %d", status);
	char log[8192];
	read_log(log, sizeof(log));
	const char *first = strstr(log, "stopping 2 workers");
	UNIT_CHECK(first && !strstr(first + 1, "stopping 2 workers"), "log: %s", log);
	procs_finish(&p);
}

static const CU_TestInfo tests[] = {
    {"restart after SIGKILL, then SIGTERM", test_restart_after_sigkill_then_sigterm},
    {"stop request from a worker stops all", test_stop_request_from_a_worker_stops_all},
    {"stop requests from every worker", test_stop_requests_from_every_worker},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	alarm(120);
	signal(SIGPIPE, SIG_IGN);
	snprintf(log_path, sizeof(log_path), "/tmp/ws-test-master-%ld.log", (long)getpid());
	int rc = unit_main("master", tests);
	unlink(log_path);
	return rc;
}
