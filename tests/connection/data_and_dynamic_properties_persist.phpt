--TEST--
WebsocketConnection: $conn->data and dynamic properties persist between callbacks of one connection
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', function (WebsocketConnection $c) {
        $c->data = ['user' => substr($c->path, 1), 'count' => 0];
        $c->joinedAt = 'handshake';
    });
    $s->on('open', function (WebsocketConnection $c) {
        $c->data['count']++;
    });
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        $c->data['count']++;
        $c->last = $d;
        // The same object is found through the server.
        $s->getConnection($c->id)->viaServer = true;
        $c->send(json_encode([$c->data, $c->joinedAt, $c->last]));
    });
    $s->on('close', function (WebsocketConnection $c) {
        echo $c->data['user'], ": count=", $c->data['count'], " last=$c->last via server=",
            var_export($c->viaServer, true), "\n";
    });
    return $s;
});
$ann = WsClient::connect($srv->port, '/ann');
$bob = WsClient::connect($srv->port, '/bob');
$ann->send('one');
echo $ann->read(), "\n";
$bob->send('x');
echo $bob->read(), "\n";
$ann->send('two');
echo $ann->read(), "\n";
$ann->close();
$srv->waitFor('ann:');
$bob->close();
$srv->waitFor('bob:');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "[{\"user\":\"ann\",\"count\":2},\"handshake\",\"one\"]"
text "[{\"user\":\"bob\",\"count\":2},\"handshake\",\"x\"]"
text "[{\"user\":\"ann\",\"count\":3},\"handshake\",\"two\"]"
--- server
ann: count=3 last=two via server=true
bob: count=2 last=x via server=true
