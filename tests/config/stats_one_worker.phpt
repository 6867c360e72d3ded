--TEST--
WebsocketServer: stats() with one worker: totals and one worker entry with this pid and the counters
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$t0 = microtime(true);
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        if (str_starts_with($d, 'stats')) {
            $c->send(json_encode(['stats' => $s->stats(), 'pid' => getmypid()]));
        } else {
            $c->send($d);
        }
    });
    return $s;
});
$a = WsClient::connect($srv->port);
$b = WsClient::connect($srv->port);
$a->send('stats 1');
$r = json_decode($a->readFrame()['payload'], true);
$st = $r['stats'];
echo "keys: ", implode(' ', array_keys($st)), "\n";
echo "worker keys: ", implode(' ', array_keys($st['workers'][0])), "\n";
echo "entries: ", count($st['workers']), "\n";
$w = $st['workers'][0];
var_dump($w['worker'], $w['pid'] === $r['pid'], $w['pid'] === $srv->pid);
var_dump($st['connections'], $w['connections'], $w['messages_in'], $w['bytes_in'] >= 7);
var_dump($w['restarts'], $w['bus_dropped'], $w['bus_queue'], is_float($w['started']),
    $w['started'] >= floor($t0) - 1 && $w['started'] <= microtime(true));
foreach (['connections', 'messages_in', 'messages_out', 'bytes_in', 'bytes_out', 'bus_dropped'] as $k) {
    if ($st[$k] !== $w[$k]) {
        echo "total $k is $st[$k], the worker's $w[$k]\n";
    }
}
$b->send(str_repeat('x', 1000));
$b->readFrame();
$a->send('stats 2');
$st2 = json_decode($a->readFrame()['payload'], true)['stats'];
var_dump($st2['messages_in'] - $st['messages_in'], $st2['bytes_in'] - $st['bytes_in'] >= 1007,
    $st2['messages_out'] - $st['messages_out'] >= 2,
    $st2['bytes_out'] - $st['bytes_out'] >= 1000);
echo "--- server\n", $srv->stop();
?>
--EXPECT--
keys: connections messages_in messages_out bytes_in bytes_out bus_dropped receiving receive_refused workers
worker keys: worker pid connections messages_in messages_out bytes_in bytes_out bus_queue bus_dropped receiving receive_refused restarts started
entries: 1
int(0)
bool(true)
bool(true)
int(2)
int(2)
int(1)
bool(true)
int(0)
int(0)
int(0)
bool(true)
bool(true)
int(2)
bool(true)
bool(true)
bool(true)
--- server
