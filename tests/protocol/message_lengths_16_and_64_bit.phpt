--TEST--
WebsocketServer: messages with 7-, 16- and 64-bit lengths arrive whole, in both directions
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d, bool $b) {
        echo strlen($d), " bytes, md5 ", md5($d), "\n";
        $c->send($d, $b);
    });
    return $s;
});
$c = WsClient::connect($srv->port);
foreach ([125, 126, 65535, 65536, 200000] as $n) {
    $data = substr(str_repeat(md5((string)$n), intdiv($n, 32) + 1), 0, $n);
    $c->send($data, $n % 2 === 0);
    $f = $c->readFrame();
    echo $n, ": ", is_array($f) && $f['payload'] === $data ? 'echoed' : WsClient::describe($f), "\n";
}
// A fragmented message is delivered once, assembled.
$c->sendFrame(WS_OP_TEXT, 'frag', false);
$c->ping('between fragments');
echo $c->read(), "\n";
$c->sendFrame(WS_OP_CONT, 'men', false);
$c->sendFrame(WS_OP_CONT, 'ted', true);
echo $c->read(), "\n";
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
125: echoed
126: echoed
65535: echoed
65536: echoed
200000: echoed
pong "between fragments"
text "fragmented"
--- server
125 bytes, md5 %x
126 bytes, md5 %x
65535 bytes, md5 %x
65536 bytes, md5 %x
200000 bytes, md5 %x
10 bytes, md5 %x
