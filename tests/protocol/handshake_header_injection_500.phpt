--TEST--
WebsocketServer: a CR/LF in an answer header answers 500 and reports the error event
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', fn(WebsocketConnection $c) => match ($c->path) {
        '/value' => ['headers' => ['X-Test' => "x\r\nEvil: 1"]],
        '/name' => ['headers' => ["Evil: 1\r\nX" => 'y']],
        '/status' => ['status' => 403, 'headers' => ['X-Test' => "x\nEvil: 1"], 'body' => 'b'],
        '/protocol' => ['protocol' => "chat\r\nEvil: 1"],
    });
    $s->on('request', fn(WebsocketConnection $c) => ['headers' => ['Location' => "/\r\n\r\nHTTP/1.1 200 OK"]]);
    $s->on('error', fn(?WebsocketConnection $c, Throwable $e) => print("error($c->path): " . get_class($e) . ': ' . $e->getMessage() . "\n"));
    return $s;
});
foreach (['/value', '/name', '/status', '/protocol'] as $path) {
    $raw = ws_http($srv->port, ws_upgrade_request($path), 1.0);
    echo "$path: ", strtok($raw, "\r"), str_contains($raw, 'Evil') ? ' INJECTED' : '', "\n";
}
$raw = ws_http($srv->port, "GET /req HTTP/1.1\r\nHost: x\r\n\r\n");
echo "/req: ", strtok($raw, "\r"), substr_count($raw, 'HTTP/1.1') > 1 ? ' INJECTED' : '', "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
/value: HTTP/1.1 500 Internal Server Error
/name: HTTP/1.1 500 Internal Server Error
/status: HTTP/1.1 500 Internal Server Error
/protocol: HTTP/1.1 500 Internal Server Error
/req: HTTP/1.1 500 Internal Server Error
--- server
error(/value): ValueError: answer header "X-Test" has an invalid name or value
error(/name): ValueError: answer header "Evil: 1
X" has an invalid name or value
error(/status): ValueError: answer header "X-Test" has an invalid name or value
error(/protocol): ValueError: %sprotocol%s
error(/req): ValueError: answer header "Location" has an invalid name or value
