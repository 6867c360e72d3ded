<?php
// tests/hardening/server.php - the server under test of the hardening suite.
//
//   php -d extension=modules/websocket.so tests/hardening/server.php '<json config>' [mode]
//
// The JSON object is merged over ['host' => '127.0.0.1', 'port' => 0] and handed to the
// constructor as it is, so every key the tests use goes through the real validation. Prints
// `listening on ws://127.0.0.1:PORT/` from onWorkerStart, then one line per event, which the
// tests read from stdout:
//
//   open ID IP              close ID CODE REASON      error ID|- MESSAGE
//   drain ID BUFFERED       message ID LENGTH         start returned / exit
//
// Modes:
//   lab    echo server; a text message "cmd:{json}" runs a command instead (see command()).
//   chain  lab, and onClose broadcasts "left ID" and closes the open connection with the next
//          higher id (callbacks that change the connection set while the server iterates).
//   chat   the stress server: onOpen sends "w ID SEQ"; every message from a client becomes
//          broadcast "b SEQ DATA" with SEQ counting broadcasts; "cmd:stat" answers
//          "stat CONNECTIONS SEQ". Quiet: prints only errors and a few lines.

if (!extension_loaded('websocket')) {
    fwrite(STDERR, "websocket extension not loaded\n");
    exit(2);
}

// PHP's CLI ignores SIGPIPE; a server embedded elsewhere may not. Restore the default so that
// a write to a reset connection kills this process unless the extension itself prevents it.
if (function_exists('pcntl_signal')) {
    pcntl_signal(SIGPIPE, SIG_DFL);
}

$config = json_decode($argv[1] ?? '{}', true, 16, JSON_THROW_ON_ERROR);
$mode = $argv[2] ?? 'lab';
$config += ['host' => '127.0.0.1', 'port' => 0];

function out(string $line): void
{
    echo $line, "\n";
}

/** A numbered message of exactly $size bytes: "%010d " then filler. */
function numbered(int $n, int $size): string
{
    $head = sprintf('%010d ', $n);
    return $size <= 11 ? $head : $head . str_repeat(chr(97 + $n % 26), $size - 11);
}

/** Bytes of the frame the server writes for a payload of $n bytes. */
function frame_bytes(int $n): int
{
    return $n + ($n < 126 ? 2 : ($n < 65536 ? 4 : 10));
}

final class Lab extends WebsocketServer
{
    public string $mode = 'lab';
    /** @var array<int, int> id => timer of a running flood */
    private array $floods = [];
    private int $seq = 0;

    public function onWorkerStart(int $worker): void
    {
        out("listening on ws://127.0.0.1:{$this->getPort()}/");
    }

    public function onWorkerStop(int $worker): void
    {
        out('workerStop');
    }

    public function onOpen(WebsocketConnection $c): void
    {
        if ($this->mode === 'chat') {
            $c->send("w $c->id $this->seq");
            return;
        }
        out("open $c->id $c->remoteAddress");
    }

    public function onMessage(WebsocketConnection $c, string $data, bool $binary): void
    {
        if ($this->mode === 'chat') {
            if ($data === 'cmd:stat') {
                $c->send('stat ' . $this->connectionCount() . " $this->seq");
                return;
            }
            $this->seq++;
            $this->broadcast("b $this->seq $data");
            return;
        }
        if (!$binary && str_starts_with($data, 'cmd:')) {
            $this->command($c, json_decode(substr($data, 4), true, 16, JSON_THROW_ON_ERROR));
            return;
        }
        out("message $c->id " . strlen($data));
        $c->send($data, $binary);
    }

    public function onClose(WebsocketConnection $c, int $code, string $reason): void
    {
        if (isset($this->floods[$c->id])) {
            $this->clearTimer($this->floods[$c->id]);
            unset($this->floods[$c->id]);
        }
        if ($this->mode === 'chat') {
            return;
        }
        out("close $c->id $code $reason");
        if ($this->mode === 'chain') {
            $n = $this->broadcast("left $c->id");
            out("broadcast left $c->id to $n");
            $next = null;
            foreach ($this->connections() as $id => $other) {
                if ($id > $c->id && $other->isOpen() && ($next === null || $id < $next->id)) {
                    $next = $other;
                }
            }
            if ($next) {
                out("chain closes $next->id");
                $next->close(1000, "after $c->id");
            }
        }
    }

    public function onDrain(WebsocketConnection $c): void
    {
        out("drain $c->id {$c->bufferedAmount()}");
    }

    public function onError(?WebsocketConnection $c, Throwable $e): void
    {
        $msg = str_replace("\n", ' ', $e->getMessage());
        out('error ' . ($c ? $c->id : '-') . ' ' . get_class($e) . ": $msg");
    }

    private function command(WebsocketConnection $c, array $cmd): void
    {
        $target = $cmd['target'] ?? $c->id;
        switch ($cmd['op']) {
            case 'flood':
                // Repeating timer: every `every` s, `per_tick` numbered binary messages of
                // `size` bytes to `target`, until `count` attempts. Prints "s ID N 1|0" per
                // attempt and "flood_done ID ATTEMPTS ACCEPTED" at the end.
                $n = 0;
                $accepted = 0;
                $this->floods[$target] = $this->addTimer($cmd['every'], function (int $timer) use (
                    $cmd, $target, &$n, &$accepted
                ) {
                    for ($i = 0; $i < $cmd['per_tick'] && $n < $cmd['count']; $i++, $n++) {
                        $ok = $this->send($target, numbered($n, $cmd['size']), true);
                        $accepted += $ok ? 1 : 0;
                        out("s $target $n " . ($ok ? 1 : 0));
                    }
                    if ($n >= $cmd['count']) {
                        $this->clearTimer($timer);
                        unset($this->floods[$target]);
                        out("flood_done $target $n $accepted");
                    }
                }, true);
                out("flood_started $target");
                break;
            case 'bflood':
                // Like flood, but broadcast() to everyone: prints "bc N COUNT" per broadcast
                // (COUNT: connections that took it) and "bflood_done N" at the end.
                $n = 0;
                $this->addTimer($cmd['every'], function (int $timer) use ($cmd, &$n) {
                    for ($i = 0; $i < $cmd['per_tick'] && $n < $cmd['count']; $i++, $n++) {
                        out("bc $n " . $this->broadcast(numbered($n, $cmd['size']), true));
                    }
                    if ($n >= $cmd['count']) {
                        $this->clearTimer($timer);
                        out("bflood_done $n");
                    }
                }, true);
                break;
            case 'stats':
                out('stats ' . json_encode($this->stats()));
                break;
            case 'ping':
                $conn = $this->getConnection($target);
                out("ping $target " . ($conn && $conn->ping('p') ? 1 : 0));
                break;
            case 'fill':
                // `count` numbered binary messages of `size` bytes at once; prints the frame
                // bytes accepted and bufferedAmount() right after.
                $bytes = 0;
                $accepted = 0;
                for ($i = 0; $i < $cmd['count']; $i++) {
                    if ($this->send($target, numbered($i, $cmd['size']), true)) {
                        $accepted++;
                        $bytes += frame_bytes($cmd['size']);
                    }
                }
                $conn = $this->getConnection($target);
                out("filled $target $accepted $bytes " . ($conn ? $conn->bufferedAmount() : -1));
                break;
            case 'buffered':
                $conn = $this->getConnection($target);
                out("buffered $target " . ($conn ? $conn->bufferedAmount() : -1));
                break;
            case 'numbers':
                // `count` numbered text messages ("N " and N % 97 + `pad` bytes of filler) to
                // the sender, `batch` per tick of a repeating timer; with `stop_at`, stop() is called once that many send() calls returned
                // true (in the middle of a batch, which goes on). Prints "accepted N" after
                // every batch and "stopping N" when it calls stop().
                $n = 0;
                $accepted = 0;
                $failed = false;
                $stopped = false;
                $this->addTimer($cmd['every'], function (int $timer) use (
                    $cmd, $c, &$n, &$accepted, &$failed, &$stopped
                ) {
                    for ($i = 0; $i < $cmd['batch'] && $n < $cmd['count']; $i++, $n++) {
                        $msg = "$n " . str_repeat('x', $n % 97 + ($cmd['pad'] ?? 0));
                        if ($c->send($msg)) {
                            if ($failed) {
                                out("nonprefix $n");
                            }
                            $accepted++;
                        } else {
                            $failed = true;
                        }
                        if (!$stopped && isset($cmd['stop_at']) && $accepted >= $cmd['stop_at']) {
                            $stopped = true;
                            out("stopping $accepted");
                            $this->stop();
                        }
                    }
                    out("accepted $accepted");
                    if ($n >= $cmd['count'] || ($stopped && $failed)) {
                        $this->clearTimer($timer);
                        out('numbers_done');
                    }
                }, true);
                break;
            case 'big':
                $ok = $c->send(str_repeat('B', $cmd['size']), true);
                out("big $c->id " . ($ok ? 1 : 0));
                break;
            case 'close':
                // close() on `target` with `code` (default 1000); prints "closed ID" right
                // after, when the Close is queued.
                $conn = $this->getConnection($target);
                $conn?->close($cmd['code'] ?? 1000, $cmd['reason'] ?? '');
                out("closed $target");
                break;
            case 'stop':
                out('stop called');
                $this->stop();
                break;
            case 'closeall':
                // Closes every connection (the sender included) while iterating the list.
                foreach ($this->connections() as $id => $conn) {
                    out("closing $id");
                    $conn->close(1000, 'closeall');
                }
                out('closeall done');
                break;
            default:
                out('unknown command ' . $cmd['op']);
        }
    }
}

$server = new Lab($config);
$server->mode = $mode;
register_shutdown_function(fn() => out('exit'));
$server->start();
out('start returned');
