--TEST--
WebsocketServer: broadcast(): reaches every open client except exceptIds and returns the count
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
            case 'all':
                echo "all: ", $s->broadcast('to everyone'), "\n";
                break;
            case 'others':
                echo "others: ", $s->broadcast('not to the sender', false, [$c->id]), "\n";
                break;
            case 'binary':
                echo "binary: ", $s->broadcast("\xc3\x28", true, [$c->id, 987654]), "\n";
                break;
            case 'invalid':
                try {
                    $s->broadcast("\xc3\x28");
                } catch (ValueError $e) {
                    echo $e->getMessage(), "\n";
                }
                try {
                    $s->broadcast('x', false, ['1']);
                } catch (TypeError $e) {
                    echo $e->getMessage(), "\n";
                }
                $c->send('done');
                break;
        }
    });
    return $s;
});
$clients = ['A' => WsClient::connect($srv->port), 'B' => WsClient::connect($srv->port),
            'C' => WsClient::connect($srv->port)];
foreach (['all', 'others', 'binary'] as $cmd) {
    $clients['A']->send($cmd);
    foreach ($clients as $name => $c) {
        if ($cmd === 'all' || $name !== 'A') {
            echo "$name: ", $c->read(), "\n";
        }
    }
}
$clients['A']->send('invalid');
echo "A: ", $clients['A']->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
A: text "to everyone"
B: text "to everyone"
C: text "to everyone"
B: text "not to the sender"
C: text "not to the sender"
B: binary 2: c328
C: binary 2: c328
A: text "done"
--- server
all: 3
others: 2
binary: 2
WebsocketServer::broadcast(): Argument #1 ($data) must be valid UTF-8 for a text message; pass $binary = true to send bytes
WebsocketServer::broadcast(): Argument #3 ($exceptIds) must contain only int connection ids, string found
