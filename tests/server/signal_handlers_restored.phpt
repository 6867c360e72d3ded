--TEST--
WebsocketServer: start() handles SIGTERM only while it runs; the script's own handler is restored after
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
pcntl_signal(SIGTERM, function (int $signo) { echo "script handler got signal $signo\n"; });
// Two servers, one after the other, in the same process: each stops on SIGTERM.
foreach (['first', 'second'] as $name) {
    $s = new WebsocketServer(ws_config());
    $s->addTimer(0.02, fn() => ws_kill(getmypid(), SIGTERM));
    $s->on('workerStop', fn() => print("$name server stopped by SIGTERM\n"));
    $s->start();
}
ws_kill(getmypid(), SIGTERM);
pcntl_signal_dispatch();
echo "end\n";
?>
--EXPECT--
first server stopped by SIGTERM
second server stopped by SIGTERM
script handler got signal 15
end
