--TEST--
WebsocketServer: publish(): reaches the room's members only, skips exceptIds, returns the count
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        switch ($d) {
            case 'join':
                $c->join('room');
                $c->send('joined');
                return;
            case 'text':
                echo "text: ", $s->publish('room', 'to the room'), "\n";
                break;
            case 'except':
                echo "except: ", $s->publish('room', 'not to the sender', false, [$c->id, 987654]), "\n";
                break;
            case 'binary':
                echo "binary: ", $s->publish('room', "\xc3\x28", true), "\n";
                break;
            case 'empty':
                echo "empty room: ", $s->publish('nobody here', 'lost'), "\n";
                break;
            case 'invalid':
                try {
                    $s->publish('room', "\xc3\x28");
                } catch (ValueError $e) {
                    echo get_class($e), "\n";
                }
                try {
                    $s->publish('room', 'x', false, ['1']);
                } catch (TypeError $e) {
                    echo get_class($e), "\n";
                }
                break;
        }
        // Everyone gets this after what the publish sent, so a non-member that got nothing
        // before it got nothing at all.
        $s->broadcast("end $d");
    });
    return $s;
});
$a = WsClient::connect($srv->port);
$b = WsClient::connect($srv->port);
$c = WsClient::connect($srv->port);
foreach ([$a, $b] as $m) {
    $m->send('join');
    echo $m->read(), "\n";
}
foreach (['text' => $c, 'except' => $a, 'binary' => $b, 'empty' => $a, 'invalid' => $c] as $cmd => $from) {
    echo "-- $cmd\n";
    $from->send($cmd);
    foreach (['A' => $a, 'B' => $b, 'C' => $c] as $name => $cl) {
        do {
            $f = $cl->read();
            echo "$name: $f\n";
        } while (!str_starts_with($f, 'text "end') && $f !== 'TIMEOUT' && $f !== 'EOF');
    }
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "joined"
text "joined"
-- text
A: text "to the room"
A: text "end text"
B: text "to the room"
B: text "end text"
C: text "end text"
-- except
A: text "end except"
B: text "not to the sender"
B: text "end except"
C: text "end except"
-- binary
A: binary 2: c328
A: text "end binary"
B: binary 2: c328
B: text "end binary"
C: text "end binary"
-- empty
A: text "end empty"
B: text "end empty"
C: text "end empty"
-- invalid
A: text "end invalid"
B: text "end invalid"
C: text "end invalid"
--- server
text: 2
except: 1
binary: 2
empty room: 0
ValueError
TypeError
