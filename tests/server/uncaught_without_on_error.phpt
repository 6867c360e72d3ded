--TEST--
WebsocketServer: without onError an exception is printed to stderr with its trace and the server keeps running
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
// A string body runs in its own php process, whose stderr is captured too.
$srv = ws_start(<<<'PHP'
    class S extends WebsocketServer
    {
        public function onMessage(WebsocketConnection $c, string $d, bool $b): void
        {
            if ($d === 'boom') {
                throw new RuntimeException('boom from onMessage', 42);
            }
            $c->send("echo $d");
        }
    }
    return new S(ws_config());
    PHP);
$c = WsClient::connect($srv->port);
$c->send('boom');
$c->send('next');
echo $c->read(), "\n";
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
text "echo next"
close 1000 ""
--- server
WebsocketServer: uncaught RuntimeException in a callback:
RuntimeException: boom from onMessage in %s:%d
Stack trace:
#0 [internal function]: S->onMessage(Object(WebsocketConnection), 'boom', false)
#1 %s(%d): WebsocketServer->start()
#2 %s(%d): ws_child_run(Object(Closure), Resource id #%d)
#3 {main}
