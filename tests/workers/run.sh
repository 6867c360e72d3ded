#!/bin/sh
# run.sh - the workers suite: multi-process workers, the message bus (send, broadcast, rooms
# across workers), stats(), supervision (kill -9, fatal errors), graceful stop (SIGTERM with
# 10,000 messages in flight, SIGINT), reload (SIGUSR1 under load, broken code), pid_file and
# control(), bus overflow, and workers => 1 (workers.py, server.php).
# Each test runs in its own process with a hard timeout; prints `ok   name` or `FAIL name: why`
# per test and `N passed, N failed`; exits non-zero on failure. Arguments select tests by
# substring. Works from any cwd. The runner is tests/inc/suite.sh. Env: WS_PHP (php command
# with the extension).
cd "$(dirname "$0")" || exit 2
. ../inc/suite.sh
workerfile=$(mktemp)
suite_temps="$suite_temps $workerfile"
export WORKERS_PIDFILE="$workerfile"

# Besides the process groups: any worker a test saw that left its group and still runs
# tests/workers/server.php.
suite_cleanup_more() {
	while read -r pid; do
		[ -n "$pid" ] && grep -q "workers/server.php" "/proc/$pid/cmdline" 2>/dev/null &&
			kill -KILL "$pid" 2>/dev/null
	done <"$workerfile"
	: >"$workerfile"
}

suite_main workers.py "$@"
