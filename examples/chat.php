<?php
// Chat server: every text message goes, unchanged, to every connected client (the sender
// included), whichever worker process holds it. GET / serves chat.html, so a browser is the client.
//
//   php -d extension=modules/websocket.so examples/chat.php [--host 0.0.0.0] [--port 8000] [--workers 4]
//   then open http://localhost:8000/ in two tabs.
//   php -d extension=modules/websocket.so examples/chat.php reload|status|stop [--port 8000]
//   acts on that running server (see options.php).

require __DIR__ . '/options.php';

$options = example_options(['name' => 'chat', 'host' => '0.0.0.0', 'port' => 8000, 'workers' => 1]);

class ChatServer extends WebsocketServer
{
    private string $page;

    public function __construct(array $config)
    {
        parent::__construct($config);
        $this->page = file_get_contents(__DIR__ . '/chat.html');
    }

    public function onWorkerStart(int $worker): void
    {
        example_ready($this, $this->getConfig()['host'], $worker);
    }

    public function onRequest(WebsocketConnection $conn): array
    {
        if ($conn->path === '/' || $conn->path === '/index.html') {
            return [
                'status' => 200,
                'headers' => ['Content-Type' => 'text/html; charset=utf-8', 'Cache-Control' => 'no-cache'],
                'body' => $this->page,
            ];
        }
        return ['status' => 404, 'body' => "Not found.\n"];
    }

    public function onMessage(WebsocketConnection $conn, string $data, bool $binary): void
    {
        if (!$binary) {
            $this->broadcast($data);
        }
    }
}

example_run(new ChatServer(example_config($options) + [
    'max_message_size' => 64 * 1024,
]), $options);
