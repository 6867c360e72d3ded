#!/bin/sh
# bench/smoke.sh - a short correctness run of the benchmark tools against ext-websocket: every
# load generator mode (echo across every frame length encoding, text and binary, pipelined;
# broadcast with one and two workers; idle connections; echo over TLS and with
# permessage-deflate), the C core server, and one run that must fail (so the verification is
# known to bite). Checks bytes, never timings.
#
#   sh bench/smoke.sh                                            builds with tests/build.sh
#   WS_PHP="php -d extension=/path/websocket.so" sh bench/smoke.sh   uses that build
#
# Prints "ok - name" or "not ok - name" per check, then "N passed, N failed"; exits 1 on any
# failure. Bounded (well under 60 s), 127.0.0.1 ports 19190-19199 only, and stops every
# process it started.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
loadgen="$here/.build/loadgen"
log=$(mktemp -d)
passed=0
failed=0
server=""

stop_server() {
	[ -n "$server" ] || return 0
	kill -TERM "$server" 2>/dev/null || true
	i=0
	while kill -0 "$server" 2>/dev/null && [ $i -lt 50 ]; do
		# A reaped child is gone; an unreaped one (zombie) counts as stopped too.
		grep -q ') Z' "/proc/$server/stat" 2>/dev/null && break
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$server" 2>/dev/null; then
		for child in $(pgrep -P "$server" 2>/dev/null); do kill -KILL "$child" 2>/dev/null || true; done
		kill -KILL "$server" 2>/dev/null || true
	fi
	wait "$server" 2>/dev/null || true
	server=""
}
trap 'stop_server; rm -rf "$log"' EXIT
trap 'exit 130' INT TERM

result() { # 0|1 name [log]
	if [ "$1" = 0 ]; then
		echo "ok - $2"
		passed=$((passed + 1))
	else
		echo "not ok - $2"
		[ -z "${3:-}" ] || sed 's/^/#   /' "$3" | tail -8
		failed=$((failed + 1))
	fi
}

# start PORT WORKERS command...: runs a server in the background until it accepts.
start() {
	port=$1 workers=$2
	shift 2
	"$@" >"$log/server.log" 2>&1 &
	server=$!
	"$loadgen" wait --port "$port" --timeout 10 2>>"$log/server.log" || return 1
	# With workers the master accepts before its workers run; give them a moment.
	[ "$workers" -le 1 ] || sleep 1
}

# check NAME loadgen-args...: one bounded loadgen run that must pass.
check() {
	name=$1
	shift
	rc=0
	timeout 30 "$loadgen" "$@" --smoke --quiet >"$log/run.out" 2>&1 || rc=1
	result $rc "$name" "$log/run.out"
}

if [ -z "${WS_PHP:-}" ]; then
	(cd "$root" && sh tests/build.sh) >"$log/build.out" 2>&1
	WS_PHP="php -d extension=$root/modules/websocket.so"
fi
rc=0
make -s -C "$here" ROOT="$root" >"$log/make.out" 2>&1 || rc=1
result $rc "build loadgen and the C core server" "$log/make.out"
[ $rc = 0 ] || { echo "$passed passed, $failed failed"; exit 1; }

# shellcheck disable=SC2086
if start 19190 1 $WS_PHP "$here/peers/ext.php" echo 19190; then
	check "echo, text, every length encoding (0 B to 100 KB)" echo --port 19190 --conns 4 --inflight 2 --size-mix
	check "echo, binary, every length encoding" echo --port 19190 --conns 4 --inflight 2 --size-mix --binary
	check "echo, pipelined (20 connections x 16 in flight)" echo --port 19190 --conns 20 --inflight 16 --size 32
	check "hold 300 idle connections over 2 source addresses" hold --port 19190 --conns 300 --src-count 2 --pid "$server"
else
	result 1 "ext-websocket echo server starts" "$log/server.log"
fi
stop_server

# shellcheck disable=SC2086
if start 19191 1 $WS_PHP "$here/peers/ext.php" chat 19191; then
	check "broadcast to 50 receivers, each message once and in order" broadcast --port 19191 --conns 50 --window 8
	# Echo against a chat server gets other connections' messages: the run must fail.
	rc=0
	timeout 30 "$loadgen" echo --port 19191 --conns 3 --smoke --quiet >"$log/run.out" 2>&1 && rc=1
	grep -q "altered\|unexpected" "$log/run.out" || rc=1
	result $rc "a wrong reply is caught (echo against a chat server fails)" "$log/run.out"
else
	result 1 "ext-websocket chat server starts" "$log/server.log"
fi
stop_server

# shellcheck disable=SC2086
if start 19192 2 $WS_PHP "$here/peers/ext.php" chat 19192 2; then
	check "broadcast across 2 workers (through the bus)" broadcast --port 19192 --conns 50 --window 8
else
	result 1 "ext-websocket chat server with 2 workers starts" "$log/server.log"
fi
stop_server

# TLS and permessage-deflate: a self-signed certificate from examples/tls-cert.sh (openssl CLI).
rc=0
sh "$root/examples/tls-cert.sh" "$log/tls" >"$log/cert.out" 2>&1 || rc=1
result $rc "make a self-signed certificate (examples/tls-cert.sh)" "$log/cert.out"
if [ $rc = 0 ]; then
	# shellcheck disable=SC2086
	if start 19195 1 $WS_PHP "$here/peers/ext.php" echo 19195 1 \
		"--tls-cert=$log/tls/cert.pem" "--tls-key=$log/tls/key.pem"; then
		check "echo over TLS, every length encoding" echo --port 19195 --conns 4 --inflight 2 --size-mix --tls
		check "echo over TLS, pipelined JSON text (20 x 16 in flight)" echo --port 19195 --conns 20 --inflight 16 --size 1024 --json --tls
		# --deflate against a server without compression must fail, not measure plain.
		rc=0
		timeout 30 "$loadgen" echo --port 19195 --conns 2 --tls --deflate --smoke --quiet >"$log/run.out" 2>&1 && rc=1
		grep -q "declined permessage-deflate" "$log/run.out" || rc=1
		result $rc "a declined permessage-deflate is caught" "$log/run.out"
	else
		result 1 "ext-websocket TLS echo server starts" "$log/server.log"
	fi
	stop_server
fi

# shellcheck disable=SC2086
if start 19196 1 $WS_PHP "$here/peers/ext.php" echo 19196 1 --compression; then
	check "echo with permessage-deflate, every length encoding" echo --port 19196 --conns 4 --inflight 2 --size-mix --deflate
	check "echo with permessage-deflate, pipelined JSON text" echo --port 19196 --conns 20 --inflight 16 --size 1024 --json --deflate
	# Replies must really have come compressed, or this checked nothing of the inflater.
	rc=0
	timeout 30 "$loadgen" echo --port 19196 --conns 2 --size 1024 --json --deflate --smoke >"$log/run.out" 2>&1 || rc=1
	grep -q ' compressed=[1-9]' "$log/run.out" || rc=1
	result $rc "permessage-deflate replies arrive compressed (RSV1) and inflate byte for byte" "$log/run.out"
else
	result 1 "ext-websocket echo server with compression starts" "$log/server.log"
fi
stop_server

if start 19193 1 "$here/.build/c_server" echo 19193; then
	check "C core server: echo, every length encoding" echo --port 19193 --conns 4 --inflight 2 --size-mix
else
	result 1 "C core echo server starts" "$log/server.log"
fi
stop_server

if start 19194 1 "$here/.build/c_server" chat 19194; then
	check "C core server: broadcast" broadcast --port 19194 --conns 50 --window 8
else
	result 1 "C core chat server starts" "$log/server.log"
fi
stop_server

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
