--TEST--
WebsocketServer: an answer of the wrong shape from onHandshake answers 500 and reports a TypeError/ValueError
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded');
if (!function_exists('pcntl_fork')) die('skip pcntl needed'); ?>
--FILE--
<?php
require __DIR__ . '/../inc/server.inc';
$answers = [
    'string' => 'yes',
    'float' => 1.5,
    'status-type' => ['status' => '401'],
    'headers-type' => ['headers' => 'X-A: b'],
    'header-value' => ['headers' => ['X-A' => 5]],
    'list-headers' => ['headers' => ['X-A: b']],
    'body-type' => ['status' => 400, 'body' => 12],
    'protocol-type' => ['protocol' => 1],
    'unknown-key' => ['protocols' => 'chat'],
    'int-key' => [401],
];
$srv = ws_start(function () use ($answers) {
    $s = new WebsocketServer(ws_config());
    $s->on('handshake', fn(WebsocketConnection $c) => $answers[substr($c->path, 1)]);
    $s->on('error', fn($c, Throwable $e) => print(substr($c->path, 1) . ': ' . get_class($e) . ': ' . $e->getMessage() . "\n"));
    return $s;
});
foreach (array_keys($answers) as $name) {
    echo "$name: ", strtok(ws_http($srv->port, ws_upgrade_request("/$name")), "\r"), "\n";
}
echo "--- server\n", $srv->stop();
?>
--EXPECT--
string: HTTP/1.1 500 Internal Server Error
float: HTTP/1.1 500 Internal Server Error
status-type: HTTP/1.1 500 Internal Server Error
headers-type: HTTP/1.1 500 Internal Server Error
header-value: HTTP/1.1 500 Internal Server Error
list-headers: HTTP/1.1 500 Internal Server Error
body-type: HTTP/1.1 500 Internal Server Error
protocol-type: HTTP/1.1 500 Internal Server Error
unknown-key: HTTP/1.1 500 Internal Server Error
int-key: HTTP/1.1 500 Internal Server Error
--- server
string: TypeError: onHandshake must return null, bool, int or array, string returned
float: TypeError: onHandshake must return null, bool, int or array, float returned
status-type: TypeError: the answer's "status" must be of type int, string given
headers-type: TypeError: the "headers" entry of the answer must be of type array, string given
header-value: TypeError: answer headers must be an array of string => string
list-headers: TypeError: answer headers must be an array of string => string
body-type: TypeError: the answer's "body" must be of type string, int given
protocol-type: TypeError: the answer's "protocol" must be of type string, int given
unknown-key: ValueError: unknown key "protocols" in the answer; use status, headers, body, protocol
int-key: ValueError: unknown key "(integer)" in the answer; use status, headers, body, protocol
