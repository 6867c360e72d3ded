--TEST--
WebsocketServer: __construct(): a value out of range throws ValueError naming the key and the range
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$cases = [
    ['port', -1], ['port', 65536], ['backlog', 0], ['backlog', 65536],
    ['max_header_size', 1023], ['max_header_size', 1048577],
    ['max_frame_size', 0], ['max_frame_size', 2147483649],
    ['max_message_size', 0], ['max_message_size', -5],
    ['handshake_timeout', 0], ['handshake_timeout', 3601],
    ['close_timeout', -1.5], ['close_timeout', NAN],
    ['shutdown_timeout', 0.0001], ['shutdown_timeout', INF],
    ['host', ''], ['host', "127.0.0.1\0evil"],
];
foreach ($cases as [$key, $value]) {
    try {
        new WebsocketServer([$key => $value]);
        echo "$key: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
// The bounds themselves are accepted.
$s = new WebsocketServer(['port' => 65535, 'backlog' => 1, 'max_header_size' => 1024,
    'max_frame_size' => 1, 'handshake_timeout' => 0.001, 'close_timeout' => 3600]);
echo "bounds accepted\n";
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) key "port" must be between 0 and 65535, -1 given
WebsocketServer::__construct(): Argument #1 ($config) key "port" must be between 0 and 65535, 65536 given
WebsocketServer::__construct(): Argument #1 ($config) key "backlog" must be between 1 and 65535, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "backlog" must be between 1 and 65535, 65536 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_header_size" must be between 1024 and 1048576, 1023 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_header_size" must be between 1024 and 1048576, 1048577 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_frame_size" must be between 1 and 2147483648, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_frame_size" must be between 1 and 2147483648, 2147483649 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_message_size" must be between 1 and 2147483648, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "max_message_size" must be between 1 and 2147483648, -5 given
WebsocketServer::__construct(): Argument #1 ($config) key "handshake_timeout" must be between 0.001 and 3600 seconds, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "handshake_timeout" must be between 0.001 and 3600 seconds, 3601 given
WebsocketServer::__construct(): Argument #1 ($config) key "close_timeout" must be between 0.001 and 3600 seconds, -1.5 given
WebsocketServer::__construct(): Argument #1 ($config) key "close_timeout" must be between 0.001 and 3600 seconds, NAN given
WebsocketServer::__construct(): Argument #1 ($config) key "shutdown_timeout" must be between 0.001 and 3600 seconds, 0.0001 given
WebsocketServer::__construct(): Argument #1 ($config) key "shutdown_timeout" must be between 0.001 and 3600 seconds, INF given
WebsocketServer::__construct(): Argument #1 ($config) key "host" must be a non-empty string without NUL bytes
WebsocketServer::__construct(): Argument #1 ($config) key "host" must be a non-empty string without NUL bytes
bounds accepted
