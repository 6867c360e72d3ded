--TEST--
phpinfo() (php --ri websocket) reports what the build has: workers, TLS and permessage-deflate, the event loop and the library versions
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
ob_start();
(new ReflectionExtension('websocket'))->info();
$info = ob_get_clean();
foreach (['WebSocket server support', 'Multi-process workers', 'TLS (wss://)',
          'permessage-deflate (RFC 7692)', 'Event loop', 'OpenSSL headers', 'zlib headers'] as $row) {
    preg_match('/^' . preg_quote($row, '/') . ' => (.*)$/m', $info, $m);
    echo $row, ': ', $m[1] ?? '(missing)', "\n";
}
?>
--EXPECTF--
WebSocket server support: enabled
Multi-process workers: yes
TLS (wss://): yes
permessage-deflate (RFC 7692): yes
Event loop: %s
OpenSSL headers: OpenSSL %s
zlib headers: %d.%s
