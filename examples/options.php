<?php
// Command-line options shared by the examples: --host, --port and --workers.

if (!extension_loaded('websocket')) {
    fwrite(STDERR, "The websocket extension is not loaded. From the repository root run:\n"
        . "  php -d extension=modules/websocket.so " . ($argv[0] ?? 'examples/echo.php') . "\n"
        . "or install it (pecl install websocket) and enable it in php.ini.\n");
    exit(1);
}

/**
 * @param array{host: string, port: int, workers: int} $defaults
 * @return array{host: string, port: int, workers: int}
 */
function example_options(array $defaults): array
{
    $given = getopt('', ['host:', 'port:', 'workers:', 'help']);
    if (isset($given['help'])) {
        printf("usage: php %s [--host %s] [--port %d] [--workers %d]\n",
            $GLOBALS['argv'][0], $defaults['host'], $defaults['port'], $defaults['workers']);
        exit(0);
    }
    $options = $defaults;
    foreach (['host', 'port', 'workers'] as $name) {
        if (!isset($given[$name])) {
            continue;
        }
        $value = is_array($given[$name]) ? end($given[$name]) : $given[$name];
        if ($name !== 'host') {
            if (!ctype_digit($value)) {
                fwrite(STDERR, "--$name must be a whole number, \"$value\" given\n");
                exit(2);
            }
            $value = (int) $value;
        }
        $options[$name] = $value;
    }
    return $options;
}

/** Prints the one readiness line that scripts and tests wait for. */
function example_ready(WebsocketServer $server, string $host): void
{
    $shown = str_contains($host, ':') ? "[$host]" : $host;
    echo "listening on ws://$shown:{$server->getPort()}/\n";
    flush();
}
