<?php
// ext-websocket as a benchmark peer: echo sends every message back, chat relays it to every
// connection (the sender included), as examples/echo.php and examples/chat.php do, minus
// their command line.
//
//   php -d extension=modules/websocket.so bench/peers/ext.php echo|chat PORT [WORKERS]
//       [--tls-cert=FILE --tls-key=FILE] [--compression[=JSON]] [--idle-timeout=S]
//       [--ping-interval=S]
//
// --tls-cert (and --tls-key) make PORT speak wss:// with that certificate; --compression turns
// permessage-deflate on with its defaults ('compression' => true), --compression=JSON with
// that 'compression' array (e.g. {"server_context_takeover":true}); --idle-timeout and
// --ping-interval set 'idle_timeout' and 'ping_interval' (seconds, 0 is off).

$tls = null;
$compression = false;
$keepalive = [];
$positional = [];
foreach (array_slice($argv, 1) as $arg) {
    if ($arg === '--compression') {
        $compression = true;
    } elseif (str_starts_with($arg, '--compression=')) {
        $compression = json_decode(substr($arg, strlen('--compression=')), true);
        if (!is_array($compression)) {
            fwrite(STDERR, "ext.php: --compression= needs a JSON object\n");
            exit(2);
        }
    } elseif (preg_match('/^--(idle-timeout|ping-interval)=([0-9.]+)$/', $arg, $m)) {
        $keepalive[str_replace('-', '_', $m[1])] = (float) $m[2];
    } elseif (preg_match('/^--tls-(cert|key)=(.+)$/s', $arg, $m)) {
        $tls[$m[1]] = $m[2];
    } elseif (str_starts_with($arg, '--')) {
        fwrite(STDERR, "ext.php: unknown option $arg\n");
        exit(2);
    } else {
        $positional[] = $arg;
    }
}
[$mode, $port, $workers] = $positional + ['echo', '19100', '1'];
if ($tls !== null && !isset($tls['cert'])) {
    fwrite(STDERR, "ext.php: --tls-key needs --tls-cert\n");
    exit(2);
}

class BenchEcho extends WebsocketServer
{
    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        $conn->send($data, $binary);
    }
}

class BenchChat extends WebsocketServer
{
    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        $this->broadcast($data, $binary);
    }
}

$class = $mode === 'chat' ? BenchChat::class : BenchEcho::class;
$server = new $class([
    'host' => '127.0.0.1',
    'port' => (int) $port,
    'workers' => (int) $workers,
    // The hold scenarios keep up to 19,500 connections per worker (the default stops at 10,000).
    'max_connections' => 100000,
    'compression' => $compression,
    'tls' => $tls,
] + $keepalive);
echo 'listening on ' . ($tls ? 'wss' : 'ws') . "://127.0.0.1:$port/" . ($compression ? ' (permessage-deflate)' : '') . "\n";
$server->start();
