/* control.h - control of a running server through its pid file. The server records its pid
 * there while it runs; a second process (a service script, `control()`) reads it to tell
 * whether the server runs, to ask it to stop (SIGTERM, then a bounded wait for its exit) or
 * to reload (SIGUSR1). A process that exited but was not reaped yet (a zombie) counts as
 * gone. Blocking calls, for a process that does nothing else meanwhile; never forks, never
 * installs a signal handler. Plain C, no Zend. */
#ifndef WS_CONTROL_H
#define WS_CONTROL_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum ws_control_cmd {
	WS_CONTROL_STATUS = 0, /* is it running? */
	WS_CONTROL_STOP,       /* SIGTERM (the graceful stop), then wait for the exit */
	WS_CONTROL_RELOAD,     /* SIGUSR1 (workers replaced one at a time); does not wait */
} ws_control_cmd;

/* True while the process pid runs. Reads /proc/PID/stat to tell a zombie from a running
 * process; without procfs, trusts kill(pid, 0) (EPERM means it exists). */
bool ws_control_alive(pid_t pid);

/* The pid recorded in the file at path (borrowed), or 0 when there is no readable file, it
 * holds no positive number, or that process is gone (the file is stale). */
pid_t ws_control_running_pid(const char *path);

/* Records the calling process's pid in the file at path (borrowed), as one line, creating or
 * truncating it. Returns 0; WS_EINVAL with err filled when the file names another process
 * that is alive (the server already runs); WS_ESYS with err filled (errno in err->sys) when
 * the file cannot be written whole. */
int ws_control_write_pid_file(const char *path, ws_err *err);

/* Removes the file at path when it names the calling process, and only then (another
 * server may have taken it over). Returns true when it was removed. */
bool ws_control_remove_pid_file(const char *path);

/* Waits, polling every few milliseconds, until pid is gone or timeout_ms have passed.
 * Returns 0 when gone, WS_EAGAIN when it still runs. *waited_ms (may be NULL) receives the
 * time spent waiting. */
int ws_control_wait_exit(pid_t pid, uint32_t timeout_ms, uint32_t *waited_ms);

/* Runs one command against the server named by the pid file at path (borrowed): status
 * reports it, reload signals it, stop signals it and waits up to wait_ms for its exit.
 * Writes one line without a newline into line[0, line_len) ("running (pid 123)", "not
 * running", "stopped (pid 123)", "still running after 5.0 s (pid 123)", "reloading (pid
 * 123)", "cannot signal pid 123: <reason>") and returns the status a command-line tool
 * exits with: 0 when it runs (status), was stopped or was asked to reload; 1 otherwise. */
int ws_control_command(const char *path, ws_control_cmd cmd, uint32_t wait_ms, char *line,
                       size_t line_len);

#endif
