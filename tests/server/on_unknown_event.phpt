--TEST--
WebsocketServer: on(): an unknown event throws ValueError; a known one returns the server
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$s = new WebsocketServer();
foreach (['connect', 'onMessage', 'worker_start', ''] as $event) {
    try {
        $s->on($event, fn() => null);
        echo "$event: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
try {
    $s->on('open', 'no_such_function');
} catch (TypeError $e) {
    echo $e->getMessage(), "\n";
}
var_dump($s->on('open', fn() => null) === $s);
?>
--EXPECT--
WebsocketServer::on(): Argument #1 ($event) must be one of open, message, close, error, handshake, request, drain, workerStart or workerStop, "connect" given
WebsocketServer::on(): Argument #1 ($event) must be one of open, message, close, error, handshake, request, drain, workerStart or workerStop, "onMessage" given
WebsocketServer::on(): Argument #1 ($event) must be one of open, message, close, error, handshake, request, drain, workerStart or workerStop, "worker_start" given
WebsocketServer::on(): Argument #1 ($event) must be one of open, message, close, error, handshake, request, drain, workerStart or workerStop, "" given
WebsocketServer::on(): Argument #2 ($callback) must be a valid callback, function "no_such_function" not found or invalid function name
bool(true)
