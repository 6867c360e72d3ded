#!/bin/sh
# Builds the extension and starts the chat demo on http://localhost:8000/ (Ctrl-C stops it).
set -eu
cd "$(dirname "$0")/.."
sh tests/deps.sh
sh tests/build.sh
echo "open http://localhost:8000/ in two browser tabs; Ctrl-C stops the server"
exec php -d extension="$PWD/modules/websocket.so" examples/chat.php "$@"
