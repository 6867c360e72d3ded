<?php

/**
 * @generate-class-entries
 * @generate-legacy-arginfo 80100
 * @undocumentable
 */

/** Thrown for setup and runtime failures of the server (listen errors, misuse). */
class WebsocketException extends Exception
{
}

/**
 * A WebSocket server (RFC 6455). Handle events by defining methods in a subclass
 * (onOpen, onMessage, onClose, onError, onHandshake, onRequest, onWorkerStart,
 * onWorkerStop) or by registering callables with on(); a callable set with on()
 * takes precedence over a method of the same event.
 * @not-serializable
 */
class WebsocketServer
{
    public function __construct(array $config = []) {}

    /** Listens and runs the event loop until stop(), SIGINT or SIGTERM. */
    public function start(): void {}

    /** Begins the graceful stop: clients get Close 1001 after their queued data. */
    public function stop(): void {}

    public function on(string $event, callable $callback): static {}

    public function send(int $id, string $data, bool $binary = false): bool {}

    public function broadcast(string $data, bool $binary = false, array $exceptIds = []): int {}

    public function connections(): array {}

    public function connectionCount(): int {}

    public function getConnection(int $id): ?WebsocketConnection {}

    public function addTimer(float $seconds, callable $callback, bool $repeat = false): int {}

    public function clearTimer(int $timerId): bool {}

    /** The bound port (useful with 'port' => 0), or 0 before start(). */
    public function getPort(): int {}

    public function getConfig(): array {}
}

/**
 * @not-serializable
 */
#[\AllowDynamicProperties]
final class WebsocketConnection
{
    public readonly int $id;
    public readonly string $remoteAddress;
    public readonly int $remotePort;
    public readonly string $method;
    public readonly string $path;
    public readonly string $query;
    public readonly array $headers;
    public readonly string $subprotocol;
    public mixed $data = null;

    private function __construct() {}

    public function send(string $data, bool $binary = false): bool {}

    public function ping(string $payload = ""): bool {}

    public function close(int $code = 1000, string $reason = ""): bool {}

    public function bufferedAmount(): int {}

    public function isOpen(): bool {}
}
