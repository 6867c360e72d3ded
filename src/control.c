/* control.c - see control.h. The pid file holds one decimal pid and a newline. A stop waits
 * on the monotonic clock, so a machine under load that oversleeps does not stretch the bound;
 * 20 ms between checks keeps the wait cheap and the answer prompt. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 20

bool ws_control_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return false;
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true; /* no procfs: trust kill() */
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *state = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold ')' */
	return !(state && state[1] == ' ' && state[2] == 'Z');
}

pid_t ws_control_running_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (long)(pid_t)pid != pid || !ws_control_alive((pid_t)pid))
		return 0;
	return (pid_t)pid;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ws_control_write_pid_file(const char *path, ws_err *err)
{
	pid_t self = getpid(), other = ws_control_running_pid(path);
	if (other && other != self)
		return ws_err_set(err, WS_EINVAL, 0,
		                  "already running (pid %ld) according to pid_file \"%s\"", (long)other,
		                  path);
	char line[32];
	int len = snprintf(line, sizeof(line), "%ld\n", (long)self);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || write_all(fd, line, (size_t)len) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return ws_err_set(err, WS_ESYS, e, "cannot write pid_file \"%s\": %s", path, strerror(e));
	}
	if (close(fd) < 0) {
		int e = errno;
		return ws_err_set(err, WS_ESYS, e, "cannot write pid_file \"%s\": %s", path, strerror(e));
	}
	return 0;
}

bool ws_control_remove_pid_file(const char *path)
{
	if (ws_control_running_pid(path) != getpid())
		return false;
	return unlink(path) == 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ws_control_wait_exit(pid_t pid, uint32_t timeout_ms, uint32_t *waited_ms)
{
	uint64_t start = mono_ms(), elapsed = 0;
	bool alive;
	while ((alive = ws_control_alive(pid)) && elapsed < timeout_ms) {
		struct timespec pause = {.tv_sec = 0, .tv_nsec = POLL_MS * 1000000L};
		nanosleep(&pause, NULL); /* a signal may cut it short: the clock says how long */
		elapsed = mono_ms() - start;
	}
	if (waited_ms)
		*waited_ms = elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
	return alive ? WS_EAGAIN : 0;
}

/* Sends sig to pid; on failure describes it in line and returns false. */
static bool send_signal(pid_t pid, int sig, char *line, size_t line_len)
{
	if (kill(pid, sig) == 0)
		return true;
	snprintf(line, line_len, "cannot signal pid %ld: %s", (long)pid, strerror(errno));
	return false;
}

int ws_control_command(const char *path, ws_control_cmd cmd, uint32_t wait_ms, char *line,
                       size_t line_len)
{
	pid_t pid = ws_control_running_pid(path);
	if (!pid) {
		snprintf(line, line_len, "not running");
		return 1;
	}
	switch (cmd) {
	case WS_CONTROL_RELOAD:
		if (!send_signal(pid, SIGUSR1, line, line_len))
			return 1;
		snprintf(line, line_len, "reloading (pid %ld)", (long)pid);
		return 0;
	case WS_CONTROL_STOP: {
		if (!send_signal(pid, SIGTERM, line, line_len))
			return 1;
		uint32_t waited = 0;
		if (ws_control_wait_exit(pid, wait_ms, &waited) < 0) {
			snprintf(line, line_len, "still running after %.1f s (pid %ld)", (double)waited / 1000,
			         (long)pid);
			return 1;
		}
		snprintf(line, line_len, "stopped (pid %ld)", (long)pid);
		return 0;
	}
	case WS_CONTROL_STATUS:
	default:
		snprintf(line, line_len, "running (pid %ld)", (long)pid);
		return 0;
	}
}
