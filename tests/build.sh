#!/bin/sh
# Builds modules/websocket.so in the repository with phpize (incrementally after the first
# time). Extra arguments go to ./configure, e.g. --enable-websocket-dev.
set -eu
cd "$(dirname "$0")/.."
stamp=.configure-args
args="--enable-websocket $*"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f Makefile ] || [ config.m4 -nt Makefile ] || [ "$(cat $stamp 2>/dev/null)" != "$args" ]; then
	phpize >"$log" 2>&1 || { cat "$log"; exit 1; }
	# shellcheck disable=SC2086
	./configure $args >"$log" 2>&1 || { tail -30 "$log"; exit 1; }
	echo "$args" >$stamp
	# Objects and their dependency lists may name files that config.m4 no longer lists.
	make clean >/dev/null 2>&1 || true
	find . -maxdepth 1 -name '*.dep' -delete
	find src -name '*.dep' -delete
fi
make -j"$(nproc 2>/dev/null || echo 2)" >"$log" 2>&1 || { grep -E "error|Error" "$log" | head -40; exit 1; }
# A warning in the build is a defect even where it is not an error.
if grep -E "warning:" "$log"; then
	exit 1
fi
test -f modules/websocket.so
