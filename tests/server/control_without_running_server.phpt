--TEST--
WebsocketServer: control(): needs pid_file, rejects unknown commands, "not running" (1) without a server
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
try {
    (new WebsocketServer())->control('status');
} catch (WebsocketException $e) {
    echo get_class($e), ": ", $e->getMessage() !== '' ? 'with a message' : 'no message', "\n";
}
$pidFile = sys_get_temp_dir() . '/ws-control-' . getmypid() . '.pid';
@unlink($pidFile);
$s = new WebsocketServer(['pid_file' => $pidFile]);
try {
    $s->control('restart');
} catch (ValueError $e) {
    echo get_class($e), ": ", str_contains($e->getMessage(), 'restart') ? 'names it' : $e->getMessage(), "\n";
}
foreach (['status', 'stop', 'reload'] as $cmd) {
    echo "$cmd (no pid file): ";
    var_dump($s->control($cmd));
}
// A pid file that names a process which is gone.
$p = proc_open(['true'], [], $pipes);
$dead = proc_get_status($p)['pid'];
proc_close($p);
file_put_contents($pidFile, "$dead\n");
foreach (['status', 'stop'] as $cmd) {
    echo "$cmd (stale pid file): ";
    var_dump($s->control($cmd));
}
@unlink($pidFile);
?>
--EXPECT--
WebsocketException: with a message
ValueError: names it
status (no pid file): not running
int(1)
stop (no pid file): not running
int(1)
reload (no pid file): not running
int(1)
status (stale pid file): not running
int(1)
stop (stale pid file): not running
int(1)
