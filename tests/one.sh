#!/bin/sh
# one.sh - builds what one test needs and runs that test alone; ends, like every suite, with
# `N passed, N failed` and exits non-zero on failure.
# Usage: sh tests/one.sh TARGET   (from any directory), where TARGET is
#   a .phpt file                  tests/connection/ping.phpt   (builds the extension, then
#                                 run-tests.php through tests/phpt.sh)
#   a unit test, name or file     test_frame, tests/unit/test_frame.c   (tests/unit/run.sh NAME)
#   a fuzz target, name or file   fuzz_http, tests/fuzz/fuzz_http.c   (tests/fuzz/run.sh for
#                                 FUZZ_SECONDS, default 20)
#   a case of the hardening, workers, conformance or compression suite: its name as that suite
#   lists it, optionally prefixed by the suite (hardening:timeout_idle). The suites select cases
#   by substring, so a name that is part of longer names runs those too (one.sh says so).
set -u
here=$PWD
cd "$(dirname "$0")/.." || exit 2
root=$PWD
py=/usr/bin/python3

if [ $# -ne 1 ] || [ -z "$1" ]; then
	sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
target=$1

fail() {
	echo "$1"
	echo "0 passed, 1 failed"
	exit 1
}

build() {
	echo "== build (--enable-websocket-dev)"
	sh tests/build.sh --enable-websocket-dev || fail "build failed"
	export WS_PHP="php -d extension=$root/modules/websocket.so"
}

# The case names of a suite, one a line.
cases() {
	case $1 in
	hardening)
		(cd tests/hardening && $py hardening.py --list | sed 's/ [0-9]*$//') && echo stress
		;;
	workers) (cd tests/workers && $py workers.py --list | sed 's/ [0-9]*$//') ;;
	conformance)
		$py -c 'import sys; sys.path.insert(0, "tests/conformance"); import conformance
print("\n".join(c[0] for c in conformance.run.cases))'
		;;
	compression)
		$py -c 'import sys; sys.path.insert(0, "tests/compression"); import compression
print("\n".join(c[0] for c in compression.CASES))'
		;;
	esac
}

# Runs case $2 of suite $1 through the suite's own runner (its timeouts and clean-up).
run_case() {
	suite=$1
	name=$2
	list=$(cases "$suite") || fail "cannot list the cases of $suite"
	printf '%s\n' "$list" | grep -Fqx -- "$name" || fail "$suite has no case named '$name'"
	more=$(printf '%s\n' "$list" | grep -F -- "$name" | grep -Fvx -- "$name")
	if [ -n "$more" ]; then
		echo "note: '$name' also selects:"
		printf '%s\n' "$more" | sed 's/^/  /'
	fi
	build
	exec sh "tests/$suite/run.sh" "$name"
}

case $target in
*.phpt)
	# Absolute, or relative to the repository or to where one.sh was called.
	case $target in
	/*) ;;
	*) [ ! -f "$target" ] && [ -f "$here/$target" ] && target=$here/$target ;;
	esac
	[ -f "$target" ] || fail "no such file: $target"
	build
	exec sh tests/phpt.sh "$target"
	;;
tests/unit/test_*.c | test_* | fuzz_* | tests/fuzz/fuzz_*.c)
	name=$(basename "$target" .c)
	case $name in
	test_*) runner=tests/unit/run.sh ;;
	*) runner=tests/fuzz/run.sh ;;
	esac
	grep -q "^$name " "$runner" || fail "$runner does not list $name"
	if [ "$runner" = tests/unit/run.sh ]; then
		exec sh "$runner" "$name"
	fi
	exec sh "$runner" "${FUZZ_SECONDS:-20}" "$name"
	;;
hardening:* | workers:* | conformance:* | compression:*)
	run_case "${target%%:*}" "${target#*:}"
	;;
esac

for suite in hardening workers conformance compression; do
	if cases "$suite" 2>/dev/null | grep -Fqx -- "$target"; then
		run_case "$suite" "$target"
	fi
done
fail "unknown test: $target (not a .phpt file, unit test, fuzz target or suite case)"
