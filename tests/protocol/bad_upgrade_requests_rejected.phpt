--TEST--
WebsocketServer: malformed upgrade requests are answered 400/405/431 without calling onHandshake
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['max_header_size' => 1024]));
    $s->on('handshake', function (WebsocketConnection $c) {
        echo "onHandshake $c->path\n";
    });
    $s->on('request', function (WebsocketConnection $c) {
        echo "onRequest $c->path\n";
    });
    return $s;
});
$good = ws_upgrade_request('/');
$cases = [
    'POST' => str_replace('GET ', 'POST ', $good),
    'no key' => str_replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", '', $good),
    'short key' => str_replace('dGhlIHNhbXBsZSBub25jZQ==', 'c2hvcnQ=', $good),
    'no Host' => str_replace("Host: 127.0.0.1\r\n", '', $good),
    'no Connection: upgrade' => str_replace('Connection: Upgrade', 'Connection: keep-alive', $good),
    'header too large' => ws_upgrade_request('/', ['X-Big' => str_repeat('b', 1100)]),
    'garbage' => "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
];
foreach ($cases as $name => $request) {
    echo "$name: ", strtok(ws_http($srv->port, $request), "\r"), "\n";
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
POST: HTTP/1.1 405 Method Not Allowed
no key: HTTP/1.1 400 Bad Request
short key: HTTP/1.1 400 Bad Request
no Host: HTTP/1.1 400 Bad Request
no Connection: upgrade: HTTP/1.1 400 Bad Request
header too large: HTTP/1.1 431 Request Header Fields Too Large
garbage: HTTP/1.1 400 Bad Request
--- server
