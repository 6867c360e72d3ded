--TEST--
WebsocketConnection: ping() sends a Ping with the payload; more than 125 bytes throws ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        var_dump($c->ping(), $c->ping('payload'), $c->ping(str_repeat('x', 125)));
        try {
            $c->ping(str_repeat('x', 126));
        } catch (ValueError $e) {
            echo $e->getMessage(), "\n";
        }
        $c->send('after pings');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
echo $c->read(), "\n", $c->read(), "\n";
$f = $c->readFrame();
echo $f['op'] === WS_OP_PING && $f['payload'] === str_repeat('x', 125) ? "ping of 125 bytes\n" : WsClient::describe($f);
echo $c->read(), "\n";
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
ping ""
ping "payload"
ping of 125 bytes
text "after pings"
--- server
bool(true)
bool(true)
bool(true)
WebsocketConnection::ping(): Argument #1 ($payload) must be at most 125 bytes (a control frame), 126 given
