/* test_control.c - unit tests for src/control.c with real processes: the pid file written,
 * read and removed (and left alone when it names someone else), a stale pid file naming a
 * dead process, an unwritable path, the liveness of a forked child (running, a zombie, reaped),
 * stop and reload signals reaching a forked child that records them through a pipe, and a
 * stop that times out against a child that ignores SIGTERM. Every child is reaped; alarm()
 * bounds the whole run. */
#include "unit.h"

#include "control.h"
#include "err.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char dir[64];
static char pid_path[128];

static int report_fd = -1; /* the child's end of the pipe its handlers write to */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void write_pid(const char *path, pid_t pid)
{
	char line[32];
	snprintf(line, sizeof(line), "%ld\n", (long)pid);
	write_file(path, line);
}

/* Reads one byte from fd within timeout_ms, or returns 0. */
static char read_byte(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c = 0;
	if (poll(&p, 1, timeout_ms) == 1 && read(fd, &c, 1) == 1)
		return c;
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	if (write(report_fd, "U", 1) < 0)
		_exit(3);
}

static void on_term_exit(int sig)
{
	(void)sig;
	if (write(report_fd, "T", 1) < 0)
		_exit(3);
	_exit(0);
}

static void on_term_stay(int sig)
{
	(void)sig;
	if (write(report_fd, "t", 1) < 0)
		_exit(3);
}

/* Forks a child that records SIGUSR1 ('U') and SIGTERM ('T' then exits, or 't' and stays,
 * when term_exits is false) on a pipe, says 'R' when its handlers are in place, and otherwise
 * sleeps. *rd receives the parent's end of the pipe. */
static pid_t fork_recorder(bool term_exits, int *rd)
{
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		sa.sa_handler = term_exits ? on_term_exit : on_term_stay;
		sigaction(SIGTERM, &sa, NULL);
		if (write(p[1], "R", 1) < 0)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	*rd = p[0];
	CU_ASSERT_EQUAL_FATAL(read_byte(p[0], 5000), 'R');
	return pid;
}

/* Forks a child that exits at once, and reaps it: its pid names no process now. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(0);
	CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void reap_killed(pid_t pid)
{
	kill(pid, SIGKILL);
	int status;
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
}

/* ---- tests ---- */

static void test_pid_file_write_read_remove(void)
{
	ws_err err = {0};
	unlink(pid_path);
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), 0); /* no file */
	CU_ASSERT_EQUAL(ws_control_write_pid_file(pid_path, &err), 0);
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), getpid());
	char buf[64] = {0}, want[32];
	FILE *f = fopen(pid_path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	UNIT_CHECK(n == strlen(want) && strcmp(buf, want) == 0, "pid file holds \"%s\"", buf);
	/* Writing again from the same process is allowed (it names itself). */
	CU_ASSERT_EQUAL(ws_control_write_pid_file(pid_path, &err), 0);
	char line[128];
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_STATUS, 0, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "running (pid %ld)", (long)getpid());
	UNIT_CHECK(strcmp(line, want) == 0, "status says \"%s\"", line);
	CU_ASSERT_TRUE(ws_control_remove_pid_file(pid_path));
	CU_ASSERT_NOT_EQUAL(access(pid_path, F_OK), 0);
	CU_ASSERT_FALSE(ws_control_remove_pid_file(pid_path));
	/* Garbage and non-positive numbers name nobody. */
	write_file(pid_path, "not a pid\n");
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), 0);
	write_file(pid_path, "-1\n");
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), 0);
	write_file(pid_path, "");
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), 0);
	CU_ASSERT_FALSE(ws_control_remove_pid_file(pid_path)); /* not ours: left in place */
	CU_ASSERT_EQUAL(access(pid_path, F_OK), 0);
	unlink(pid_path);
}

static void test_stale_pid_file(void)
{
	pid_t gone = dead_pid();
	write_pid(pid_path, gone);
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), 0);
	char line[128];
	static const ws_control_cmd cmds[] = {WS_CONTROL_STATUS, WS_CONTROL_STOP, WS_CONTROL_RELOAD};
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(ws_control_command(pid_path, cmds[i], 1000, line, sizeof(line)), 1);
		UNIT_CHECK(strcmp(line, "not running") == 0, "command %zu says \"%s\"", i, line);
	}
	/* A stale file does not keep a new server from starting. */
	ws_err err = {0};
	CU_ASSERT_EQUAL(ws_control_write_pid_file(pid_path, &err), 0);
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), getpid());
	CU_ASSERT_TRUE(ws_control_remove_pid_file(pid_path));
}

static void test_pid_file_of_another_server(void)
{
	int rd;
	pid_t child = fork_recorder(true, &rd);
	write_pid(pid_path, child);
	ws_err err = {0};
	CU_ASSERT_EQUAL(ws_control_write_pid_file(pid_path, &err), WS_EINVAL);
	char want[200];
	snprintf(want, sizeof(want), "already running (pid %ld) according to pid_file \"%s\"",
	         (long)child, pid_path);
	UNIT_CHECK(strcmp(err.msg, want) == 0, "message \"%s\"", err.msg);
	CU_ASSERT_EQUAL(err.sys, 0);
	CU_ASSERT_EQUAL(ws_control_running_pid(pid_path), child); /* unchanged */
	CU_ASSERT_FALSE(ws_control_remove_pid_file(pid_path));    /* not ours */
	CU_ASSERT_EQUAL(access(pid_path, F_OK), 0);
	reap_killed(child);
	close(rd);
	unlink(pid_path);
}

static void test_unwritable_pid_file(void)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/missing/server.pid", dir);
	ws_err err = {0};
	CU_ASSERT_EQUAL(ws_control_write_pid_file(path, &err), WS_ESYS);
	CU_ASSERT_EQUAL(err.sys, ENOENT);
	char want[256];
	snprintf(want, sizeof(want), "cannot write pid_file \"%s\": %s", path, strerror(ENOENT));
	UNIT_CHECK(strcmp(err.msg, want) == 0, "message \"%s\"", err.msg);
}

static void test_liveness_of_a_child(void)
{
	CU_ASSERT_FALSE(ws_control_alive(0));
	CU_ASSERT_FALSE(ws_control_alive(-1));
	CU_ASSERT_TRUE(ws_control_alive(getpid()));
	int rd;
	pid_t child = fork_recorder(true, &rd);
	CU_ASSERT_TRUE(ws_control_alive(child));
	kill(child, SIGKILL);
	/* Dead but not reaped: a zombie counts as gone, well before anyone waits for it. */
	CU_ASSERT_EQUAL(ws_control_wait_exit(child, 5000, NULL), 0);
	CU_ASSERT_FALSE(ws_control_alive(child));
	CU_ASSERT_EQUAL(waitpid(child, NULL, 0), child);
	CU_ASSERT_FALSE(ws_control_alive(child));
	CU_ASSERT_FALSE(ws_control_alive(dead_pid()));
	close(rd);
}

static void test_reload_and_stop_reach_the_child(void)
{
	int rd;
	pid_t child = fork_recorder(true, &rd);
	write_pid(pid_path, child);
	char line[128], want[128];
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_RELOAD, 0, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "reloading (pid %ld)", (long)child);
	UNIT_CHECK(strcmp(line, want) == 0, "reload says \"%s\"", line);
	CU_ASSERT_EQUAL(read_byte(rd, 5000), 'U');
	CU_ASSERT_TRUE(ws_control_alive(child)); /* a reload does not stop it */
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_STATUS, 0, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "running (pid %ld)", (long)child);
	UNIT_CHECK(strcmp(line, want) == 0, "status says \"%s\"", line);
	/* The stop returns once the child has exited, although nobody has reaped it yet. */
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_STOP, 10000, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "stopped (pid %ld)", (long)child);
	UNIT_CHECK(strcmp(line, want) == 0, "stop says \"%s\"", line);
	CU_ASSERT_EQUAL(read_byte(rd, 1000), 'T');
	int status = -1;
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_STATUS, 0, line, sizeof(line)), 1);
	UNIT_CHECK(strcmp(line, "not running") == 0, "status says \"%s\"", line);
	close(rd);
	unlink(pid_path);
}

static void test_stop_times_out(void)
{
	int rd;
	pid_t child = fork_recorder(false, &rd);
	write_pid(pid_path, child);
	char line[128], want[128];
	uint64_t t0 = mono_ms();
	CU_ASSERT_EQUAL(ws_control_command(pid_path, WS_CONTROL_STOP, 300, line, sizeof(line)), 1);
	uint64_t took = mono_ms() - t0;
	UNIT_CHECK(took >= 300 && took < 3000, "waited %llu ms for a 300 ms bound",
	           (unsigned long long)took);
	snprintf(want, sizeof(want), "still running after 0.3 s (pid %ld)", (long)child);
	UNIT_CHECK(strcmp(line, want) == 0, "stop says \"%s\"", line);
	CU_ASSERT_EQUAL(read_byte(rd, 1000), 't'); /* it got the request and ignored it */
	CU_ASSERT_TRUE(ws_control_alive(child));
	uint32_t waited = 0;
	CU_ASSERT_EQUAL(ws_control_wait_exit(child, 0, &waited), WS_EAGAIN);
	CU_ASSERT_EQUAL(waited, 0);
	reap_killed(child);
	close(rd);
	unlink(pid_path);
}

static const CU_TestInfo tests[] = {
    {"pid file write, read, remove", test_pid_file_write_read_remove},
    {"stale pid file", test_stale_pid_file},
    {"pid file of another server", test_pid_file_of_another_server},
    {"unwritable pid file", test_unwritable_pid_file},
    {"liveness of a child", test_liveness_of_a_child},
    {"reload and stop reach the child", test_reload_and_stop_reach_the_child},
    {"stop times out", test_stop_times_out},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	alarm(60);
	snprintf(dir, sizeof(dir), "/tmp/ws-control-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(pid_path, sizeof(pid_path), "%s/server.pid", dir);
	int rc = unit_main("control", tests);
	unlink(pid_path);
	rmdir(dir);
	return rc;
}
