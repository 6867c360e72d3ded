<?php
// A WebSocket server as tutorials teach it: stream_socket_server, one stream_select over the
// listening socket and every client, fread, the frame parsed and unmasked in PHP, fwrite to
// blocking sockets. Unfragmented frames of any size up to 16 MiB; no UTF-8 check, no
// fragmentation, no limits: the baseline that the extension replaces.
//
//   php bench/peers/php_select.php echo|chat PORT
//
// Unmasking XORs the payload with the repeated key as one string operation; the per-byte
// loop that many tutorials show is several times slower still.

[, $mode, $port] = $argv + [null, 'echo', '19100'];

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 16 * 1024 * 1024;

function encode(string $payload, int $opcode = 0x1): string
{
    $len = strlen($payload);
    if ($len < 126) {
        return chr(0x80 | $opcode) . chr($len) . $payload;
    }
    if ($len < 65536) {
        return chr(0x80 | $opcode) . chr(126) . pack('n', $len) . $payload;
    }
    return chr(0x80 | $opcode) . chr(127) . pack('J', $len) . $payload;
}

/** One whole frame from the front of $buffer (removed from it), or null until it has arrived. */
function decode(string &$buffer): ?array
{
    $have = strlen($buffer);
    if ($have < 2) {
        return null;
    }
    $opcode = ord($buffer[0]) & 0x0f;
    $len = ord($buffer[1]) & 0x7f;
    $offset = 2;
    if ($len === 126) {
        if ($have < 4) {
            return null;
        }
        $len = unpack('n', $buffer, 2)[1];
        $offset = 4;
    } elseif ($len === 127) {
        if ($have < 10) {
            return null;
        }
        $len = unpack('J', $buffer, 2)[1];
        $offset = 10;
    }
    if ($len > MAX_PAYLOAD) {
        return ['opcode' => 0x8, 'payload' => pack('n', 1009)];
    }
    if ($have < $offset + 4 + $len) {
        return null;
    }
    $mask = substr($buffer, $offset, 4);
    $payload = substr($buffer, $offset + 4, $len);
    $buffer = substr($buffer, $offset + 4 + $len);
    $key = str_repeat($mask, intdiv($len, 4) + 1);
    return ['opcode' => $opcode, 'payload' => $payload ^ substr($key, 0, $len)];
}

function handshake(string $request): ?string
{
    if (!preg_match('/^Sec-WebSocket-Key:\s*(\S+)\s*$/mi', $request, $m)) {
        return null;
    }
    $accept = base64_encode(sha1($m[1] . GUID, true));
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Accept: $accept\r\n\r\n";
}

function send_all($socket, string $data): bool
{
    while ($data !== '') {
        $n = @fwrite($socket, $data);
        if ($n === false || $n === 0) {
            return false;
        }
        $data = substr($data, $n);
    }
    return true;
}

$context = stream_context_create(['socket' => ['backlog' => 511]]);
$server = stream_socket_server("tcp://127.0.0.1:$port", $errno, $errstr,
    STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $context);
if (!$server) {
    fwrite(STDERR, "php_select: $errstr\n");
    exit(1);
}
echo "listening on ws://127.0.0.1:$port/\n";

$clients = [];  // id => socket
$buffers = [];  // id => unparsed input
$upgraded = []; // id => true once the 101 is sent

$drop = function (int $id) use (&$clients, &$buffers, &$upgraded) {
    fclose($clients[$id]);
    unset($clients[$id], $buffers[$id], $upgraded[$id]);
};

pcntl_async_signals(true);
$running = true;
pcntl_signal(SIGTERM, function () use (&$running) { $running = false; });
pcntl_signal(SIGINT, function () use (&$running) { $running = false; });

while ($running) {
    $read = $clients;
    $read[] = $server;
    $write = $except = null;
    if (@stream_select($read, $write, $except, null) === false) {
        continue; // a signal, or a descriptor past FD_SETSIZE (select(2) stops at 1024)
    }
    foreach ($read as $socket) {
        if ($socket === $server) {
            $client = @stream_socket_accept($server, 0);
            if ($client) {
                stream_set_read_buffer($client, 0);
                $id = (int) $client;
                $clients[$id] = $client;
                $buffers[$id] = '';
            }
            continue;
        }
        $id = (int) $socket;
        $data = fread($socket, 65536);
        if ($data === '' || $data === false) {
            $drop($id);
            continue;
        }
        $buffers[$id] .= $data;
        if (!isset($upgraded[$id])) {
            $end = strpos($buffers[$id], "\r\n\r\n");
            if ($end === false) {
                continue;
            }
            $response = handshake(substr($buffers[$id], 0, $end));
            if ($response === null) {
                send_all($socket, "HTTP/1.1 400 Bad Request\r\n\r\n");
                $drop($id);
                continue;
            }
            send_all($socket, $response);
            $upgraded[$id] = true;
            $buffers[$id] = substr($buffers[$id], $end + 4);
        }
        while (isset($clients[$id]) && ($frame = decode($buffers[$id])) !== null) {
            switch ($frame['opcode']) {
                case 0x1:
                case 0x2:
                    if ($mode === 'chat') {
                        $out = encode($frame['payload'], $frame['opcode']);
                        foreach ($upgraded as $to => $_) {
                            send_all($clients[$to], $out);
                        }
                    } else {
                        send_all($socket, encode($frame['payload'], $frame['opcode']));
                    }
                    break;
                case 0x8:
                    send_all($socket, encode(substr($frame['payload'], 0, 2), 0x8));
                    $drop($id);
                    break;
                case 0x9:
                    send_all($socket, encode($frame['payload'], 0xA));
                    break;
            }
        }
    }
}
