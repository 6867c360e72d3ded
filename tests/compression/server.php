<?php
// tests/compression/server.php - the server under test of the permessage-deflate suite
// (tests/compression/compression.py) and of the compression cases of tests/interop.
//
//   php -d extension=modules/websocket.so tests/compression/server.php '<json config>' [mode]
//   php -d extension=modules/websocket.so tests/compression/server.php --host H --port N ['<json>']
//
// The JSON object is merged over ['host' => '127.0.0.1', 'port' => 0, 'compression' => true]
// and handed to the constructor as it is, so every key goes through the real validation. A key
// whose JSON value is null is left out of the configuration (so {"compression": null} runs
// with the extension's default). --host and --port (the interop harnesses pass them) override
// the JSON; a bare word (the mode that tests/inc/wsharness.py passes) is ignored.
//
// Echoes every message with its opcode (text as text, binary as binary) and prints exactly
// one line `listening on ws://127.0.0.1:PORT/` when ready, then nothing else on stdout;
// errors reported to onError go to stderr.

if (!extension_loaded('websocket')) {
    fwrite(STDERR, "websocket extension not loaded\n");
    exit(2);
}

$config = ['host' => '127.0.0.1', 'port' => 0, 'compression' => true];
$args = array_slice($argv, 1);
$given = [];
while ($args) {
    $arg = array_shift($args);
    if ($arg === '--host' || $arg === '--port') {
        $value = array_shift($args);
        if ($value === null) {
            fwrite(STDERR, "$arg needs a value\n");
            exit(2);
        }
        $given[substr($arg, 2)] = $arg === '--port' ? (int) $value : $value;
    } elseif (str_starts_with($arg, '{')) {
        $config = json_decode($arg, true, 16, JSON_THROW_ON_ERROR) + $config;
    } elseif ($arg === '--compression') {
        // What examples/echo.php takes; compression is on here anyway.
    } elseif (!preg_match('/^[a-z]+$/', $arg)) {
        fwrite(STDERR, "unknown argument \"$arg\"\n");
        exit(2);
    }
}
$config = $given + $config;
foreach ($config as $key => $value) {
    if ($value === null) {
        unset($config[$key]);
    }
}

final class CompressionEcho extends WebsocketServer
{
    public function onWorkerStart(int $worker): void
    {
        if ($worker === 0) {
            echo "listening on ws://127.0.0.1:{$this->getPort()}/\n";
            flush();
        }
    }

    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        $conn->send($data, $binary);
    }

    public function onError(?WebsocketConnection $conn, Throwable $e): void
    {
        fwrite(STDERR, 'error ' . ($conn ? $conn->id : '-') . ' ' . get_class($e) . ': '
            . str_replace("\n", ' ', $e->getMessage()) . "\n");
    }
}

(new CompressionEcho($config))->start();
