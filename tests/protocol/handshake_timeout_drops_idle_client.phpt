--TEST--
WebsocketServer: a client that does not complete its request within handshake_timeout is dropped
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['handshake_timeout' => 0.2]));
    $s->on('handshake', function (WebsocketConnection $c) {
        echo "onHandshake $c->path\n";
    });
    // Only the connection that opened may report a close.
    $s->on('close', fn(WebsocketConnection $c) => print("onClose $c->path\n"));
    return $s;
});
$c = WsClient::tcp($srv->port);
$c->write("GET / HTTP/1.1\r\nHost: x\r\n"); // never finished
$t = microtime(true);
echo $c->readAll() === '' ? 'closed without a response' : 'responded', "\n";
$elapsed = microtime(true) - $t;
echo "after the timeout: ", var_export($elapsed > 0.1 && $elapsed < 2.5, true), "\n";
$c->drop();
// A connection that completed its handshake is not subject to it.
$c = WsClient::connect($srv->port, '/opened');
usleep(400000);
$c->ping('alive');
echo $c->read(), "\n";
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
closed without a response
after the timeout: true
pong "alive"
close 1000 ""
--- server
onHandshake /opened
onClose /opened
