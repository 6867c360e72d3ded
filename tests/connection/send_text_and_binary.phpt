--TEST--
WebsocketConnection: send() sends text or binary frames; invalid UTF-8 as text throws ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        var_dump($c->send('héllo'), $c->send(''), $c->send("\x00\xff\x80", true), $c->send('', true));
        try {
            $c->send("\xff\xfe");
        } catch (ValueError $e) {
            echo $e->getMessage(), "\n";
        }
        var_dump($c->send("\xed\xa0\x80", true)); // a surrogate is fine as bytes
        $c->send('last');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
for ($i = 0; $i < 6; $i++) {
    echo $c->read(), "\n";
}
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "héllo"
text ""
binary 3: 00ff80
binary 0: 
binary 3: eda080
text "last"
--- server
bool(true)
bool(true)
bool(true)
bool(true)
WebsocketConnection::send(): Argument #1 ($data) must be valid UTF-8 for a text message; pass $binary = true to send bytes
bool(true)
