--TEST--
WebsocketServer: reuse_port: two servers that both set it share a port; without it the second fails
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
ws_watchdog();
$first = ws_start(function () {
    $s = new WebsocketServer(ws_config(['reuse_port' => true]));
    return $s;
});
$port = $first->port;
foreach ([true, false] as $reuse) {
    $s = new WebsocketServer(['host' => '127.0.0.1', 'port' => $port, 'reuse_port' => $reuse]);
    $s->addTimer(0, fn() => $s->stop());
    try {
        $s->start();
        echo "reuse_port ", var_export($reuse, true), ": started on the shared port: ",
            var_export($s->getPort() === $port, true), "\n";
    } catch (WebsocketException $e) {
        echo "reuse_port ", var_export($reuse, true), ": ", str_replace(":$port:", ':PORT:', $e->getMessage()), "\n";
    }
}
$first->stop();
?>
--EXPECT--
reuse_port true: started on the shared port: true
reuse_port false: cannot listen on 127.0.0.1:PORT: Address already in use
