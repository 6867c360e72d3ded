--TEST--
WebsocketServer: onHandshake returning ['protocol' => ...] selects the subprotocol seen in onOpen
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', function (WebsocketConnection $c) {
        echo "offered: ", $c->headers['sec-websocket-protocol'], "; subprotocol before: '$c->subprotocol'\n";
        return ['protocol' => 'chat'];
    });
    $s->on('open', fn(WebsocketConnection $c) => print("onOpen subprotocol: $c->subprotocol\n"));
    return $s;
});
$c = WsClient::connect($srv->port, '/', ['Sec-WebSocket-Protocol' => 'superchat, chat']);
echo "Sec-WebSocket-Protocol: ", $c->headers['sec-websocket-protocol'] ?? '(none)', "\n";
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
Sec-WebSocket-Protocol: chat
close 1000 ""
--- server
offered: superchat, chat; subprotocol before: ''
onOpen subprotocol: chat
