#!/bin/sh
# Installs what building (and, with --test, testing) needs on Debian 12, skipping what is
# already there. Uses sudo when not run as root.
#   sh tests/deps.sh          build dependencies only
#   sh tests/deps.sh --test   build and test dependencies
set -eu

build_pkgs="php-cli php-dev pkg-config libssl-dev zlib1g-dev make gcc"
test_pkgs="php-pear php-parser clang libclang-rt-14-dev clang-format libcunit1-dev valgrind python3 python3-websockets chromium iproute2 openssl"

pkgs=$build_pkgs
[ "${1:-}" = "--test" ] && pkgs="$pkgs $test_pkgs"
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null 2>&1; then
	pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
