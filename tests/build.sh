#!/bin/sh
# Builds modules/websocket.so in the repository with phpize (incrementally after the first
# time). Extra arguments go to ./configure, e.g. --enable-websocket-dev.
set -eu
cd "$(dirname "$0")/.."
stamp=.configure-args
args="--enable-websocket $*"
if [ ! -f Makefile ] || [ config.m4 -nt Makefile ] || [ "$(cat $stamp 2>/dev/null)" != "$args" ]; then
	phpize >/dev/null
	# shellcheck disable=SC2086
	./configure $args >/dev/null
	echo "$args" >$stamp
fi
make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
test -f modules/websocket.so
