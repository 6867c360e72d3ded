<?php
// Echo server: sends every text or binary message back unchanged, with the same opcode.
// It is the target of the conformance suites, so it accepts messages of up to 16 MiB
// (in any number of fragments).
//
//   php -d extension=modules/websocket.so examples/echo.php [--host 127.0.0.1] [--port 9001]

require __DIR__ . '/options.php';

$options = example_options(['host' => '127.0.0.1', 'port' => 9001, 'workers' => 1]);

class EchoServer extends WebsocketServer
{
    public function onWorkerStart(int $worker): void
    {
        example_ready($this, $this->getConfig()['host']);
    }

    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        $conn->send($data, $binary);
    }
}

(new EchoServer([
    'host' => $options['host'],
    'port' => $options['port'],
    'workers' => $options['workers'],
    'max_frame_size' => 16 * 1024 * 1024,
    'max_message_size' => 16 * 1024 * 1024,
]))->start();
