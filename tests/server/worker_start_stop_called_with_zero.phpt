--TEST--
WebsocketServer: onWorkerStart()/onWorkerStop() run once around the loop with worker index 0
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
class S extends WebsocketServer
{
    public function onWorkerStart(int $worker): void
    {
        echo "method onWorkerStart(", var_export($worker, true), "), port known: ";
        var_dump($this->getPort() > 0);
        $this->addTimer(0, fn() => $this->stop());
    }

    public function onWorkerStop(int $worker): void
    {
        echo "method onWorkerStop(", var_export($worker, true), ")\n";
    }
}
(new S(ws_config()))->start();
echo "--\n";
$s = new WebsocketServer(ws_config());
$s->on('workerStart', function (int $w) use ($s) {
    echo "on(workerStart)($w)\n";
    $s->stop();
})->on('workerStop', function (int $w) {
    echo "on(workerStop)($w)\n";
});
$s->start();
echo "done\n";
?>
--EXPECT--
method onWorkerStart(0), port known: bool(true)
method onWorkerStop(0)
--
on(workerStart)(0)
on(workerStop)(0)
done
