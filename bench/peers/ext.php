<?php
// ext-websocket as a benchmark peer: echo sends every message back, chat relays it to every
// connection (the sender included), as examples/echo.php and examples/chat.php do, minus
// their command line.
//
//   php -d extension=modules/websocket.so bench/peers/ext.php echo|chat PORT [WORKERS]

[, $mode, $port, $workers] = $argv + [null, 'echo', '19100', '1'];

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
]);
echo "listening on ws://127.0.0.1:$port/\n";
$server->start();
