--TEST--
WebsocketConnection: bufferedAmount() counts queued message bytes: 0 when idle, grows with a slow reader
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        echo "onOpen before send: ", var_export($c->bufferedAmount(), true), "\n";
        $c->send('abc');
        echo "after send('abc'): ", $c->bufferedAmount() >= 3 ? 'at least 3' : $c->bufferedAmount(), "\n";
    });
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        if ($d === 'big') {
            $c->send(str_repeat('x', 32 << 20), true);
            echo "after 32 MiB: ", $c->bufferedAmount() >= 32 << 20 ? 'at least 32 MiB' : 'less', "\n";
            $s->addTimer(0.1, function () use ($c) {
                $n = $c->bufferedAmount();
                echo "client not reading: ", is_int($n) && $n > 0 ? 'still buffered' : var_export($n, true), "\n";
            });
        } else {
            echo "after the client read everything: ", var_export($c->bufferedAmount(), true), "\n";
        }
    });
    return $s;
});
$c = WsClient::connect($srv->port);
echo $c->read(), "\n";
$c->send('big');
$srv->waitFor('client not reading');
$f = $c->readFrame();
echo "client got ", strlen($f['payload']), " bytes\n";
$c->send('check');
$srv->waitFor('everything');
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "abc"
client got 33554432 bytes
--- server
onOpen before send: 0
after send('abc'): at least 3
after 32 MiB: at least 32 MiB
client not reading: still buffered
after the client read everything: 0
