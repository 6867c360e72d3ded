--TEST--
WebsocketServer: workerId() is -1 before start(), 0 in callbacks with one process
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$s = new WebsocketServer(ws_config(['workers' => 1]));
var_dump($s->workerId());
$s->on('workerStart', function (int $w) use ($s) {
    echo "workerStart($w): workerId() = ", $s->workerId(), "\n";
    $s->addTimer(0, function () use ($s) {
        echo "timer: workerId() = ", $s->workerId(), "\n";
        $s->stop();
    });
});
$s->start();
echo "done\n";
?>
--EXPECT--
int(-1)
workerStart(0): workerId() = 0
timer: workerId() = 0
done
