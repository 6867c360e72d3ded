--TEST--
WebsocketServer: roomSize() counts members; leave() and the end of a connection take them out
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        if ($d === 'join') {
            $c->join('r');
            $c->join('other');
        } elseif ($d === 'leave') {
            $c->leave('r');
        }
        $c->send("size r " . $s->roomSize('r') . ", other " . $s->roomSize('other')
            . ", publish reaches " . $s->publish('r', 'p'));
    });
    return $s;
});
$cs = [];
for ($i = 0; $i < 3; $i++) {
    $cs[$i] = WsClient::connect($srv->port);
    $cs[$i]->send('join');
    do {
        $f = $cs[$i]->read();
    } while ($f === 'text "p"');
    echo "$i: $f\n";
}
$cs[1]->send('leave');
do {
    $f = $cs[1]->read();
} while ($f === 'text "p"');
echo "after leave: $f\n";
// 0 closes cleanly, 2 drops TCP without a Close.
echo "0: ", $cs[0]->close(), "\n";
$cs[2]->drop();
usleep(200000);
$cs[1]->send('size');
echo "after the others went: ", $cs[1]->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
0: text "size r 1, other 1, publish reaches 1"
1: text "size r 2, other 2, publish reaches 2"
2: text "size r 3, other 3, publish reaches 3"
after leave: text "size r 2, other 3, publish reaches 2"
0: close 1000 ""
after the others went: text "size r 0, other 1, publish reaches 0"
--- server
