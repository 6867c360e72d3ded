--TEST--
WebsocketServer: __construct(): 'reload_timeout' is seconds (int or float), default 30, above 0
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
var_dump((new WebsocketServer())->getConfig()['reload_timeout']);
foreach ([0, -1, 0.0, 10, 2.5] as $v) {
    try {
        $s = new WebsocketServer(['reload_timeout' => $v]);
        echo var_export($v, true), ": accepted ", var_export($s->getConfig()['reload_timeout'], true), "\n";
    } catch (ValueError $e) {
        echo var_export($v, true), ": ", $e->getMessage(), "\n";
    }
}
try {
    new WebsocketServer(['reload_timeout' => '30']);
} catch (TypeError $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
?>
--EXPECTF--
float(30)
0: WebsocketServer::__construct(): Argument #1 ($config) key "reload_timeout" must be %s
-1: WebsocketServer::__construct(): Argument #1 ($config) key "reload_timeout" must be %s
0.0: WebsocketServer::__construct(): Argument #1 ($config) key "reload_timeout" must be %s
10: accepted 10.0
2.5: accepted 2.5
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "reload_timeout" must be of type %s, string given
