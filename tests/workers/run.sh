#!/bin/sh
# run.sh - the workers suite: multi-process workers, the message bus (send, broadcast, rooms
# across workers), stats(), supervision (kill -9, fatal errors), graceful stop (SIGTERM with
# 10,000 messages in flight, SIGINT), reload (SIGUSR1 under load, broken code), pid_file and
# control(), bus overflow, and workers => 1 (workers.py, server.php).
# Each test runs in its own process with a hard timeout; prints `ok   name` or `FAIL name: why`
# per test and `N passed, N failed`; exits non-zero on failure. Arguments select tests by
# substring. Works from any cwd. Env: WS_PHP (php command with the extension).
cd "$(dirname "$0")" || exit 2
py=/usr/bin/python3
pidfile=$(mktemp)
workerfile=$(mktemp)
list=$(mktemp)
outfile=$(mktemp)
trap 'cleanup; rm -f "$pidfile" "$workerfile" "$list" "$outfile"' EXIT
trap 'exit 130' INT TERM

# Ends what a test that was killed left behind: the process groups it recorded, and any worker
# it saw that left its group and still runs tests/workers/server.php.
cleanup() {
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done <"$pidfile"
	while read -r pid; do
		[ -n "$pid" ] && grep -q "workers/server.php" "/proc/$pid/cmdline" 2>/dev/null &&
			kill -KILL "$pid" 2>/dev/null
	done <"$workerfile"
	: >"$pidfile"
	: >"$workerfile"
}

wanted() {
	[ $# -eq 0 ] && return 0
	for w in "$@"; do
		case $name in *"$w"*) return 0 ;; esac
	done
	return 1
}

export HARDENING_PIDFILE="$pidfile"
export WORKERS_PIDFILE="$workerfile"
pass=0
fail=0
if ! $py workers.py --list >"$list"; then
	echo "FAIL workers.py --list: the test file does not load"
	echo "0 passed, 1 failed"
	exit 1
fi

while read -r line; do
	limit=${line##* }
	name=${line% *}
	wanted "$@" || continue
	timeout -k 5 "$limit" $py workers.py "$name" </dev/null >"$outfile" 2>&1
	rc=$?
	# Lines other than the verdict (notes, tracebacks) are shown as comments.
	grep -v -e '^ok   ' -e '^FAIL ' -e '^$' "$outfile" | sed 's/^#* */# /'
	cleanup
	verdict=$(grep -e '^ok   ' -e '^FAIL ' "$outfile" | head -1)
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL $name: no result within the hard timeout of $limit s${verdict:+ ($verdict)}"
		fail=$((fail + 1))
	elif [ $rc -eq 0 ] && [ "${verdict#ok   }" != "$verdict" ]; then
		echo "$verdict"
		pass=$((pass + 1))
	elif [ "${verdict#FAIL }" != "$verdict" ]; then
		echo "$verdict"
		fail=$((fail + 1))
	else
		echo "FAIL $name: exit status $rc without a verdict"
		fail=$((fail + 1))
	fi
done <"$list"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
