--TEST--
WebsocketServer: 'compression' is off by default; true, [] and partial arrays show the effective settings in getConfig()
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
function show(string $what, array $config): void
{
    echo "$what: ";
    var_export((new WebsocketServer($config))->getConfig()['compression']);
    echo "\n";
}
show('default', []);
show('false', ['compression' => false]);
show('true', ['compression' => true]);
show('[]', ['compression' => []]);
show('partial', ['compression' => ['level' => 6, 'server_context_takeover' => true, 'min_size' => 0]]);
show('every key', ['compression' => [
    'min_size' => 1000, 'level' => 9, 'memory_level' => 1, 'client_context_takeover' => true,
    'server_context_takeover' => false, 'client_max_window_bits' => 8, 'server_max_window_bits' => 9,
    'idle_release' => 0,
]]);
$level = 3;
$by_ref = ['level' => &$level];
show('by reference', ['compression' => $by_ref]);
// The array given is not changed.
$given = ['level' => 2];
new WebsocketServer(['compression' => $given]);
var_export($given);
echo "\n";
?>
--EXPECT--
default: false
false: false
true: array (
  'server_max_window_bits' => 15,
  'client_max_window_bits' => 15,
  'server_context_takeover' => false,
  'client_context_takeover' => false,
  'memory_level' => 8,
  'level' => 1,
  'min_size' => 64,
  'idle_release' => 30,
)
[]: array (
  'server_max_window_bits' => 15,
  'client_max_window_bits' => 15,
  'server_context_takeover' => false,
  'client_context_takeover' => false,
  'memory_level' => 8,
  'level' => 1,
  'min_size' => 64,
  'idle_release' => 30,
)
partial: array (
  'server_max_window_bits' => 15,
  'client_max_window_bits' => 15,
  'server_context_takeover' => true,
  'client_context_takeover' => false,
  'memory_level' => 8,
  'level' => 6,
  'min_size' => 0,
  'idle_release' => 30,
)
every key: array (
  'server_max_window_bits' => 9,
  'client_max_window_bits' => 8,
  'server_context_takeover' => false,
  'client_context_takeover' => true,
  'memory_level' => 1,
  'level' => 9,
  'min_size' => 1000,
  'idle_release' => 0,
)
by reference: array (
  'server_max_window_bits' => 15,
  'client_max_window_bits' => 15,
  'server_context_takeover' => false,
  'client_context_takeover' => false,
  'memory_level' => 8,
  'level' => 3,
  'min_size' => 64,
  'idle_release' => 30,
)
array (
  'level' => 2,
)
