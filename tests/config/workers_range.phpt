--TEST--
WebsocketServer: __construct(): 'workers' must be an int from 1 to 256
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach ([0, 257, -1, 1, 2, 256] as $n) {
    try {
        $s = new WebsocketServer(['workers' => $n]);
        echo "$n: accepted, getConfig(): ", var_export($s->getConfig()['workers'], true), "\n";
    } catch (ValueError $e) {
        echo "$n: ", $e->getMessage(), "\n";
    }
}
foreach (['4', 2.0, null] as $v) {
    try {
        new WebsocketServer(['workers' => $v]);
        echo var_export($v, true), ": accepted\n";
    } catch (TypeError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
var_dump((new WebsocketServer())->getConfig()['workers']);
?>
--EXPECTF--
0: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be %s 0 given
257: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be %s 257 given
-1: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be %s -1 given
1: accepted, getConfig(): 1
2: accepted, getConfig(): 2
256: accepted, getConfig(): 256
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be of type int, float given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be of type int, null given
int(1)
