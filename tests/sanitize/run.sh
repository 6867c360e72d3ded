#!/bin/sh
# tests/sanitize/run.sh - runs the phpt and conformance suites (and, under ASan, the compression,
# workers and tls suites) under a memory checker.
#   sh tests/sanitize/run.sh asan       the extension built with ASan and UBSan, PHP on the system
#                                       allocator (USE_ZEND_ALLOC=0), LeakSanitizer at every exit
#   sh tests/sanitize/run.sh valgrind   the extension's normal build under valgrind memcheck
#                                       (run-tests.php -m), no errors and no definite leaks
# Each mode builds in its own scratch copy of the tree (.build-asan/, .build-valgrind/; phpize
# builds in the source directory), so the repository's build is left alone. Every php process
# the suites start is checked: the test scripts, the servers they fork and the `php` they spawn
# (tests/inc/server.inc), and examples/echo.php for the conformance suite.
# Prints `ok`/`FAIL` per part, then `N passed, N failed`: phpt tests and conformance cases, plus
# one failure per sanitizer or valgrind report. Exits non-zero if anything failed. Reports and
# logs stay in .build-<mode>/reports/ until the next run.
set -u
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
. "$root/tests/summary.sh"
mode=${1:-}
case $mode in
asan | valgrind) ;;
*)
	echo "usage: sh tests/sanitize/run.sh asan|valgrind"
	exit 2
	;;
esac

scratch=$root/.build-$mode
logs=$scratch/reports
pass=0
fail=0

give_up() {
	echo "FAIL $1"
	[ -n "${2:-}" ] && tail -30 "$2"
	echo "$pass passed, $((fail + 1)) failed"
	exit 1
}

# -- a copy of the tree, tracked files and new ones .gitignore does not exclude -------------
# Only files whose content changed are copied, and get a new time stamp, so make rebuilds what
# changed since the last run, also when a file went back to an older version.
mkdir -p "$scratch"
files=$(git ls-files --cached --others --exclude-standard) || give_up "git ls-files"
echo "$files" | while IFS= read -r f; do
	[ -f "$f" ] || continue
	cmp -s "$f" "$scratch/$f" && continue
	mkdir -p "$scratch/$(dirname "$f")" && cp "$f" "$scratch/$f" || exit 1
done || give_up "copy of the tree into $scratch"
rm -rf "$logs"
mkdir -p "$logs"

# -- build -----------------------------------------------------------------------------------
if [ "$mode" = asan ]; then
	# clang, whose ASan runtime carries UBSan too, so both report to the same files. GCC has
	# two runtimes, and with both preloaded one of them ignores its log_path (both export
	# __sanitizer_set_report_path; the first loaded gets both calls).
	CC=clang
	cflags="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	# clang links no runtime into a shared object: the module's calls into it are resolved
	# when PHP loads it, from the runtime preloaded below.
	ldflags="-fsanitize=address,undefined"
else
	CC=cc
	cflags="-O2 -g"
	ldflags=""
fi
args="--enable-websocket --enable-websocket-dev CC=$CC CFLAGS=$cflags LDFLAGS=$ldflags"
build_log=$logs/build.log
(
	cd "$scratch" || exit 1
	if [ ! -f Makefile ] || [ config.m4 -nt Makefile ] || [ "$(cat .configure-args 2>/dev/null)" != "$args" ]; then
		phpize >"$build_log" 2>&1 &&
			./configure --enable-websocket --enable-websocket-dev CC="$CC" CFLAGS="$cflags" \
				LDFLAGS="$ldflags" >>"$build_log" 2>&1 &&
			make clean >>"$build_log" 2>&1 &&
			echo "$args" >.configure-args || exit 1
	fi
	make -j"$(nproc 2>/dev/null || echo 2)" >>"$build_log" 2>&1
) || give_up "build ($mode)" "$build_log"
echo "ok   build ($mode, $scratch/modules/websocket.so)"
php=$(php-config --php-binary)
module=$scratch/modules/websocket.so
# Cycles left at exit are collected as a debug build of PHP would (see final_gc.php); a fatal
# error's leftovers are freed by USE_TRACKED_ALLOC (PHP frees what it tracks on an unclean
# shutdown only), and report_memleaks=1 keeps that so for a clean one.
php_ini="-d auto_prepend_file=$scratch/tests/sanitize/final_gc.php -d report_memleaks=1"

if [ "$mode" = asan ]; then
	# A PHP built without sanitizers needs the ASan runtime preloaded, after the shim that
	# drops RTLD_DEEPBIND (see no_deepbind.c).
	libasan=$($CC -print-file-name="libclang_rt.asan-$(uname -m).so")
	[ -f "$libasan" ] || give_up "no ASan runtime for $CC (Debian: apt-get install libclang-rt-14-dev)"
	$CC -O2 -shared -fPIC -o "$scratch/no_deepbind.so" tests/sanitize/no_deepbind.c -ldl \
		>"$logs/shim.log" 2>&1 || give_up "build of no_deepbind.so" "$logs/shim.log"
	# run-tests.php starts every php process of the phpt suite through this wrapper (-p), and
	# each test passes it on to the php it spawns (TEST_PHP_EXECUTABLE); forked children and
	# anything a test starts inherit the environment. Reports go to files (log_path), so no
	# report is lost with a child's stderr; each process the wrapper starts is logged in
	# commands, to tell whose report a file is.
	wrapper=$scratch/php-asan
	cat >"$wrapper" <<EOF
#!/bin/sh
# Written by tests/sanitize/run.sh: php with the ASan runtime, for the asan suite.
echo "\$\$ \$*" >>"$logs/commands"
export LD_PRELOAD="$scratch/no_deepbind.so $libasan"
export USE_ZEND_ALLOC=0 USE_TRACKED_ALLOC=1 ZEND_DONT_UNLOAD_MODULES=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:verify_asan_link_order=0:fast_unwind_on_malloc=0:malloc_context_size=30:log_path=$logs/asan"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
exec $php "\$@"
EOF
	chmod +x "$wrapper"
	phpt_args="-p $wrapper"
	ws_php="$wrapper -d extension=$module $php_ini"
else
	# run-tests.php -m runs each test as `valgrind -q --trace-children=yes --log-file=<test>.mem`
	# with USE_ZEND_ALLOC=0 and ZEND_DONT_UNLOAD_MODULES=1, so forked servers and the php a
	# test spawns are checked too, and any output there makes the test LEAK. VALGRIND_OPTS adds
	# to that: definite leaks are errors, and `kill` (which tests run when ext/posix is not
	# loaded) runs without valgrind, since it would truncate the test's .mem file.
	export USE_TRACKED_ALLOC=1
	export VALGRIND_OPTS="--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=30 --trace-children-skip=*/kill"
	phpt_args="-m --show-mem"
	vg="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite"
	vg="$vg --errors-for-leak-kinds=definite --num-callers=30 --log-file=$logs/vg.%p.log"
	ws_php="env USE_ZEND_ALLOC=0 USE_TRACKED_ALLOC=1 ZEND_DONT_UNLOAD_MODULES=1 $vg $php -d extension=$module $php_ini"
fi

# -- phpt ------------------------------------------------------------------------------------
dirs=""
for d in "$scratch"/tests/*/; do
	ls "$d"*.phpt >/dev/null 2>&1 && dirs="$dirs tests/$(basename "$d")"
done
phpt_log=$logs/phpt.log
start=$(date +%s)
NO_COLOR=1 make -C "$scratch" test NO_INTERACTION=1 \
	TESTS="$phpt_args $php_ini -q --show-diff -j2$dirs" >"$phpt_log" 2>&1
rc=$?
count() {
	n=$(sed -n "s/^Tests $1 *: *\([0-9]*\).*/\1/p" "$phpt_log" | head -1)
	echo "${n:-0}"
}
p=$(grep -q '^Tests passed' "$phpt_log" && count passed)
f=$(($(count failed) + $(count leaked) + $(count warned) + $(count borked)))
secs=$(($(date +%s) - start))
if [ -z "$p" ]; then
	tail -40 "$phpt_log"
	p=0
	f=1
elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	f=1
fi
if [ "$f" -eq 0 ]; then
	echo "ok   phpt: $p passed ($secs s)"
else
	# The failing tests, their diffs and (valgrind) their .mem files, for the CI log.
	sed -n '/^=* *DIFF *=*$/,/^=* *DONE *=*$/p; /^=* *MEM *=*$/,/^=* *DONE *=*$/p' "$phpt_log" | head -200
	grep -aE "^(FAIL|LEAK|BORK|WARN)[A-Z&]* " "$phpt_log" | sed 's/^/  /'
	echo "FAIL phpt: $p passed, $f failed ($secs s)"
fi
pass=$((pass + p))
fail=$((fail + f))

# -- conformance; compression, workers and tls under ASan only (too slow under valgrind) ----
# A suite run against this build: `part NAME COMMAND...` adds its counts to the totals.
part() {
	name=$1
	shift
	log=$logs/$name.log
	start=$(date +%s)
	WS_PHP="$ws_php" "$@" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	read_summary "$log" "$rc"
	[ -z "$summary_line" ] && tail -20 "$log"
	if [ "$f" -eq 0 ]; then
		echo "ok   $name: $p passed ($secs s)"
	else
		grep -v '^ok ' "$log" | sed 's/^/  /'
		echo "FAIL $name: $p passed, $f failed ($secs s)"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}
part conformance sh "$scratch/tests/conformance/run.sh"
if [ "$mode" = asan ]; then
	part compression sh "$scratch/tests/compression/run.sh"
	# The master, the workers it forks and the replacements of a reload all inherit the ASan
	# runtime; each writes its own report file if it has anything to say.
	part workers sh "$scratch/tests/workers/run.sh"
	part tls sh "$scratch/tests/tls/run.sh"
fi

# -- reports ---------------------------------------------------------------------------------
# Whose report it is: the command line (without -d options) of the php the wrapper started with
# that pid, else a process a test forked.
whose() {
	cmd=$(sed -n "s/^$1 //p" "$logs/commands" 2>/dev/null | head -1)
	if [ -n "$cmd" ]; then
		echo "php $cmd" | sed 's/ -d [^ ]*//g' | cut -c1-200
	else
		echo "a process forked by a test"
	fi
}
reports=0
if [ "$mode" = asan ]; then
	for r in "$logs"/asan.*; do
		[ -f "$r" ] || continue
		reports=$((reports + 1))
		echo "FAIL sanitizer report $(basename "$r") ($(whose "${r##*.}")):"
		head -60 "$r" | sed 's/^/  /'
	done
else
	# A log without an ERROR SUMMARY belongs to a server that was killed before valgrind could
	# check it; that is a failure too.
	for r in "$logs"/vg.*.log; do
		[ -f "$r" ] || continue
		if ! grep -q "ERROR SUMMARY: 0 errors" "$r"; then
			reports=$((reports + 1))
			echo "FAIL valgrind report $(basename "$r"):"
			grep -v '^==[0-9]*== *$' "$r" | head -80 | sed 's/^/  /'
		fi
	done
fi
if [ "$reports" -eq 0 ]; then
	echo "ok   no $mode reports"
fi
fail=$((fail + reports))

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
