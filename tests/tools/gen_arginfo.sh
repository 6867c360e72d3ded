#!/bin/sh
# Regenerates websocket_arginfo.h from websocket.stub.php with PHP's own gen_stub.php.
# gen_stub.php wants PHP-Parser next to it and would download it; Debian's php-parser package
# provides it, so run a copy of the script beside a link to that package.
set -eu
cd "$(dirname "$0")/../.."
gen=$(php-config --extension-dir | sed 's|/[^/]*$||')/build/gen_stub.php
[ -f "$gen" ] || gen=$(dirname "$(php-config --php-binary)")/../lib/php/build/gen_stub.php
for cand in /usr/lib/php/*/build/gen_stub.php "$gen"; do [ -f "$cand" ] && gen=$cand; done
parser=/usr/share/php/PhpParser
[ -d "$parser" ] || { echo "gen_arginfo: install Debian's php-parser package" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$gen" "$work/gen_stub.php"
ver=$(grep -o 'version = "[0-9.]*"' "$work/gen_stub.php" | head -1 | cut -d'"' -f2)
mkdir -p "$work/PHP-Parser-$ver/lib"
ln -s "$parser" "$work/PHP-Parser-$ver/lib/PhpParser"
php "$work/gen_stub.php" -f websocket.stub.php
