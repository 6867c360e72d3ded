--TEST--
WebsocketServer: max_receive_memory defaults to half of memory_limit, is kept when given, and is range-checked
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--INI--
memory_limit=64M
--FILE--
<?php
$budget = fn(array $c = []) => (new WebsocketServer($c))->getConfig()['max_receive_memory'];
var_dump($budget());
var_dump($budget(['max_receive_memory' => 0]));
var_dump($budget(['max_receive_memory' => 5 * 1024 * 1024]));
ini_set('memory_limit', '-1');
// Without a memory_limit: a quarter of the machine's memory per worker, at most 1 GiB.
$one = $budget();
$four = $budget(['workers' => 4]);
var_dump($one >= 1024 * 1024 && $one <= 1024 * 1024 * 1024, $four <= $one);
foreach ([-1, '8M', 1.5] as $bad) {
    try {
        new WebsocketServer(['max_receive_memory' => $bad]);
    } catch (Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
?>
--EXPECT--
int(33554432)
int(33554432)
int(5242880)
bool(true)
bool(true)
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "max_receive_memory" must be between 0 and 1099511627776, -1 given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "max_receive_memory" must be of type int, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "max_receive_memory" must be of type int, float given
