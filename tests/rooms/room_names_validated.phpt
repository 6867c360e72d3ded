--TEST--
Rooms: names are 1 to 256 bytes (any bytes); an empty or 257-byte name is a ValueError everywhere
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        $calls = [
            'conn->join' => fn($r) => $c->join($r),
            'conn->leave' => fn($r) => $c->leave($r),
            'server->join' => fn($r) => $s->join($c->id, $r),
            'server->leave' => fn($r) => $s->leave($c->id, $r),
            'publish' => fn($r) => $s->publish($r, 'x'),
            'roomSize' => fn($r) => $s->roomSize($r),
        ];
        foreach (['empty' => '', '257 bytes' => str_repeat('r', 257)] as $what => $name) {
            foreach ($calls as $call => $fn) {
                try {
                    $fn($name);
                    echo "$call($what): accepted\n";
                } catch (ValueError $e) {
                    echo "$call($what): ", $e->getMessage(), "\n";
                }
            }
        }
        $long = str_repeat('r', 256);
        $bytes = "\x00\xff:\n";
        echo "join 256 bytes: ", var_export($c->join($long), true), "\n";
        echo "join NUL and 0xff: ", var_export($c->join($bytes), true), "\n";
        echo "sizes: ", $s->roomSize($long), " ", $s->roomSize($bytes), " ",
            $s->roomSize("\x00\xff:"), "\n";
        $rooms = $c->rooms();
        sort($rooms);
        echo "rooms: ", json_encode(array_map('bin2hex', $rooms) == array_map('bin2hex', [$bytes, $long])), "\n";
        $c->send('done');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('go');
echo $c->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
text "done"
--- server
conn->join(empty): WebsocketConnection::join(): Argument #1 ($room) must be %s
conn->leave(empty): WebsocketConnection::leave(): Argument #1 ($room) must be %s
server->join(empty): WebsocketServer::join(): Argument #2 ($room) must be %s
server->leave(empty): WebsocketServer::leave(): Argument #2 ($room) must be %s
publish(empty): WebsocketServer::publish(): Argument #1 ($room) must be %s
roomSize(empty): WebsocketServer::roomSize(): Argument #1 ($room) must be %s
conn->join(257 bytes): WebsocketConnection::join(): Argument #1 ($room) must be %s
conn->leave(257 bytes): WebsocketConnection::leave(): Argument #1 ($room) must be %s
server->join(257 bytes): WebsocketServer::join(): Argument #2 ($room) must be %s
server->leave(257 bytes): WebsocketServer::leave(): Argument #2 ($room) must be %s
publish(257 bytes): WebsocketServer::publish(): Argument #1 ($room) must be %s
roomSize(257 bytes): WebsocketServer::roomSize(): Argument #1 ($room) must be %s
join 256 bytes: true
join NUL and 0xff: true
sizes: 1 1 0
rooms: true
