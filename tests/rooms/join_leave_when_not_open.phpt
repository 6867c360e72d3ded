--TEST--
WebsocketConnection: join() and leave() change nothing and return false once the connection is no longer open
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $kept = null;
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s, &$kept) {
        if ($d === 'size') {
            echo "later: leave on the ended connection: ", var_export($kept->leave('a'), true),
                ", join: ", var_export($kept->join('a'), true), ", size of a ",
                $s->roomSize('a'), "\n";
            $c->send('done');
            return;
        }
        $kept = $c;
        echo "join a: ", var_export($c->join('a'), true), "\n";
        echo "join b: ", var_export($c->join('b'), true), "\n";
        $c->close();
        echo "closing, isOpen: ", var_export($c->isOpen(), true), "\n";
        echo "join c: ", var_export($c->join('c'), true), "\n";
        echo "leave a: ", var_export($c->leave('a'), true), "\n";
        echo "leave never joined: ", var_export($c->leave('never'), true), "\n";
        $rooms = $c->rooms();
        sort($rooms);
        echo "rooms: ", json_encode($rooms), ", size of a ", $s->roomSize('a'), "\n";
    });
    $s->on('close', function (WebsocketConnection $c) {
        echo "onClose: leave b: ", var_export($c->leave('b'), true), ", join d: ",
            var_export($c->join('d'), true), "\n";
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('go');
echo $c->answerClose(), "\n";
usleep(100000);
$d = WsClient::connect($srv->port);
$d->send('size');
echo $d->read(), "\n";
echo $d->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
close 1000 ""
text "done"
close 1000 ""
--- server
join a: true
join b: true
closing, isOpen: false
join c: false
leave a: false
leave never joined: false
rooms: ["a","b"], size of a 1
onClose: leave b: false, join d: false
later: leave on the ended connection: false, join: false, size of a 0
onClose: leave b: false, join d: false
