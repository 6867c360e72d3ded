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

    /**
     * Sends to a connection of any worker. True when the message was queued (locally, or on
     * the bus to the worker that owns the id); false for an unknown local id, a full queue,
     * or a closed connection.
     */
    public function send(int $id, string $data, bool $binary = false): bool {}

    /** Sends to every connection of every worker; returns how many of this worker's got it. */
    public function broadcast(string $data, bool $binary = false, array $exceptIds = []): int {}

    /** Sends to every member of a room on every worker; returns how many of this worker's got it. */
    public function publish(string $room, string $data, bool $binary = false, array $exceptIds = []): int {}

    /** Adds a connection of any worker to a room. */
    public function join(int $id, string $room): bool {}

    /** Removes a connection of any worker from a room. */
    public function leave(int $id, string $room): bool {}

    /** Members of a room across all workers. */
    public function roomSize(string $room): int {}

    /** Closes a connection of any worker. */
    public function close(int $id, int $code = 1000, string $reason = ""): bool {}

    /** Counters of every worker and their totals. */
    public function stats(): array {}

    /** The number of this worker (0 to workers - 1); -1 outside a worker. */
    public function workerId(): int {}

    /**
     * Acts on the server that runs with this configuration's pid_file: "stop" (SIGTERM, then
     * wait for it to exit), "reload" (SIGUSR1) or "status". Prints one line; returns an exit
     * status (0 on success).
     */
    public function control(string $command): int {}

    public function connections(): array {}

    public function connectionCount(): int {}

    public function getConnection(int $id): ?WebsocketConnection {}

    public function addTimer(float $seconds, callable $callback, bool $repeat = false): int {}

    public function clearTimer(int $timerId): bool {}

    /** The bound port (useful with 'port' => 0), or 0 before start(). */
    public function getPort(): int {}

    /** The port that speaks TLS: 'port' itself, or 'tls.port' (0 before start()); null without 'tls'. */
    public function getTlsPort(): ?int {}

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

    /** Joins a room; true if it was not already a member. False, changing nothing, once the
     * connection is no longer open. */
    public function join(string $room): bool {}

    /** Leaves a room; true if it was a member. False, changing nothing, once the connection
     * is no longer open (it leaves its rooms when it ends). */
    public function leave(string $room): bool {}

    /** The rooms this connection is a member of. */
    public function rooms(): array {}
}
