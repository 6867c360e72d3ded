--TEST--
WebsocketServer: every method throws Error when a subclass did not call parent::__construct()
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
class Forgetful extends WebsocketServer
{
    public function __construct() {}
}
$s = new Forgetful();
$calls = [
    'start' => [], 'stop' => [], 'on' => ['open', 'strlen'], 'send' => [1, 'x'],
    'broadcast' => ['x'], 'connections' => [], 'connectionCount' => [],
    'getConnection' => [1], 'addTimer' => [1, 'strlen'], 'clearTimer' => [1],
    'getPort' => [], 'getConfig' => [],
];
foreach ($calls as $method => $args) {
    try {
        $s->$method(...$args);
        echo "$method: no error\n";
    } catch (Error $e) {
        echo "$method: ", get_class($e), ': ', $e->getMessage(), "\n";
    }
}
?>
--EXPECT--
start: Error: WebsocketServer::__construct() was not called
stop: Error: WebsocketServer::__construct() was not called
on: Error: WebsocketServer::__construct() was not called
send: Error: WebsocketServer::__construct() was not called
broadcast: Error: WebsocketServer::__construct() was not called
connections: Error: WebsocketServer::__construct() was not called
connectionCount: Error: WebsocketServer::__construct() was not called
getConnection: Error: WebsocketServer::__construct() was not called
addTimer: Error: WebsocketServer::__construct() was not called
clearTimer: Error: WebsocketServer::__construct() was not called
getPort: Error: WebsocketServer::__construct() was not called
getConfig: Error: WebsocketServer::__construct() was not called
