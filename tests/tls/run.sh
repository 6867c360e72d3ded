#!/bin/sh
# run.sh - the TLS (wss://) suite (tls.py): Python websockets, Node ws and headless Chromium over
# TLS 1.2 and 1.3, plain and TLS ports side by side, plain HTTP and garbage on the TLS port,
# stalled and reset handshakes, close_notify, records split every way, backpressure through
# partial TLS writes, min_version, ciphers, client certificates, chains, SNI/ALPN, resumption,
# renegotiation and KeyUpdate, construction errors, workers (1012 on reload, certificate
# rotation, SIGTERM) and 200 concurrent connections.
# tls.py makes the certificates (certs.py, openssl CLI) and runs each test in its own process
# with a hard timeout, printing `ok   name (T s)` or `FAIL name: why` per test and `N passed,
# N failed`; this script bounds the whole run, ends every process group a test recorded, and
# exits non-zero on failure. Arguments select tests by substring. Works from any cwd. About
# 20 s; about 100 s with a server four times slower (ASan, valgrind --tool=none).
# Env: WS_PHP (php command with the extension), CHROMIUM (default /usr/bin/chromium).
cd "$(dirname "$0")" || exit 2
. ../summary.sh
pidfile=$(mktemp)
log=$(mktemp)
status=$(mktemp)
end_groups() {
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done <"$pidfile"
}
trap 'end_groups; rm -f "$pidfile" "$log" "$status"' EXIT
trap 'exit 130' INT TERM

# The Node and Chromium clients use the interop suite's pinned packages.
if [ ! -d ../interop/node_modules/ws ] && [ ! -d ../../../tests/interop/node_modules/ws ]; then
	(cd ../interop && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }) || exit 2
fi

export HARDENING_PIDFILE="$pidfile"
# Each test has its own limit (tls.py --list); this one ends a run that hangs anyway.
{
	timeout -k 10 900 /usr/bin/python3 tls.py "$@" </dev/null 2>&1
	echo $? >"$status"
} | tee "$log"
read_summary "$log" "$(cat "$status")" >/dev/null
if [ -z "$summary_line" ]; then
	echo "FAIL tls.py: ended without its summary (exit status $(cat "$status"))"
	echo "$(grep -c '^ok ' "$log") passed, $(($(grep -c '^FAIL ' "$log") + 1)) failed"
	exit 1
fi
[ "$f" -eq 0 ]
