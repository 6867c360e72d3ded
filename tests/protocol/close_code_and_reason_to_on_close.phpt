--TEST--
WebsocketServer: onClose receives the code and reason of the client's Close, which the server echoes
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('close', function (WebsocketConnection $c, int $code, string $reason) {
        echo "onClose($code, ", json_encode($reason, JSON_UNESCAPED_UNICODE), ")\n";
    });
    return $s;
});
foreach ([[1000, 'bye'], [4321, "caf\u{e9} \u{2615}"], [1001, '']] as [$code, $reason]) {
    $c = WsClient::connect($srv->port);
    echo $c->close($code, $reason), "\n";
    $srv->waitFor("onClose($code");
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
close 1000 ""
close 4321 ""
close 1001 ""
--- server
onClose(1000, "bye")
onClose(4321, "café ☕")
onClose(1001, "")
