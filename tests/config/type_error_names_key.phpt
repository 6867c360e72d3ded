--TEST--
WebsocketServer: __construct(): a value of the wrong type throws TypeError naming the key
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$wrong = [
    'host' => 127, 'port' => '8000', 'workers' => 1.0, 'backlog' => null,
    'reuse_port' => 1, 'max_header_size' => '8k', 'max_frame_size' => 1.5,
    'max_message_size' => [], 'handshake_timeout' => '10', 'close_timeout' => true,
    'shutdown_timeout' => null, 'subprotocols' => 'chat',
];
foreach ($wrong as $key => $value) {
    try {
        new WebsocketServer([$key => $value]);
        echo "$key: accepted\n";
    } catch (TypeError $e) {
        echo $e->getMessage(), "\n";
    }
}
try {
    new WebsocketServer(['subprotocols' => ['chat', 7]]);
} catch (TypeError $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) key "host" must be of type string, int given
WebsocketServer::__construct(): Argument #1 ($config) key "port" must be of type int, string given
WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be of type int, float given
WebsocketServer::__construct(): Argument #1 ($config) key "backlog" must be of type int, null given
WebsocketServer::__construct(): Argument #1 ($config) key "reuse_port" must be of type bool, int given
WebsocketServer::__construct(): Argument #1 ($config) key "max_header_size" must be of type int, string given
WebsocketServer::__construct(): Argument #1 ($config) key "max_frame_size" must be of type int, float given
WebsocketServer::__construct(): Argument #1 ($config) key "max_message_size" must be of type int, array given
WebsocketServer::__construct(): Argument #1 ($config) key "handshake_timeout" must be of type int|float (seconds), string given
WebsocketServer::__construct(): Argument #1 ($config) key "close_timeout" must be of type int|float (seconds), bool given
WebsocketServer::__construct(): Argument #1 ($config) key "shutdown_timeout" must be of type int|float (seconds), null given
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" must be of type array, string given
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" must contain only strings, int found
