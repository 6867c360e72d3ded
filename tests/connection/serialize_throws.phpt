--TEST--
WebsocketConnection: serialize() throws; unserialize() of a forged string throws
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        try {
            serialize($c);
            echo "serialized\n";
        } catch (Exception $e) {
            echo get_class($e), ': ', $e->getMessage(), "\n";
        }
        try {
            serialize(['nested' => [$c]]);
            echo "serialized\n";
        } catch (Exception $e) {
            echo get_class($e), ': ', $e->getMessage(), "\n";
        }
        $c->send('ok');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
echo $c->read(), "\n";
$c->close();
echo "--- server\n", $srv->stop();
try {
    var_dump(unserialize('O:19:"WebsocketConnection":1:{s:2:"id";i:1;}'));
} catch (Exception $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
?>
--EXPECT--
text "ok"
--- server
Exception: Serialization of 'WebsocketConnection' is not allowed
Exception: Serialization of 'WebsocketConnection' is not allowed
Exception: Unserialization of 'WebsocketConnection' is not allowed
