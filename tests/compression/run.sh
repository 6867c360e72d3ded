#!/bin/sh
# run.sh - the permessage-deflate (RFC 7692) suite: compression.py against
# tests/compression/server.php: negotiation (the exact answer to many offers), the server
# compressing (Autobahn 12.x style: every window, with and without context takeover, 0 B to
# 1 MiB), the client compressing (13.x style: client_max_window_bits 8..15, random fragments),
# the examples of RFC 7692, min_size and levels, and violations (1002, 1007, 1009, a
# decompression bomb with bounded server memory).
# Prints `ok   name` or `FAIL name: why` per case and `N passed, N failed`; exits non-zero on
# failure. Arguments select cases by substring. Works from any cwd. Bounded: compression.py
# stops itself after 110 s, timeout(1) ends it at 150 s, and every server it started (each in
# its own process group, recorded in a pid file) is killed on the way out.
# Env: WS_PHP (the command that runs php with the extension).
cd "$(dirname "$0")" || exit 2
pidfile=$(mktemp)
out=$(mktemp)
rcfile=$(mktemp)
cleanup() {
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done <"$pidfile"
	rm -f "$pidfile" "$out" "$rcfile"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HARDENING_PIDFILE="$pidfile"
{
	timeout -k 5 150 /usr/bin/python3 compression.py "$@" </dev/null 2>&1
	echo $? >"$rcfile"
} | tee "$out"
rc=$(cat "$rcfile")
if ! tail -n 1 "$out" | grep -qE '^[0-9]+ passed, [0-9]+ failed$'; then
	# Killed before its summary: count what it printed, plus this failure.
	echo "FAIL compression.py: no summary (exit status $rc; hard timeout 150 s)"
	echo "$(grep -c '^ok ' "$out") passed, $(($(grep -c '^FAIL ' "$out") + 1)) failed"
	exit 1
fi
exit "$rc"
