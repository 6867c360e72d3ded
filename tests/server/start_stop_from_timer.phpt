--TEST--
WebsocketServer: start(): returns after stop() is called from a timer, and the script continues
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$s = new WebsocketServer(ws_config());
var_dump($s->getPort());
$s->addTimer(0.05, function () use ($s) {
    var_dump($s->getPort() > 0);
    echo "stopping\n";
    $s->stop();
    $s->stop(); // a second stop() is harmless
    echo "stop() returned\n";
});
$t = microtime(true);
$s->start();
echo "start() returned\n";
var_dump(microtime(true) - $t < 1.0);
?>
--EXPECT--
int(0)
bool(true)
stopping
stop() returned
start() returned
bool(true)
