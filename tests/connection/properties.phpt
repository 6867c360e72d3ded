--TEST--
WebsocketConnection: id, remoteAddress, remotePort, method, path, query, headers and subprotocol describe the request
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        var_dump($c->id > 0, $c->remoteAddress, $c->method, $c->path, $c->query, $c->subprotocol, $c->data);
        $h = $c->headers;
        unset($h['sec-websocket-key'], $h['host']);
        var_dump($h);
        $c->send("$c->remotePort");
    });
    return $s;
});
$c = WsClient::connect($srv->port, '/room/42?user=ann&x=%20y', [
    'X-Custom-Header' => 'Value With Case', 'Accept' => 'a', 'accept' => 'b', 'Origin' => 'http://example.com']);
$local = stream_socket_get_name($c->sock, false);
echo "remotePort matches the client's port: ", var_export($c->readFrame()['payload'] === substr(strrchr($local, ':'), 1), true), "\n";
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
remotePort matches the client's port: true
--- server
bool(true)
string(9) "127.0.0.1"
string(3) "GET"
string(8) "/room/42"
string(15) "user=ann&x=%20y"
string(0) ""
NULL
array(6) {
  ["upgrade"]=>
  string(9) "websocket"
  ["connection"]=>
  string(7) "Upgrade"
  ["sec-websocket-version"]=>
  string(2) "13"
  ["x-custom-header"]=>
  string(15) "Value With Case"
  ["accept"]=>
  string(4) "a, b"
  ["origin"]=>
  string(18) "http://example.com"
}
