<?php
// tests/workers/server.php - the server under test of the workers suite (tests/workers/).
//
//   php -d extension=modules/websocket.so tests/workers/server.php '<json config>' [COMMAND] [APP]
//
// The JSON object is merged over ['host' => '127.0.0.1', 'port' => 0] and handed to the
// constructor as it is (workers, pid_file, bus_buffer_size, shutdown_timeout, ...), so every key
// goes through the real validation. COMMAND is `start` (the default) or `stop`, `reload`,
// `status`: those call $server->control(COMMAND) and exit with its status. APP (default
// tests/workers/app.php, or $WS_WORKERS_APP) is the application code: each worker `require`s it
// in onWorkerStart, so a test rewrites that file and reloads to run new code. It must define
// app_version(): string. If it does not load, the worker reports "app error: ..." on stderr and
// ends with a fatal error, which is what the contract calls a worker that fails to start.
//
// Lines on stdout (one write each, so the workers' lines never mix):
//   ready worker=W pid=P port=PORT version=V   onWorkerStart, once the app is loaded
//   stop worker=W pid=P                        onWorkerStop
//   error ID|- CLASS: MESSAGE                  onError
//   close ID CODE worker=W pid=P               onClose
//   sleeping worker=W pid=P                    before a sleep:S command sleeps
//   send_failed FROM TO                        a send:ID:X whose send() returned false
//   start returned pid=P                       start() returned (the master, or the single process)
//
// Commands: a client's text message "NAME" or "NAME:ARGS" (a message that matches none is
// echoed unchanged, binary messages too). Replies are text messages to the sender.
//   e:ANY            echo the whole message back ("e:ANY")
//   id               "id ID WORKER PID"  (this connection's id, workerId(), getmypid())
//   version          "version V"        (app_version() of the code this worker loaded)
//   count            "count N"          (connectionCount())
//   opens            "opens N"          (onOpen calls in this worker process)
//   stats            "stats JSON"       (json_encode(stats()))
//   bcast:X          broadcast(X), no reply
//   bcastx:X         broadcast(X) to everyone but the sender, no reply
//   bcastn:X         broadcast(X), reply "bcast N" (the local count it returned)
//   send:ID:X        send(ID, X), no reply (prints send_failed when it returns false)
//   trysend:ID:X     send(ID, X), reply "sent 1|0"
//   close:ID:CODE    close(ID, CODE, "by request"), reply "closed 1|0"
//   join:R / leave:R           $conn->join(R) / leave(R), reply "joined R 1|0" / "left R 1|0"
//   sjoin:ID:R / sleave:ID:R   $server->join(ID, R) / leave(ID, R), reply "sjoined R 1|0" / "sleft R 1|0"
//   rooms            "rooms JSON"       ($conn->rooms())
//   pub:R:X          publish(R, X), reply "published N" (the local count)
//   pubx:R:IDS:X     publish(R, X, false, IDS), IDS comma-separated; reply "published N"
//   size:R           "size R N"         (roomSize(R))
//   sleep:S          sleeps S seconds inside the callback (a stuck worker), then replies "slept"
//   set:K:V          $conn->data[K] = ['v' => V, 'len' => strlen(V)] and $conn->{"p_K"} = V; "set K"
//   get:K            "got K JSON" with JSON [data[K]['v'], data[K]['len'], $conn->{"p_K"}] (null if unset)
//   die              SIGKILL to this worker
//   exit:N           exit(N) in the callback
//   fatal            a fatal error (memory exhausted), which no callback boundary can catch
//   undefined        calls an undefined function: an Error, which goes to onError
//   stopserver       $server->stop()

if (!extension_loaded('websocket')) {
    fwrite(STDERR, "websocket extension not loaded\n");
    exit(2);
}

$config = json_decode($argv[1] ?? '{}', true, 16, JSON_THROW_ON_ERROR);
$command = $argv[2] ?? 'start';
$app = $argv[3] ?? (getenv('WS_WORKERS_APP') ?: __DIR__ . '/app.php');
$config += ['host' => '127.0.0.1', 'port' => 0];

function out(string $line): void
{
    echo "$line\n";
}

final class TestServer extends WebsocketServer
{
    public string $app = '';
    private int $opens = 0;

    public function onWorkerStart(int $worker): void
    {
        if (function_exists('opcache_invalidate')) {
            opcache_invalidate($this->app, true);
        }
        try {
            require $this->app;
        } catch (Throwable $e) {
            $msg = str_replace("\n", ' ', $e->getMessage());
            fwrite(STDERR, "app error: " . get_class($e) . ": $msg\n");
            trigger_error("worker $worker cannot load $this->app", E_USER_ERROR);
        }
        out("ready worker=$worker pid=" . getmypid() . " port={$this->getPort()} version="
            . app_version());
    }

    public function onWorkerStop(int $worker): void
    {
        out("stop worker=$worker pid=" . getmypid());
    }

    public function onOpen(WebsocketConnection $c): void
    {
        $this->opens++;
    }

    public function onClose(WebsocketConnection $c, int $code, string $reason): void
    {
        out("close $c->id $code worker={$this->workerId()} pid=" . getmypid());
    }

    public function onError(?WebsocketConnection $c, Throwable $e): void
    {
        $msg = str_replace("\n", ' ', $e->getMessage());
        out('error ' . ($c ? $c->id : '-') . ' ' . get_class($e) . ": $msg");
    }

    public function onMessage(WebsocketConnection $c, string $data, bool $binary): void
    {
        if ($binary) {
            $c->send($data, true);
            return;
        }
        [$cmd, $args] = explode(':', $data, 2) + [1 => ''];
        switch ($cmd) {
            case 'e':
                $c->send($data);
                break;
            case 'id':
                $c->send("id $c->id {$this->workerId()} " . getmypid());
                break;
            case 'version':
                $c->send('version ' . app_version());
                break;
            case 'count':
                $c->send('count ' . $this->connectionCount());
                break;
            case 'opens':
                $c->send("opens $this->opens");
                break;
            case 'stats':
                $c->send('stats ' . json_encode($this->stats(), JSON_THROW_ON_ERROR));
                break;
            case 'bcast':
                $this->broadcast($args);
                break;
            case 'bcastx':
                $this->broadcast($args, false, [$c->id]);
                break;
            case 'bcastn':
                $c->send('bcast ' . $this->broadcast($args));
                break;
            case 'send':
                [$to, $x] = explode(':', $args, 2) + [1 => ''];
                if (!$this->send((int)$to, $x)) {
                    out("send_failed $c->id $to");
                }
                break;
            case 'trysend':
                [$to, $x] = explode(':', $args, 2) + [1 => ''];
                $c->send('sent ' . (int)$this->send((int)$to, $x));
                break;
            case 'close':
                [$to, $code] = explode(':', $args, 2) + [1 => '1000'];
                $c->send('closed ' . (int)$this->close((int)$to, (int)$code, 'by request'));
                break;
            case 'join':
                $c->send("joined $args " . (int)$c->join($args));
                break;
            case 'leave':
                $c->send("left $args " . (int)$c->leave($args));
                break;
            case 'sjoin':
                [$id, $room] = explode(':', $args, 2) + [1 => ''];
                $c->send("sjoined $room " . (int)$this->join((int)$id, $room));
                break;
            case 'sleave':
                [$id, $room] = explode(':', $args, 2) + [1 => ''];
                $c->send("sleft $room " . (int)$this->leave((int)$id, $room));
                break;
            case 'rooms':
                $rooms = $c->rooms();
                sort($rooms);
                $c->send('rooms ' . json_encode($rooms, JSON_THROW_ON_ERROR));
                break;
            case 'pub':
                [$room, $x] = explode(':', $args, 2) + [1 => ''];
                $c->send('published ' . $this->publish($room, $x));
                break;
            case 'pubx':
                [$room, $ids, $x] = explode(':', $args, 3) + [1 => '', 2 => ''];
                $except = $ids === '' ? [] : array_map('intval', explode(',', $ids));
                $c->send('published ' . $this->publish($room, $x, false, $except));
                break;
            case 'size':
                $c->send("size $args " . $this->roomSize($args));
                break;
            case 'sleep':
                out("sleeping worker={$this->workerId()} pid=" . getmypid());
                usleep((int)((float)$args * 1e6));
                $c->send('slept');
                break;
            case 'set':
                [$k, $v] = explode(':', $args, 2) + [1 => ''];
                $data = is_array($c->data) ? $c->data : [];
                $data[$k] = ['v' => $v, 'len' => strlen($v)];
                $c->data = $data;
                $c->{"p_$k"} = $v;
                $c->send("set $k");
                break;
            case 'get':
                $d = is_array($c->data) ? ($c->data[$args] ?? null) : null;
                $c->send("got $args " . json_encode([$d['v'] ?? null, $d['len'] ?? null,
                    $c->{"p_$args"} ?? null], JSON_THROW_ON_ERROR));
                break;
            case 'die':
                posix_kill(getmypid(), SIGKILL);
                break;
            case 'exit':
                exit((int)$args);
            case 'fatal':
                ini_set('memory_limit', (string)(memory_get_usage() + (4 << 20)));
                $hog = str_repeat('x', 64 << 20);
                $c->send('not fatal ' . strlen($hog));
                break;
            case 'undefined':
                $f = 'no_such_function_' . mt_rand();
                $f();
                break;
            case 'stopserver':
                $this->stop();
                break;
            default:
                $c->send($data);
        }
    }
}

$server = new TestServer($config);
if ($command !== 'start') {
    exit($server->control($command));
}
$server->app = $app;
$server->start();
out('start returned pid=' . getmypid());
