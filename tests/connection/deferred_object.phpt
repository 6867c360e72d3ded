--TEST--
WebsocketConnection: without onHandshake and onOpen the object is made when first needed, with the whole request, the subprotocol and the same identity after
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['subprotocols' => ['chat']]));
    $s->on('message', function (WebsocketConnection $c, string $data) use ($s) {
        if ($data === 'who') {
            $h = $c->headers;
            unset($h['sec-websocket-key'], $h['host']);
            var_dump($c->method, $c->path, $c->query, $c->subprotocol, $c->remoteAddress, $h);
            $c->data = 'kept';
            $c->send('ok');
            return;
        }
        /* every open connection has an object now, and it is the one onMessage got */
        $all = $s->connections();
        var_dump(count($all), $all[$c->id] === $c, $s->getConnection($c->id) === $c, $c->data);
        $others = [];
        foreach ($all as $other) {
            if ($other !== $c) {
                $others[] = "$other->path [$other->subprotocol]";
            }
        }
        sort($others);
        var_dump($others);
        $c->send('ok');
    });
    $s->on('close', function (WebsocketConnection $c, int $code) {
        echo "close $c->path $code\n";
    });
    return $s;
});
$a = WsClient::connect($srv->port, '/a?x=1', ['Sec-WebSocket-Protocol' => 'chat', 'X-Thing' => 'Yes']);
$b = WsClient::connect($srv->port, '/b');
$silent = WsClient::connect($srv->port, '/silent');
$a->send('who');
echo $a->readFrame()['payload'], "\n";
$a->send('list');
echo $a->readFrame()['payload'], "\n";
$silent->close(4001);
$a->close();
$b->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
ok
ok
--- server
string(3) "GET"
string(2) "/a"
string(3) "x=1"
string(4) "chat"
string(9) "127.0.0.1"
array(5) {
  ["upgrade"]=>
  string(9) "websocket"
  ["connection"]=>
  string(7) "Upgrade"
  ["sec-websocket-version"]=>
  string(2) "13"
  ["sec-websocket-protocol"]=>
  string(4) "chat"
  ["x-thing"]=>
  string(3) "Yes"
}
int(3)
bool(true)
bool(true)
string(4) "kept"
array(2) {
  [0]=>
  string(5) "/b []"
  [1]=>
  string(10) "/silent []"
}
close /silent 4001
close /a 1000
close /b 1000
