#!/usr/bin/python3
"""py_client.py - interoperability with Python `websockets` (Debian python3-websockets, 10.x).

Starts examples/echo.php and checks echoes of text and binary messages of several sizes,
ping/pong and the closing handshake; then starts examples/chat.php and checks that two clients
see each other's messages (the sender included) and that SIGTERM closes them with 1001.
Then permessage-deflate against tests/compression/server.php (an echo server with compression
on): the answer to websockets' offers (its default, one with windows, one with context
takeover) is the one the contract allows, and messages up to 1 MiB, many in a row, echo intact.
Env: WS_PHP as for tests/conformance/conformance.py.
Prints `ok   <case>` / `FAIL <case>: <why>` per case, then `N passed, N failed`; exits 1 on failure.
"""

import asyncio
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from wsraw import Server  # noqa: E402  (process handling only; the client here is `websockets`)

sys.path.insert(0, os.path.join(HERE, "..", "inc"))
sys.path.insert(0, os.path.join(HERE, "..", "compression"))
from wsharness import Srv  # noqa: E402  (a server script with a JSON configuration)
from compression import model  # noqa: E402  (the answers the contract allows to an offer)

import websockets  # noqa: E402
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,  # noqa: E402
                                                      PerMessageDeflate)

CASE_TIMEOUT = 10.0
OVERALL_TIMEOUT = 120
SIZES = (0, 125, 126, 65535, 65536, 1048576)

results = {"passed": 0, "failed": 0}
SERVERS = []  # every server started, stopped again on the way out whatever happens


def report(name, why=None):
    if why is None:
        results["passed"] += 1
        print("ok   %s" % name, flush=True)
    else:
        results["failed"] += 1
        print("FAIL %s: %s" % (name, why), flush=True)


def show(data):
    kind = "text" if isinstance(data, str) else "binary"
    shown = data[:40]
    return "%s (%d %s: %r%s)" % (kind, len(data), "chars" if kind == "text" else "bytes", shown,
                                 "..." if len(data) > 40 else "")


async def run_case(name, coro_fn, *args, timeout=CASE_TIMEOUT):
    start = time.monotonic()
    try:
        await asyncio.wait_for(coro_fn(*args), timeout)
        report(name)
    except asyncio.TimeoutError:
        report(name, "timed out after %.1f s" % (time.monotonic() - start))
    except AssertionError as e:
        report(name, str(e))
    except websockets.ConnectionClosed as e:
        report(name, "connection closed: code %s reason %r" % (e.code, e.reason))
    except Exception as e:  # report anything else (refused, handshake error) as this case's failure
        report(name, "%s: %s" % (type(e).__name__, e))


def connect(uri):
    # Short open/close timeouts keep a hung server from stretching a case far past its limit.
    return websockets.connect(uri, max_size=None, ping_interval=None, open_timeout=5, close_timeout=2)


async def echo(uri, data):
    async with connect(uri) as ws:
        await ws.send(data)
        got = await ws.recv()
        assert type(got) is type(data), "sent %s, got %s" % (show(data), show(got))
        assert got == data, "sent %s, got %s" % (show(data), show(got))


async def ping(uri):
    async with connect(uri) as ws:
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 5)
        await ws.send("after ping")
        got = await ws.recv()
        assert got == "after ping", "echo after ping: got %s" % show(got)


async def close_normal(uri):
    ws = await connect(uri)
    await ws.close(1000, "done")
    assert ws.close_code == 1000, "close code reported %s (reason %r)" % (ws.close_code, ws.close_reason)


async def chat(uri):
    a = await connect(uri)
    b = await connect(uri)
    try:
        for sender, text in ((a, "alice: hello from A %d" % os.getpid()),
                             (b, "bob: hi from B \u00e9\u20ac\U0001F600")):
            await sender.send(text)
            for who, ws in (("A", a), ("B", b)):
                got = await asyncio.wait_for(ws.recv(), 5)
                assert got == text, "client %s expected %r, got %s" % (who, text, show(got))
    finally:
        await a.close()
        await b.close()


async def graceful_stop(server, uri):
    a = await connect(uri)
    b = await connect(uri)
    await a.send("ready?")
    await asyncio.wait_for(a.recv(), 5)  # both are registered once the relay reached A and B
    await asyncio.wait_for(b.recv(), 5)
    loop = asyncio.get_running_loop()
    status = loop.run_in_executor(None, server.stop, signal.SIGTERM, 8.0)
    for who, ws in (("A", a), ("B", b)):
        await asyncio.wait_for(ws.wait_closed(), 8)
        assert ws.close_code == 1001, "client %s: close code %s reason %r" % (who, ws.close_code,
                                                                             ws.close_reason)
    rc = await status
    assert rc == 0, "server exit status %s after SIGTERM" % rc


def deflate_messages(seed):
    """1 MiB of text and of binary (compressible, with repeats near and far), a few other sizes,
    then 100 small ones in a row: the history matters when a context is kept."""
    import random
    rng = random.Random(seed)
    words = "permessage deflate window context takeover h\u00e9llo w\u00f6rld \u20ac \U0001F600".split()
    text = " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(200000))
    text = text.encode()[:1048576].decode("utf-8", "ignore")
    blocks = bytearray()
    while len(blocks) < 1048576:
        if len(blocks) > 4096 and rng.random() < 0.5:
            start = len(blocks) - rng.randint(64, min(len(blocks), 32768))
            blocks += blocks[start:start + rng.randint(8, 2000)]
        else:
            blocks += rng.randbytes(rng.randint(8, 300))
    binary = bytes(blocks[:1048576])
    out = [text, binary, "", b"", text[:100], binary[:65536]]
    for i in range(100):
        n = rng.choice((1, 50, 64, 200, 1000, 5000))
        out.append(text[i * 97:i * 97 + n] if i % 2 else binary[i * 89:i * 89 + n])
    return out


def deflate_connect(uri, factory):
    kw = {} if factory is None else {"compression": None,
                                     "extensions": [ClientPerMessageDeflateFactory(**factory)]}
    return websockets.connect(uri, max_size=None, ping_interval=None, open_timeout=5, close_timeout=2, **kw)


async def deflate_echo(uri, compression, factory, messages):
    async with deflate_connect(uri, factory) as ws:
        offer = ws.request_headers.get("Sec-WebSocket-Extensions")
        assert offer and offer.startswith("permessage-deflate"), "websockets offered %r" % offer
        got = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        allowed = model(compression, offer)
        assert len(got) == 1 and got[0] in allowed, "offer %r: the server answered %r, expected %s" % (
            offer, got, " or ".join(repr(a) for a in sorted(allowed, key=str)))
        assert any(isinstance(e, PerMessageDeflate) for e in ws.extensions), \
            "websockets did not enable permessage-deflate (extensions %r)" % ws.extensions
        for i, data in enumerate(messages):
            await ws.send(data)
            back = await ws.recv()
            assert type(back) is type(data) and back == data, "message %d: sent %s, got %s" % (
                i, show(data), show(back))
        await ws.close(1000)
        assert ws.close_code == 1000, "close code %s" % ws.close_code


async def deflate_cases():
    messages = deflate_messages(7692)
    takeover = {"server_context_takeover": True, "client_context_takeover": True}
    for config, factory, what in (
            (True, None, "websockets' default offer"),
            (True, {"server_max_window_bits": 10, "client_max_window_bits": 9}, "windows 10 and 9 asked"),
            (takeover, None, "default offer, server with context takeover"),
            (takeover, {"server_no_context_takeover": True, "client_no_context_takeover": True},
             "no context takeover asked of a server that allows it")):
        server = Srv({"compression": config}, script=os.path.join(HERE, "..", "compression", "server.php"))
        SERVERS.append(server)
        try:
            try:
                server.start()
            except Exception as e:  # wsraw.Failure: it did not become ready
                report("deflate: %s: the server starts" % what, str(e))
                continue
            uri = "ws://127.0.0.1:%d/" % server.port
            await run_case("deflate: %s: negotiated, 1 MiB text and binary and 104 more echo intact" % what,
                           deflate_echo, uri, config, factory, messages, timeout=30.0)
        finally:
            server.stop()


async def main():
    server = Server("examples/echo.php")
    SERVERS.append(server)
    try:
        uri = "ws://127.0.0.1:%d/" % server.start()
        for n in SIZES:
            await run_case("echo: text of %d bytes" % n, echo, uri, ("abcdefghij" * (n // 10 + 1))[:n])
        for n in SIZES:
            await run_case("echo: binary of %d bytes" % n, echo, uri, os.urandom(n))
        await run_case("ping: websockets ping() gets its pong", ping, uri)
        await run_case("close: close(1000) is reported as 1000", close_normal, uri)
    finally:
        server.stop()

    server = Server("examples/chat.php")
    SERVERS.append(server)
    try:
        uri = "ws://127.0.0.1:%d/" % server.start()
        await run_case("chat: two clients see each other's messages, sender included", chat, uri)
        await run_case("chat: SIGTERM closes clients with 1001 and exits 0", graceful_stop, server, uri)
    finally:
        server.stop()

    await deflate_cases()


class Abort(BaseException):
    pass


def on_alarm(signum, frame):
    raise Abort("overall timeout of %d s" % OVERALL_TIMEOUT if signum == signal.SIGALRM
                else "signal %d" % signum)


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_alarm)
    signal.alarm(OVERALL_TIMEOUT)
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, Abort, RuntimeError) as e:
        report("run", "aborted: %s" % (str(e) or type(e).__name__))
    finally:
        signal.alarm(0)
        for s in SERVERS:
            s.stop()
    print("%d passed, %d failed" % (results["passed"], results["failed"]), flush=True)
    sys.exit(1 if results["failed"] else 0)
