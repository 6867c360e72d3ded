--TEST--
WebsocketServer: exit() inside a callback ends the script with its status and drops the clients
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) {
        echo "exiting from onMessage\n";
        exit(3);
    });
    $s->on('close', fn() => print("onClose must not run after exit()\n"));
    $s->on('workerStop', fn() => print("onWorkerStop must not run after exit()\n"));
    register_shutdown_function(fn() => print("shutdown functions run\n"));
    ws_ready($s);
    $s->start();
    echo "not reached\n";
});
$a = WsClient::connect($srv->port);
$b = WsClient::connect($srv->port);
$a->send('bye');
echo "a: ", $a->readEof(), "\n";
echo "b: ", $b->readEof(), "\n";
$a->drop();
$b->drop();
echo $srv->wait(3);
var_dump($srv->exitStatus);

// exit() before the loop runs, in onWorkerStart.
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('workerStart', function () { echo "exiting from onWorkerStart\n"; exit(4); });
    return $s;
});
var_dump($srv->port);
echo $srv->wait(3);

// exit() in a timer, without an argument.
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->addTimer(0.01, function () { echo "exiting from a timer\n"; exit; });
    return $s;
});
echo $srv->wait(3);
var_dump($srv->exitStatus);
?>
--EXPECT--
a: EOF
b: EOF
exiting from onMessage
shutdown functions run
[server: exit status 3]
int(3)
int(0)
exiting from onWorkerStart
[server: exit status 4]
exiting from a timer
int(0)
