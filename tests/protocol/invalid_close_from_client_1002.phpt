--TEST--
WebsocketServer: a Close with a reserved code or invalid UTF-8 reason fails the connection (1002, 1007)
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('close', fn(WebsocketConnection $c, int $code) => print("onClose($code)\n"));
    return $s;
});
foreach ([pack('n', 1005), pack('n', 999), "\x03", pack('n', 1000) . "\xff"] as $payload) {
    $c = WsClient::connect($srv->port);
    $c->sendFrame(WS_OP_CLOSE, $payload);
    echo bin2hex($payload), ": ", $c->read(), ", then ", $c->readEof(), "\n";
    $c->drop();
    $srv->waitFor('onClose', 1);
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
03ed: close 1002 "", then EOF
03e7: close 1002 "", then EOF
03: close 1002 "", then EOF
03e8ff: close 1007 "", then EOF
--- server
onClose(1002)
onClose(1002)
onClose(1002)
onClose(1007)
