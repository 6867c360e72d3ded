#!/bin/sh
# bench/run.sh - builds what the benchmark needs, measures ext-websocket against its peers and
# writes bench/RESULTS.md (see bench/README.md).
#
#   sh bench/run.sh [--quick] [--repeat N] [--scenarios a,b,..] [--servers x,y,..] [--duration S]
#                   [--out FILE]
#
# scenarios: echo pipelined large broadcast hold10k hold19k hold76k bus cost deflatehold
#            (default: all)
# servers:   ext c select node workerman ratchet                          (default: all)
# --repeat N runs every throughput measurement N times (each against a fresh server) and reports
# the median with the range. The environment may set SCENARIOS, SERVERS, DURATION and REPEAT
# instead. WS_PHP="php -d extension=/path/websocket.so" measures that build instead of building
# this checkout; BENCH_OFFLINE=1 installs nothing with composer or npm.
#
# Servers run on CPU 0 (taskset -c 0), load generators on CPU 1, on 127.0.0.1 ports
# 19100-19189. Each measurement waits (up to a minute) for the machine to be idle first, and
# one that other processes disturbed is run again. Every process started here is stopped on
# exit, also on Ctrl-C.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="$here/.build"
peers="$here/.peers"
run="$here/.run"
loadgen="$build/loadgen"

quick=0
repeat=${REPEAT:-1}
duration=${DURATION:-}
scenarios=${SCENARIOS:-echo,pipelined,large,broadcast,hold10k,hold19k,hold76k,bus,cost,deflatehold}
servers=${SERVERS:-ext,c,select,node,workerman,ratchet}
out="$here/RESULTS.md"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--repeat) repeat=$2; shift ;;
	--scenarios) scenarios=$2; shift ;;
	--servers) servers=$2; shift ;;
	--duration) duration=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	duration=${duration:-2}
	warmup=0.5
	hold_secs=1
else
	duration=${duration:-10}
	warmup=1
	hold_secs=2
fi
# A generator process may hold this many connections (the machine allows 20,000 descriptors).
per_gen=19000

has() { # list item
	case ",$1," in *",$2,"*) return 0 ;; esac
	return 1
}
say() { printf '%s\n' "$*"; }

# ---- processes: everything started is tracked and stopped on exit ----

tracked=""
track() { tracked="$tracked $1"; }

alive() { # a zombie is not alive (kill -0 would say it is)
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

stop_pid() { # pid: TERM, up to 8 s for a graceful stop, then KILL (its children first)
	alive "$1" || { wait "$1" 2>/dev/null || true; return 0; }
	kill -TERM "$1" 2>/dev/null || true
	i=0
	while alive "$1" && [ $i -lt 80 ]; do sleep 0.1; i=$((i + 1)); done
	if alive "$1"; then
		for child in $(pgrep -P "$1" 2>/dev/null); do kill -KILL "$child" 2>/dev/null || true; done
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

cleanup() {
	for pid in $tracked; do stop_pid "$pid"; done
	tracked=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---- build and install ----

mkdir -p "$run"
results="$run/results.tsv"
envfile="$run/env"
: >"$results"
: >"$envfile"
setenv() { printf '%s=%s\n' "$1" "$2" >>"$envfile"; }

if [ -z "${WS_PHP:-}" ]; then
	say "building the extension (sh tests/build.sh)"
	(cd "$root" && sh tests/build.sh) || { echo "run.sh: the extension did not build" >&2; exit 1; }
	WS_PHP="php -d extension=$root/modules/websocket.so"
fi
# shellcheck disable=SC2086
$WS_PHP -r 'exit(extension_loaded("websocket") ? 0 : 1);' ||
	{ echo "run.sh: \"$WS_PHP\" does not load the websocket extension" >&2; exit 1; }
say "building loadgen and the C server (make -C bench)"
make -s -C "$here" ROOT="$root" >"$run/make.log" 2>&1 || { cat "$run/make.log" >&2; exit 1; }

# skip_reason_<server> is empty when the server can run.
skip_reason() { eval "printf '%s' \"\${skip_$1:-}\""; }
set_skip() { eval "skip_$1=\$2"; }

install_php_peer() { # name: composer install of its packages (extra.bench-peers) into .peers/NAME
	dir="$peers/$1"
	mkdir -p "$dir"
	php -r '
		$all = json_decode(file_get_contents($argv[1]), true);
		$req = ["php" => $all["require"]["php"]];
		foreach ($all["extra"]["bench-peers"][$argv[2]] as $p) $req[$p] = $all["require"][$p];
		file_put_contents($argv[3], json_encode(["require" => $req, "config" => $all["config"]],
			JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n");' \
		"$here/peers/composer.json" "$1" "$dir/composer.json"
	if [ -f "$dir/vendor/autoload.php" ] && [ "$dir/vendor/autoload.php" -nt "$dir/composer.json" ]; then
		return 0
	fi
	if ! timeout 300 composer install -d "$dir" --no-interaction --no-progress --no-dev \
		>"$run/composer-$1.log" 2>&1; then
		# The first problem composer names ("... requires x/y, it could not be found in any
		# version" when the registry does not carry it), else its first error line.
		why=$(grep -m1 -E "^ +- " "$run/composer-$1.log" || grep -m1 -iE "error|could not|failed" "$run/composer-$1.log" || true)
		why=$(printf '%s' "$why" | sed 's/^[ -]*//; s/[.]$//' | cut -c1-200)
		set_skip "$1" "composer could not install it: ${why:-see bench/.run/composer-$1.log}"
	fi
}

install_node_peer() {
	mkdir -p "$peers"
	cp "$here/peers/package.json" "$peers/package.json"
	want=$(sed -n 's/.*"ws": *"\([^"]*\)".*/\1/p' "$here/peers/package.json")
	have=$(NODE_PATH="$peers/node_modules" node -p 'require("ws/package.json").version' 2>/dev/null || true)
	[ "$have" = "$want" ] && return 0
	if ! (cd "$peers" && timeout 300 npm install --no-audit --no-fund --no-package-lock --omit=dev \
		>"$run/npm.log" 2>&1); then
		why=$(grep -m1 -iE "ERR|error" "$run/npm.log" | cut -c1-160)
		set_skip node "npm could not install ws@$want: ${why:-see bench/.run/npm.log}"
	fi
}

for s in workerman ratchet; do
	has "$servers" $s || continue
	if [ -n "${BENCH_OFFLINE:-}" ]; then
		[ -f "$peers/$s/vendor/autoload.php" ] || set_skip $s "BENCH_OFFLINE is set and it is not installed"
	elif ! command -v composer >/dev/null; then
		set_skip $s "composer is not installed"
	else
		say "installing $s with composer into bench/.peers/$s"
		install_php_peer $s
	fi
done
if has "$servers" node; then
	if ! command -v node >/dev/null; then
		set_skip node "node is not installed"
	elif [ -n "${BENCH_OFFLINE:-}" ]; then
		NODE_PATH="$peers/node_modules" node -e 'require("ws")' 2>/dev/null ||
			set_skip node "BENCH_OFFLINE is set and ws is not installed"
	else
		say "installing ws with npm into bench/.peers"
		install_node_peer
	fi
fi
for s in workerman ratchet node; do
	r=$(skip_reason $s)
	[ -z "$r" ] || say "skip $s: $r"
done

# Pure-PHP loops fall back to stream_select() without one of these extensions, and select(2)
# only takes descriptors below FD_SETSIZE (1024): no hold test for them then.
php_loop_ext=$(php -m | grep -m1 -xE 'event|ev|uv' || true)

# ---- the machine and the versions, for the report ----

setenv date "$(date -u '+%Y-%m-%d %H:%M UTC')"
setenv cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
setenv cores "$(nproc)"
setenv kernel "$(uname -sr)"
setenv memory "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
setenv nofile "$(ulimit -n)"
# shellcheck disable=SC2086
setenv ext "$($WS_PHP -r 'echo phpversion("websocket");')"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- src websocket.c config.m4 2>/dev/null)" ]; then
	commit="$commit + uncommitted changes"
fi
setenv commit "$commit"
setenv php "$(php -r 'echo PHP_VERSION, " (", PHP_ZTS ? "ZTS" : "NTS", ", opcache.enable_cli=", ini_get("opcache.enable_cli") ? "1" : "0", ")";')"
setenv php_loop_ext "${php_loop_ext:-none}"
setenv node "$(node -v 2>/dev/null || echo none)"
setenv ws "$(NODE_PATH="$peers/node_modules" node -p 'require("ws/package.json").version' 2>/dev/null || echo none)"
for s in workerman ratchet; do
	v=$(php -r '$f = $argv[1]; if (!is_file($f)) { echo "none"; exit; }
		$j = json_decode(file_get_contents($f), true); $j = $j["packages"] ?? $j;
		foreach ($j as $p) if ($p["name"] === $argv[2]) { echo ltrim($p["version"], "v"); exit; }
		echo "none";' "$peers/$s/vendor/composer/installed.json" \
		"$([ $s = workerman ] && echo workerman/workerman || echo cboden/ratchet)")
	setenv $s "$v"
done
setenv openssl "$(openssl version 2>/dev/null || echo unknown)"
setenv cc "$(cc --version | head -1)"
setenv command "sh bench/run.sh$([ $quick = 1 ] && echo ' --quick' || true)"
setenv duration "$duration"
setenv warmup "$warmup"
for s in ext c select node workerman ratchet; do
	setenv "skip_$s" "$(skip_reason $s)"
done

# ---- measurements ----

# Waits (at most a minute) for the machine to be idle before a measurement starts.
quiet() {
	if ! busy=$("$loadgen" quiet --max 10 --timeout 60); then
		say "    (the machine is still busy, $(printf '%s' "$busy" | sed 's/busy=//')% of a core; measuring anyway)"
	fi
}

# Anything else running on this machine shows in the figures (each run reports it as
# other_cpu); say so up front.
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	say "warning: load average $load before starting: other processes are busy, figures will be noisy"
fi
setenv load "$load"
setenv repeat "$repeat"

# 19190-19199 are smoke.sh's.
port=19100
next_port() {
	port=$((port + 1))
	[ $port -le 19189 ] || port=19101
}

SRV_PID=""
ext_flags=""  # extra options of bench/peers/ext.php (the cost scenario: TLS, compression)
hold_flags="" # extra options of the hold generators (the cost scenario: --tls)
start_server() { # server mode [workers] [type]: starts it on CPU 0, sets SRV_PID
	log="$run/$scenario-$1-$2.log"
	case $1 in
	ext) set -- $WS_PHP "$here/peers/ext.php" "$2" $port "${3:-1}" $ext_flags ;;
	c) set -- "$build/c_server" "$2" $port ;;
	select) set -- php "$here/peers/php_select.php" "$2" $port ;;
	node) set -- env NODE_PATH="$peers/node_modules" node "$here/peers/node_server.js" "$2" $port ;;
	workerman)
		set -- env BENCH_AUTOLOAD="$peers/workerman/vendor/autoload.php" \
			php "$here/peers/workerman.php" "$2" $port "${4:-text}" ;;
	ratchet)
		set -- env BENCH_AUTOLOAD="$peers/ratchet/vendor/autoload.php" \
			php "$here/peers/ratchet.php" "$2" $port ;;
	esac
	taskset -c 0 "$@" >"$log" 2>&1 &
	SRV_PID=$!
	track $SRV_PID
	"$loadgen" wait --port $port --timeout 15 2>>"$log"
}

# Waits until pid has n children (a master's workers), at most 15 s.
wait_children() {
	i=0
	while [ "$(pgrep -P "$1" | wc -l)" -lt "$2" ] && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

count=0
record() { # scenario label status note result-line
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$results"
}

field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

progress() { # scenario label status result
	count=$((count + 1))
	case $3 in
	ok | fail)
		case $4 in
		*mode=echo*) fig="$(field "$4" rtps) round trips/s, $(field "$4" mbps) MB/s" ;;
		*mode=broadcast*) fig="$(field "$4" dps) deliveries/s" ;;
		*mode=hold*) fig="$(field "$4" held) held, $(field "$4" bytes_per_conn) B/conn" ;;
		*) fig="no result" ;;
		esac
		say "[$count] $1 $2: $fig, errors $(field "$4" errors)$([ "$3" = fail ] && echo ' FAILED' || true)" ;;
	skip) say "[$count] $1 $2: skipped ($4)" ;;
	esac
}

# One run of the load generator against a fresh server: sets line, status and note.
run_once() { # scenario label server mode workers type -- args
	scn=$1 label=$2 srv=$3 mode=$4 workers=$5 type=$6
	shift 7
	scenario=$scn
	line=""
	quiet
	next_port
	if ! start_server "$srv" "$mode" "$workers" "$type"; then
		note="the server did not start: $(tail -3 "$run/$scn-$srv-$mode.log" | tr '\n\t' '  ' | cut -c1-200)"
		status=fail
		stop_pid "$SRV_PID"
		return 0
	fi
	[ "$workers" -le 1 ] || { wait_children "$SRV_PID" "$workers"; sleep 1; }
	genlog="$run/$scn-$label.out"
	taskset -c 1 "$loadgen" "$@" --port $port --duration "$duration" --warmup "$warmup" \
		--pid "$SRV_PID" --children >"$genlog" 2>&1 || true
	line=$(grep '^RESULT' "$genlog" | tail -1)
	if ! alive "$SRV_PID"; then
		status=fail
		note="the server exited during the run"
	fi
	if [ -z "$line" ] || [ "$(field "$line" errors)" != 0 ]; then
		status=fail
		note="${note:+$note; }$(grep -m3 'error' "$genlog" | tr '\n\t' '  ' | cut -c1-300)"
	fi
	stop_pid "$SRV_PID"
}

# A measurement: `repeat` runs, each against a fresh server, recording the median run (by its
# main figure) with the range of all. A run that other processes disturbed (15% of a core or
# more) is done again, up to three tries, keeping the least disturbed.
measure() { # scenario label server mode workers type -- args
	reps="$run/$1-$2.reps"
	: >"$reps"
	status=ok
	note=""
	r=0
	while [ $r -lt "$repeat" ] && [ $status = ok ]; do
		r=$((r + 1))
		best=""
		best_other=0
		try=0
		while [ $try -lt 3 ]; do
			try=$((try + 1))
			run_once "$@"
			[ $status = ok ] || break
			other=$(field "$line" other_cpu)
			other=${other:-0}
			if [ -z "$best" ] || [ "$other" -lt "$best_other" ]; then
				best=$line
				best_other=$other
			fi
			[ "$other" -ge 15 ] || break
			[ $try -lt 3 ] && say "    ($1 $2: other processes used $other% of a core; running it again)"
		done
		[ $status != ok ] || line=$best
		[ -z "$line" ] || printf '%s\n' "$line" >>"$reps"
	done
	key=rtps
	case $* in *" -- broadcast"*) key=dps ;; esac
	if [ $status = ok ]; then
		sorted=$(while read -r l; do printf '%s %s\n' "$(field "$l" $key)" "$l"; done <"$reps" | sort -n)
		n=$(printf '%s\n' "$sorted" | wc -l)
		line=$(printf '%s\n' "$sorted" | sed -n "$(((n + 1) / 2))p" | cut -d' ' -f2-)
		lo=$(printf '%s\n' "$sorted" | head -1 | cut -d' ' -f1)
		hi=$(printf '%s\n' "$sorted" | tail -1 | cut -d' ' -f1)
		line="$line runs=$n lo=$lo hi=$hi"
	fi
	record "$1" "$2" $status "$note" "$line"
	progress "$1" "$2" $status "$line"
}

# Idle connections: n over ceil(n / per_gen) generator processes; the server's RSS (master
# and workers) is read before they connect and once all of them hold their share.
hold() { # scenario label server workers n
	scn=$1 label=$2 srv=$3 workers=$4 n=$5
	scenario=$scn
	quiet
	next_port
	if ! start_server "$srv" echo "$workers"; then
		record "$scn" "$label" fail "the server did not start" ""
		progress "$scn" "$label" skip "the server did not start"
		stop_pid "$SRV_PID"
		return 0
	fi
	[ "$workers" -le 1 ] || wait_children "$SRV_PID" "$workers"
	sleep 1
	before=$("$loadgen" rss --pid "$SRV_PID" --children | sed -n 's/^RSS kb=//p')
	gens=$(((n + per_gen - 1) / per_gen))
	# Source addresses 127.0.0.1..X, at most 10,000 connections each: connect() takes even
	# ports first and scans all of them before an odd one, which crawls past ~14,000.
	srcs=$(((n + 9999) / 10000))
	each=$(((n + gens - 1) / gens))
	left=$n
	pids=""
	g=0
	start=$(date +%s.%N)
	while [ $left -gt 0 ]; do
		c=$each
		[ $c -le $left ] || c=$left
		# shellcheck disable=SC2086
		taskset -c 1 "$loadgen" hold --port $port --conns $c --hold 600 --src-count $srcs \
			--timeout 30 $hold_flags >"$run/$scn-$label-$g.out" 2>&1 &
		pids="$pids $!"
		track $!
		left=$((left - c))
		g=$((g + 1))
	done
	# Each generator prints HELD once all its connections are open (or exits on failure).
	i=0
	while [ $i -lt 1800 ]; do
		ready=0
		k=0
		for pid in $pids; do
			if grep -q '^HELD' "$run/$scn-$label-$k.out" 2>/dev/null || ! alive "$pid"; then
				ready=$((ready + 1))
			fi
			k=$((k + 1))
		done
		[ $ready -lt $g ] || break
		sleep 0.1
		i=$((i + 1))
	done
	opened=$(date +%s.%N)
	sleep "$hold_secs"
	after=$("$loadgen" rss --pid "$SRV_PID" --children | sed -n 's/^RSS kb=//p')
	for pid in $pids; do kill -USR1 "$pid" 2>/dev/null || true; done
	for pid in $pids; do wait "$pid" 2>/dev/null || true; done
	held=0
	errors=0
	k=0
	for pid in $pids; do
		l=$(grep '^RESULT' "$run/$scn-$label-$k.out" | tail -1)
		h=$(field "$l" held)
		held=$((held + ${h:-0}))
		e=$(field "$l" errors)
		errors=$((errors + ${e:-1}))
		k=$((k + 1))
	done
	status=ok
	note=""
	if ! alive "$SRV_PID"; then
		status=fail
		note="the server exited during the run"
	fi
	if [ $errors -ne 0 ] || [ $held -ne $n ]; then
		status=fail
		note="${note:+$note; }$(cat "$run/$scn-$label"-*.out | grep -m3 'error' | tr '\n\t' '  ' | cut -c1-300)"
	fi
	per=-1
	[ "$held" -le 0 ] || per=$(((after - before) * 1024 / held))
	secs=$(awk -v a="$start" -v b="$opened" 'BEGIN { printf "%.2f", b - a }')
	line="RESULT mode=hold conns=$n held=$held open_s=$secs gens=$g rss_before_kb=$before rss_after_kb=$after bytes_per_conn=$per errors=$errors"
	record "$scn" "$label" $status "$note" "$line"
	progress "$scn" "$label" $status "$line"
	stop_pid "$SRV_PID"
}

skip() { # scenario label reason
	record "$1" "$2" skip "$3" ""
	progress "$1" "$2" skip "$3"
}

# A server of the scenario list that can run, or a skip line saying why not.
runnable() { # scenario server
	has "$servers" "$2" || return 1
	r=$(skip_reason "$2")
	if [ -n "$r" ]; then
		skip "$1" "$2" "not installed"
		return 1
	fi
	return 0
}

for scn in echo pipelined large broadcast; do
	has "$scenarios" $scn || continue
	for srv in ext c select node workerman ratchet; do
		runnable $scn $srv || continue
		case $scn in
		echo) measure $scn $srv $srv echo 1 text -- echo --conns 100 --size 32 --inflight 1 ;;
		pipelined) measure $scn $srv $srv echo 1 text -- echo --conns 100 --size 32 --inflight 16 ;;
		large) measure $scn $srv $srv echo 1 binary -- echo --conns 10 --size 65536 --inflight 1 --binary ;;
		broadcast) measure $scn $srv $srv chat 1 text -- broadcast --conns 1000 --size 64 --window 32 ;;
		esac
	done
done

for scn in hold10k hold19k; do
	has "$scenarios" $scn || continue
	n=10000
	[ $scn = hold10k ] || n=19000
	for srv in ext c select node workerman ratchet; do
		runnable $scn $srv || continue
		case $srv in
		select)
			skip $scn $srv "stream_select() is select(2): no descriptor above FD_SETSIZE (1024)"
			continue ;;
		workerman | ratchet)
			if [ -z "$php_loop_ext" ]; then
				skip $scn $srv "its loop is stream_select() without the event, ev or uv extension: at most 1024 descriptors"
				continue
			fi ;;
		esac
		hold $scn $srv $srv 1 $n
	done
done

if has "$scenarios" hold76k && has "$servers" ext; then
	hold hold76k "ext-w4" ext 4 76000
fi

if has "$scenarios" bus && has "$servers" ext; then
	# Both on CPU 0: workers => 2 pays for the bus between processes, not for a second core.
	measure bus "ext-w1" ext chat 1 text -- broadcast --conns 1000 --size 64 --window 32
	measure bus "ext-w2" ext chat 2 text -- broadcast --conns 1000 --size 64 --window 32
fi

if has "$scenarios" cost && has "$servers" ext; then
	# What TLS and permessage-deflate cost against plain, in this same run: 1 KiB of JSON-like
	# text (compressible, above the server's min_size of 64 B), 16 in flight per connection.
	tlsdir="$run/tls"
	if sh "$root/examples/tls-cert.sh" "$tlsdir" >"$run/tls-cert.log" 2>&1; then
		tls_flags="--tls-cert=$tlsdir/cert.pem --tls-key=$tlsdir/key.pem"
		for v in plain tls deflate tls-deflate; do
			case $v in
			plain) ext_flags="" gen="" ;;
			tls) ext_flags=$tls_flags gen="--tls" ;;
			deflate) ext_flags="--compression" gen="--deflate" ;;
			tls-deflate) ext_flags="$tls_flags --compression" gen="--tls --deflate" ;;
			esac
			# shellcheck disable=SC2086
			measure cost "ext-$v" ext echo 1 text -- echo --conns 100 --size 1024 --inflight 16 --json $gen
		done
		ext_flags=""
		hold costhold "ext-plain" ext 1 5000
		ext_flags=$tls_flags hold_flags="--tls"
		hold costhold "ext-tls" ext 1 5000
		ext_flags="" hold_flags=""
	else
		why="examples/tls-cert.sh failed: $(tail -1 "$run/tls-cert.log" | cut -c1-160)"
		for v in plain tls deflate tls-deflate; do skip cost "ext-$v" "$why"; done
	fi
fi

if has "$scenarios" deflatehold && has "$servers" ext; then
	# 10,000 idle connections that negotiated permessage-deflate and each had one compressed
	# message echoed (bench/idle_deflate.py): the default (no context takeover), then context
	# takeover both ways with the zlib streams kept (idle_release 0) and released after 1 s.
	for v in default kept released; do
		case $v in
		default) c=true settle=2 ;;
		kept) c='{"server_context_takeover":true,"client_context_takeover":true,"idle_release":0}' settle=2 ;;
		released) c='{"server_context_takeover":true,"client_context_takeover":true,"idle_release":1}' settle=3 ;;
		esac
		quiet
		log="$run/deflatehold-$v.out"
		WS_PHP="$WS_PHP" python3 "$here/idle_deflate.py" --conns 10000 --settle $settle \
			--compression "$c" >"$log" 2>&1
		l=$(grep '^RESULT' "$log" | tail -1)
		if [ -n "$l" ]; then
			b=$(field "$l" rss_before_kb) a=$(field "$l" rss_after_kb)
			line="RESULT mode=hold conns=10000 held=10000 open_s=$(sed -n 's/.*opened in \([0-9.]*\) s.*/\1/p' "$log" | tail -1) rss_before_kb=$b rss_after_kb=$a bytes_per_conn=$(((a - b) * 1024 / 10000)) errors=0"
			record deflatehold "ext-pmd-$v" ok "" "$line"
			progress deflatehold "ext-pmd-$v" ok "$line"
		else
			why=$(tail -1 "$log" | tr '\t' ' ' | cut -c1-200)
			record deflatehold "ext-pmd-$v" fail "$why" ""
			progress deflatehold "ext-pmd-$v" fail ""
		fi
	done
fi

cleanup
php "$here/report.php" "$results" "$envfile" "$out"
say "wrote $out"
