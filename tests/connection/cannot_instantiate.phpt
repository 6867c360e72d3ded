--TEST--
WebsocketConnection: cannot be created by user code, with new or through reflection
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
try {
    new WebsocketConnection();
} catch (Error $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
$r = new ReflectionClass(WebsocketConnection::class);
var_dump($r->isFinal(), $r->isInstantiable());
try {
    $r->newInstanceWithoutConstructor();
} catch (ReflectionException $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
try {
    eval('class MyConnection extends WebsocketConnection {}');
} catch (Error $e) {
    echo get_class($e), "\n";
}
?>
--EXPECTF--
Error: Call to private WebsocketConnection::__construct() from global scope
bool(true)
bool(false)
ReflectionException: Class WebsocketConnection is an internal class marked as final that cannot be instantiated without invoking its constructor

Fatal error: Class MyConnection cannot extend final class WebsocketConnection in %s on line %d
