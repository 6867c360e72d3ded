--TEST--
WebsocketConnection: close($code, $reason) sends that Close; the client's answer reaches onClose
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) {
        var_dump(match ($d) {
            'default' => $c->close(),
            'custom' => $c->close(4001, 'go away'),
            'long' => $c->close(1008, str_repeat('r', 123)),
        });
        var_dump($c->isOpen(), $c->send('after close'), $c->close(1000));
    });
    $s->on('close', fn(WebsocketConnection $c, int $code, string $r) => print("onClose($code, " . strlen($r) . " bytes)\n"));
    return $s;
});
foreach (['default', 'custom', 'long'] as $cmd) {
    $c = WsClient::connect($srv->port);
    $c->send($cmd);
    $answer = $c->answerClose();
    echo $cmd, ": ", strlen($answer) > 60 ? substr($answer, 0, 40) . '...' : $answer, "\n";
    $srv->waitFor('onClose', 1);
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
default: close 1000 ""
custom: close 4001 "go away"
long: close 1008 "rrrrrrrrrrrrrrrrrrrrrrrrrrrr...
--- server
bool(true)
bool(false)
bool(false)
bool(false)
onClose(1000, 0 bytes)
bool(true)
bool(false)
bool(false)
bool(false)
onClose(4001, 0 bytes)
bool(true)
bool(false)
bool(false)
bool(false)
onClose(1008, 0 bytes)
