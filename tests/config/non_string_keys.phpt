--TEST--
WebsocketServer: __construct(): a list or integer keys throw ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach ([['127.0.0.1', 8000], ['port' => 0, 5 => 'x']] as $config) {
    try {
        new WebsocketServer($config);
        echo "accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) must be an array with string keys
WebsocketServer::__construct(): Argument #1 ($config) must be an array with string keys
