--TEST--
WebsocketServer: cloning a server throws Error
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$s = new WebsocketServer(['port' => 0]);
try {
    $copy = clone $s;
    echo "cloned\n";
} catch (Error $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
?>
--EXPECT--
Error: Trying to clone an uncloneable object of class WebsocketServer
