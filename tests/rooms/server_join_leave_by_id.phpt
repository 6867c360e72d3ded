--TEST--
WebsocketServer: join()/leave() by connection id change that connection's rooms; unknown ids give false
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', fn(WebsocketConnection $c) => $c->send((string)$c->id));
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        [$cmd, $id] = explode(' ', $d) + [1 => '0'];
        $id = (int)$id;
        switch ($cmd) {
            case 'join':
                echo "join: ", var_export($s->join($id, 'team'), true), ", again: ",
                    var_export($s->join($id, 'team'), true), "\n";
                echo "rooms of the target: ", json_encode($s->getConnection($id)?->rooms()), "\n";
                echo "size: ", $s->roomSize('team'), "\n";
                echo "publish: ", $s->publish('team', 'team news'), "\n";
                break;
            case 'leave':
                echo "leave: ", var_export($s->leave($id, 'team'), true), ", again: ",
                    var_export($s->leave($id, 'team'), true), "\n";
                echo "rooms of the target: ", json_encode($s->getConnection($id)?->rooms()), "\n";
                echo "size: ", $s->roomSize('team'), "\n";
                break;
            case 'unknown':
                echo "unknown ids: ", var_export($s->join(987654, 'team'), true), " ",
                    var_export($s->leave(987654, 'team'), true), " ",
                    var_export($s->join(0, 'team'), true), " ",
                    var_export($s->join(-1, 'team'), true), "\n";
                break;
        }
        $c->send('done');
    });
    return $s;
});
$a = WsClient::connect($srv->port);
$idA = (int)$a->readFrame()['payload'];
$b = WsClient::connect($srv->port);
$idB = (int)$b->readFrame()['payload'];
$a->send("join $idB");
echo "A: ", $a->read(), "\n";
echo "B: ", $b->read(), "\n";
$a->send("leave $idB");
echo "A: ", $a->read(), "\n";
$a->send('unknown');
echo "A: ", $a->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
A: text "done"
B: text "team news"
A: text "done"
A: text "done"
--- server
join: true, again: false
rooms of the target: ["team"]
size: 1
publish: 1
leave: true, again: false
rooms of the target: []
size: 0
unknown ids: false false false false
