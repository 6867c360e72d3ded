--TEST--
WebsocketServer: an absolute-form target gives the same path and query as origin-form; authority-form, '*' and a target whose authority is not the Host get 400
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('request', function (WebsocketConnection $c) {
        echo "onRequest $c->path ?$c->query\n";
        return "ok";
    });
    $s->on('message', function (WebsocketConnection $c, string $data) {
        echo "onMessage $c->path ?$c->query\n";
        $c->send($data);
    });
    return $s;
});
$port = $srv->port;
// Upgrades: the connection object is made from the request kept since the handshake.
$c = WsClient::connect($port, "http://127.0.0.1:$port/chat?room=1");
$c->send('a');
echo "echo: ", $c->read(), "\n";
$c->close();
$c = WsClient::connect($port, "WSS://127.0.0.1:$port");
$c->send('b');
echo "echo: ", $c->read(), "\n";
$c->close();
// Plain HTTP.
$host = "Host: 127.0.0.1:$port\r\n";
$cases = [
    'absolute' => "GET https://127.0.0.1:$port/health?x=y HTTP/1.1\r\n$host\r\n",
    'absolute, empty path' => "GET http://127.0.0.1:$port?q HTTP/1.1\r\n$host\r\n",
    'asterisk' => "OPTIONS * HTTP/1.1\r\n$host\r\n",
    'authority-form' => "CONNECT 127.0.0.1:$port HTTP/1.1\r\n$host\r\n",
    'other host' => "GET http://evil.example/health HTTP/1.1\r\n$host\r\n",
    'other port' => "GET http://127.0.0.1:1/health HTTP/1.1\r\n$host\r\n",
    'upgrade, other host' => ws_upgrade_request('http://evil.example/chat'),
    'upgrade, authority-form' => ws_upgrade_request('127.0.0.1:80'),
];
foreach ($cases as $name => $request) {
    echo "$name: ", strtok(ws_http($port, $request), "\r"), "\n";
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
echo: text "a"
echo: text "b"
absolute: HTTP/1.1 200 OK
absolute, empty path: HTTP/1.1 200 OK
asterisk: HTTP/1.1 400 Bad Request
authority-form: HTTP/1.1 400 Bad Request
other host: HTTP/1.1 400 Bad Request
other port: HTTP/1.1 400 Bad Request
upgrade, other host: HTTP/1.1 400 Bad Request
upgrade, authority-form: HTTP/1.1 400 Bad Request
--- server
onMessage /chat ?room=1
onMessage / ?
onRequest /health ?x=y
onRequest / ?q
