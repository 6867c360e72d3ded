--TEST--
WebsocketServer: __construct(): a second call throws Error and keeps the first configuration
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$s = new WebsocketServer(['port' => 1234]);
try {
    $s->__construct(['port' => 4321]);
} catch (Error $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
var_dump($s->getConfig()['port']);
// A constructor that failed may be retried with a valid configuration.
$t = (new ReflectionClass(WebsocketServer::class))->newInstanceWithoutConstructor();
try {
    $t->__construct(['port' => -1]);
} catch (ValueError $e) {
    echo "ValueError\n";
}
$t->__construct(['port' => 99]);
var_dump($t->getConfig()['port']);
?>
--EXPECT--
Error: WebsocketServer::__construct() may be called only once
int(1234)
ValueError
int(99)
