--TEST--
WebsocketServer: __construct(): every entry of 'subprotocols' must be an HTTP token
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach (['chat room', '', 'a,b', 'x"y', "caf\u{e9}", 'ok/no'] as $p) {
    try {
        new WebsocketServer(['subprotocols' => ['good', $p]]);
        echo "$p: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
new WebsocketServer(['subprotocols' => ['chat', 'v1.chat.example.com', "x-_~!#$%&'*+^|"]]);
echo "tokens accepted\n";
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "chat room", which is not a valid token
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "", which is not a valid token
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "a,b", which is not a valid token
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "x"y", which is not a valid token
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "café", which is not a valid token
WebsocketServer::__construct(): Argument #1 ($config) key "subprotocols" contains "ok/no", which is not a valid token
tokens accepted
