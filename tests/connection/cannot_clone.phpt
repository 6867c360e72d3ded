--TEST--
WebsocketConnection: cloning a connection throws Error
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
            $copy = clone $c;
            echo "cloned\n";
        } catch (Error $e) {
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
?>
--EXPECT--
text "ok"
--- server
Error: Trying to clone an uncloneable object of class WebsocketConnection
