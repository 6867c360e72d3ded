#!/usr/bin/python3
"""tls.py - black-box tests of wss:// (the 'tls' configuration key): real clients (Python
websockets, Node ws, headless Chromium) over TLS 1.2 and 1.3; plain and TLS ports side by side;
raw TLS sockets that speak plain HTTP or garbage to the TLS port, stall or reset handshakes,
check close_notify after every kind of close, split records every way and read slowly
(partial TLS writes); min_version, ciphers, client certificates, an intermediate in the chain,
SNI, ALPN, session resumption, renegotiation and TLS 1.3 KeyUpdate (openssl s_client); the
construction errors; workers (a reload closes TLS connections with 1012 after flushing them,
hands plain ones over, and reloads the certificate files; SIGTERM); 200 concurrent connections.

Servers: examples/echo.php and examples/chat.php (their --tls-* options) and the hardening lab
(tests/hardening/server.php, which takes the whole configuration as JSON; its readiness line
says ws:// whatever its port speaks). Certificates are made per run (certs.py).

Usage: tls.py [substring ...]   runs the tests whose name contains one of the substrings (all
                                by default), each in its own process with a hard timeout;
                                prints `ok   name (T s)` or `FAIL name: why` per test, then
                                `N passed, N failed`; exits 1 on failure
       tls.py --list            names and timeouts
       tls.py --one NAME        one test in this process (what the runner starts)
Env:   WS_PHP  the command that runs PHP with the extension
               (default: php -d extension=<repo>/modules/websocket.so)
       HARDENING_PIDFILE  process groups to end after each test (run.sh sets it)
       TLS_CERTS  a directory made by certs.make() (the runner sets it; else made on demand)
"""

import asyncio
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "inc"))
import wsharness  # noqa: E402  (puts tests/conformance on sys.path for wsraw)
import wsraw  # noqa: E402
from wsharness import (MiB, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                       Client, Failure, Srv, check, close_code, close_payload, encode_frame,
                       php_command, register_pid, test, upgrade_request, within)

import certs  # noqa: E402
import websockets  # noqa: E402

ROOT = wsharness.ROOT
TLS12, TLS13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
SIZES = (0, 1, 125, 126, 65535, 65536, MiB, 8 * MiB)
BODY_400 = b"This port speaks TLS: use https:// or wss://.\n"
OPEN_TIMEOUT = 15  # websockets' opening handshake, generous for a server under ASan

# == certificates ================================================================================

_cert_dir = [os.environ.get("TLS_CERTS")]


def C(name):
    """The path of a certificate file (certs.py), making the directory on first use if the
    runner did not."""
    if not _cert_dir[0]:
        d = tempfile.mkdtemp(prefix="ws-tls-certs-")
        atexit.register(shutil.rmtree, d, True)
        certs.make(d)
        _cert_dir[0] = d
    return os.path.join(_cert_dir[0], name)


def der(name):
    return ssl.PEM_cert_to_DER_cert(open(C(name)).read())


def server_tls(**extra):
    """The 'tls' configuration for the CA-signed server certificate, plus `extra`."""
    return dict({"cert": C("server.pem"), "key": C("server.key")}, **extra)


def client_ctx(version=None, cert=None, ca="ca.pem", verify=True):
    """A client context trusting the suite's CA (checking the name, 127.0.0.1 by default), with
    the TLS version pinned and a client certificate (NAME.pem and NAME.key) if asked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Python sets this by default: an EOF without close_notify would then look like one.
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if verify:
        ctx.load_verify_locations(C(ca))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    if cert:
        ctx.load_cert_chain(C(cert + ".pem"), C(cert + ".key"))
    return ctx


# == servers =====================================================================================

EXAMPLE_READY = r"^listening on (?:ws://\S+:(\d+)/ and )?wss://\S+:(\d+)/$"


class Example(Srv):
    """examples/NAME.php with `--host HOST --port 0` and `args`. Its stderr (the master's lines:
    started, reloading, reloaded) is read with its stdout. self.tls_port is the wss:// port;
    self.plain_port the ws:// one with --tls-port, else None."""

    def __init__(self, name, *args, host="127.0.0.1", ready_timeout=30.0):
        super().__init__(script=os.path.join(ROOT, "examples", name + ".php"),
                         args=["--host", host, "--port", "0"] + list(args), ready=EXAMPLE_READY,
                         ready_timeout=ready_timeout)
        self.plain_port = self.tls_port = None

    def start(self):
        self.proc = subprocess.Popen(php_command() + [self.script] + self.args, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        register_pid(self.proc.pid)
        threading.Thread(target=self._read, daemon=True).start()
        m = re.match(self.ready, self.wait_line(self.ready, self.ready_timeout, what="its listening line"))
        self.plain_port = int(m.group(1)) if m.group(1) else None
        self.port = self.tls_port = int(m.group(2))
        return self

    def stderr_tail(self, n=800):
        return " | ".join(self.output())[-n:] or "(empty)"

    def url(self, tls=True, path="/"):
        port = self.tls_port if tls else self.plain_port
        return "%s://127.0.0.1:%d%s" % ("wss" if tls else "ws", port, path)

    def reload(self, seconds=30.0, command=False):
        """SIGUSR1 to the master, or with `command` `php examples/NAME.php reload --port P` (the
        server must run with that --port, not 0, for its pid file); returns the master's
        `reloaded N workers: M connections handed over` line once it printed it."""
        mark = self.mark()
        if command:
            port = self.plain_port or self.tls_port
            rc, out = run_program(php_command() + [self.script, "reload", "--port", str(port)], seconds)
            check(rc == 0, "`%s reload --port %d`: exit status %s: %s" % (self.script, port, rc, out[-300:]))
        else:
            self.signal(signal.SIGUSR1)
        return self.wait_line(r"reloaded \d+ workers", seconds, start=mark, what="the end of the reload")


def tls_example(name, *args, cert="server", **kw):
    return Example(name, "--tls-cert", C(cert + ".pem"), "--tls-key", C(cert + ".key"), *args, **kw)


def lab(**tls_extra):
    """The hardening lab serving TLS on its port; keys of tls_extra whose name is a server key
    (handshake_timeout, ...) go to the server's configuration, the others to 'tls'."""
    server_keys = {"handshake_timeout", "max_output_buffer", "close_timeout"}
    config = {k: v for k, v in tls_extra.items() if k in server_keys}
    config["tls"] = server_tls(**{k: v for k, v in tls_extra.items() if k not in server_keys})
    return Srv(config, ready_timeout=30.0)


# == raw TLS clients =============================================================================


class TlsClient(Client):
    """A wsraw connection over an ssl socket (suppress_ragged_eofs off and client_ctx()'s
    options, so an EOF without close_notify raises an SSL error). The TLS handshake happens in
    the constructor; with ws=True the WebSocket handshake too. Its expect_eof() (so also
    close_cleanly()) requires close_notify."""

    def __init__(self, port, ctx=None, ws=True, server_hostname="127.0.0.1", **kw):
        super().__init__(port, **kw)
        raw = self.sock
        try:
            raw.settimeout(wsraw.remaining())
            self.sock = (ctx or client_ctx()).wrap_socket(raw, server_hostname=server_hostname,
                                                          suppress_ragged_eofs=False)
        except (OSError, ssl.SSLError) as e:
            raw.close()
            raise Failure("TLS handshake with 127.0.0.1:%d failed: %s" % (port, e))
        if ws:
            self.handshake()

    def send_records(self, data, sizes):
        """Sends `data` as TLS records of the sizes `sizes` yields (one send() each)."""
        view = memoryview(data)
        while view:
            n = max(1, next(sizes))
            self.send(view[:n])
            view = view[n:]

    def expect_close_notify(self, seconds=5.0):
        """The next read sees the server's close_notify (recv() returns b''), not data, not an
        EOF without it (SSLEOFError) and not a reset."""
        self.sock.settimeout(min(seconds, wsraw.remaining()))
        try:
            data = self.sock.recv(65536)
        except ssl.SSLError as e:
            if "EOF" in str(e):
                raise Failure("TCP ended without close_notify (%s)" % e)
            raise Failure("expected close_notify, got %s" % e)
        except socket.timeout:
            raise Failure("no close_notify within %.1f s" % seconds)
        except OSError as e:
            raise Failure("expected close_notify, got %s: %s" % (type(e).__name__, e))
        check(data == b"" and not self.buf,
              "expected close_notify, got data %r" % (bytes(self.buf) + data)[:60])

    def expect_eof(self, seconds=2.0):
        """The server ends the connection with close_notify (then this side closes too)."""
        self.expect_close_notify(seconds)
        self.close()

    def ssl_info(self):
        return self.sock.version(), self.sock.cipher()[0]


def tls_refused(port, ctx, what):
    """Checks that a client with `ctx` cannot open a WebSocket: the TLS handshake fails, or (TLS
    1.3 sends the server's verdict on a client certificate after the client's Finished) the
    first read fails, without a 101. Returns the error."""
    try:
        c = TlsClient(port, ctx, ws=False)
    except Failure as e:
        return str(e)
    version = c.sock.version()
    try:
        c.send(upgrade_request())
        resp = c.read_response()
    except Failure as e:
        return str(e)
    finally:
        c.close()
    raise Failure("%s: the server accepted it (%s, then HTTP %d)" % (what, version, resp.status))


def client_hello():
    """A real ClientHello (TLS record bytes) as Python's ssl module would send it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def numbered(n, size):
    """What the lab's numbered($n, $size) returns."""
    head = b"%010d " % n
    return head if size <= 11 else head + bytes([97 + n % 26]) * (size - 11)


def socket_owners(port):
    """{client port: set of pids} of the established server-side sockets on local `port`."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, timeout=10).stdout
    owners = {}
    for line in out.splitlines():
        m = re.match(r"\s*\d+\s+\d+\s+\S+:(\d+)\s+\S+:(\d+)\s+(.*)$", line)
        if m and int(m.group(1)) == port:
            owners[int(m.group(2))] = {int(p) for p in re.findall(r"pid=(\d+)", m.group(3))}
    return owners


# == asyncio clients (Python websockets) =========================================================


def run(coro):
    """Runs a coroutine within the test's deadline."""
    async def limited():
        return await asyncio.wait_for(coro, max(wsraw.remaining() - 1.0, 1.0))
    try:
        return asyncio.run(limited())
    except asyncio.TimeoutError:
        raise Failure("the test's deadline passed")


async def bounded(aw, seconds, what):
    try:
        return await asyncio.wait_for(aw, seconds)
    except asyncio.TimeoutError:
        raise Failure("timed out after %.0f s waiting for %s" % (seconds, what))
    except websockets.ConnectionClosed as e:
        raise Failure("connection closed (%s %r) waiting for %s" % (e.code, e.reason, what))


def connect(uri, ctx=None, **kw):
    """websockets.connect with no size or queue limits; `ctx` (default: the suite's CA) for wss."""
    if uri.startswith("wss:") and "ssl" not in kw:
        kw["ssl"] = ctx or client_ctx()
    return websockets.connect(uri, max_size=None, max_queue=None, ping_interval=None,
                              open_timeout=OPEN_TIMEOUT, close_timeout=3, **kw)


def show(data):
    kind = "text" if isinstance(data, str) else "binary"
    return "%s of %d %s" % (kind, len(data), "chars" if kind == "text" else "bytes")


async def echo_each(ws, messages):
    for data in messages:
        await ws.send(data)
        back = await bounded(ws.recv(), 30, "the echo of %s" % show(data))
        check(type(back) is type(data) and back == data, "sent %s, got %s back" % (show(data), show(back)))


async def open_all(uris, ctx=None):
    return await asyncio.gather(*(bounded(connect(u, ctx), OPEN_TIMEOUT + 5, "the opening of %s" % u)
                                  for u in uris))


async def chat_round(clients, tag):
    """Every client sends one text message; each client must receive exactly all of them."""
    sent = ["%s %d %s \u00e9\u20ac" % (tag, i, os.urandom(4).hex()) for i in range(len(clients))]
    await asyncio.gather(*(c.send(m) for c, m in zip(clients, sent)))

    async def collect(i, c):
        got = []
        for _ in sent:
            got.append(await bounded(c.recv(), 20, "chat message %d of %d at client %d (%s); got %r" % (
                len(got) + 1, len(sent), i, tag, got[-3:])))
        check(sorted(got) == sorted(sent), "client %d (%s) got %r, expected %r" % (i, tag, got, sent))
    await asyncio.gather(*(collect(i, c) for i, c in enumerate(clients)))


async def close_all(clients):
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


# == other programs ==============================================================================


def run_program(argv, seconds, env=None):
    """Runs argv in its own process group (recorded for run.sh); returns (status, output).
    SIGTERM after `seconds`, SIGKILL 5 s later."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=env)
        register_pid(p.pid)
        try:
            rc = p.wait(min(seconds, wsraw.remaining()))
        except subprocess.TimeoutExpired:
            rc = wsraw.stop_group(p, signal.SIGTERM, 5.0)
        out.seek(0)
        return rc, out.read().decode("utf-8", "replace").strip()


def wss_js(*args, seconds=60):
    """Runs tests/tls/wss.js (Node ws or Chromium); returns what follows its `ok`."""
    env = dict(os.environ, WSS_TIMEOUT_MS=str(int(seconds * 1000)))
    rc, out = run_program(["node", os.path.join(HERE, "wss.js")] + [str(a) for a in args], seconds + 10, env)
    last = out.splitlines()[-1] if out else ""
    check(rc == 0 and last.startswith("ok"),
          "wss.js %s: exit status %s: %s" % (args[0], rc, out[-600:] or "(no output)"))
    return last[3:]


# == 1-2. Python websockets =======================================================================


def py_echo(version):
    with tls_example("echo") as s:
        async def go():
            async with connect(s.url(), client_ctx(version)) as ws:
                got = ws.transport.get_extra_info("ssl_object").version()
                check(got == {TLS12: "TLSv1.2", TLS13: "TLSv1.3"}[version], "negotiated %s" % got)
                texts = [("0123456789abcdef" * (n // 16 + 1))[:n] for n in SIZES]
                await echo_each(ws, texts + [random.randbytes(n) for n in SIZES])
                await echo_each(ws, ["h\u00e9llo w\u00f6rld \u20ac \U0001F600 " * 5000])
        run(go())
        s.check_alive()


@test("py_echo_tls13", 60)
def _():
    """Python websockets over TLS 1.3: text and binary of 0 B to 8 MiB echo intact"""
    py_echo(TLS13)


@test("py_echo_tls12", 60)
def _():
    """Python websockets over TLS 1.2: text and binary of 0 B to 8 MiB echo intact"""
    py_echo(TLS12)


@test("py_pipelined", 60)
def _():
    """2,000 messages (text and binary, 0-300 bytes) sent before reading come back in order"""
    rng = random.Random(2000)
    msgs = [("%d " % i + "x" * rng.randrange(300)) if i % 2 else rng.randbytes(rng.randrange(301))
            for i in range(2000)]
    with tls_example("echo") as s:
        async def go():
            async with connect(s.url()) as ws:
                for m in msgs:
                    await ws.send(m)
                for i, m in enumerate(msgs):
                    back = await bounded(ws.recv(), 20, "echo %d of %d" % (i, len(msgs)))
                    check(back == m and type(back) is type(m),
                          "echo %d: sent %s, got %s" % (i, show(m), show(back)))
        run(go())


@test("py_chat", 30)
def _():
    """examples/chat.php over wss: 5 Python clients, every message reaches every client"""
    with tls_example("chat") as s:
        async def go():
            clients = await open_all([s.url()] * 5)
            await chat_round(clients, "py")
            await chat_round(clients, "again")
            await close_all(clients)
        run(go())


@test("py_ipv6_self_signed", 30)
def _():
    """examples/echo.php --host ::1 with the certificate of examples/tls-cert.sh: wss://[::1] echoes"""
    with Example("echo", "--tls-cert", C("self/cert.pem"), "--tls-key", C("self/key.pem"), host="::1") as s:
        check(re.search(r"wss://\[::1\]:\d+/$", s.output()[0]), "listening line %r" % s.output()[0])

        async def go():
            async with connect("wss://[::1]:%d/" % s.tls_port, client_ctx(ca="self/cert.pem")) as ws:
                await echo_each(ws, ["over ::1", b"\x00\x01" * 40000])
        run(go())


# == 3-4. Node ws, Chromium =======================================================================


@test("node_echo", 60)
def _():
    """Node ws with ca: text and binary of 0 B to 8 MiB echo intact"""
    with tls_example("echo") as s:
        wss_js("echo", s.url(), C("ca.pem"), seconds=45)
        s.check_alive()


@test("node_chat", 30)
def _():
    """Node ws with ca: 3 clients of examples/chat.php see every message"""
    with tls_example("chat") as s:
        wss_js("chat", s.url(), C("ca.pem"), 3, seconds=20)


@test("chromium_echo_deflate", 60)
def _():
    """Chromium page: wss echo of text and binary, permessage-deflate negotiated over TLS
    (echo.php --compression)"""
    with tls_example("echo", "--compression") as s:
        ext = wss_js("page-echo", s.url(), seconds=45)
        check(ext.startswith("permessage-deflate"), "ws.extensions in the page is %r" % ext)


@test("chromium_chat", 60)
def _():
    """Chromium: two pages load the chat page over https and chat over wss"""
    with tls_example("chat") as s:
        wss_js("page-chat", s.url().replace("wss:", "https:"), seconds=45)


# == 5. plain and TLS side by side ===============================================================


@test("side_by_side_chat", 30)
def _():
    """chat.php --tls-port: a ws:// and two wss:// clients chat; GET / on both ports; TLS to
    the plain port fails"""
    with tls_example("chat", "--tls-port", "0") as s:
        check(s.plain_port and s.plain_port != s.tls_port, "ports %s and %s" % (s.plain_port, s.tls_port))

        async def go():
            clients = await open_all([s.url(False), s.url(), s.url()])
            await chat_round(clients, "mixed")
            await close_all(clients)
        run(go())
        plain = Client(s.plain_port)
        check(plain.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200, "GET / on the plain port")
        over_tls = TlsClient(s.tls_port, ws=False)
        check(over_tls.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200, "GET / over https")
        try:
            # The plain port waits for the end of a request line that never comes.
            with within(2.0):
                TlsClient(s.plain_port, ws=False)
        except Failure:
            pass
        else:
            raise Failure("a TLS handshake with the plain port succeeded")
        s.check_alive()


# == 6. what is not TLS, and stalled handshakes ==================================================


def read_to_end(c, seconds):
    """Everything c receives until the server ends the connection (EOF or reset); Failure if it
    is still open after `seconds`."""
    end = time.monotonic() + seconds
    data = bytes(c.buf)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("still open after %.1f s (received %r)" % (seconds, data[:80]))
        c.sock.settimeout(left)
        try:
            chunk = c.sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:  # reset, or a TLS alert
            return data
        if not chunk:
            return data
        data += chunk


@test("raw_plain_http_400", 20)
def _():
    """plain HTTP (a GET, a ws:// upgrade) to the TLS port: 400 in clear text with the
    readable body, then close"""
    with lab() as s:
        get = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        for what, req in (("GET", get), ("upgrade", upgrade_request())):
            c = Client(s.port)
            c.send(req)
            data = read_to_end(c, 5.0)
            head, _, body = data.partition(b"\r\n\r\n")
            check(head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), "%s: answer %r" % (what, data[:200]))
            check(body == BODY_400, "%s: body %r, expected %r" % (what, body, BODY_400))
            c.close()
        TlsClient(s.port).echo_ok(b"still serving TLS")
        s.check_alive()


@test("raw_garbage_closed", 20)
def _():
    """bytes that are neither HTTP nor TLS, or a broken TLS record, are closed at once (not
    after handshake_timeout)"""
    garbage = (b"\x00\x01\x02\x03 not tls\r\n\r\n", b"hello there, lower case\r\n\r\n",
               b"\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", b"\x16\x03\x03\xff\xff" + bytes(range(256)) * 4,
               b"\x80\x2e\x01\x03\x01" + bytes(60))
    with lab(handshake_timeout=30) as s:
        for g in garbage:
            c = Client(s.port)
            c.send(g)
            data = read_to_end(c, 5.0)
            check(b"HTTP/1.1 101" not in data, "%r was answered %r" % (g[:20], data[:80]))
            c.close()
        TlsClient(s.port).echo_ok(b"after the garbage")
        s.check_alive()


@test("raw_stalled_handshakes", 30)
def _():
    """handshake_timeout=2: silent TCP, half a ClientHello, TLS without an upgrade, half an
    upgrade: each closed after ~2 s; others served meanwhile"""
    hello = client_hello()
    with lab(handshake_timeout=2) as s:
        results = {}

        def stall(what, make):
            t0 = time.monotonic()
            try:
                c = make()
                read_to_end(c, 12.0)
                results[what] = time.monotonic() - t0
            except Failure as e:
                results[what] = e
            except Exception as e:  # noqa: BLE001 (reported as this case's failure)
                results[what] = Failure("%s: %s" % (type(e).__name__, e))

        def half_hello():
            c = Client(s.port)
            c.send(hello[:len(hello) // 2])
            return c

        def half_upgrade():
            c = TlsClient(s.port, ws=False)
            c.send(upgrade_request()[:40])
            return c

        stalls = {"silent TCP": lambda: Client(s.port), "half a ClientHello (%d of %d bytes)" % (
            len(hello) // 2, len(hello)): half_hello, "TLS, no upgrade": lambda: TlsClient(s.port, ws=False),
            "TLS, half an upgrade": half_upgrade}
        threads = [threading.Thread(target=stall, args=kv, daemon=True) for kv in stalls.items()]
        for t in threads:
            t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        TlsClient(s.port).echo_ok(b"served while others stall")
        served = time.monotonic() - t0
        for t in threads:
            t.join(14.0)
        for what, r in results.items():
            if isinstance(r, Exception):
                raise Failure("%s: %s" % (what, r))
            check(1.8 <= r <= 5.0, "%s: closed after %.2f s (handshake_timeout 2 s)" % (what, r))
        check(len(results) == len(stalls), "results %r" % results)
        check(served < 1.5, "the normal client took %.2f s, as if it waited for the stalled ones" % served)
        s.check_alive()


def reset(sock):
    """Closes the TCP connection under `sock` (plain or TLS) with RST."""
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    sock.close()


@test("raw_resets", 30)
def _():
    """RST in the middle of a ClientHello, after the TLS handshake and while the server writes
    16 MiB; an EOF without close_notify in a frame; close_notify without a Close: each is
    onClose 1006, the server goes on"""
    with lab(max_output_buffer=40 * MiB) as s:
        hello = client_hello()
        a = Client(s.port)
        a.send(hello[:60])
        time.sleep(0.05)
        reset(a.sock)
        b = TlsClient(s.port, ws=False)
        time.sleep(0.05)
        reset(b.sock)
        mark = s.mark()
        c = TlsClient(s.port, rcvbuf=32768)
        cid = s.wait_line(r"^open \d+ ", 10.0, start=mark).split()[1]
        c.send_cmd(op="fill", count=16, size=MiB)
        s.wait_line(r"^filled %s " % cid, 10.0)
        c.sock.recv(10000)
        reset(c.sock)
        s.wait_line(r"^close %s 1006 " % cid, 10.0,
                    what="onClose 1006 of the client reset during the output")
        mark = s.mark()
        d = TlsClient(s.port)
        did = s.wait_line(r"^open \d+ ", 10.0, start=mark).split()[1]
        d.send(encode_frame(OP_BINARY, bytes(100000))[:50000])
        half = socket.socket(fileno=os.dup(d.sock.fileno()))
        half.shutdown(socket.SHUT_WR)  # FIN, no close_notify, half a frame sent
        half.close()
        s.wait_line(r"^close %s 1006 " % did, 10.0,
                    what="onClose 1006 of the client that ended without close_notify")
        mark = s.mark()
        e = TlsClient(s.port)
        eid = s.wait_line(r"^open \d+ ", 10.0, start=mark).split()[1]
        e.sock.settimeout(5.0)
        try:
            e.sock.unwrap()  # close_notify, no WebSocket Close
        except (OSError, ValueError):
            pass
        s.wait_line(r"^close %s 1006 " % eid, 10.0,
                    what="onClose 1006 of the client that sent close_notify alone")
        s.check_alive()
        TlsClient(s.port).echo_ok(b"after the resets")


@test("limits_over_tls", 20)
def _():
    """max_connections and max_connections_per_ip over TLS: the 503 and 429 come encrypted,
    then close_notify"""
    for key, status in (("max_connections", 503), ("max_connections_per_ip", 429)):
        with Srv({key: 1, "tls": server_tls()}, ready_timeout=30.0) as s:
            first = TlsClient(s.port)
            second = TlsClient(s.port, ws=False)
            resp = second.request(upgrade_request())
            check(resp.status == status, "%s=1: the second client got HTTP %d, expected %d" % (
                key, resp.status, status))
            length = int(resp.header("content-length") or 0)
            second._take(length, "the body of the %d" % status)
            second.expect_close_notify()
            first.echo_ok(b"the first one is still served")


# == 7. close_notify ==============================================================================


@test("close_notify_client_close", 20)
def _():
    """client-initiated closing handshake, TLS 1.2 and 1.3: the server's Close, then
    close_notify before its FIN"""
    with lab() as s:
        for version in (TLS12, TLS13):
            c = TlsClient(s.port, client_ctx(version))
            c.echo_ok(b"before closing")
            c.send_frame(OP_CLOSE, close_payload(1000, "bye"))
            f = c.recv_message("the server's Close")
            check(f.op == OP_CLOSE and close_code(f) == 1000,
                  "%s: expected Close 1000, got %r" % (version.name, f))
            try:
                c.expect_close_notify()
            except Failure as e:
                raise Failure("%s: %s" % (c.sock.version(), e))
            c.close()


@test("close_notify_server_close", 20)
def _():
    """server-initiated close (the lab's closeall): Close 1000, the client answers, then
    close_notify before FIN"""
    with lab() as s:
        for version in (TLS12, TLS13):
            c = TlsClient(s.port, client_ctx(version))
            c.send_cmd(op="closeall")
            f = c.recv_message("the server's Close")
            check(f.op == OP_CLOSE and close_code(f) == 1000,
                  "%s: expected Close 1000, got %r" % (version.name, f))
            c.answer_close(f)
            try:
                c.expect_close_notify()
            except Failure as e:
                raise Failure("%s: %s" % (c.sock.version(), e))
            c.close()


@test("close_notify_after_errors", 20)
def _():
    """the server's own closes (1002 unmasked frame, 1009 too big, 1007 bad UTF-8, 1001 idle
    timeout) and an HTTP error answer (400) also end with close_notify"""
    config = {"tls": server_tls(), "max_message_size": 1000, "idle_timeout": 1}
    with Srv(config, ready_timeout=30.0) as s:
        for code, frame in ((1002, encode_frame(OP_TEXT, b"unmasked", mask=False)),
                            (1009, encode_frame(OP_BINARY, bytes(2000))),
                            (1007, encode_frame(OP_TEXT, b"\xff\xfe")), (1001, b"")):
            c = TlsClient(s.port)
            c.send(frame)
            f = c.recv_message("Close %d" % code)
            check(f.op == OP_CLOSE and close_code(f) == code, "expected Close %d, got %r" % (code, f))
            c.send_frame(OP_CLOSE, close_payload(code))
            try:
                c.expect_close_notify()
            except Failure as e:
                raise Failure("after Close %d: %s" % (code, e))
        c = TlsClient(s.port, ws=False)
        resp = c.request(upgrade_request(key=False))
        check(resp.status == 400, "an upgrade without Sec-WebSocket-Key got HTTP %d" % resp.status)
        c._take(int(resp.header("content-length") or 0), "the body of the 400")
        c.expect_close_notify()


# == 8. records ==================================================================================


@test("records_one_byte", 30)
def _():
    """the upgrade request and frames sent one byte per TLS record echo intact"""
    ones = iter(lambda: 1, None)
    with lab() as s:
        c = TlsClient(s.port, ws=False)
        key = wsraw.new_key()
        c.send_records(upgrade_request(key=key), ones)
        resp = c.read_response()
        check(resp.status == 101 and resp.header("sec-websocket-accept") == wsraw.accept_for(key),
              "handshake sent byte by byte: %r" % resp.raw[:100])
        text = "split \u00e9\u20ac\U0001F600 " * 20
        for op, payload in ((OP_TEXT, text.encode()), (OP_BINARY, bytes(range(256)) * 4)):
            c.send_records(encode_frame(op, payload), ones)
            c.expect_message(op, payload)
        c.close_cleanly()


@test("records_split_messages", 30)
def _():
    """fragmented messages and a Ping between fragments, cut into TLS records of random sizes;
    a frame in the upgrade's record; 200 frames in one record"""
    rng = random.Random(6455)
    sizes = iter(lambda: rng.choice((1, 2, 3, 7, 100, 1000, 4096, 16383, 16384, 20000)), None)
    with lab() as s:
        c = TlsClient(s.port)
        text = ("fragments \u00e9\u20ac\U0001F600 " * 4000).encode()
        binary = rng.randbytes(300000)
        for op, payload in ((OP_TEXT, text), (OP_BINARY, binary)):
            cuts = sorted(rng.sample(range(1, len(payload)), 6))
            parts = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
            stream = b""
            for i, part in enumerate(parts):
                stream += encode_frame(op if i == 0 else OP_CONT, part, fin=i == len(parts) - 1)
                if i == 2:
                    stream += encode_frame(OP_PING, b"between fragments")
            c.send_records(stream, sizes)
            pong = c.recv_message("the Pong")
            check(pong.op == OP_PONG and pong.payload == b"between fragments",
                  "expected the Pong, got %r" % pong)
            c.expect_message(op, payload)
        together = TlsClient(s.port, ws=False)
        together.handshake(extra=encode_frame(OP_TEXT, "in the upgrade's record"))
        together.expect_message(OP_TEXT, "in the upgrade's record")
        together.close_cleanly()
        msgs = [b"small %d" % i for i in range(200)]
        c.send(b"".join(encode_frame(OP_BINARY, m) for m in msgs))
        for m in msgs:
            c.expect_message(OP_BINARY, m)
        c.close_cleanly()


# == 9. backpressure =============================================================================


@test("backpressure_32mib", 60)
def _():
    """32 x 1 MiB queued at once for a client that reads nothing for 1 s, slowly for 1 s, then
    fast: all intact, in order, then onDrain"""
    count = 32
    with lab(max_output_buffer=40 * MiB) as s:
        mark = s.mark()
        c = TlsClient(s.port, rcvbuf=32768)
        cid = s.wait_line(r"^open \d+ ", 10.0, start=mark).split()[1]
        c.send_cmd(op="fill", count=count, size=MiB)
        filled = s.wait_line(r"^filled %s " % cid, 20.0).split()
        check(int(filled[2]) == count, "the server took %s of %d messages: %r" % (filled[2], count, filled))
        check(int(filled[4]) > 16 * MiB, "bufferedAmount() right after queueing was %s" % filled[4])
        time.sleep(1.0)
        s.check_alive()
        c.sock.settimeout(10.0)
        slow_end = time.monotonic() + 1.0
        while time.monotonic() < slow_end:
            c.buf += c.sock.recv(4096)
            time.sleep(0.005)
        slow_bytes = len(c.buf)
        check(slow_bytes < 8 * MiB, "read %d bytes in the slow second: not slow" % slow_bytes)
        for n in range(count):
            f = c.recv_message("message %d of %d" % (n, count))
            check(f.op == OP_BINARY and f.payload == numbered(n, MiB),
                  "message %d: %r, expected number %d" % (n, f, n))
        s.wait_line(r"^drain %s 0$" % cid, 10.0, what="onDrain with nothing buffered")
        c.echo_ok(b"after the burst")
        c.close_cleanly()


# == 10-12. versions, ciphers, client certificates, renegotiation, SNI/ALPN ====================


@test("min_version_tls13", 20)
def _():
    """min_version TLSv1.3: a TLS 1.2-only client fails the handshake, a TLS 1.3 client is served"""
    with lab(min_version="TLSv1.3") as s:
        try:
            TlsClient(s.port, client_ctx(TLS12), ws=False)
        except Failure as e:
            check("version" in str(e).lower(), "the TLS 1.2 client failed, but not for the version: %s" % e)
        else:
            raise Failure("a TLS 1.2-only client completed the handshake")
        c = TlsClient(s.port, client_ctx(TLS13))
        check(c.sock.version() == "TLSv1.3", "negotiated %s" % c.sock.version())
        c.echo_ok(b"tls 1.3")
        s.check_alive()


@test("ciphers_tls12", 30)
def _():
    """ciphers: a TLS 1.2 client negotiates the configured cipher (two configurations), a
    client without it fails, TLS 1.3 unaffected"""
    for cipher in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"):
        with lab(ciphers=cipher) as s:
            c = TlsClient(s.port, client_ctx(TLS12))
            check(c.ssl_info() == ("TLSv1.2", cipher),
                  "configured %s, negotiated %s" % (cipher, c.ssl_info()))
            c.echo_ok(cipher.encode())
            ctx = client_ctx(TLS12)
            ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
            try:
                TlsClient(s.port, ctx, ws=False)
            except Failure:
                pass
            else:
                raise Failure("configured %s: a client offering only AES256-GCM was served" % cipher)
            c = TlsClient(s.port, client_ctx(TLS13))
            check(c.sock.version() == "TLSv1.3", "TLS 1.3 with ciphers %s: %s" % (cipher, c.ssl_info()))
            c.echo_ok(b"tls 1.3")


@test("verify_peer", 30)
def _():
    """verify_peer with ca: no certificate and a stranger's certificate are refused (TLS 1.2
    and 1.3); the CA's client certificate is served"""
    with lab(ca=C("ca.pem"), verify_peer=True) as s:
        for version in (TLS12, TLS13):
            for cert in (None, "stranger"):
                tls_refused(s.port, client_ctx(version, cert=cert),
                            "%s client with %s" % (version.name, cert or "no certificate"))
            c = TlsClient(s.port, client_ctx(version, cert="client"))
            c.echo_ok(b"with the CA's client certificate")
            c.close_cleanly()
        opens = s.find(r"^open ")
        check(len(opens) == 2, "the server opened %d WebSockets, expected 2: %r" % (len(opens), opens))
        s.check_alive()


@test("sni_alpn", 20)
def _():
    """the one certificate whatever the SNI (or none); ALPN picks http/1.1 when offered, none for h2 alone"""
    with lab() as s:
        for name in ("127.0.0.1", "other.example.org", None):
            c = TlsClient(s.port, client_ctx(verify=False), server_hostname=name)
            check(c.sock.getpeercert(True) == der("server.pem"), "SNI %r: another certificate" % name)
            c.echo_ok()
        for offer, want in ((["h2", "http/1.1"], "http/1.1"), (["h2"], None)):
            ctx = client_ctx()
            ctx.set_alpn_protocols(offer)
            c = TlsClient(s.port, ctx)
            check(c.sock.selected_alpn_protocol() == want, "ALPN offer %r: selected %r, expected %r" % (
                offer, c.sock.selected_alpn_protocol(), want))
            c.echo_ok()


@test("cert_chain", 20)
def _():
    """a cert file with the intermediate after the certificate: the server sends both, so a client
    that trusts only the root verifies it; without the intermediate in the file it cannot"""
    with lab(cert=C("leaf-chain.pem"), key=C("leaf.key")) as s:
        c = TlsClient(s.port)
        check(c.sock.getpeercert(True) == der("leaf.pem"), "another certificate")
        c.echo_ok(b"verified through the intermediate")
    with lab(cert=C("leaf.pem"), key=C("leaf.key")) as s:
        try:
            TlsClient(s.port, ws=False)
        except Failure as e:
            check("certificate verify failed" in str(e), "without the intermediate: %s" % e)
        else:
            raise Failure("the control failed: the leaf alone verified without its intermediate")


@test("session_resumption", 30)
def _():
    """TLS 1.2 and 1.3 sessions resume, also across the 4 workers of examples/echo.php"""
    with tls_example("echo", "--workers", "4") as s:
        for version in (TLS12, TLS13):
            ctx = client_ctx(version)
            c = TlsClient(s.tls_port, ctx)
            c.echo_ok()
            session = c.sock.session
            c.close_cleanly()
            reused = []
            for _ in range(8):
                raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
                t = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
                reused.append(t.session_reused)
                t.close()
            check(all(reused), "%s: resumed %s" % (version.name, reused))


class SClient:
    """`openssl s_client -msg` to a port (TLS 1.2 with -crlf by default): what is typed goes to
    the server (a line that starts with R, K or k is a command), its output is collected."""

    def __init__(self, port, options=("-tls1_2", "-crlf")):
        self.proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-msg",
                                      "-servername", "localhost"] + list(options),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        register_pid(self.proc.pid)
        self.out = ""  # everything it printed; echoed frames end no line
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self.cond:
                self.out += chunk.decode("latin-1")
                self.cond.notify_all()

    @property
    def lines(self):
        with self.cond:
            return self.out.splitlines()

    def wait(self, pattern, seconds):
        """Waits for `pattern` (^ and $ match at line ends) in the output."""
        end = time.monotonic() + seconds
        with self.cond:
            while not re.search(pattern, self.out, re.M):
                if time.monotonic() > end:
                    raise Failure("s_client did not print %r within %.0f s; last lines %r" % (
                        pattern, seconds, self.out.splitlines()[-6:]))
                self.cond.wait(0.1)

    def type(self, text):
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def count(self, pattern):
        with self.cond:
            return len(re.findall(pattern, self.out, re.M))

    def server_hellos(self):
        return self.count(r"^<<< TLS 1\.2, Handshake \[.*\], ServerHello$")

    def settled(self, seconds):
        """Waits until s_client ended (the server refused) or saw a second handshake finish."""
        end = time.monotonic() + seconds
        while self.proc.poll() is None and time.monotonic() < end:
            if self.count(r"^<<< TLS 1\.2, Handshake \[.*\], Finished$") >= 2:
                return
            time.sleep(0.05)

    def stop(self):
        wsraw.stop_group(self.proc, signal.SIGTERM, 2.0)


def renegotiate(port, upgrade):
    """s_client completes the handshake (and, with `upgrade`, opens a WebSocket), then asks for a
    renegotiation (R); returns the s_client after 2 s."""
    sc = SClient(port)
    try:
        sc.wait(r"^New, TLSv1\.2, Cipher is ", 10.0)
        if upgrade:
            sc.type(upgrade_request().decode().replace("\r\n", "\n"))
            sc.wait(r"^HTTP/1\.1 101 ", 10.0)
        sc.type("R\n")
        sc.wait(r"RENEGOTIATING", 5.0)
        sc.settled(5.0)
    finally:
        sc.stop()
    return sc


@test("renegotiation_refused", 40)
def _():
    """client-initiated TLS 1.2 renegotiation (s_client R), before and after the upgrade:
    refused (no second ServerHello), the server keeps serving"""
    # The control: the same driver renegotiates with `openssl s_server -client_renegotiation`,
    # so a server that allowed it would show a second ServerHello here.
    ctl = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
                            "-client_renegotiation", "-cert", C("server.pem"), "-key", C("server.key")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    register_pid(ctl.pid)
    try:
        line = ""
        while not line.startswith("ACCEPT"):
            line = ctl.stdout.readline().decode()
            check(line, "openssl s_server did not start")
        sc = renegotiate(int(line.split(":")[-1]), upgrade=False)
        check(sc.server_hellos() == 2, "control: no renegotiation with s_server -client_renegotiation "
              "(%d ServerHello): the driver does not work here" % sc.server_hellos())
    finally:
        wsraw.stop_group(ctl, signal.SIGKILL, 1.0)
    with lab() as s:
        other = TlsClient(s.port, client_ctx(TLS12))
        for upgrade in (False, True):
            sc = renegotiate(s.port, upgrade)
            check(sc.server_hellos() == 1, "upgrade %s: the server renegotiated (%d ServerHello): %r" % (
                upgrade, sc.server_hellos(), sc.lines[-8:]))
            check(any("no_renegotiation" in l or "handshake_failure" in l for l in sc.lines),
                  "upgrade %s: no refusal in %r" % (upgrade, sc.lines[-8:]))
            s.check_alive()
            other.echo_ok(b"another client, after the attempt")
        TlsClient(s.port, client_ctx(TLS12)).echo_ok(b"a new client")


@test("tls13_key_update", 30)
def _():
    """TLS 1.3 KeyUpdate from the client (s_client K: the server must answer with its own; k: it
    must not), in the middle of a WebSocket: the echo goes on with the new keys"""
    with lab() as s:
        for command, answered in (("K", True), ("k", False)):
            sc = SClient(s.port, ("-tls1_3",))
            try:
                sc.wait(r"^New, TLSv1\.3, Cipher is ", 10.0)
                sc.type(upgrade_request())
                sc.wait(r"^HTTP/1\.1 101 ", 10.0)
                # A fixed mask keeps line ends and command letters out of the typed bytes.
                sc.type(encode_frame(OP_TEXT, "before the key update", key=b"\x01\x02\x03\x04"))
                sc.wait(r"before the key update", 10.0)
                before = sc.count(r"^<<< TLS 1\.3, Handshake \[.*\], KeyUpdate$")
                sc.type(command + "\n")
                sc.wait(r"KEYUPDATE", 5.0)
                sc.type(encode_frame(OP_TEXT, "after the key update", key=b"\x01\x02\x03\x04"))
                sc.wait(r"after the key update", 10.0)
                got = sc.count(r"^<<< TLS 1\.3, Handshake \[.*\], KeyUpdate$") - before
                check(got == (1 if answered else 0), "%s: the server sent %d KeyUpdate(s)" % (command, got))
            finally:
                sc.stop()
        s.check_alive()


def free_port():
    """A port of 19200-19299 that nothing listens on now (for a test that must name the port)."""
    for port in range(19200, 19300):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise Failure("no free port in 19200-19299")


@test("tls_port_same_as_port", 40)
def _():
    """'tls' => ['port' => P] with 'port' => P is refused: by one process (the address is in
    use), and also with workers or reuse_port, where SO_REUSEPORT would let both listeners bind
    P and the kernel would split clients between the plain and the TLS socket"""
    wrong = []
    for extra in ({}, {"workers": 2}, {"reuse_port": True}):
        port = free_port()
        # Each worker of the lab prints a listening line in two writes: they may interleave.
        s = Srv(dict(extra, port=port, tls=server_tls(port=port)), ready_timeout=30.0,
                ready=r"listening on ws://127\.0\.0\.1:(\d+)/")
        try:
            try:
                s.start()
            except Failure as e:
                check("in use" in str(e) or "tls.port" in str(e), "%s: refused, but why? %s" % (extra, e))
                continue
            answers = {}
            for _ in range(20):
                c = Client(port)
                status = c.request(upgrade_request()).raw.split(b"\r\n")[0].decode()
                answers[status] = answers.get(status, 0) + 1
                c.close()
            wrong.append("with %s it started, plain and TLS both listening on port %d: 20 ws:// "
                         "upgrades got %s" % (json.dumps(extra), port, answers))
        finally:
            s.stop()
    check(not wrong, "; ".join(wrong) + "; expected the configuration refused, as without workers "
          "and reuse_port (start(): Address already in use)")


# == 13. configuration errors ===================================================================

CONSTRUCT = r"""
foreach (json_decode($argv[1], true) as $tls) {
    try {
        $config = ['host' => '127.0.0.1', 'port' => 0] + ($tls === 'none' ? [] : ['tls' => $tls]);
        $s = new WebsocketServer($config);
        $r = ['ok', $s->getTlsPort(), $s->getConfig()['tls']['passphrase'] ?? null];
    } catch (Throwable $e) {
        $r = [get_class($e), $e->getMessage()];
    }
    echo json_encode($r), "\n";
}
"""


@test("config_errors", 30)
def _():
    """construction: each bad 'tls' names the file or key and the reason; good ones construct
    (getTlsPort() 0, null without tls)"""
    q = re.escape
    missing, garbage, cert, enc = C("missing.pem"), C("garbage.pem"), C("server.pem"), C("server-enc.key")
    exc = "WebsocketException: tls: "
    arg = r"ValueError: WebsocketServer::__construct\(\): Argument #1 \(\$config\) "
    no_key = exc + r"cannot load the private key from '%s': .*"
    cases = [
        ("missing cert", {"cert": missing}, exc + "cannot read the certificate file '%s': No such file" % q(missing)),
        ("garbage cert", {"cert": garbage, "key": C("server.key")},
         exc + "'%s' holds no usable PEM certificate: .*no start line" % q(garbage)),
        ("key of another", {"cert": cert, "key": C("other.key")},
         exc + "the private key in '%s' does not match the certificate in '%s'$" % (q(C("other.key")), q(cert))),
        ("encrypted key, no passphrase", {"cert": cert, "key": enc},
         no_key % q(enc) + r"\(the key is encrypted: set its passphrase\)$"),
        ("wrong passphrase", {"cert": cert, "key": enc, "passphrase": "wrong"},
         no_key % q(enc) + r"\(is the passphrase right\?\)$"),
        ("right passphrase", {"cert": cert, "key": enc, "passphrase": certs.PASSPHRASE}, r"^ok 0 \(set\)$"),
        ("cert and key in one file", {"cert": C("server-both.pem")}, r"^ok 0 None$"),
        ("no key, cert file without one", {"cert": C("self/cert.pem")},
         no_key % q(C("self/cert.pem")) + r"\(is it a PEM private key\?\)$"),
        ("missing key", {"cert": cert, "key": C("missing.key")},
         exc + "cannot read the key file '%s': No such file" % q(C("missing.key"))),
        ("garbage key", {"cert": cert, "key": garbage}, no_key % q(garbage)),
        ("garbage ca", server_tls(ca=garbage), exc + "'%s' holds no usable CA certificate" % q(garbage)),
        ("missing ca", server_tls(ca=missing), exc + "cannot read the CA file '%s'" % q(missing)),
        ("bad cipher list", server_tls(ciphers="NO-SUCH-CIPHER"), exc + "no usable cipher in 'NO-SUCH-CIPHER'"),
        ("tls without cert", {"key": C("server.key")}, arg + r'key "tls" needs "cert"'),
        ("unknown key under tls", server_tls(verify=True), arg + r'key "tls" contains unknown key "verify"'),
        ("bad min_version", server_tls(min_version="TLSv1.1"),
         arg + r'key "tls\.min_version" must be one of .*"TLSv1\.1" given'),
        ("tls port out of range", server_tls(port=70000), arg + r'key "tls\.port"'),
        ("tls a string", cert, r'^TypeError: .*key "tls"'),
        ("without tls", "none", r"^ok None None$"),
    ]
    script = "<?php\n" + CONSTRUCT
    with tempfile.NamedTemporaryFile("w", suffix=".php") as f:
        f.write(script)
        f.flush()
        rc, out = run_program(php_command() + [f.name, json.dumps([c[1] for c in cases])], 20)
    lines = out.splitlines()
    check(rc == 0 and len(lines) == len(cases), "php exit status %s, %d lines for %d cases: %s" % (
        rc, len(lines), len(cases), out[-800:]))
    bad = []
    for (what, _, pattern), line in zip(cases, lines):
        r = json.loads(line)
        got = " ".join(str(x) for x in r) if r[0] == "ok" else "%s: %s" % (r[0], r[1])
        if not re.search(pattern if pattern.startswith("^") else "^" + pattern, got):
            bad.append("%s: got %r, expected /%s/" % (what, got, pattern))
    check(not bad, "; ".join(bad))


@test("encrypted_key_serves", 20)
def _():
    """an encrypted key with its passphrase: the server starts and serves wss"""
    with lab(key=C("server-enc.key"), passphrase=certs.PASSPHRASE) as s:
        c = TlsClient(s.port)
        check(c.sock.getpeercert(True) == der("server.pem"), "another certificate")
        c.echo_ok(b"decrypted key")


# == 14. workers ==================================================================================


def owner_pids(port, client_ports):
    """The server pids holding the connections of `client_ports` on `port`."""
    owners = socket_owners(port)
    missing = [p for p in client_ports if p not in owners]
    check(not missing, "no server socket for %d of %d clients (ss shows %d)" % (
        len(missing), len(client_ports), len(owners)))
    return set().union(*(owners[p] for p in client_ports))


def local_ports(clients):
    return [c.transport.get_extra_info("sockname")[1] for c in clients]


async def expect_1012(clients, seconds=20):
    async def one(i, c):
        await bounded(c.wait_closed(), seconds, "client %d to be closed by the reload" % i)
        check(c.close_code == 1012, "client %d: closed with %s %r, expected 1012" % (
            i, c.close_code, c.close_reason))
    await asyncio.gather(*(one(i, c) for i, c in enumerate(clients)))


@test("workers_tls_reload", 90)
def _():
    """chat.php --workers 4 over wss: 40 clients across workers chat; a reload closes each
    with 1012; they reconnect to new workers and chat"""
    with tls_example("chat", "--workers", "4") as s:
        async def go():
            clients = await open_all([s.url()] * 40)
            old = owner_pids(s.tls_port, local_ports(clients))
            check(len(old) >= 2, "40 clients all on worker pid(s) %s" % old)
            await chat_round(clients, "before")
            loop = asyncio.get_running_loop()
            reloaded = loop.run_in_executor(None, s.reload, 40.0)
            await expect_1012(clients, 40)
            line = await reloaded
            check(" 0 connections handed over" in line, "TLS connections were handed over: %r" % line)
            clients = await open_all([s.url()] * 40)
            new = owner_pids(s.tls_port, local_ports(clients))
            check(not new & old, "after the reload, clients are on old worker pids %s" % (new & old))
            await chat_round(clients, "after")
            await close_all(clients)
        run(go())
        s.check_alive()


@test("workers_side_by_side_reload", 90)
def _():
    """chat.php --workers 4 --tls-port: 20 ws:// and 20 wss:// clients chat; through a reload
    the ws:// ones stay, losing nothing, the wss:// ones get 1012 and reconnect"""
    with tls_example("chat", "--workers", "4", "--tls-port", "0") as s:
        async def go():
            plain = await open_all([s.url(False)] * 20)
            secure = await open_all([s.url()] * 20)
            await chat_round(plain + secure, "before")
            old = owner_pids(s.plain_port, local_ports(plain))
            # A plain client sends every 2 ms from 0.1 s before the reload to 0.2 s after it.
            loop = asyncio.get_running_loop()
            seq = []
            reloaded = None
            after = None
            while after is None or loop.time() < after:
                seq.append("seq %d" % len(seq))
                await plain[0].send(seq[-1])
                await asyncio.sleep(0.002)
                if reloaded is None and len(seq) >= 50:
                    reloaded = loop.run_in_executor(None, s.reload, 40.0)
                elif reloaded is not None and after is None and reloaded.done():
                    after = loop.time() + 0.2
            line = await reloaded
            await expect_1012(secure, 10)
            check(" 20 connections handed over" in line,
                  "expected the 20 plain connections handed over: %r" % line)
            for i, c in enumerate(plain):
                got = []
                for _ in seq:
                    what = "plain client %d: message %d of the %d sent through the reload (got %r)" % (
                        i, len(got), len(seq), got[-3:])
                    got.append(await bounded(c.recv(), 20, what))
                wrong = [(want, had) for want, had in zip(seq, got) if want != had]
                check(not wrong, "plain client %d: %d of %d messages out of place, first (expected, got) %r" % (
                    i, len(wrong), len(seq), wrong[:1]))
            new = owner_pids(s.plain_port, local_ports(plain))
            check(not new & old, "plain connections still on old worker pids %s" % (new & old))
            secure = await open_all([s.url()] * 20)
            await chat_round(plain + secure, "after")
            await close_all(plain + secure)
        run(go())
        s.check_alive()


@test("workers_cert_rotation", 90)
def _():
    """certificate rotation: new files on disk + `chat.php reload`, new connections get the new
    certificate; broken files on reload (SIGUSR1) keep it"""
    d = tempfile.mkdtemp(prefix="ws-tls-rotate-")
    try:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")

        def put(src, dst):
            shutil.copyfile(src, dst + ".tmp")
            os.rename(dst + ".tmp", dst)

        put(C("server.pem"), cert)
        put(C("server.key"), key)
        port = str(free_port())
        with Example("chat", "--workers", "2", "--port", port, "--tls-cert", cert, "--tls-key", key) as s:
            master = s.pid

            def peer_der():
                c = TlsClient(s.tls_port)
                try:
                    return c.sock.getpeercert(True)
                finally:
                    c.close_cleanly()

            check(peer_der() == der("server.pem"), "before the rotation: not server.pem")
            held = TlsClient(s.tls_port)
            put(C("server2.pem"), cert)
            put(C("server2.key"), key)
            check(peer_der() == der("server.pem"), "files changed, no reload yet: not the old certificate")
            s.reload(command=True)
            held.expect_close(1012)
            held.send_frame(OP_CLOSE, close_payload(1012))
            held.expect_eof(5.0)
            got = peer_der()
            check(got == der("server2.pem"), "after the reload: %s, expected server2.pem (serial 1002)" % (
                "still server.pem" if got == der("server.pem") else "another certificate"))
            put(C("garbage.pem"), cert)
            mark = s.mark()
            s.reload()
            check(s.find(r"keeping the loaded certificate", mark),
                  "no log line about the broken files: %r" % s.output()[-5:])
            check(peer_der() == der("server2.pem"), "after a reload with broken files: not server2.pem")
            check(s.pid == master and s.alive(), "the master changed or ended")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test("stop_sigterm_close_notify", 40)
def _():
    """SIGTERM, one process and 2 workers: each TLS client gets Close 1001, then close_notify; exit 0"""
    for workers in ("1", "2"):
        with tls_example("echo", "--workers", workers) as s:
            cs = [TlsClient(s.tls_port) for _ in range(4)]
            for c in cs:
                c.echo_ok()
            s.signal(signal.SIGTERM)
            for i, c in enumerate(cs):
                try:
                    c.expect_close(1001)
                    c.send_frame(OP_CLOSE, close_payload(1001))
                    c.expect_eof(5.0)
                except Failure as e:
                    raise Failure("workers %s, client %d: %s" % (workers, i, e))
            rc = s.wait_exit(15.0)
            check(rc == 0, "workers %s: exit status %s after SIGTERM" % (workers, rc))


@test("workers_reload_flushes_tls_output", 60)
def _():
    """reload with 12 MiB queued for a slow TLS client (tests/workers/server.php): all of it
    arrives before Close 1012 and close_notify"""
    workers = os.path.join(ROOT, "tests", "workers")
    with Srv({"workers": 2, "tls": server_tls(), "max_output_buffer": 64 * MiB}, mode="start", script=os.path.join(workers, "server.php"),
             args=[os.path.join(workers, "app.php")], ready=r"^ready worker=\d+ pid=\d+ port=(\d+) ",
             ready_timeout=30.0) as s:
        c = TlsClient(s.port, rcvbuf=32768)
        big = [bytes([65 + i]) * (4 * MiB) for i in range(3)]
        for b in big:
            c.send_frame(OP_BINARY, b)
        time.sleep(0.5)
        s.signal(signal.SIGUSR1)
        time.sleep(0.5)
        for i, b in enumerate(big):
            try:
                c.expect_message(OP_BINARY, b)
            except Failure as e:
                raise Failure("echo %d of 3 (4 MiB) queued before the reload: %s" % (i, e))
        c.expect_close(1012)
        c.send_frame(OP_CLOSE, close_payload(1012))
        c.expect_eof(5.0)
        again = TlsClient(s.port)
        again.echo_ok(b"after the reload")


# == 15. stress ==================================================================================


@test("stress_200x20", 90)
def _():
    """200 concurrent wss connections, 20 echoes each (text and binary up to 4 KiB): all intact"""
    with tls_example("echo") as s:
        async def one(i, ws, rng):
            for k in range(20):
                n = rng.randrange(4097)
                m = rng.randbytes(n) if k % 2 else ("%d.%d " % (i, k) + "s" * n)
                await ws.send(m)
                back = await bounded(ws.recv(), 30, "echo %d of connection %d" % (k, i))
                check(back == m, "connection %d echo %d: sent %s, got %s" % (i, k, show(m), show(back)))

        async def go():
            t0 = time.monotonic()
            clients = await open_all([s.url()] * 200)
            opened = time.monotonic() - t0
            await asyncio.gather(*(one(i, ws, random.Random(i)) for i, ws in enumerate(clients)))
            await close_all(clients)
            return opened, time.monotonic() - t0

        opened, total = run(go())
        print("# 200 TLS connections opened in %.1f s, 4000 echoes done in %.1f s" % (opened, total))
        s.check_alive()


# == the runner ==================================================================================


def end_groups(pidfile):
    """Kills the process groups a test recorded (a test that was killed leaves them) and empties the file."""
    try:
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
    except OSError:
        pids = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    open(pidfile, "w").close()


def run_one(name, limit, env, pidfile):
    """Runs `tls.py --one NAME` with a hard limit; returns (verdict line, other output lines)."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", name], env=env,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            rc = p.wait(limit)
            late = None
        except subprocess.TimeoutExpired:
            late = "no result within the hard timeout of %d s" % limit
            rc = wsraw.stop_group(p, signal.SIGTERM, 5.0)
        end_groups(pidfile)
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").splitlines()
    verdict = next((l for l in lines if l.startswith(("ok   ", "FAIL "))), None)
    notes = [l for l in lines if l is not verdict and l.strip()]
    if late:
        verdict = "FAIL %s: %s%s" % (name, late, " (%s)" % verdict if verdict else "")
    elif verdict is None:
        verdict = "FAIL %s: exit status %s without a verdict" % (name, rc)
    elif rc != 0 and verdict.startswith("ok"):
        verdict = "FAIL %s: exit status %s after %r" % (name, rc, verdict)
    return verdict, notes


def run_all(wanted):
    todo = [(n, t) for n, _, t in wsharness.TESTS if not wanted or any(w in n for w in wanted)]
    tmp = tempfile.mkdtemp(prefix="ws-tls-")
    pidfile = os.environ.get("HARDENING_PIDFILE") or os.path.join(tmp, "pids")
    passed = failed = 0
    try:
        try:
            certs.make(os.path.join(tmp, "certs"))
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("FAIL certificates: %s" % e, flush=True)
            todo, failed = [], 1
        env = dict(os.environ, TLS_CERTS=os.path.join(tmp, "certs"), HARDENING_PIDFILE=pidfile)
        for name, limit in todo:
            verdict, notes = run_one(name, limit + 10, env, pidfile)
            for line in notes:
                print("# " + line.lstrip("# "))
            print(verdict, flush=True)
            if verdict.startswith("ok"):
                passed += 1
            else:
                failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        sys.exit(wsharness.main([sys.argv[0]] + sys.argv[2:3]))
    if sys.argv[1:] == ["--list"]:
        sys.exit(wsharness.main(sys.argv))
    sys.exit(run_all(sys.argv[1:]))
