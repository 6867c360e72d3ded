--TEST--
WebsocketServer: onError() receives exceptions from onWorkerStart/Stop, timers, onOpen, onMessage and onClose
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
class S extends WebsocketServer
{
    public function onWorkerStart(int $w): void { throw new RuntimeException('in workerStart'); }

    public function onWorkerStop(int $w): void { throw new RuntimeException('in workerStop'); }

    public function onOpen(WebsocketConnection $c): void
    {
        if ($c->path === '/bad') {
            throw new LogicException('in open');
        }
    }

    public function onMessage(WebsocketConnection $c, string $d, bool $b): void
    {
        if ($d === 'boom') {
            throw new DomainException('in message');
        }
        $c->send("echo $d");
    }

    public function onClose(WebsocketConnection $c, int $code, string $r): void
    {
        throw new Exception("in close $code");
    }

    public function onError(?WebsocketConnection $c, Throwable $e): void
    {
        echo "onError(", $c ? $c->path : 'null', ", ", get_class($e), ": ", $e->getMessage(), ")\n";
    }
}
$srv = ws_start(function () {
    $s = new S(ws_config());
    $s->addTimer(0, function () { throw new UnexpectedValueException('in timer'); });
    return $s;
});
$bad = WsClient::connect($srv->port, '/bad');
$bad->send('still served');
echo $bad->read(), "\n";
$good = WsClient::connect($srv->port, '/good');
$good->send('boom');
$good->send('after boom');
echo $good->read(), "\n";
echo $bad->close(), "\n";
$srv->waitFor('in close 1000');
$good->send('after close');
echo $good->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "echo still served"
text "echo after boom"
close 1000 ""
text "echo after close"
--- server
onError(null, RuntimeException: in workerStart)
onError(null, UnexpectedValueException: in timer)
onError(/bad, LogicException: in open)
onError(/good, DomainException: in message)
onError(/bad, Exception: in close 1000)
onError(/good, Exception: in close 1001)
onError(null, RuntimeException: in workerStop)
