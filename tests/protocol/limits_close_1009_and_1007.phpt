--TEST--
WebsocketServer: a message above max_message_size is closed with 1009, invalid UTF-8 text with 1007
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['max_message_size' => 1000, 'max_frame_size' => 600]));
    $s->on('message', fn(WebsocketConnection $c, string $d) => print("message of " . strlen($d) . " bytes\n"));
    $s->on('close', fn(WebsocketConnection $c, int $code) => print("onClose($code)\n"));
    return $s;
});
$c = WsClient::connect($srv->port);
$c->sendFrame(WS_OP_BINARY, str_repeat('a', 600), false);
$c->sendFrame(WS_OP_CONT, str_repeat('b', 400), true);
$c->sendFrame(WS_OP_BINARY, str_repeat('c', 600), false);
$c->sendFrame(WS_OP_CONT, str_repeat('d', 401), true);
echo "message too big: ", $c->read(), "\n";
$c->drop();
$srv->waitFor('onClose');

$c = WsClient::connect($srv->port);
$c->send(str_repeat('e', 601), true);
echo "frame too big: ", $c->read(), "\n";
$c->drop();
$srv->waitFor("onClose(1009)\nonClose");

$c = WsClient::connect($srv->port);
$c->send("valid \xc3\xa9 then invalid \xc3\x28");
echo "invalid UTF-8: ", $c->read(), "\n";
$c->drop();
$srv->waitFor('1007');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
message too big: close 1009 ""
frame too big: close 1009 ""
invalid UTF-8: close 1007 ""
--- server
message of 1000 bytes
onClose(1009)
onClose(1009)
onClose(1007)
