#!/bin/sh
# run.sh - builds every libFuzzer target in tests/fuzz and runs each for a fixed time.
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 20; from any directory;
# TARGETs, e.g. fuzz_frame, run only those)
# Needs clang with the libFuzzer runtime (Debian: clang and libclang-rt-<version>-dev);
# CLANG overrides the compiler.
# Each target runs over a scratch copy of its seed corpus, so the committed corpus does not
# grow; crashes are kept in tests/fuzz/bin/artifacts/ (git-ignored) and should become unit
# cases. Prints "N passed, N failed" (one per target) last and exits non-zero on any failure.
#
# Longer local runs: tests/fuzz/run.sh 3600, or one target on all cores with a corpus that
# you keep between runs, e.g.
#   mkdir -p /tmp/frame && tests/fuzz/bin/fuzz_frame -dict=tests/fuzz/frame.dict \
#       -jobs=8 -workers=8 -max_total_time=7200 /tmp/frame tests/fuzz/corpus/frame
# and copy only inputs that found something new back into tests/fuzz/corpus/ (after
# `-merge=1` into an empty directory) when they are worth keeping.
set -u

cd "$(dirname "$0")/../.." || exit 2

SECONDS_PER_TARGET=${1:-20}
[ $# -gt 0 ] && shift
CLANG=${CLANG:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
FLAGS="$FLAGS -Wall -Wextra -Werror -I src"
BIN=tests/fuzz/bin

# Target, corpus and dictionary name, and the sources it links, one per line.
TARGETS='fuzz_http http src/http.c src/handshake.c -lcrypto
fuzz_frame frame src/frame.c src/utf8.c
fuzz_utf8 utf8 src/utf8.c
fuzz_bus bus src/bus.c src/buf.c src/alloc.c src/loop.c
fuzz_inflate inflate src/deflate.c src/buf.c src/alloc.c -lz
fuzz_extensions extensions src/deflate_offer.c src/deflate.c src/buf.c src/alloc.c -lz
fuzz_message message src/conn_life.c src/conn_in.c src/conn_out.c src/conn_upgrade.c src/conn_save.c src/tls.c src/deflate_offer.c src/deflate.c src/frame.c src/utf8.c src/handshake.c src/http.c src/net.c src/wheel.c src/loop.c src/buf.c src/alloc.c -lz -lssl -lcrypto
fuzz_conn conn src/conn_life.c src/conn_in.c src/conn_out.c src/conn_upgrade.c src/conn_save.c src/tls.c src/deflate_offer.c src/deflate.c src/frame.c src/utf8.c src/handshake.c src/http.c src/net.c src/wheel.c src/loop.c src/buf.c src/alloc.c -lz -lssl -lcrypto'

case $SECONDS_PER_TARGET in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS_PER_TARGET]" >&2
	exit 2
	;;
esac

mkdir -p "$BIN/artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ws-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT INT TERM
passed=0
failed=0

while read -r target corpus sources; do
	if [ $# -gt 0 ]; then
		case " $* " in *" $target "*) ;; *) continue ;; esac
	fi
	log="$BIN/$target.log"
	# The sources are a word list on purpose.
	# shellcheck disable=SC2086
	if ! $CLANG $FLAGS -o "$BIN/$target" "tests/fuzz/$target.c" $sources >"$log" 2>&1; then
		echo "FAIL $target: does not compile"
		cat "$log"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$scratch/$corpus"
	cp tests/fuzz/corpus/"$corpus"/* "$scratch/$corpus/"
	dict=
	[ -f "tests/fuzz/$corpus.dict" ] && dict="-dict=tests/fuzz/$corpus.dict"
	# $dict is empty or one word.
	# shellcheck disable=SC2086
	"./$BIN/$target" $dict -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BIN/artifacts/$target-" \
		"$scratch/$corpus" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok   $target: ${runs:-?} runs in ${SECONDS_PER_TARGET}s"
		passed=$((passed + 1))
	else
		echo "FAIL $target (exit $rc); last lines of $log:"
		tail -n 40 "$log"
		failed=$((failed + 1))
	fi
done <<EOF
$TARGETS
EOF

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
