--TEST--
WebsocketConnection: a long string is sent by reference and arrives as it was at send(), whatever PHP does with the variable afterwards; strings still queued at a drop are given back
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        if ($d === 'change') {
            /* 4096 bytes and more go by reference; the variable changes before the write. */
            foreach ([4095, 4096, 70000] as $n) {
                $big = str_repeat('a', $n);
                $c->send($big, true);
                $big[0] = 'b';
                $big .= 'c';
                $c->send($big, true);
                unset($big);
            }
            /* the message string itself, sent back twice: once by the connection, once by id */
            $c->send($d . str_repeat('.', 5000));
            $s->send($c->id, str_repeat('=', 8000) . 'end');
            $c->send('done');
        } elseif ($d === 'flood') {
            /* The client stops reading and goes away: what is queued is dropped, not written. */
            for ($i = 0; $i < 40; $i++) {
                $c->send(str_repeat(chr(65 + $i % 26), 1 << 20), true);
            }
            echo "queued ", $c->bufferedAmount() > 8 << 20 ? 'more than 8 MiB' : 'less', "\n";
        }
    });
    $s->on('close', function (WebsocketConnection $c, int $code) {
        echo "close $code\n";
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('change');
for ($i = 0; $i < 8; $i++) {
    $f = $c->readFrame();
    $p = $f['payload'];
    $runs = count_chars($p, 3);
    printf("%s %d [%s] first %s last %s\n", $f['op'] === 2 ? 'binary' : 'text', strlen($p),
        $runs, $p[0], $p[-1]);
}
echo $c->readFrame()['payload'], "\n";
$d = WsClient::connect($srv->port);
$d->send('flood');
$srv->waitFor('queued');
$d->drop();
$c->close();
echo "--- server\n", $srv->stop();
?>
--EXPECT--
binary 4095 [a] first a last a
binary 4096 [abc] first b last c
binary 4096 [a] first a last a
binary 4097 [abc] first b last c
binary 70000 [a] first a last a
binary 70001 [abc] first b last c
text 5006 [.aceghn] first c last .
text 8003 [=den] first = last d
done
--- server
queued more than 8 MiB
close 1006
close 1000
