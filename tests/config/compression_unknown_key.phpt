--TEST--
WebsocketServer: an unknown or integer key inside 'compression' throws ValueError naming it; a misspelt 'compression' is suggested
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$bad = [
    ['window_bits' => 10],
    ['level' => 1, 'Level' => 1],
    ['server_no_context_takeover' => true],
    [15],
    ['enabled' => true],
];
foreach ($bad as $compression) {
    try {
        new WebsocketServer(['compression' => $compression]);
        echo "accepted: ", json_encode($compression), "\n";
    } catch (ValueError $e) {
        echo get_class($e), ": ", $e->getMessage(), "\n";
    }
}
try {
    new WebsocketServer(['compresion' => true]);
    echo "accepted\n";
} catch (ValueError $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
?>
--EXPECT--
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" contains unknown key "window_bits"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" contains unknown key "Level"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" contains unknown key "server_no_context_takeover"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" contains unknown key "(an integer)"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "compression" contains unknown key "enabled"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) contains unknown key "compresion"; did you mean "compression"?
