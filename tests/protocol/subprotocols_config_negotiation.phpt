--TEST--
WebsocketServer: 'subprotocols' picks the client's first offer the server supports; no overlap, no header
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['subprotocols' => ['a', 'b']]));
    $s->on('open', fn(WebsocketConnection $c) => print("open '$c->subprotocol'\n"));
    return $s;
});
foreach (['b, a', 'a,b', 'x, b', ' c ,  a ', 'x, y', 'A', null] as $offer) {
    $c = WsClient::connect($srv->port, '/', $offer === null ? [] : ['Sec-WebSocket-Protocol' => $offer]);
    echo json_encode($offer), " => ", $c->headers['sec-websocket-protocol'] ?? '(no header)', "\n";
    $c->close();
}
// Offers split over two header lines count as one list.
$c = WsClient::connect($srv->port, '/', ['Sec-WebSocket-Protocol' => 'x', 'sec-websocket-protocol' => 'b']);
echo "two lines => ", $c->headers['sec-websocket-protocol'] ?? '(no header)', "\n";
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
"b, a" => b
"a,b" => a
"x, b" => b
" c ,  a " => a
"x, y" => (no header)
"A" => (no header)
null => (no header)
two lines => b
--- server
open 'b'
open 'a'
open 'b'
open 'a'
open ''
open ''
open ''
open 'b'
