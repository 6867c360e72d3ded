<?php
// Ratchet as a benchmark peer: IoServer + HttpServer + WsServer on ReactPHP's default loop, an
// echo or a chat that sends every message to every connection, as its tutorial shows (with
// the message's own opcode, so binary stays binary).
//
//   BENCH_AUTOLOAD=bench/.peers/ratchet/vendor/autoload.php php bench/peers/ratchet.php echo|chat PORT
//
// Without ev, uv or event the loop is stream_select() (at most 1024 descriptors).

use Ratchet\ConnectionInterface;
use Ratchet\Http\HttpServer;
use Ratchet\RFC6455\Messaging\Frame;
use Ratchet\RFC6455\Messaging\MessageInterface;
use Ratchet\Server\IoServer;
use Ratchet\WebSocket\MessageComponentInterface;
use Ratchet\WebSocket\WsServer;

require getenv('BENCH_AUTOLOAD') ?: __DIR__ . '/../.peers/ratchet/vendor/autoload.php';

[, $mode, $port] = $argv + [null, 'echo', '19100'];

final class BenchApp implements MessageComponentInterface
{
    private \SplObjectStorage $clients;

    public function __construct(private bool $chat)
    {
        $this->clients = new \SplObjectStorage();
    }

    public function onOpen(ConnectionInterface $conn)
    {
        $this->clients->attach($conn);
    }

    public function onMessage(ConnectionInterface $from, MessageInterface $msg)
    {
        $frame = new Frame($msg->getPayload(), true, $msg->isBinary() ? Frame::OP_BINARY : Frame::OP_TEXT);
        if (!$this->chat) {
            $from->send($frame);
            return;
        }
        foreach ($this->clients as $client) {
            $client->send($frame);
        }
    }

    public function onClose(ConnectionInterface $conn)
    {
        $this->clients->detach($conn);
    }

    public function onError(ConnectionInterface $conn, \Exception $e)
    {
        $conn->close();
    }
}

$server = IoServer::factory(new HttpServer(new WsServer(new BenchApp($mode === 'chat'))), (int) $port, '127.0.0.1');
echo "listening on ws://127.0.0.1:$port/\n";
$server->run();
