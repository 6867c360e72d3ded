--TEST--
WebsocketServer: start(): throws WebsocketException while running and after the server ran
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$s = new WebsocketServer(ws_config());
$s->addTimer(0, function () use ($s) {
    try {
        $s->start();
    } catch (WebsocketException $e) {
        echo "inside: ", $e->getMessage(), "\n";
    }
    $s->stop();
});
$s->start();
try {
    $s->start();
} catch (WebsocketException $e) {
    echo "after: ", $e->getMessage(), "\n";
}
?>
--EXPECT--
inside: the server is already running
after: a server can be started only once
