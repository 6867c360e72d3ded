#!/bin/sh
# suite.sh - the runner that tests/hardening/run.sh and tests/workers/run.sh share (they source
# it from their own directory). A test file (`python3 FILE --list` prints `name timeout`
# lines) has each test run in its own process under a hard timeout; each prints `ok   name`
# or `FAIL name: why` (other output is shown as `# ` comments), then `N passed, N failed`.
# After each test, what it left behind is ended: the process groups recorded in
# $HARDENING_PIDFILE (tests/inc/wsharness.py writes them), then whatever suite_cleanup_more
# ends. Arguments select tests by substring.
#
# The sourcing script may redefine, before calling suite_main FILE "$@":
#   suite_more_tests       prints more `name timeout` lines for the list (default: none)
#   suite_run NAME LIMIT   runs one test with its output in $suite_out and its exit status in
#                          $suite_rc (default: FILE NAME under timeout(1), comments shown)
#   suite_cleanup_more     ends more after each test (default: nothing)
# and add files to remove on exit to suite_temps.
suite_py=/usr/bin/python3
suite_pidfile=$(mktemp)
suite_list=$(mktemp)
suite_out=$(mktemp)
suite_rc=$(mktemp)
suite_temps="$suite_pidfile $suite_list $suite_out $suite_rc"
# shellcheck disable=SC2086
trap 'suite_cleanup; rm -f $suite_temps' EXIT
trap 'exit 130' INT TERM
export HARDENING_PIDFILE="$suite_pidfile"

# Ends what a test that was killed left behind: the process groups it recorded, by id.
suite_cleanup() {
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done <"$suite_pidfile"
	: >"$suite_pidfile"
	suite_cleanup_more
}

suite_cleanup_more() {
	:
}

suite_more_tests() {
	:
}

suite_run() {
	timeout -k 5 "$2" $suite_py "$suite_file" "$1" </dev/null >"$suite_out" 2>&1
	echo $? >"$suite_rc"
	# Lines other than the verdict (notes, tracebacks) are shown as comments.
	grep -v -e '^ok   ' -e '^FAIL ' -e '^$' "$suite_out" | sed 's/^#* */# /'
}

# True when the test `$1` is selected by the substrings that follow (all are, without any).
suite_wanted() {
	w_name=$1
	shift
	[ $# -eq 0 ] && return 0
	for w in "$@"; do
		case $w_name in *"$w"*) return 0 ;; esac
	done
	return 1
}

suite_main() {
	suite_file=$1
	shift
	pass=0
	fail=0
	if ! $suite_py "$suite_file" --list >"$suite_list"; then
		echo "FAIL $suite_file --list: the test file does not load"
		echo "0 passed, 1 failed"
		return 1
	fi
	suite_more_tests >>"$suite_list"
	while read -r line; do
		limit=${line##* }
		name=${line% *}
		suite_wanted "$name" "$@" || continue
		suite_run "$name" "$limit"
		rc=$(cat "$suite_rc")
		suite_cleanup
		verdict=$(grep -e '^ok   ' -e '^FAIL ' "$suite_out" | head -1)
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "FAIL $name: no result within the hard timeout of $limit s${verdict:+ ($verdict)}"
			fail=$((fail + 1))
		elif [ "$rc" -eq 0 ] && [ "${verdict#ok   }" != "$verdict" ]; then
			echo "$verdict"
			pass=$((pass + 1))
		elif [ "${verdict#FAIL }" != "$verdict" ]; then
			echo "$verdict"
			fail=$((fail + 1))
		else
			echo "FAIL $name: exit status $rc without a verdict"
			fail=$((fail + 1))
		fi
	done <"$suite_list"
	echo "$pass passed, $fail failed"
	[ $fail -eq 0 ]
}
