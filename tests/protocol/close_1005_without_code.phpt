--TEST--
WebsocketServer: onClose receives 1005 for a Close without a code, and the server answers with an empty Close
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('close', function (WebsocketConnection $c, int $code, string $reason) {
        echo "onClose($code, ", json_encode($reason), ")\n";
    });
    return $s;
});
$c = WsClient::connect($srv->port);
echo $c->close(null), "\n";
$srv->waitFor('onClose');
echo "--- server\n", $srv->stop();
?>
--EXPECT--
close (no code)
--- server
onClose(1005, "")
