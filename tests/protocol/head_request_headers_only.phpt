--TEST--
WebsocketServer: a HEAD request gets the headers of the answer, with its Content-Length, and no body
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('request', function (WebsocketConnection $c) {
        echo "onRequest $c->method\n";
        return 'twelve bytes';
    });
    return $s;
});
echo ws_show_http(ws_http($srv->port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")), "\n";
echo "--- server\n", $srv->stop();
$srv = ws_start(fn() => new WebsocketServer(ws_config()));
echo ws_show_http(ws_http($srv->port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")), "\n";
$srv->stop();
?>
--EXPECT--
HTTP/1.1 200 OK\r\n
Connection: close\r\n
Content-Length: 12\r\n
Content-Type: text/html; charset=utf-8\r\n
\r\n

--- server
onRequest HEAD
HTTP/1.1 426 Upgrade Required\r\n
Connection: close\r\n
Content-Length: 48\r\n
Content-Type: text/plain; charset=utf-8\r\n
Sec-WebSocket-Version: 13\r\n
\r\n
