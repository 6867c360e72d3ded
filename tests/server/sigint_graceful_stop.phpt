--TEST--
WebsocketServer: SIGINT stops the server like SIGTERM: Close 1001 to clients, start() returns
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    ws_ready($s);
    $s->start();
    echo "start() returned\n";
});
$c = WsClient::connect($srv->port);
$srv->signal(SIGINT);
echo $c->answerClose(), "\n";
echo "--- server\n", $srv->wait();
var_dump($srv->exitStatus);
?>
--EXPECT--
close 1001 "server shutting down"
--- server
start() returned
int(0)
