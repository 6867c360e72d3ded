--TEST--
WebsocketConnection: many sends in one callback, small ones sharing a chunk and larger ones between them, arrive whole and in order
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
/* Sizes cross the 125-byte length encoding and the largest frame that may share a chunk. */
function expected(int $i): array
{
    $big = $i % 97 === 0;
    return [$big, str_repeat(chr(97 + $i % 26), $big ? 5000 + $i : $i % 300)];
}
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) {
        for ($i = 0; $i < 700; $i++) {
            [$big, $payload] = expected($i);
            $c->send($payload, $big);
            if ($i % 50 === 0) {
                $c->ping("p$i");
            }
        }
        $c->close(1000, 'end');
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('go');
$ok = $pings = 0;
for ($i = 0; $i < 700; $i++) {
    $f = $c->readFrame();
    if (is_array($f) && $f['op'] === 9) {
        $pings += $f['payload'] === 'p' . ($i - 1) ? 1 : 0; /* sent after message $i - 1 */
        $f = $c->readFrame();
    }
    [$big, $payload] = expected($i);
    if (is_array($f) && $f['op'] === ($big ? 2 : 1) && $f['fin'] && $f['payload'] === $payload) {
        $ok++;
    } else {
        echo "frame $i: ", WsClient::describe($f), "\n";
        break;
    }
}
echo "$ok frames as sent, $pings pings in place\n";
echo $c->read(), "\n";
$c->drop();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
700 frames as sent, 14 pings in place
close 1000 "end"
--- server
