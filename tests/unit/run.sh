#!/bin/sh
# run.sh - builds and runs the plain C unit tests in tests/unit, each compiled straight from
# the src/*.c files it needs (no PHP), with ASan and UBSan.
# Usage: tests/unit/run.sh [NAME...]   (from any directory; CC overrides the compiler; NAMEs,
# e.g. test_frame, run only those tests)
# A line of a test's output that starts with "skip " is shown with its result.
# The last line of output is "N passed, N failed", where N counts CUnit tests (test functions),
# not assertions. A test binary that fails to compile or crashes counts as one failed test.
# Exits non-zero on any failure.
set -u

cd "$(dirname "$0")/../.." || exit 2

CC=${CC:-cc}
CFLAGS="-std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-omit-frame-pointer"
CFLAGS="$CFLAGS -fno-sanitize-recover=undefined -I src"
BIN=tests/unit/bin

# Every core source, as config.m4 lists them; @core@ below stands for the list.
CORE=$(sed -n 's/^ *WEBSOCKET_CORE_SOURCES="\(.*\)"$/\1/p' config.m4)

# Each test and the sources (and libraries) it links, one per line.
TESTS='test_utf8 src/utf8.c
test_frame src/frame.c src/utf8.c
test_http src/http.c
test_handshake src/handshake.c src/http.c -lcrypto
test_loop src/loop.c src/alloc.c
test_loop_poll src/alloc.c
test_wheel src/wheel.c src/loop.c src/alloc.c
test_rooms src/rooms.c src/alloc.c
test_stats src/stats.c src/alloc.c
test_bus src/bus.c src/buf.c src/loop.c src/alloc.c
test_deflate src/deflate_offer.c src/deflate.c src/buf.c src/alloc.c -lz
test_deflate_park src/deflate.c src/buf.c src/alloc.c -lz
test_tls src/tls.c src/alloc.c -lssl -lcrypto
test_conn_save src/conn_life.c src/conn_in.c src/conn_out.c src/conn_upgrade.c src/conn_save.c src/frame.c src/utf8.c src/deflate_offer.c src/deflate.c src/http.c src/handshake.c src/tls.c src/net.c src/loop.c src/wheel.c src/buf.c src/alloc.c -lz -lssl -lcrypto
test_control src/control.c src/alloc.c
test_master @core@ -lssl -lcrypto -lz
test_worker @core@ -lssl -lcrypto -lz
test_alloc src/alloc.c
test_buf src/buf.c src/alloc.c
test_net src/net.c src/alloc.c
test_server @core@ -lz -lssl -lcrypto
test_conn src/conn_life.c src/conn_in.c src/conn_out.c src/conn_upgrade.c src/conn_save.c src/tls.c src/deflate_offer.c src/deflate.c src/frame.c src/utf8.c src/handshake.c src/http.c src/net.c src/wheel.c src/loop.c src/buf.c src/alloc.c -lz -lssl -lcrypto'

mkdir -p "$BIN"
passed=0
failed=0

while read -r name sources; do
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	log="$BIN/$name.log"
	sources=$(echo "$sources" | sed "s|@core@|$CORE|")
	# The sources are a word list on purpose.
	# shellcheck disable=SC2086
	if ! $CC $CFLAGS -o "$BIN/$name" "tests/unit/$name.c" $sources -lcunit \
		>"$log" 2>&1; then
		echo "FAIL $name: does not compile"
		cat "$log"
		failed=$((failed + 1))
		continue
	fi
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "./$BIN/$name" >"$log" 2>&1
	rc=$?
	result=$(sed -n 's/^UNIT_RESULT \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$log" | tail -n 1)
	if [ -z "$result" ]; then
		echo "FAIL $name: crashed (exit $rc)"
		cat "$log"
		failed=$((failed + 1))
		continue
	fi
	p=${result% *}
	f=${result#* }
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		[ "$f" -eq 0 ] && failed=$((failed + 1))
		echo "FAIL $name: $f of $((p + f)) tests failed (exit $rc)"
		grep -v '^UNIT_RESULT' "$log"
	else
		echo "ok   $name: $p tests"
		# What a test could not check here (no IPv6, ...) it says on a line of its own.
		grep '^skip ' "$log"
	fi
done <<EOF
$TESTS
EOF

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
