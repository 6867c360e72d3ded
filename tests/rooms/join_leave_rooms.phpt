--TEST--
WebsocketConnection: join(), leave(), rooms(): true only when membership changes, rooms() lists them
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        echo "rooms at first: ", json_encode($c->rooms()), "\n";
        echo "join a: ", var_export($c->join('a'), true), "\n";
        echo "join a again: ", var_export($c->join('a'), true), "\n";
        echo "join b: ", var_export($c->join('b'), true), "\n";
        echo "join 'a b:c': ", var_export($c->join('a b:c'), true), "\n";
        $rooms = $c->rooms();
        sort($rooms);
        echo "rooms: ", json_encode($rooms), "\n";
        echo "leave a: ", var_export($c->leave('a'), true), "\n";
        echo "leave a again: ", var_export($c->leave('a'), true), "\n";
        echo "leave never joined: ", var_export($c->leave('never'), true), "\n";
        $rooms = $c->rooms();
        sort($rooms);
        echo "rooms: ", json_encode($rooms), "\n";
        echo "sizes: a ", $s->roomSize('a'), ", b ", $s->roomSize('b'), ", never ",
            $s->roomSize('never'), "\n";
        $c->send('done');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('go');
echo $c->read(), "\n";
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "done"
close 1000 ""
--- server
rooms at first: []
join a: true
join a again: false
join b: true
join 'a b:c': true
rooms: ["a","a b:c","b"]
leave a: true
leave a again: false
leave never joined: false
rooms: ["a b:c","b"]
sizes: a 0, b 1, never 0
