<?php
// Command line shared by the examples:
//
//   php examples/chat.php [start|stop|reload|status] [--host H] [--port N] [--workers N] [--pid-file PATH]
//                         [--compression] [--tls-cert FILE [--tls-key FILE] [--tls-port N]]
//
// `start` (the default) runs the server. With --port other than 0 the server writes its pid to
// sys_get_temp_dir()/websocket-NAME-PORT.pid (or --pid-file), and `stop`, `reload` and `status`
// with the same --port (or --pid-file) act on that running server through
// WebsocketServer::control(), exiting with its status. --workers N > 1 runs N worker processes
// under a master; `reload` (or SIGUSR1) then restarts them with fresh code without dropping
// a client. --compression turns permessage-deflate (RFC 7692) on with its defaults.
// --tls-cert (a PEM certificate; the key in --tls-key or in the same file) serves wss://: on
// --port itself, or with --tls-port N on that extra port beside the plain one.
// `sh examples/tls-cert.sh DIR` makes a self-signed certificate for local use.

if (!extension_loaded('websocket')) {
    fwrite(STDERR, "The websocket extension is not loaded. From the repository root run:\n"
        . "  php -d extension=modules/websocket.so " . ($argv[0] ?? 'examples/echo.php') . "\n"
        . "or install it (pecl install websocket) and enable it in php.ini.\n");
    exit(1);
}

const EXAMPLE_COMMANDS = ['start', 'stop', 'reload', 'status'];

/**
 * Parses the command word and the options (`--name value` or `--name=value`, in any order).
 * @param array{name: string, host: string, port: int, workers: int} $defaults
 * @return array{command: string, host: string, port: int, workers: int, pid_file: ?string, compression: bool,
 *               tls_cert: ?string, tls_key: ?string, tls_port: ?int}
 */
function example_options(array $defaults): array
{
    $args = array_slice($GLOBALS['argv'], 1);
    $options = $defaults + ['command' => 'start', 'pid_file' => null, 'compression' => false,
        'tls_cert' => null, 'tls_key' => null, 'tls_port' => null];
    $given = [];
    while ($args) {
        $arg = array_shift($args);
        if ($arg === '--help' || $arg === '-h') {
            example_usage($defaults);
            exit(0);
        }
        if (in_array($arg, EXAMPLE_COMMANDS, true)) {
            $options['command'] = $arg;
            continue;
        }
        if ($arg === '--compression') {
            $options['compression'] = true;
            continue;
        }
        if (!preg_match('/^--(host|port|workers|pid-file|tls-cert|tls-key|tls-port)(?:=(.*))?$/s', $arg, $m)) {
            fwrite(STDERR, "unknown argument \"$arg\"\n");
            example_usage($defaults, STDERR);
            exit(2);
        }
        $value = $m[2] ?? array_shift($args);
        if ($value === null) {
            fwrite(STDERR, "--$m[1] needs a value\n");
            exit(2);
        }
        if ($m[1] === 'port' || $m[1] === 'workers' || $m[1] === 'tls-port') {
            if (!ctype_digit($value)) {
                fwrite(STDERR, "--$m[1] must be a whole number, \"$value\" given\n");
                exit(2);
            }
            $value = (int) $value;
        }
        $given[str_replace('-', '_', $m[1])] = $value;
    }
    $options = $given + $options;
    if ($options['tls_cert'] === null && ($options['tls_key'] !== null || $options['tls_port'] !== null)) {
        fwrite(STDERR, "--tls-key and --tls-port need --tls-cert\n");
        exit(2);
    }
    if ($options['pid_file'] === null && $options['port'] !== 0) {
        $options['pid_file'] = sys_get_temp_dir() . "/websocket-{$defaults['name']}-{$options['port']}.pid";
    }
    unset($options['name']);
    return $options;
}

/** @param resource $to */
function example_usage(array $defaults, $to = STDOUT): void
{
    fprintf($to, "usage: php %s [start|stop|reload|status] [--host %s] [--port %d] [--workers %d] [--pid-file PATH]\n"
        . "       [--compression] [--tls-cert FILE [--tls-key FILE] [--tls-port N]]\n",
        $GLOBALS['argv'][0], $defaults['host'], $defaults['port'], $defaults['workers']);
}

/** The part of the server's configuration that the command line sets. */
function example_config(array $options): array
{
    return [
        'host' => $options['host'],
        'port' => $options['port'],
        'workers' => $options['workers'],
        'pid_file' => $options['pid_file'],
        'compression' => $options['compression'],
        'tls' => $options['tls_cert'] === null ? null : array_filter([
            'cert' => $options['tls_cert'],
            'key' => $options['tls_key'],
            'port' => $options['tls_port'],
        ], fn ($v) => $v !== null),
    ];
}

/** Runs the command: start() the server, or control() the one that runs with this pid file. */
function example_run(WebsocketServer $server, array $options): void
{
    if ($options['command'] === 'start') {
        $server->start();
        return;
    }
    if ($options['pid_file'] === null) {
        fwrite(STDERR, "$options[command] needs the --port of the running server (not 0) or its --pid-file\n");
        exit(2);
    }
    exit($server->control($options['command']));
}

/** Prints the one readiness line that scripts and tests wait for: worker 0 prints it, so with
 * several workers it still appears once when the server starts. */
function example_ready(WebsocketServer $server, string $host, int $worker = 0): void
{
    if ($worker !== 0) {
        return;
    }
    $shown = str_contains($host, ':') ? "[$host]" : $host;
    $tls = $server->getTlsPort();
    if ($tls === $server->getPort()) {
        echo "listening on wss://$shown:$tls/\n";
    } else {
        echo "listening on ws://$shown:{$server->getPort()}/" . ($tls ? " and wss://$shown:$tls/" : "") . "\n";
    }
    flush();
}
