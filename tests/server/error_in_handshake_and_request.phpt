--TEST--
WebsocketServer: an exception in onHandshake or onRequest answers 500 and goes to onError with the connection
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', function (WebsocketConnection $c) {
        if ($c->path === '/throw') {
            throw new RuntimeException('in handshake');
        }
    });
    $s->on('request', function (WebsocketConnection $c) {
        throw new RuntimeException('in request');
    });
    $s->on('open', fn(WebsocketConnection $c) => print("open $c->path\n"));
    $s->on('error', function (?WebsocketConnection $c, Throwable $e) {
        echo "onError(", $c ? "$c->method $c->path" : 'null', ", ", $e->getMessage(), ")\n";
    });
    return $s;
});
echo ws_show_http(ws_http($srv->port, ws_upgrade_request('/throw'))), "\n";
echo ws_show_http(ws_http($srv->port, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")), "\n";
$c = WsClient::connect($srv->port, '/fine');
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
HTTP/1.1 500 Internal Server Error\r\n
Connection: close\r\n
Content-Length: 0\r\n
\r\n

HTTP/1.1 500 Internal Server Error\r\n
Connection: close\r\n
Content-Length: 0\r\n
\r\n

close 1000 ""
--- server
onError(GET /throw, in handshake)
onError(GET /page, in request)
open /fine
