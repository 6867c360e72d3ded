<?php
// Workerman as a benchmark peer: one worker process (count = 1) under Workerman's master, an
// echo or a chat that sends every message to every connection, as its README shows.
//
//   BENCH_AUTOLOAD=bench/.peers/workerman/vendor/autoload.php \
//     php bench/peers/workerman.php echo|chat PORT [binary]
//
// Workerman's onMessage does not say whether a message was text or binary; an application
// picks one type per connection, so `binary` makes the echo answer in binary frames.
// Without the event extension Workerman's loop is stream_select() (at most 1024 descriptors).

use Workerman\Protocols\Websocket;
use Workerman\Worker;

require getenv('BENCH_AUTOLOAD') ?: __DIR__ . '/../.peers/workerman/vendor/autoload.php';

[, $mode, $port, $type] = $argv + [null, 'echo', '19100', 'text'];
$run = sys_get_temp_dir() . "/bench-workerman-$port";
Worker::$pidFile = "$run.pid";
Worker::$logFile = "$run.log";
Worker::$statusFile = "$run.status";

$worker = new Worker("websocket://127.0.0.1:$port");
$worker->count = 1;
$worker->onWebSocketConnect = function ($conn) use ($type) {
    if ($type === 'binary') {
        $conn->websocketType = Websocket::BINARY_TYPE_ARRAYBUFFER;
    }
};
$worker->onMessage = $mode === 'chat'
    ? function ($conn, $data) use ($worker) {
        foreach ($worker->connections as $to) {
            $to->send($data);
        }
    }
    : function ($conn, $data) {
        $conn->send($data);
    };
$worker->onWorkerStart = function () use ($port) {
    echo "listening on ws://127.0.0.1:$port/\n";
};

// Workerman reads its command from $argv.
$argv = [$argv[0], 'start'];
Worker::runAll();
