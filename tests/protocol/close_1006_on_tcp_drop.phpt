--TEST--
WebsocketServer: onClose receives 1006 when the TCP connection ends without a Close from the client
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['close_timeout' => 0.3]));
    $s->on('close', function (WebsocketConnection $c, int $code, string $reason) {
        echo "onClose($c->path, $code, ", json_encode($reason), ")\n";
    });
    $s->on('message', fn(WebsocketConnection $c) => $c->close(4000, 'server closes'));
    return $s;
});
// The client just drops TCP.
$c = WsClient::connect($srv->port, '/drop');
$c->drop();
$srv->waitFor('onClose(/drop');
// The server starts the closing handshake and the client drops TCP instead of answering:
// no Close was received, so the code is 1006 (RFC 6455 7.1.5), not the server's own 4000.
$c = WsClient::connect($srv->port, '/no-answer');
$c->send('close me');
echo $c->read(), "\n";
$c->drop();
$srv->waitFor('onClose(/no-answer');
// The client keeps TCP open but never answers: dropped after close_timeout, also 1006.
$c = WsClient::connect($srv->port, '/silent');
$c->send('close me');
echo $c->read(), "\n";
echo $c->readEof(), "\n";
$c->drop();
$srv->waitFor('onClose(/silent');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
close 4000 "server closes"
close 4000 "server closes"
EOF
--- server
onClose(/drop, 1006, "")
onClose(/no-answer, 1006, "")
onClose(/silent, 1006, "")
