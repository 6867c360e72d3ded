--TEST--
WebsocketServer: 'tls' and its keys are validated, and getConfig() shows every key (never the passphrase)
--SKIPIF--
<?php if (!extension_loaded('websocket')) die('skip websocket extension not loaded'); ?>
--FILE--
<?php
$dir = sys_get_temp_dir() . '/ws-phpt-tls-' . getmypid();
@mkdir($dir);
exec('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost'
    . " -keyout $dir/key.pem -out $dir/cert.pem 2>/dev/null", $out, $rc);
if ($rc !== 0) {
    die("openssl failed\n");
}
$cert = "$dir/cert.pem";
$key = "$dir/key.pem";
$bad = [
    'true', 1, [], ['key' => $key], ['cert' => $cert, 'nope' => 1], ['cert' => $cert, 0 => 'x'],
    ['cert' => ''], ['cert' => 1], ['cert' => $cert, 'key' => false],
    ['cert' => $cert, 'passphrase' => 1], ['cert' => $cert, 'verify_peer' => 'yes'],
    ['cert' => $cert, 'min_version' => 'TLSv1.1'], ['cert' => $cert, 'min_version' => 12],
    ['cert' => $cert, 'ciphers' => ''], ['cert' => $cert, 'port' => 70000],
    ['cert' => $cert, 'port' => '8443'],
];
foreach ($bad as $tls) {
    try {
        new WebsocketServer(['tls' => $tls]);
        echo "accepted\n";
    } catch (Error $e) {
        echo get_class($e), ": ", str_replace($dir, 'DIR', $e->getMessage()), "\n";
    }
}
$s = new WebsocketServer(['port' => 0, 'tls' => ['cert' => $cert, 'key' => $key]]);
var_dump($s->getConfig()['tls'] == ['cert' => $cert, 'key' => $key, 'passphrase' => null, 'ca' => null,
    'verify_peer' => false, 'min_version' => 'TLSv1.2', 'ciphers' => null, 'port' => null]);
var_dump($s->getTlsPort());
exec("openssl pkey -in $key -aes256 -passout pass:secret -out $dir/enc.pem 2>/dev/null");
$s = new WebsocketServer(['port' => 0, 'tls' => ['cert' => $cert, 'key' => "$dir/enc.pem",
    'passphrase' => 'secret', 'port' => 0, 'min_version' => 'TLSv1.3']]);
$c = $s->getConfig()['tls'];
var_dump($c['passphrase'], $c['port'], $c['min_version']);
var_dump((new WebsocketServer())->getTlsPort());
foreach (glob("$dir/*") as $f) {
    unlink($f);
}
rmdir($dir);
?>
--EXPECT--
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" must be of type ?array, string given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" must be of type ?array, int given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" needs "cert", the certificate file (PEM)
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" needs "cert", the certificate file (PEM)
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" contains unknown key "nope"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls" contains unknown key "(an integer)"
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.cert" must be a non-empty string without NUL bytes
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.cert" must be of type string, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.key" must be of type ?string, bool given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.passphrase" must be of type ?string, int given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.verify_peer" must be of type bool, string given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.min_version" must be one of TLSv1.2|TLSv1.3, "TLSv1.1" given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.min_version" must be of type string, int given
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.ciphers" must be a non-empty string without NUL bytes
ValueError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.port" must be between 0 and 65535, 70000 given
TypeError: WebsocketServer::__construct(): Argument #1 ($config) key "tls.port" must be of type int, string given
bool(true)
int(0)
string(5) "(set)"
int(0)
string(7) "TLSv1.3"
NULL
