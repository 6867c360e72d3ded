--TEST--
WebsocketServer: __construct(): an unknown key throws ValueError, suggesting the closest known key
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
foreach (['prot', 'max_mesage_size', 'subprotocol', 'Host', 'completely_unrelated'] as $key) {
    try {
        new WebsocketServer(['host' => '127.0.0.1', $key => 1]);
        echo "$key: accepted\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
?>
--EXPECT--
WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "prot"; did you mean "port"?
WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "max_mesage_size"; did you mean "max_message_size"?
WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "subprotocol"; did you mean "subprotocols"?
WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "Host"; did you mean "host"?
WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "completely_unrelated"
