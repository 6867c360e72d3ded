--TEST--
WebsocketConnection: isOpen() is false in onHandshake, true in onOpen and onMessage, false in onClose and after close()
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $show = function (string $where, WebsocketConnection $c): void {
        echo "$where: ", var_export($c->isOpen(), true), "\n";
    };
    $s->on('handshake', fn(WebsocketConnection $c) => $show('onHandshake', $c));
    $s->on('open', fn(WebsocketConnection $c) => $show('onOpen', $c));
    $s->on('message', function (WebsocketConnection $c) use ($show) {
        $show('onMessage', $c);
        $c->close();
        $show('after close()', $c);
    });
    $s->on('close', fn(WebsocketConnection $c) => $show('onClose', $c));
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('x');
echo $c->answerClose(), "\n";
$srv->waitFor('onClose');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
close 1000 ""
--- server
onHandshake: false
onOpen: true
onMessage: true
after close(): false
onClose: false
