--TEST--
WebsocketServer: getConfig(): returns every key, with defaults for keys not given
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--INI--
memory_limit=128M
--FILE--
<?php
var_dump((new WebsocketServer())->getConfig());
$c = (new WebsocketServer(['port' => 0, 'host' => '127.0.0.1', 'handshake_timeout' => 2,
    'subprotocols' => ['chat', 'v2.chat']]))->getConfig();
var_dump($c['port'], $c['host'], $c['handshake_timeout'] == 2, $c['subprotocols'], $c['backlog']);
?>
--EXPECT--
array(27) {
  ["host"]=>
  string(7) "0.0.0.0"
  ["port"]=>
  int(8000)
  ["workers"]=>
  int(1)
  ["pid_file"]=>
  NULL
  ["bus_buffer_size"]=>
  int(16777216)
  ["reload_timeout"]=>
  float(30)
  ["backlog"]=>
  int(511)
  ["reuse_port"]=>
  bool(false)
  ["max_header_size"]=>
  int(8192)
  ["max_frame_size"]=>
  int(16777216)
  ["max_message_size"]=>
  int(16777216)
  ["handshake_timeout"]=>
  float(10)
  ["close_timeout"]=>
  float(5)
  ["shutdown_timeout"]=>
  float(5)
  ["idle_timeout"]=>
  float(0)
  ["ping_interval"]=>
  float(30)
  ["max_connections"]=>
  int(10000)
  ["max_connections_per_ip"]=>
  int(0)
  ["max_handshakes"]=>
  int(1024)
  ["max_handshakes_per_ip"]=>
  int(0)
  ["max_output_buffer"]=>
  int(8388608)
  ["max_receive_memory"]=>
  int(67108864)
  ["output_overflow"]=>
  string(5) "close"
  ["subprotocols"]=>
  array(0) {
  }
  ["allowed_origins"]=>
  array(0) {
  }
  ["compression"]=>
  bool(false)
  ["tls"]=>
  NULL
}
int(0)
string(9) "127.0.0.1"
bool(true)
array(2) {
  [0]=>
  string(4) "chat"
  [1]=>
  string(7) "v2.chat"
}
int(511)
