--TEST--
WebsocketServer: addTimer(): negative, NaN or too long delays throw ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$s = new WebsocketServer();
foreach ([[-1, false], [-0.001, false], [NAN, false], [INF, false], [86400 * 366, false],
          [0, true], [0.0001, true]] as [$seconds, $repeat]) {
    try {
        $s->addTimer($seconds, fn() => null, $repeat);
        echo "$seconds: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
var_dump(is_int($s->addTimer(0, fn() => null)), is_int($s->addTimer(0.001, fn() => null, true)));
?>
--EXPECT--
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0.001 and one year
WebsocketServer::addTimer(): Argument #1 ($seconds) must be between 0.001 and one year
bool(true)
bool(true)
