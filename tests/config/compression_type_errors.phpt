--TEST--
WebsocketServer: 'compression' and its keys of the wrong type throw TypeError naming the key
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach ([1, 0, 'true', null, 1.0, new stdClass()] as $value) {
    try {
        new WebsocketServer(['compression' => $value]);
        echo "accepted: ", var_export($value, true), "\n";
    } catch (TypeError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
$wrong = [
    ['server_max_window_bits', '15'], ['server_max_window_bits', 15.0], ['server_max_window_bits', true],
    ['client_max_window_bits', null], ['client_max_window_bits', '8'],
    ['server_context_takeover', 1], ['server_context_takeover', 'yes'],
    ['client_context_takeover', 0], ['client_context_takeover', null],
    ['memory_level', '8'], ['level', 1.5], ['level', false],
    ['min_size', '64'], ['min_size', []],
];
foreach ($wrong as [$key, $value]) {
    try {
        new WebsocketServer(['compression' => [$key => $value]]);
        echo "$key: accepted ", var_export($value, true), "\n";
    } catch (TypeError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
// A bad value after good ones is still found.
try {
    new WebsocketServer(['compression' => ['level' => 5, 'memory_level' => 9, 'min_size' => 1.0]]);
    echo "accepted\n";
} catch (TypeError $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
?>
--EXPECT--
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, null given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, float given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" must be of type bool|array, stdClass given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be of type int, float given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be of type int, bool given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_max_window_bits" must be of type int, null given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_max_window_bits" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_context_takeover" must be of type bool, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_context_takeover" must be of type bool, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_context_takeover" must be of type bool, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_context_takeover" must be of type bool, null given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.memory_level" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.level" must be of type int, float given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.level" must be of type int, bool given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.min_size" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.min_size" must be of type int, array given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "compression.min_size" must be of type int, float given
