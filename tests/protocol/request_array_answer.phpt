--TEST--
WebsocketServer: onRequest returning an array answers that status, headers and body
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('request', fn(WebsocketConnection $c) => match ($c->path) {
        '/json' => ['status' => 201, 'headers' => ['Content-Type' => 'application/json', 'X-A' => 'b'],
                    'body' => '{"ok":true}'],
        '/redirect' => ['status' => 302, 'headers' => ['Location' => '/json']],
        '/code' => 404,
        '/default' => null,
        '/bad-key' => ['stauts' => 200],
        '/bad-type' => new stdClass(),
    });
    $s->on('error', fn($c, Throwable $e) => print(get_class($e) . ': ' . $e->getMessage() . "\n"));
    return $s;
});
foreach (['/json', '/redirect', '/code', '/default'] as $path) {
    echo ws_show_http(ws_http($srv->port, "GET $path HTTP/1.1\r\nHost: x\r\n\r\n")), "\n";
}
foreach (['/bad-key', '/bad-type'] as $path) {
    echo strtok(ws_http($srv->port, "GET $path HTTP/1.1\r\nHost: x\r\n\r\n"), "\r"), "\n";
}
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
HTTP/1.1 201 %s\r\n
Connection: close\r\n
Content-Length: 11\r\n
Content-Type: application/json\r\n
X-A: b\r\n
\r\n
{"ok":true}
HTTP/1.1 302 Found\r\n
Connection: close\r\n
Content-Length: 0\r\n
Location: /json\r\n
\r\n

HTTP/1.1 404 Not Found\r\n
Connection: close\r\n
Content-Length: 0\r\n
\r\n

HTTP/1.1 426 Upgrade Required\r\n
Connection: close\r\n
Content-Length: 48\r\n
Content-Type: text/plain; charset=utf-8\r\n
Sec-WebSocket-Version: 13\r\n
\r\n
Upgrade Required: this is a WebSocket endpoint.

HTTP/1.1 500 Internal Server Error
HTTP/1.1 500 Internal Server Error
--- server
ValueError: unknown key "stauts" in the answer; use status, headers, body
TypeError: onRequest must return null, string, int or array, stdClass returned
