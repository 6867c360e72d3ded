--TEST--
WebsocketServer: send(): delivers to a connection id and returns true; false for an unknown id
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', fn(WebsocketConnection $c) => $c->send((string)$c->id));
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        [$cmd, $id] = explode(' ', $d);
        $id = (int)$id;
        switch ($cmd) {
            case 'text':
                var_dump($s->send($id, "from $c->id to $id"));
                break;
            case 'binary':
                var_dump($s->send($id, "\xff\x00\xfe", true));
                break;
            case 'invalid':
                try {
                    $s->send($id, "bad \xff utf-8");
                } catch (ValueError $e) {
                    echo $e->getMessage(), "\n";
                }
                break;
        }
        $c->send('done');
    });
    return $s;
});
$a = WsClient::connect($srv->port);
$idA = (int)$a->readFrame()['payload'];
$b = WsClient::connect($srv->port);
$idB = (int)$b->readFrame()['payload'];
var_dump($idA > 0, $idB > 0, $idA !== $idB);
$a->send("text $idB");
echo str_replace(["$idA", "$idB"], ['A', 'B'], $b->read()), "\n";
$a->read(); // done
$a->send("binary $idB");
echo $b->read(), "\n";
$a->read();
$a->send("text $idA");
echo str_replace(["$idA", "$idB"], ['A', 'B'], $a->read()), "\n";
$a->read();
foreach (['text 987654', 'text 0', 'text -1', "invalid $idB", 'binary 987654'] as $cmd) {
    $a->send($cmd);
    $a->read();
}
echo $b->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
text "from A to B"
binary 3: ff00fe
text "from A to A"
close 1000 ""
--- server
bool(true)
bool(true)
bool(true)
bool(false)
bool(false)
bool(false)
WebsocketServer::send(): Argument #2 ($data) must be valid UTF-8 for a text message; pass $binary = true to send bytes
bool(false)
