--TEST--
WebsocketServer: an exception from a destructor run when a connection is released goes to onError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
class Session
{
    public function __construct(private string $name) {}

    public function __destruct()
    {
        echo "destructing $this->name\n";
        throw new RuntimeException("from the destructor of $this->name");
    }
}
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) { $c->data = new Session(substr($c->path, 1)); });
    $s->on('message', function (WebsocketConnection $c, string $d) {
        echo "onMessage $d\n";
        $c->send("echo $d");
    });
    $s->on('close', fn(WebsocketConnection $c, int $code) => print("onClose $c->path $code\n"));
    $s->on('error', fn(?WebsocketConnection $c, Throwable $e) => print("onError: " . $e->getMessage() . "\n"));
    ws_ready($s);
    $s->start();
    echo "start() returned\n";
});
$a = WsClient::connect($srv->port, '/a');
$b = WsClient::connect($srv->port, '/b', [], 1.0);
$a->close();
$srv->waitFor('onError');
$b->send('b is still served');
echo $b->read(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECT--
text "echo b is still served"
--- server
onClose /a 1000
destructing a
onError: from the destructor of a
onMessage b is still served
onClose /b 1001
destructing b
onError: from the destructor of b
start() returned
