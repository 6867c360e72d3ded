--TEST--
WebsocketServer: addTimer(): one-shot and repeating timers pass their id to the callback
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$s = new WebsocketServer(ws_config());
$n = 0;
$once = $s->addTimer(0.01, function (int $id) use (&$once) {
    echo "once: id matches: ", var_export($id === $once, true), "\n";
});
$repeat = $s->addTimer(0.02, function (int $id) use (&$repeat, &$n, $s) {
    $n++;
    echo "repeat $n: id matches: ", var_export($id === $repeat, true), "\n";
    if ($n === 5) {
        $s->clearTimer($id);
        $s->addTimer(0.06, fn() => $s->stop());
    }
}, true);
var_dump($once !== $repeat);
$t = microtime(true);
$s->start();
echo "stopped after $n repeats\n";
?>
--EXPECT--
bool(true)
once: id matches: true
repeat 1: id matches: true
repeat 2: id matches: true
repeat 3: id matches: true
repeat 4: id matches: true
repeat 5: id matches: true
stopped after 5 repeats
