--TEST--
WebsocketConnection: send(), ping() and close() return false once the connection is closed, also long after
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('close', function (WebsocketConnection $c) use ($s) {
        echo "in onClose: ";
        var_dump($c->send('x'), $c->send('x', true), $c->ping(), $c->close(), $s->send($c->id, 'x'));
        // Kept beyond the connection's life: still a valid object whose methods report failure.
        $s->addTimer(0.05, function () use ($c, $s) {
            echo "later: ";
            var_dump($c->send('x'), $c->ping('p'), $c->close(4000, 'r'), $c->isOpen(), $c->bufferedAmount(),
                $s->send($c->id, 'x'), $s->getConnection($c->id), $c->path);
            $c->data = 'still writable';
            var_dump($c->data);
        });
    });
    return $s;
});
$c = WsClient::connect($srv->port, '/gone');
$c->close();
$srv->waitFor('still writable');
echo $srv->stop();
?>
--EXPECT--
in onClose: bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
later: bool(false)
bool(false)
bool(false)
bool(false)
int(0)
bool(false)
NULL
string(5) "/gone"
string(14) "still writable"
