--TEST--
WebsocketServer: __construct(): 'bus_buffer_size' defaults to 16 MiB and may not be below 64 KiB
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
var_dump((new WebsocketServer())->getConfig()['bus_buffer_size']);
foreach ([65535, 0, -65536, 65536, 1048576] as $n) {
    try {
        $s = new WebsocketServer(['bus_buffer_size' => $n]);
        echo "$n: accepted ", $s->getConfig()['bus_buffer_size'], "\n";
    } catch (ValueError $e) {
        echo "$n: ", $e->getMessage(), "\n";
    }
}
try {
    new WebsocketServer(['bus_buffer_size' => '1M']);
} catch (TypeError $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
?>
--EXPECTF--
int(16777216)
65535: WebsocketServer::__construct(): Argument #1 ($config) key "bus_buffer_size" must be %s 65535 given
0: WebsocketServer::__construct(): Argument #1 ($config) key "bus_buffer_size" must be %s 0 given
-65536: WebsocketServer::__construct(): Argument #1 ($config) key "bus_buffer_size" must be %s -65536 given
65536: accepted 65536
1048576: accepted 1048576
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "bus_buffer_size" must be of type int, string given
