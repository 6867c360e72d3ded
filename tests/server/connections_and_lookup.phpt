--TEST--
WebsocketServer: connections(), connectionCount() and getConnection() list open connections by id
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $show = function (string $when, WebsocketConnection $c) use ($s) {
        $all = $s->connections();
        $keysAreIds = true;
        foreach ($all as $id => $conn) {
            $keysAreIds = $keysAreIds && $conn instanceof WebsocketConnection && $conn->id === $id
                && $s->getConnection($id) === $conn;
        }
        echo "$when: count=", $s->connectionCount(), " connections=", count($all),
            " keys are ids: ", var_export($keysAreIds, true),
            " own listed: ", var_export(isset($all[$c->id]), true),
            " getConnection(own): ", $s->getConnection($c->id) === $c ? 'same object' : 'null', "\n";
    };
    $s->on('handshake', function (WebsocketConnection $c) use ($show) { $show('handshake', $c); });
    $s->on('open', function (WebsocketConnection $c) use ($show) { $show('open', $c); });
    $s->on('message', function (WebsocketConnection $c) use ($show, $s) {
        $show('message', $c);
        var_dump($s->getConnection(987654), $s->getConnection(0), $s->getConnection(-3));
    });
    $s->on('close', function (WebsocketConnection $c) use ($show) { $show('close', $c); });
    var_dump($s->connections(), $s->connectionCount(), $s->getConnection(1));
    return $s;
});
$a = WsClient::connect($srv->port);
$b = WsClient::connect($srv->port);
$b->send('x');
$b->close();
$srv->waitFor('close:');
$a->send('x');
$srv->waitFor('NULL', 1);
echo $srv->stop();
?>
--EXPECT--
array(0) {
}
int(0)
NULL
handshake: count=0 connections=0 keys are ids: true own listed: false getConnection(own): null
open: count=1 connections=1 keys are ids: true own listed: true getConnection(own): same object
handshake: count=1 connections=1 keys are ids: true own listed: false getConnection(own): null
open: count=2 connections=2 keys are ids: true own listed: true getConnection(own): same object
message: count=2 connections=2 keys are ids: true own listed: true getConnection(own): same object
NULL
NULL
NULL
close: count=1 connections=1 keys are ids: true own listed: false getConnection(own): null
message: count=1 connections=1 keys are ids: true own listed: true getConnection(own): same object
NULL
NULL
NULL
close: count=0 connections=0 keys are ids: true own listed: false getConnection(own): null
