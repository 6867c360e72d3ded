#!/bin/sh
# Static checks that keep the tree honest: the core stays Zend-free, the binding stays on the
# core's face (server.h, conn.h), the connection's fields stay private to the connection module
# (src/conn_*.c), the formatter is obeyed, and the committed arginfo matches the stub. Prints
# `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
check() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		echo "$out" | head -20
		fail=$((fail + 1))
	fi
}
zend_free() {
	! grep -nE 'php\.h|zend_' src/*.c src/*.h
}
# The binding (websocket.c and src/php/*.c) reaches the core through server.h and conn.h only.
# Those headers include frame.h, utf8.h, loop.h, deflate.h and http.h for the types they declare,
# so php_ws.h sees all of them: the check is therefore on the binding's own lines, that none of
# them includes one of those headers or calls a function of those modules (ws_frame_*(),
# ws_utf8_*(), ws_loop_*(), ws_deflate_*(), ws_http_*()). Their types and constants stay usable.
binding_uses_face() {
	! grep -nE '#[[:space:]]*include[[:space:]]*"[^"]*(frame|utf8|loop|deflate|http)\.h"' \
		websocket.c src/php/*.c src/php/*.h &&
		! grep -nE '\bws_(frame|utf8|loop|deflate|http)_[a-z0-9_]+[[:space:]]*\(' \
			websocket.c src/php/*.c src/php/*.h
}

conn_private() {
	# conn_int.h holds the connection's fields: only the connection module's files see them.
	found=$(grep -lE '#[[:space:]]*include[[:space:]]*"conn_int\.h"' -r src tests bench websocket.c \
		--include='*.c' --include='*.h' | grep -vE '^src/conn_[a-z_]+\.c$|^src/conn_int\.h$')
	if [ -n "$found" ]; then
		echo "conn_int.h is private to src/conn_*.c, but is included by:"
		echo "$found"
		return 1
	fi
}
unit_tested() {
	# Every core file has a unit test binary: tests/unit/test_<file>.c, or, for a file of a
	# module split in several (conn_in.c, server_route.c), test_<module>.c; listed in
	# tests/unit/run.sh with that file among its sources (or all of them, @core@).
	missing=""
	for f in src/*.c; do
		m=$(basename "$f" .c)
		ok=""
		for t in "$m" "${m%%_*}"; do
			line=$(grep -E "^(TESTS=')?test_$t " tests/unit/run.sh)
			if [ -f "tests/unit/test_$t.c" ] && echo "$line" | grep -qE " ($f|@core@)( |'|$)"; then
				ok=1
				break
			fi
		done
		[ -n "$ok" ] || missing="$missing $f"
	done
	if [ -n "$missing" ]; then
		echo "core files without a unit test binary that links them:$missing"
		return 1
	fi
}
server_private() {
	# server_int.h holds the server's state: only the server's files and worker.c see it.
	found=$(grep -lE '#[[:space:]]*include[[:space:]]*"server_int\.h"' -r src tests bench websocket.c \
		--include='*.c' --include='*.h' | grep -vE '^src/server(_[a-z_]+)?\.c$|^src/worker\.c$|^src/server_int\.h$')
	if [ -n "$found" ]; then
		echo "server_int.h is private to src/server*.c and src/worker.c, but is included by:"
		echo "$found"
		return 1
	fi
}
formatted() {
	clang-format --dry-run --Werror websocket.c php_websocket.h src/*.c src/*.h src/php/*.c \
		src/php/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/fuzz/*.h
}
arginfo_current() {
	tmp=$(mktemp -d)
	cp websocket.stub.php websocket_arginfo.h "$tmp/" &&
		mkdir -p "$tmp/tests/tools" && cp tests/tools/gen_arginfo.sh "$tmp/tests/tools/" &&
		sh "$tmp/tests/tools/gen_arginfo.sh" >/dev/null &&
		diff -u websocket_arginfo.h "$tmp/websocket_arginfo.h"
	rc=$?
	rm -rf "$tmp"
	return $rc
}
check "core (src/*.[ch]) includes no Zend header" zend_free
check "the binding calls the core through server.h and conn.h only" binding_uses_face
check "only src/conn_*.c include conn_int.h" conn_private
check "only src/server*.c and src/worker.c include server_int.h" server_private
check "every core file has a unit test binary" unit_tested
check "sources follow .clang-format" formatted
check "websocket_arginfo.h is generated from websocket.stub.php" arginfo_current
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
