--TEST--
WebsocketServer: SIGTERM closes every client with 1001, start() returns and the script exits 0
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', fn(WebsocketConnection $c) => $c->send('welcome'));
    $s->on('close', function (WebsocketConnection $c, int $code, string $reason) {
        echo "onClose $code '$reason'\n";
    });
    $s->on('workerStop', fn() => print("onWorkerStop\n"));
    ws_ready($s);
    $s->start();
    echo "start() returned\n";
    register_shutdown_function(fn() => print("script ended normally\n"));
});
$a = WsClient::connect($srv->port);
$b = WsClient::connect($srv->port);
echo $a->read(), "\n", $b->read(), "\n";
$srv->signal(SIGTERM);
echo $a->read(), "\n", $b->read(), "\n";
$a->sendClose(1001);
echo $a->readEof(), "\n";
$b->sendClose(1001);
echo $b->readEof(), "\n";
$a->drop();
$b->drop();
echo "--- server\n", $srv->wait();
var_dump($srv->exitStatus);
// The listening socket is closed.
var_dump(@stream_socket_client("tcp://127.0.0.1:$srv->port", $errno, $errstr, 1));
?>
--EXPECT--
text "welcome"
text "welcome"
close 1001 "server shutting down"
close 1001 "server shutting down"
EOF
EOF
--- server
onClose 1001 ''
onClose 1001 ''
onWorkerStop
start() returned
script ended normally
int(0)
bool(false)
