--TEST--
WebsocketServer: clearTimer(): cancels a timer inside or outside its callback; unknown ids return false
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$s = new WebsocketServer(ws_config());
$never = $s->addTimer(0.01, function () { echo "cleared before start: must not run\n"; });
var_dump($s->clearTimer($never), $s->clearTimer($never), $s->clearTimer(12345));

$s->addTimer(0.001, function (int $id) use ($s) {
    echo "one-shot clears itself: ";
    var_dump($s->clearTimer($id));
});

$self = 0;
$s->addTimer(0.01, function (int $id) use ($s, &$self) {
    if (++$self === 2) {
        echo "repeating timer clears itself: ";
        var_dump($s->clearTimer($id), $s->clearTimer($id));
    }
}, true);

$victimTicks = 0;
$victim = $s->addTimer(0.005, function () use (&$victimTicks) { $victimTicks++; }, true);
$s->addTimer(0.05, function () use ($s, $victim, &$victimTicks, &$ticksAtClear) {
    echo "victim ticked before: ", var_export($victimTicks > 1, true), "\n";
    echo "another timer clears it: ";
    var_dump($s->clearTimer($victim));
    $ticksAtClear = $victimTicks;
    $s->addTimer(0.05, fn() => $s->stop());
});
$s->start();
echo "victim ticks after clearTimer: ", $victimTicks - $ticksAtClear, "\n";
echo "self-clearing timer ran $self times\n";
echo "after start: ";
var_dump($s->clearTimer($victim));
?>
--EXPECT--
bool(true)
bool(false)
bool(false)
one-shot clears itself: bool(true)
repeating timer clears itself: bool(true)
bool(false)
victim ticked before: true
another timer clears it: bool(true)
victim ticks after clearTimer: 0
self-clearing timer ran 2 times
after start: bool(false)
