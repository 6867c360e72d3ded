<?php
// Echo server: sends every text or binary message back unchanged, with the same opcode.
// It is the target of the conformance suites, so it accepts messages of up to 16 MiB
// (in any number of fragments).
//
//   php -d extension=modules/websocket.so examples/echo.php [--host 127.0.0.1] [--port 9001] [--workers 4]
//   php -d extension=modules/websocket.so examples/echo.php reload|status|stop [--port 9001]
//   acts on that running server (see options.php).

require __DIR__ . '/options.php';

$options = example_options(['name' => 'echo', 'host' => '127.0.0.1', 'port' => 9001, 'workers' => 1]);

class EchoServer extends WebsocketServer
{
    public function onWorkerStart(int $worker): void
    {
        example_ready($this, $this->getConfig()['host'], $worker);
    }

    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        $conn->send($data, $binary);
    }
}

example_run(new EchoServer(example_config($options) + [
    'max_frame_size' => 16 * 1024 * 1024,
    'max_message_size' => 16 * 1024 * 1024,
]), $options);
