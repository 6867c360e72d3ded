#!/bin/sh
# Runs the phpt suite through `make test` (PHP's run-tests.php with the built extension) and
# prints its summary as `N passed, N failed, N skipped`.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
make test NO_INTERACTION=1 TESTS="-q --show-diff -j2 ${*:-tests/server tests/connection tests/config tests/protocol tests/rooms}" >"$log" 2>&1
rc=$?
grep -E "^(FAIL|SKIP|BORK|LEAK)|^(Tests (passed|failed|skipped))" "$log"
count() { sed -n "s/^Tests $1 *: *\([0-9]*\).*/\1/p" "$log" | head -1; }
passed=$(count passed)
failed=$(count failed)
skipped=$(count skipped)
if [ -z "$passed" ]; then
	tail -40 "$log"
	echo "0 passed, 1 failed"
	exit 1
fi
[ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1
if [ "${failed:-0}" -ne 0 ]; then
	# Show what differed, for the CI log.
	for d in $(find tests -name '*.diff' -newer "$log" 2>/dev/null); do
		echo "--- $d"
		head -40 "$d"
	done
fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
[ "${failed:-0}" -eq 0 ]
