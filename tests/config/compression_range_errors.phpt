--TEST--
WebsocketServer: the keys of 'compression' out of range throw ValueError naming the key; the bounds are accepted
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$cases = [
    ['server_max_window_bits', 8], ['server_max_window_bits', 16], ['server_max_window_bits', 0],
    ['client_max_window_bits', 7], ['client_max_window_bits', 16], ['client_max_window_bits', -1],
    ['memory_level', 0], ['memory_level', 10],
    ['level', -1], ['level', 10],
    ['min_size', -1], ['min_size', PHP_INT_MIN],
    ['idle_release', -1], ['idle_release', 86401],
];
foreach ($cases as [$key, $value]) {
    try {
        new WebsocketServer(['compression' => [$key => $value]]);
        echo "$key: accepted $value\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
// The bounds themselves are accepted and kept.
foreach ([
    ['server_max_window_bits' => 9, 'client_max_window_bits' => 8, 'memory_level' => 1, 'level' => 0, 'min_size' => 0, 'idle_release' => 0],
    ['server_max_window_bits' => 15, 'client_max_window_bits' => 15, 'memory_level' => 9, 'level' => 9, 'min_size' => 16777216, 'idle_release' => 86400],
] as $bounds) {
    $c = (new WebsocketServer(['compression' => $bounds]))->getConfig()['compression'];
    echo json_encode(array_intersect_key($c, $bounds) == $bounds), "\n";
}
?>
--EXPECTF--
WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be between 9 and 15, 8 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be between 9 and 15, 16 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.server_max_window_bits" must be between 9 and 15, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_max_window_bits" must be between 8 and 15, 7 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_max_window_bits" must be between 8 and 15, 16 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.client_max_window_bits" must be between 8 and 15, -1 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.memory_level" must be between 1 and 9, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.memory_level" must be between 1 and 9, 10 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.level" must be between 0 and 9, -1 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.level" must be between 0 and 9, 10 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.min_size" must be between 0 and %d, -1 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.min_size" must be between 0 and %d, %i given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.idle_release" must be between 0 and 86400, -1 given
WebsocketServer::__construct(): Argument #1 ($config) key "compression.idle_release" must be between 0 and 86400, 86401 given
true
true
