--TEST--
WebsocketServer: onHandshake returning an int answers that status; an invalid status answers 500
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', fn(WebsocketConnection $c) => (int)substr($c->path, 1));
    $s->on('open', fn(WebsocketConnection $c) => print("open $c->path\n"));
    $s->on('error', fn($c, Throwable $e) => print(get_class($e) . ': ' . $e->getMessage() . "\n"));
    return $s;
});
echo ws_show_http(ws_http($srv->port, ws_upgrade_request('/401'))), "\n";
echo strtok(ws_http($srv->port, ws_upgrade_request('/503')), "\r"), "\n";
echo strtok(ws_http($srv->port, ws_upgrade_request('/99')), "\r"), "\n";
echo strtok(ws_http($srv->port, ws_upgrade_request('/600')), "\r"), "\n";
// 101 accepts, like true or null
$c = WsClient::connect($srv->port, '/101');
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
HTTP/1.1 401 Unauthorized\r\n
Connection: close\r\n
Content-Length: 0\r\n
\r\n

HTTP/1.1 503 Service Unavailable
HTTP/1.1 500 Internal Server Error
HTTP/1.1 500 Internal Server Error
close 1000 ""
--- server
ValueError: the answer's HTTP status must be between 100 and 599, 99 given
ValueError: the answer's HTTP status must be between 100 and 599, 600 given
open /101
