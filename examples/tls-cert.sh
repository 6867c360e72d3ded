#!/bin/sh
# Makes a self-signed certificate for local wss:// tests: DIR/cert.pem and DIR/key.pem (an
# unencrypted P-256 key), valid for 30 days for localhost, 127.0.0.1 and ::1.
#   sh examples/tls-cert.sh [DIR]        (default: the current directory)
#   php -d extension=modules/websocket.so examples/echo.php --tls-cert DIR/cert.pem --tls-key DIR/key.pem
# Browsers refuse it until told to trust it (Chromium: --ignore-certificate-errors for tests);
# Python and Node clients take DIR/cert.pem as their CA file.
set -eu
dir=${1:-.}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
echo "wrote $dir/cert.pem and $dir/key.pem (self-signed, localhost, 30 days)"
