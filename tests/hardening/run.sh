#!/bin/sh
# run.sh - the hardening suite: limits, output overflow, backpressure, timeouts (slowloris,
# idle, ping), no data loss (also across a graceful stop), faults (RST, EPIPE, EMFILE, callbacks
# that stop or close while iterating), allowed_origins, closing (slow readers and the close
# timeout), and a bounded stress run (stress.py).
# Each test runs in its own process with a hard timeout; prints `ok   name` or `FAIL name: why`
# per test and `N passed, N failed`; exits non-zero on failure. Arguments select tests by
# substring. Works from any cwd.
# Env: WS_PHP (php command with the extension), STRESS_SECONDS (default 45; 0 skips stress;
# STRESS_SECONDS=3600 is an hour's soak, see stress.py). WS_PHP may run an ASan build (e.g.
# the wrapper tests/sanitize/run.sh writes): use-after-free in the fault paths then shows up in
# its reports; RSS bounds are not checked under ASan or valgrind.
cd "$(dirname "$0")" || exit 2
py=/usr/bin/python3
pidfile=$(mktemp)
list=$(mktemp)
outfile=$(mktemp)
rcfile=$(mktemp)
trap 'cleanup; rm -f "$pidfile" "$list" "$outfile" "$rcfile"' EXIT
trap 'exit 130' INT TERM

# Ends what a test that was killed left behind: the process groups it recorded, by id.
cleanup() {
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done <"$pidfile"
	: >"$pidfile"
}

wanted() {
	[ $# -eq 0 ] && return 0
	for w in "$@"; do
		case $name in *"$w"*) return 0 ;; esac
	done
	return 1
}

export HARDENING_PIDFILE="$pidfile"
pass=0
fail=0
if ! $py hardening.py --list >"$list"; then
	echo "FAIL hardening.py --list: the test file does not load"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "stress $((${STRESS_SECONDS:-45} + 60))" >>"$list"

while read -r line; do
	limit=${line##* }
	name=${line% *}
	wanted "$@" || continue
	if [ "$name" = stress ]; then
		[ "${STRESS_SECONDS:-45}" = 0 ] && continue
		# Its `# round ...` progress lines are shown as they come.
		{
			timeout -k 5 "$limit" $py stress.py </dev/null 2>&1
			echo $? >"$rcfile"
		} | tee "$outfile" | grep --line-buffered '^#'
	else
		timeout -k 5 "$limit" $py hardening.py "$name" </dev/null >"$outfile" 2>&1
		echo $? >"$rcfile"
		# Lines other than the verdict (tracebacks) are shown as comments.
		grep -v -e '^ok   ' -e '^FAIL ' -e '^$' "$outfile" | sed 's/^#* */# /'
	fi
	rc=$(cat "$rcfile")
	out=$(cat "$outfile")
	cleanup
	verdict=$(echo "$out" | grep -e '^ok   ' -e '^FAIL ' | head -1)
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
