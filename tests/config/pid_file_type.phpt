--TEST--
WebsocketServer: __construct(): 'pid_file' is null (the default) or a non-empty path string
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
var_dump((new WebsocketServer())->getConfig()['pid_file']);
var_dump((new WebsocketServer(['pid_file' => null]))->getConfig()['pid_file']);
var_dump((new WebsocketServer(['pid_file' => '/tmp/x.pid']))->getConfig()['pid_file']);
foreach ([123, false, ['/tmp/x.pid']] as $v) {
    try {
        new WebsocketServer(['pid_file' => $v]);
        echo "accepted\n";
    } catch (TypeError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
foreach (['', "/tmp/a\0b"] as $v) {
    try {
        new WebsocketServer(['pid_file' => $v]);
        echo "accepted\n";
    } catch (ValueError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
?>
--EXPECTF--
NULL
NULL
string(10) "/tmp/x.pid"
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "pid_file" must be of type ?string, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "pid_file" must be of type ?string, bool given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "pid_file" must be of type ?string, array given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "pid_file" %s
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "pid_file" %s
