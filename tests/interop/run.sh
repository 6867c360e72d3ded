#!/bin/sh
# run.sh - runs the interop suites (Python websockets, Node ws, headless Chromium) against
# examples/echo.php and examples/chat.php, and their permessage-deflate cases against
# tests/compression/server.php and `examples/echo.php --compression`, then prints the combined
# `N passed, N failed`.
# Installs the pinned Node packages first when node_modules is missing. Works from any cwd.
# Env: WS_PHP (see tests/conformance/conformance.py), CHROMIUM (default /usr/bin/chromium).
set -u
cd "$(dirname "$0")" || exit 2

if [ ! -d node_modules/ws ] || [ ! -d node_modules/playwright-core ]; then
	npm ci --no-audit --no-fund || npm install --no-audit --no-fund || exit 2
fi

passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for suite in "/usr/bin/python3 py_client.py" "node node_client.js" "node chromium.js"; do
	echo "== $suite"
	# Each suite stops itself after 120 s; timeout(1) is the last resort if it hangs anyway.
	timeout -k 5 150 $suite | tee "$out"
	summary=$(tail -n 1 "$out")
	case "$summary" in
	*" passed, "*" failed")
		passed=$((passed + ${summary%% passed*}))
		rest=${summary#*passed, }
		failed=$((failed + ${rest%% failed*}))
		;;
	*)
		echo "FAIL $suite: ended without a summary line"
		failed=$((failed + 1))
		;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
