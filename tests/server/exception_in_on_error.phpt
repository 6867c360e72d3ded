--TEST--
WebsocketServer: an exception thrown by onError is reported with the original one and the server survives
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(<<<'PHP'
    $s = new WebsocketServer(ws_config());
    $s->on('message', function (WebsocketConnection $c, string $d) {
        if ($d === 'boom') {
            throw new LogicException('original');
        }
        $c->send("echo $d");
    });
    $s->on('error', function (?WebsocketConnection $c, Throwable $e) {
        echo "onError got: ", $e->getMessage(), "\n";
        throw new RuntimeException('from the error handler');
    });
    return $s;
    PHP);
$c = WsClient::connect($srv->port);
$c->send('boom');
$c->send('next');
echo $c->read(), "\n";
$c->send('boom');
$c->send('again');
echo $c->read(), "\n";
echo $c->close(), "\n";
echo "--- server\n", $srv->stop();
?>
--EXPECTF--
text "echo next"
text "echo again"
close 1000 ""
--- server
onError got: original
WebsocketServer: uncaught LogicException in a callback:
LogicException: original in %s:%d
Stack trace:
#0 [internal function]: {closure}(Object(WebsocketConnection), 'boom', false)
#1 %s(%d): WebsocketServer->start()
#2 %s(%d): ws_child_run(Object(Closure), Resource id #%d)
#3 {main}
WebsocketServer: uncaught RuntimeException in the error handler:
RuntimeException: from the error handler in %s:%d
Stack trace:
#0 [internal function]: {closure}(Object(WebsocketConnection), Object(LogicException))
#1 %s(%d): WebsocketServer->start()
#2 %s(%d): ws_child_run(Object(Closure), Resource id #%d)
#3 {main}
onError got: original
WebsocketServer: uncaught LogicException in a callback:
LogicException: original in %s:%d
Stack trace:
#0 [internal function]: {closure}(Object(WebsocketConnection), 'boom', false)
#1 %s(%d): WebsocketServer->start()
#2 %s(%d): ws_child_run(Object(Closure), Resource id #%d)
#3 {main}
WebsocketServer: uncaught RuntimeException in the error handler:
RuntimeException: from the error handler in %s:%d
Stack trace:
#0 [internal function]: {closure}(Object(WebsocketConnection), Object(LogicException))
#1 %s(%d): WebsocketServer->start()
#2 %s(%d): ws_child_run(Object(Closure), Resource id #%d)
#3 {main}
