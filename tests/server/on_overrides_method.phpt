--TEST--
WebsocketServer: on(): a callable set with on() takes precedence over the subclass method
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
class S extends WebsocketServer
{
    public function onOpen(WebsocketConnection $c): void { echo "method onOpen\n"; }
    public function onMessage(WebsocketConnection $c, string $d, bool $b): void { $c->send("method: $d"); }
}
$srv = ws_start(function () {
    $s = new S(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) use ($s) {
        $c->send("on(): $d");
        // on() while running replaces the callable from the next event on.
        $s->on('message', fn(WebsocketConnection $c, string $d) => $c->send("replaced: $d"));
    });
    return $s;
});
$c = WsClient::connect($srv->port);
$c->send('one');
echo $c->read(), "\n";
$c->send('two');
echo $c->read(), "\n";
echo $c->close(), "\n";
echo $srv->stop();
?>
--EXPECT--
text "on(): one"
text "replaced: two"
close 1000 ""
method onOpen
