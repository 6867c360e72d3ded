--TEST--
WebsocketConnection: the request properties are read-only; writing or unsetting them throws Error
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$srv = ws_start(function () {
    $s = new WebsocketServer(ws_config());
    $s->on('open', function (WebsocketConnection $c) {
        foreach (['id' => 5, 'remoteAddress' => 'x', 'remotePort' => 1, 'method' => 'POST', 'path' => '/x',
                  'query' => 'q', 'headers' => [], 'subprotocol' => 'p'] as $name => $value) {
            try {
                $c->$name = $value;
                echo "$name: written\n";
            } catch (Error $e) {
                echo $e->getMessage(), "\n";
            }
        }
        try {
            unset($c->id);
        } catch (Error $e) {
            echo $e->getMessage(), "\n";
        }
        try {
            $c->headers['host'] = 'evil';
        } catch (Error $e) {
            echo $e->getMessage(), "\n";
        }
        var_dump($c->path, $c->headers['host'] !== 'evil');
    });
    return $s;
});
$c = WsClient::connect($srv->port, '/ro');
$c->close();
echo $srv->stop();
?>
--EXPECT--
Cannot modify readonly property WebsocketConnection::$id
Cannot modify readonly property WebsocketConnection::$remoteAddress
Cannot modify readonly property WebsocketConnection::$remotePort
Cannot modify readonly property WebsocketConnection::$method
Cannot modify readonly property WebsocketConnection::$path
Cannot modify readonly property WebsocketConnection::$query
Cannot modify readonly property WebsocketConnection::$headers
Cannot modify readonly property WebsocketConnection::$subprotocol
Cannot unset readonly property WebsocketConnection::$id
Cannot modify readonly property WebsocketConnection::$headers
string(3) "/ro"
bool(true)
