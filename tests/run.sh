#!/bin/sh
# Builds the extension and runs every test suite; ends with one line `N passed, N failed`
# (the sums over all suites) and exits non-zero if anything failed.
#   sh tests/run.sh                 everything
#   sh tests/run.sh unit phpt       only the named suites
# Suites: lint unit fuzz phpt conformance compression interop hardening workers tls bench asan
# valgrind pecl. (bench is bench/smoke.sh: the load generator's modes, checked for correctness.)
# FUZZ_SECONDS (default 30) sets the time per fuzz target.
set -u
cd "$(dirname "$0")/.."
root=$PWD
. tests/summary.sh

sh tests/deps.sh --test || exit 1
echo "== build (--enable-websocket-dev: -Werror and strict warnings)"
if ! sh tests/build.sh --enable-websocket-dev; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
export WS_PHP="php -d extension=$root/modules/websocket.so"

suites=${*:-lint unit fuzz phpt conformance compression interop hardening workers tls bench asan valgrind pecl}
total_pass=0
total_fail=0
total_skip=0
summary=""
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

for suite in $suites; do
	case $suite in
	lint) cmd="sh tests/lint.sh" ;;
	unit) cmd="sh tests/unit/run.sh" ;;
	fuzz) cmd="sh tests/fuzz/run.sh ${FUZZ_SECONDS:-30}" ;;
	phpt) cmd="sh tests/phpt.sh" ;;
	conformance) cmd="sh tests/conformance/run.sh" ;;
	compression) cmd="sh tests/compression/run.sh" ;;
	interop) cmd="sh tests/interop/run.sh" ;;
	hardening) cmd="sh tests/hardening/run.sh" ;;
	workers) cmd="sh tests/workers/run.sh" ;;
	tls) cmd="sh tests/tls/run.sh" ;;
	bench) cmd="sh bench/smoke.sh" ;;
	asan) cmd="sh tests/sanitize/run.sh asan" ;;
	valgrind) cmd="sh tests/sanitize/run.sh valgrind" ;;
	pecl) cmd="sh tests/pecl/check.sh" ;;
	*)
		echo "unknown suite: $suite"
		exit 2
		;;
	esac
	echo "== $suite"
	start=$(date +%s)
	{
		$cmd 2>&1
		echo $? >"$logdir/rc"
	} | tee "$logdir/$suite.log"
	read_summary "$logdir/$suite.log" "$(cat "$logdir/rc")"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary="$summary
  $suite: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
done

echo "== summary$summary"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
