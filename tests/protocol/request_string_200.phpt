--TEST--
WebsocketServer: onRequest returning a string answers 200 text/html with that body
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('request', function (WebsocketConnection $c) {
        echo "request $c->method $c->path ?$c->query host=", $c->headers['host'], "\n";
        var_dump($c->isOpen());
        return "<h1>hello $c->path</h1>";
    });
    $s->on('open', fn() => print("onOpen must not run for plain HTTP\n"));
    return $s;
});
echo ws_show_http(ws_http($srv->port, "GET /index.html?a=1 HTTP/1.1\r\nHost: example\r\n\r\n")), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
HTTP/1.1 200 OK\r\n
Connection: close\r\n
Content-Length: 26\r\n
Content-Type: text/html; charset=utf-8\r\n
\r\n
<h1>hello /index.html</h1>
--- server
request GET /index.html ?a=1 host=example
bool(false)
