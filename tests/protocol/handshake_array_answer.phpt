--TEST--
WebsocketServer: onHandshake returning [status, headers, body] answers exactly that
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', function (WebsocketConnection $c) {
        if ($c->path === '/extra') {
            // Headers on a 101 are added to the upgrade response.
            return ['headers' => ['X-Session' => 'abc']];
        }
        return ['status' => 401, 'headers' => ['WWW-Authenticate' => 'Bearer'], 'body' => 'no'];
    });
    return $s;
});
echo ws_show_http(ws_http($srv->port, ws_upgrade_request('/'))), "\n";
$c = WsClient::connect($srv->port, '/extra');
var_dump($c->headers);
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
HTTP/1.1 401 Unauthorized\r\n
Connection: close\r\n
Content-Length: 2\r\n
Content-Type: text/plain; charset=utf-8\r\n
WWW-Authenticate: Bearer\r\n
\r\n
no
array(4) {
  ["upgrade"]=>
  string(9) "websocket"
  ["connection"]=>
  string(7) "Upgrade"
  ["sec-websocket-accept"]=>
  string(28) "%s"
  ["x-session"]=>
  string(3) "abc"
}
close 1000 ""
--- server
