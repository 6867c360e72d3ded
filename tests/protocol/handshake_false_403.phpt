--TEST--
WebsocketServer: onHandshake returning false answers 403 and never opens the connection
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', function (WebsocketConnection $c) {
        echo "handshake $c->path\n";
        return $c->path !== '/deny';
    });
    $s->on('open', fn(WebsocketConnection $c) => print("open $c->path\n"));
    $s->on('close', fn(WebsocketConnection $c) => print("close $c->path\n"));
    return $s;
});
echo ws_show_http(ws_http($srv->port, ws_upgrade_request('/deny'))), "\n";
$c = WsClient::connect($srv->port, '/allow');
echo $c->close(), "\n";
$srv->waitFor('close /allow');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
HTTP/1.1 403 Forbidden\r\n
Connection: close\r\n
Content-Length: 0\r\n
\r\n

close 1000 ""
--- server
handshake /deny
handshake /allow
open /allow
close /allow
