--TEST--
WebsocketServer: on SIGTERM a client that never answers the Close is dropped after shutdown_timeout
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config(['shutdown_timeout' => 0.3, 'close_timeout' => 30]));
    $s->on('close', fn(WebsocketConnection $c, int $code) => print("onClose($code)\n"));
    ws_ready($s);
    $s->start();
    echo "start() returned\n";
});
$c = WsClient::connect($srv->port);
$t = microtime(true);
$srv->signal(SIGTERM);
echo $c->read(), "\n";
echo $c->readEof(), "\n";
$elapsed = microtime(true) - $t;
echo "dropped after the grace period: ", var_export($elapsed > 0.2 && $elapsed < 2.5, true), "\n";
$c->drop();
echo "--- server\n", $srv->wait();
?>
--EXPECT--
close 1001 "server shutting down"
EOF
dropped after the grace period: true
--- server
onClose(1006)
start() returned
