--TEST--
WebsocketServer: __construct(): the limit, keep-alive and origin keys are validated and name the key
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$bad = [
    ['output_overflow' => 'drop'],
    ['output_overflow' => 1],
    ['max_output_buffer' => 100],
    ['max_connections' => 0],
    ['max_connections_per_ip' => -1],
    ['max_handshakes' => -1],
    ['max_handshakes_per_ip' => 10000001],
    ['max_handshakes_per_ip' => '32'],
    ['idle_timeout' => -1],
    ['ping_interval' => '30'],
    ['allowed_origins' => ['example.com']],
    ['allowed_origins' => ['https://example.com/']],
    ['allowed_origins' => ['https://exa mple.com']],
    ['allowed_origins' => 'https://example.com'],
];
foreach ($bad as $config) {
    try {
        new WebsocketServer($config);
        echo "accepted: ", json_encode($config), "\n";
    } catch (ValueError | TypeError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
$c = (new WebsocketServer(['output_overflow' => 'reject', 'idle_timeout' => 0, 'ping_interval' => 1,
    'allowed_origins' => ['https://example.com', 'http://localhost:8000'],
    'max_handshakes' => 0, 'max_handshakes_per_ip' => 0]))->getConfig();
var_dump($c['output_overflow'], $c['ping_interval'], $c['allowed_origins']);
var_dump($c['max_handshakes'], $c['max_handshakes_per_ip']);
?>
--EXPECT--
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "output_overflow" must be one of close|reject, "drop" given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "output_overflow" must be of type string, int given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_output_buffer" must be between 1024 and 1099511627776, 100 given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_connections" must be between 1 and 10000000, 0 given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_connections_per_ip" must be between 0 and 10000000, -1 given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_handshakes" must be between 0 and 10000000, -1 given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_handshakes_per_ip" must be between 0 and 10000000, 10000001 given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "max_handshakes_per_ip" must be of type int, string given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "idle_timeout" must be between 0 and 86400 seconds, -1 given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "ping_interval" must be of type int|float (seconds), string given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "allowed_origins" contains "example.com", which is not a valid origin (scheme://host[:port])
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "allowed_origins" contains "https://example.com/", which is not a valid origin (scheme://host[:port])
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "allowed_origins" contains "https://exa mple.com", which is not a valid origin (scheme://host[:port])
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "allowed_origins" must be of type array, string given
string(6) "reject"
float(1)
array(2) {
  [0]=>
  string(19) "https://example.com"
  [1]=>
  string(21) "http://localhost:8000"
}
int(0)
int(0)
