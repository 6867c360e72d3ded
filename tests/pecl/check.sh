#!/bin/sh
# Checks the release packaging, unattended: package.xml lists the tree, composer.json (PIE) and
# config.w32 are sound, then, in a temporary copy of the tree (the repository gets no build
# output), `pecl package` and `pecl package-validate`, `pecl install` of the tarball into the
# system extension directory, the installed extension loads and answers a WebSocket handshake,
# and `pecl uninstall`. The extension is uninstalled again whatever happens (on exit, also after
# a failure or Ctrl-C). Prints `ok   <step>` or `FAIL <step>` with the end of the log for
# each step, then `N passed, N failed`; exits non-zero if a step failed.
# Needs php-pear (pecl), php-dev, the build dependencies, and root (or password-less sudo).
set -u
cd "$(dirname "$0")/../.."
export CI=true
export COMPOSER_ALLOW_SUPERUSER=1
export COMPOSER_NO_INTERACTION=1

pass=0
fail=0
skip=0
work=$(mktemp -d "${TMPDIR:-/tmp}/websocket-pecl.XXXXXX")
log=$work/step.log
installed=no
created_dirs=""
created_parents=""
empty_dirs=""

ok() {
	echo "ok   $1"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL $1"
	[ -s "$log" ] && tail -n "${2:-20}" "$log" | cut -c 1-300 | sed 's/^/     /'
	fail=$((fail + 1))
}
skipped() {
	echo "skip $1"
	skip=$((skip + 1))
}
# step NAME COMMAND...: runs COMMAND with its output in $log.
step() {
	name=$1
	shift
	if "$@" >"$log" 2>&1 </dev/null; then
		ok "$name"
		return 0
	fi
	bad "$name"
	return 1
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo -n"
fi

uninstall() {
	[ "$installed" = yes ] || return 0
	$sudo pecl uninstall websocket </dev/null >"$work/uninstall.log" 2>&1
	if ! pecl list 2>/dev/null | grep -q '^websocket '; then
		installed=no
		return 0
	fi
	return 1
}
cleanup() {
	if [ "$installed" = yes ] && ! uninstall; then
		echo "FAIL could not uninstall websocket: run \`pecl uninstall websocket\`"
		tail -n 10 "$work/uninstall.log" 2>/dev/null
	fi
	# pecl's temp, download and cache directories, when this run created them.
	for d in $created_dirs; do
		$sudo rm -rf "$d"
	done
	for d in $created_parents; do
		$sudo rmdir "$d" 2>/dev/null
	done
	if [ "$installed" = no ]; then
		for d in $empty_dirs; do
			$sudo rmdir "$d" 2>/dev/null
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

version=$(sed -n 's|.*<release>\([^<]*\)</release>.*|\1|p' package.xml 2>/dev/null | head -1)
tgz=websocket-$version.tgz

# 1. Static checks of the packaging files.
step "package.xml lists the tree (php tests/tools/package_xml.php --check)" \
	php tests/tools/package_xml.php --check

if command -v composer >/dev/null 2>&1; then
	# Composer < 2.7.3 does not know the php-ext section and warns that the package could not
	# be published; that warning is not an error in composer.json.
	composer_valid() {
		composer validate --no-check-publish --no-interaction composer.json &&
			grep -q 'composer.json is valid' "$log"
	}
	step "composer.json is valid (composer validate)" composer_valid
else
	skipped "composer.json (composer is not installed)"
fi

if command -v node >/dev/null 2>&1; then
	# config.w32 runs under Windows' JScript; run it under node against a stub of PHP's
	# confutils.js and compare the sources it compiles with config.m4's.
	w32_sources() {
		cat >"$work/w32.js" <<-'EOF'
			const fs = require('fs'), vm = require('vm');
			const out = [];
			const ctx = {
				configure_module_dirname: 'EXTDIR',
				ARG_ENABLE() {}, ARG_WITH() {}, AC_DEFINE() {}, PHP_INSTALL_HEADERS() {},
				CHECK_LIB() { return true; }, CHECK_HEADER_ADD_INCLUDE() { return true; },
				WARNING(m) { throw new Error('WARNING ' + m); }, ERROR(m) { throw new Error(m); },
				EXTENSION(name, files) { for (const f of files.split(/\s+/)) out.push(f); },
				ADD_SOURCES(dir, files) {
					const sub = dir.replace(/^EXTDIR[\\/]?/, '');
					for (const f of files.split(/\s+/)) out.push((sub ? sub + '\\' : '') + f);
				},
				PHP_WEBSOCKET: 'yes', PHP_WEBSOCKET_SHARED: true, PHP_WEBSOCKET_DEV: 'yes',
				PHP_ZLIB: true, PHP_ZLIB_SHARED: false,
			};
			vm.runInNewContext(fs.readFileSync('config.w32', 'utf8'), ctx, { filename: 'config.w32' });
			console.log(out.map(f => f.replace(/\\/g, '/')).sort().join('\n'));
		EOF
		node "$work/w32.js" >"$work/w32.lst" &&
			php tests/tools/package_xml.php --sources >"$work/m4.lst" &&
			diff -u "$work/m4.lst" "$work/w32.lst"
	}
	step "config.w32 runs (node, stub confutils.js) and compiles config.m4's sources" w32_sources
else
	skipped "config.w32 (node is not installed)"
fi

# 2. pecl, in a copy of the tree.
if ! command -v pecl >/dev/null 2>&1; then
	: >"$log"
	bad "pecl not found (Debian: apt-get install php-pear)"
	echo "$pass passed, $fail failed"
	exit 1
fi

# pecl's temp, download and cache directories (and their parent, /tmp/pear) that do not exist
# yet are removed at the end; so is the unpacked source pecl leaves behind after a failed build.
for key in temp_dir download_dir cache_dir; do
	d=$(pecl config-get "$key" 2>/dev/null </dev/null)
	case $d in
	/tmp/?*)
		if [ ! -e "$d" ]; then
			created_dirs="$created_dirs $d"
			[ -e "$(dirname "$d")" ] || created_parents="$created_parents $(dirname "$d")"
		elif [ "$key" = temp_dir ] && [ ! -e "$d/websocket" ]; then
			created_dirs="$created_dirs $d/websocket"
		fi
		;;
	esac
done

# Installing creates <doc_dir>/websocket, <test_dir>/websocket and, on a machine where pecl never
# installed anything, doc_dir, test_dir and the pecl channel's registry directory; uninstalling
# leaves the empty directories. Those this run creates are removed at the end when empty.
for key in doc_dir test_dir php_dir; do
	d=$(pecl config-get "$key" 2>/dev/null </dev/null)
	[ -n "$d" ] || continue
	[ "$key" = php_dir ] && d=$d/.registry/.channel.pecl.php.net
	[ -e "$d" ] || empty_dirs="$empty_dirs $d"
	[ "$key" = php_dir ] || [ -e "$d/websocket" ] || empty_dirs="$d/websocket $empty_dirs"
done

copy_tree() {
	mkdir -p "$work/tree" &&
		if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			# Tracked files and untracked ones .gitignore does not exclude: no build output.
			git ls-files -z --cached --others --exclude-standard |
				xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
				xargs -0 cp --parents -t "$work/tree"
		else
			tar cf - --exclude=./.git . | tar xf - -C "$work/tree"
		fi
}
step "copy the tree (without build outputs) to a temporary directory" copy_tree || {
	echo "$pass passed, $fail failed"
	exit 1
}

packaged() {
	(cd "$work/tree" && pecl package package.xml) && [ -f "$work/tree/$tgz" ] &&
		grep -q "Package $tgz done" "$log"
}
if step "pecl package ($tgz)" packaged; then
	validated() {
		pecl package-validate "$work/tree/$tgz" && grep -q 'Validation: 0 error(s)' "$log"
	}
	if step "pecl package-validate" validated; then
		warnings=$(sed -n 's/.*Validation: 0 error(s), \([0-9]*\) warning.*/\1/p' "$log")
		[ "${warnings:-0}" -ne 0 ] && tail -n 20 "$log" | sed 's/^/     /'
	fi
fi

# The packaged tests may include only files the package carries.
tests_self_contained() {
	mkdir -p "$work/unpacked" && tar xzf "$work/tree/$tgz" -C "$work/unpacked" &&
		php -r '
		$dir = $argv[1];
		$bad = 0;
		$files = array_merge(glob("$dir/tests/*/*.phpt"), glob("$dir/tests/inc/*"));
		foreach ($files as $f) {
			preg_match_all("#__DIR__\s*\.\s*([\"\x27])([^\"\x27]+)\\1#", file_get_contents($f), $m);
			foreach ($m[2] as $rel) {
				if (!file_exists(dirname($f) . $rel)) {
					echo substr($f, strlen($dir) + 1), " needs ", $rel, ", which the package lacks\n";
					$bad++;
				}
			}
		}
		echo count($files), " test files, ", $bad, " missing includes\n";
		exit($bad ? 1 : 0);
		' "$work/unpacked/websocket-$version"
}
[ -f "$work/tree/$tgz" ] && step "packaged tests include only packaged files" tests_self_contained

ext_dir=$(php-config --extension-dir 2>/dev/null || php -r 'echo ini_get("extension_dir");')
if [ ! -f "$work/tree/$tgz" ]; then
	skipped "pecl install (no tarball)"
elif pecl list 2>/dev/null | grep -q '^websocket '; then
	: >"$log"
	bad "pecl install: websocket is already installed with pecl; uninstall it first (this check will not replace it)"
elif [ -e "$ext_dir/websocket.so" ]; then
	: >"$log"
	bad "pecl install: $ext_dir/websocket.so exists (not from pecl); move it away first (this check will not overwrite it)"
else
	installs() {
		installed=yes
		# No configure option is declared in package.xml, so pecl asks nothing; stdin is
		# /dev/null anyway. MAKEFLAGS reaches the make that pecl runs.
		MAKEFLAGS="-j$(nproc 2>/dev/null || echo 2)" timeout 240 $sudo pecl install "$work/tree/$tgz" &&
			grep -q "install ok: channel://pecl.php.net/websocket-$version" "$log" &&
			[ -f "$ext_dir/websocket.so" ]
	}
	step "pecl install (builds with phpize, configure and make in pecl's temp directory)" installs
	built=$?
	# Whatever the outcome, uninstall later exactly when pecl registered the package.
	if pecl list 2>/dev/null </dev/null | grep -q '^websocket '; then
		installed=yes
	else
		installed=no
	fi
	if [ $built -eq 0 ]; then
		loads() {
			out=$(php -d extension=websocket.so -r 'var_dump(class_exists("WebsocketServer"));' 2>&1)
			echo "$out"
			[ "$out" = "bool(true)" ]
		}
		step "extension loads (php -d extension=websocket.so: class_exists(\"WebsocketServer\"))" loads

		same_version() {
			v=$(php -d extension=websocket.so -r 'echo phpversion("websocket");' 2>&1)
			echo "phpversion('websocket') = $v, package.xml = $version"
			[ "$v" = "$version" ]
		}
		step "installed extension reports version $version" same_version

		# A real server on a free port; a client in the same loop sends the RFC 6455 example
		# upgrade request and must get 101 with the example's Sec-WebSocket-Accept (SHA-1 from
		# libcrypto, so the link against OpenSSL works too).
		handshake() {
			cat >"$work/smoke.php" <<-'EOF'
				<?php
				$s = new WebsocketServer(['host' => '127.0.0.1', 'port' => 0]);
				$client = null;
				$reply = '';
				$s->addTimer(0.0, function () use ($s, &$client) {
				    $client = stream_socket_client('tcp://127.0.0.1:' . $s->getPort(), $errno, $error, 2);
				    fwrite($client, "GET /smoke HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
				        . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				        . "Sec-WebSocket-Version: 13\r\n\r\n");
				    stream_set_blocking($client, false);
				});
				$s->addTimer(0.5, function () use ($s, &$client, &$reply) {
				    $reply = (string)fread($client, 8192);
				    fclose($client);
				    $s->stop();
				});
				$s->start();
				echo $reply;
				$ok = str_starts_with($reply, "HTTP/1.1 101")
				    && stripos($reply, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !== false;
				echo $ok ? "handshake ok\n" : "handshake FAILED\n";
				exit($ok ? 0 : 1);
			EOF
			timeout 20 php -d extension=websocket.so "$work/smoke.php"
		}
		step "installed extension answers a WebSocket handshake" handshake
	fi
	if [ "$installed" = yes ]; then
		uninstalled() {
			uninstall
			rc=$?
			cat "$work/uninstall.log"
			[ $rc -eq 0 ] && [ ! -e "$ext_dir/websocket.so" ]
		}
		step "pecl uninstall websocket" uninstalled
	fi
fi

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
