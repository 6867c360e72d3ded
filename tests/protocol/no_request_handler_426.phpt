--TEST--
WebsocketServer: plain HTTP without onRequest is answered 426 with Sec-WebSocket-Version: 13
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(fn() => new WebsocketServer(ws_config()));
echo ws_show_http(ws_http($srv->port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "\n";
// An upgrade with another version is answered 426 as well (RFC 6455 4.4).
$raw = ws_http($srv->port, str_replace('Version: 13', 'Version: 8', ws_upgrade_request()));
echo strtok($raw, "\r"), "\n", str_contains($raw, "\r\nSec-WebSocket-Version: 13\r\n") ? 'lists version 13' : 'no version', "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
HTTP/1.1 426 Upgrade Required\r\n
Connection: close\r\n
Content-Length: 48\r\n
Content-Type: text/plain; charset=utf-8\r\n
Sec-WebSocket-Version: 13\r\n
\r\n
Upgrade Required: this is a WebSocket endpoint.

HTTP/1.1 426 Upgrade Required
lists version 13
--- server
