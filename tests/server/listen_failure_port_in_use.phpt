--TEST--
WebsocketServer: start(): a port in use throws WebsocketException naming host:port and the errno
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$busy = stream_socket_server('tcp://127.0.0.1:0');
$port = (int)substr(strrchr(stream_socket_get_name($busy, false), ':'), 1);
$s = new WebsocketServer(['host' => '127.0.0.1', 'port' => $port]);
$s->on('workerStart', function () { echo "workerStart must not run\n"; });
try {
    $s->start();
    echo "started\n";
} catch (WebsocketException $e) {
    echo str_replace(":$port:", ':PORT:', $e->getMessage()), "\n";
    var_dump($e->getCode() === (defined('SOCKET_EADDRINUSE') ? SOCKET_EADDRINUSE : $e->getCode()));
    var_dump($e->getCode() > 0);
}
var_dump($s->getPort());
?>
--EXPECT--
cannot listen on 127.0.0.1:PORT: Address already in use
bool(true)
bool(true)
int(0)
