#!/bin/sh
# run.sh - runs the RFC 6455 conformance suite against examples/echo.php; arguments select
# cases by substring. Works from any cwd. Env: WS_PHP (see conformance.py).
cd "$(dirname "$0")" || exit 2
exec timeout -k 5 150 /usr/bin/python3 conformance.py "$@"
