# summary.sh - sourced by the runners that add up other suites (tests/run.sh,
# tests/sanitize/run.sh). read_summary LOG RC sets p, f and s from the last line
# `N passed, N failed[, N skipped]` of LOG. A log without that line, or an exit status RC other
# than 0 with no failure counted, is one failure: a suite that crashed never looks green.
read_summary() {
	summary_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	p=$(echo "$summary_line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$summary_line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$summary_line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	p=${p:-0}
	f=${f:-0}
	s=${s:-0}
	if [ -z "$summary_line" ]; then
		f=1
		echo "no summary line in $1 (the suite crashed?)"
	elif [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "exited with status $2 although no failure was counted"
	fi
}
