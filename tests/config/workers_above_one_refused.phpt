--TEST--
WebsocketServer: __construct(): 'workers' other than 1 is refused in this build
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach ([2, 0, 64] as $n) {
    try {
        new WebsocketServer(['workers' => $n]);
        echo "$n: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
var_dump((new WebsocketServer(['workers' => 1]))->getConfig()['workers']);
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be 1 in this build, 2 given
WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be 1 in this build, 0 given
WebsocketServer::__construct(): Argument #1 ($config) key "workers" must be 1 in this build, 64 given
int(1)
