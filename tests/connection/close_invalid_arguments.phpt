--TEST--
WebsocketConnection: close() with a code that may not be sent or a reason above 123 bytes throws ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        foreach ([1005, 999, 1004, 1006, 1015, 2999, 5000, 0, -1, 65536] as $code) {
            try {
                $c->close($code);
                echo "$code: accepted\n";
            } catch (ValueError $e) {
                echo $e->getMessage(), "\n";
            }
        }
        foreach ([str_repeat('x', 124), "bad \xff"] as $reason) {
            try {
                $c->close(1000, $reason);
                echo "reason accepted\n";
            } catch (ValueError $e) {
                echo $e->getMessage(), "\n";
            }
        }
        var_dump($c->isOpen());
        $c->send('still open');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
echo $c->read(), "\n";
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "still open"
--- server
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 1005 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 999 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 1004 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 1006 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 1015 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 2999 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 5000 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 0 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), -1 given
WebsocketConnection::close(): Argument #1 ($code) must be a close code that may be sent (1000-1003, 1007-1014 or 3000-4999), 65536 given
WebsocketConnection::close(): Argument #2 ($reason) must be at most 123 bytes, 124 given
WebsocketConnection::close(): Argument #2 ($reason) must be valid UTF-8
bool(true)
