--TEST--
WebsocketServer: on(): every event name registers its callback, in any letter case
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('WORKERSTART', function (int $w) { echo "workerStart $w\n"; })
      ->on('Handshake', function (WebsocketConnection $c) { echo "handshake $c->path\n"; })
      ->on('oPeN', function (WebsocketConnection $c) { echo "open $c->path\n"; })
      ->on('MESSAGE', function (WebsocketConnection $c, string $d, bool $b) {
          echo "message ", $b ? bin2hex($d) : $d, " binary=", var_export($b, true), "\n";
          if ($d === 'throw') {
              throw new Exception('thrown on purpose');
          }
      })
      ->on('Error', function (?WebsocketConnection $c, Throwable $e) {
          echo "error ", $e->getMessage(), "\n";
      })
      ->on('cLOSE', function (WebsocketConnection $c, int $code, string $r) { echo "close $code\n"; })
      ->on('REQUEST', function (WebsocketConnection $c) { echo "request $c->path\n"; return 'hi'; })
      ->on('workerstop', function (int $w) { echo "workerStop $w\n"; });
    return $s;
});
$c = WsClient::connect($srv->port, '/ws');
$c->send('text');
$c->send("\x01\x02", true);
$c->send('throw');
echo $c->close(), "\n";
$srv->waitFor('close');
echo strtok(ws_http($srv->port, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n"), "\r"), "\n";
echo $srv->stop();
?>
--EXPECT--
close 1000 ""
HTTP/1.1 200 OK
workerStart 0
handshake /ws
open /ws
message text binary=false
message 0102 binary=true
message throw binary=false
error thrown on purpose
close 1000
request /page
workerStop 0
