"""wsraw.py - a minimal raw-socket WebSocket client and test runner for black-box checks.

Python 3 standard library only. Talks to a server on 127.0.0.1 byte by byte, so tests can send
exactly the (possibly broken) frames and handshakes they need. Every read and write is bounded
by the current case's deadline (see set_deadline). Frames that the server sends are checked on
arrival: they must be unmasked, have RSV bits clear and use the shortest length encoding.
"""

import base64
import hashlib
import os
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OP_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class Failure(Exception):
    """A check failed; the message says what was expected and what came back."""


class Abort(BaseException):
    """The whole run must stop (overall timeout, SIGTERM); not caught by case code."""


_deadline = [0.0]


def set_deadline(seconds):
    _deadline[0] = time.monotonic() + seconds


def remaining():
    left = _deadline[0] - time.monotonic()
    if left <= 0:
        raise Failure("case timed out")
    return left


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def mask_bytes(data, key):
    """XOR data with the 4-byte key, fast enough for 16 MiB (one big-integer operation)."""
    n = len(data)
    if n == 0:
        return b""
    rep = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(rep, "little")).to_bytes(n, "little")


def encode_frame(op, payload=b"", fin=True, rsv=0, mask=True, key=None, length=None):
    """One client frame. rsv is a 3-bit value (4 = RSV1, 2 = RSV2, 1 = RSV3); length overrides
    the announced payload length (the payload itself is still appended)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | (op & 0xF)])
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 65536:
        head.append(mbit | 126)
        head += struct.pack(">H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack(">Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4) if key is None else key
    return bytes(head) + key + mask_bytes(payload, key)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack(">H", code) + reason


def describe(op, payload):
    name = OP_NAMES.get(op, "opcode %#x" % op)
    if op == OP_CLOSE:
        if len(payload) >= 2:
            return "close %d %r" % (struct.unpack(">H", payload[:2])[0], bytes(payload[2:60]))
        return "close with payload %r" % bytes(payload)
    shown = bytes(payload[:40])
    more = "..." if len(payload) > 40 else ""
    return "%s (%d bytes: %r%s)" % (name, len(payload), shown, more)


class Frame:
    __slots__ = ("fin", "rsv", "op", "payload")

    def __init__(self, fin, rsv, op, payload):
        self.fin, self.rsv, self.op, self.payload = fin, rsv, op, payload

    def __repr__(self):
        return describe(self.op, self.payload) + ("" if self.fin else " FIN=0")


class Response:
    def __init__(self, status, reason, headers, raw):
        self.status, self.reason, self.headers, self.raw = status, reason, headers, raw

    def header(self, name):
        return self.headers.get(name.lower())


class Conn:
    """One TCP connection to the server under test."""

    def __init__(self, port):
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=remaining())
        except OSError as e:
            raise Failure("connect to 127.0.0.1:%d failed: %s" % (port, e))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- raw bytes -------------------------------------------------------------------------

    def send(self, data):
        view = memoryview(data)
        while view:
            self.sock.settimeout(remaining())
            try:
                n = self.sock.send(view)
            except socket.timeout:
                raise Failure("timed out sending (server not reading?)")
            except OSError as e:
                raise Failure("send failed: %s (after receiving %s)" % (e, self._peek()))
            view = view[n:]

    def _peek(self):
        """What the server sent, for failure messages: frames still buffered, if any."""
        try:
            self.sock.setblocking(False)
            self.buf += self.sock.recv(65536)
        except OSError:
            pass
        if not self.buf:
            return "nothing"
        return repr(bytes(self.buf[:60]))

    def _fill(self, what):
        self.sock.settimeout(remaining())
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise Failure("timed out waiting for %s" % what)
        except ConnectionResetError:
            chunk = b""
            what = what + " (connection reset)"
        except OSError as e:
            raise Failure("recv failed waiting for %s: %s" % (what, e))
        if not chunk:
            self.eof = True
            raise Failure("connection closed while waiting for %s" % what)
        self.buf += chunk

    def _take(self, n, what):
        while len(self.buf) < n:
            self._fill(what)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    # -- HTTP ------------------------------------------------------------------------------

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise Failure("response head larger than 64 KiB")
            self._fill("HTTP response")
        end = self.buf.index(b"\r\n\r\n") + 4
        raw = bytes(self.buf[:end])
        del self.buf[:end]
        lines = raw[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise Failure("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = headers[key] + ", " + value if key in headers else value
        return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, raw)

    def request(self, raw):
        self.send(raw)
        return self.read_response()

    def expect_status(self, raw, status):
        resp = self.request(raw)
        if resp.status != status:
            raise Failure("expected HTTP %d, got %r" % (status, resp.raw.split(b"\r\n")[0]))
        return resp

    def handshake(self, extra=b""):
        """Opens the WebSocket (extra bytes are sent in the same write) and checks the 101."""
        key = new_key()
        resp = self.request(upgrade_request(key=key) + extra)
        if resp.status != 101:
            raise Failure("handshake: expected 101, got %r" % resp.raw.split(b"\r\n")[0])
        if resp.header("sec-websocket-accept") != accept_for(key):
            raise Failure("handshake: bad Sec-WebSocket-Accept %r" % resp.header("sec-websocket-accept"))
        return resp

    # -- frames ----------------------------------------------------------------------------

    def send_frame(self, op, payload=b"", **kw):
        self.send(encode_frame(op, payload, **kw))

    def recv_frame(self, what="a frame"):
        b0, b1 = self._take(2, what)
        n = b1 & 0x7F
        if b1 & 0x80:
            raise Failure("server frame is masked (%#04x %#04x)" % (b0, b1))
        if n == 126:
            (n,) = struct.unpack(">H", self._take(2, what))
            if n < 126:
                raise Failure("server used a 16-bit length for %d bytes" % n)
        elif n == 127:
            (n,) = struct.unpack(">Q", self._take(8, what))
            if n < 65536:
                raise Failure("server used a 64-bit length for %d bytes" % n)
        rsv = (b0 >> 4) & 7
        if rsv:
            raise Failure("server frame has RSV bits %#x set" % rsv)
        return Frame(bool(b0 & 0x80), rsv, b0 & 0xF, self._take(n, what))

    def recv_message(self, what="a message"):
        """The next data message (fragments joined) or control frame, as a Frame."""
        first = self.recv_frame(what)
        if first.op >= 8:
            if not first.fin:
                raise Failure("server sent a fragmented control frame %r" % first)
            return first
        if first.op == OP_CONT:
            raise Failure("server sent a continuation frame with no message open")
        parts = [first.payload]
        while not first.fin:
            f = self.recv_frame(what)
            if f.op >= 8:
                raise Failure("unexpected %r between fragments of a %s message" % (f, OP_NAMES[first.op]))
            if f.op != OP_CONT:
                raise Failure("server started a new message inside a fragmented one: %r" % f)
            parts.append(f.payload)
            first.fin = f.fin
        return Frame(True, 0, first.op, b"".join(parts))

    def expect_message(self, op, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        try:
            m = self.recv_message("%s" % describe(op, payload))
        except Failure:
            raise
        if m.op != op or m.payload != payload:
            if m.op == op and len(m.payload) == len(payload) > 60:
                i = next(i for i in range(len(payload)) if m.payload[i] != payload[i])
                raise Failure("payload differs at byte %d of %d" % (i, len(payload)))
            raise Failure("expected %s, got %r" % (describe(op, payload), m))
        return m

    def echo(self, op, payload, **kw):
        self.send_frame(op, payload, **kw)
        return self.expect_message(op, payload)

    def expect_close(self, codes):
        """Waits for the server's close frame; codes is an int, a tuple of ints, or None
        (meaning: no status code). Returns (code or None, reason bytes)."""
        if not isinstance(codes, tuple):
            codes = (codes,)
        want = " or ".join("close with no code" if c is None else "close %d" % c for c in codes)
        try:
            f = self.recv_message(want)
        except Failure as e:
            if self.eof:
                raise Failure("expected %s, got TCP close without a close frame" % want)
            raise
        if f.op != OP_CLOSE:
            raise Failure("expected %s, got %r" % (want, f))
        code = struct.unpack(">H", f.payload[:2])[0] if len(f.payload) >= 2 else None
        if len(f.payload) == 1:
            raise Failure("server close frame has a 1-byte payload")
        if code not in codes:
            raise Failure("expected %s, got %r" % (want, f))
        return code, f.payload[2:]

    def expect_eof(self, seconds=2.0):
        """The server must close TCP within `seconds` and send nothing more."""
        end = min(time.monotonic() + seconds, _deadline[0])
        while True:
            if self.buf:
                raise Failure("expected TCP close, got more data %r" % bytes(self.buf[:60]))
            left = end - time.monotonic()
            if left <= 0:
                raise Failure("server did not close TCP within %.1f s" % seconds)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return
            if not chunk:
                return
            self.buf += chunk


def upgrade_request(key=None, method="GET", version="1.1", host=True, upgrade="websocket",
                    connection="Upgrade", ws_version="13", extra=""):
    """A handshake request; pass None for a header to leave it out."""
    lines = ["%s / HTTP/%s" % (method, version)]
    if host:
        lines.append("Host: 127.0.0.1")
    if upgrade is not None:
        lines.append("Upgrade: " + upgrade)
    if connection is not None:
        lines.append("Connection: " + connection)
    key = new_key() if key is None else key
    if key is not False:
        lines.append("Sec-WebSocket-Key: " + key)
    if ws_version is not None:
        lines.append("Sec-WebSocket-Version: " + ws_version)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin-1")


# -- the server under test ---------------------------------------------------------------------


class Server:
    """Starts `$WS_PHP <script> --host 127.0.0.1 --port 0` in its own process group and waits for
    its `listening on ws://127.0.0.1:PORT/` line. stop() always ends the whole group."""

    def __init__(self, script, ready_timeout=15.0):
        self.script = script
        self.ready_timeout = ready_timeout
        self.proc = None
        self.port = None
        self.log = None

    @staticmethod
    def command():
        php = os.environ.get("WS_PHP")
        if php:
            return shlex.split(php)
        return ["php", "-d", "extension=" + os.path.join(ROOT, "modules", "websocket.so")]

    def start(self):
        self.log = tempfile.TemporaryFile()
        cmd = self.command() + [self.script, "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, start_new_session=True)
        line = b""
        end = time.monotonic() + self.ready_timeout
        while not line.endswith(b"\n"):
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                break
            if select.select([self.proc.stdout], [], [], left)[0]:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        text = line.decode("utf-8", "replace").strip()
        prefix = "listening on ws://127.0.0.1:"
        if not (text.startswith(prefix) and text.endswith("/") and text[len(prefix):-1].isdigit()):
            status = self.proc.poll()
            self.stop()
            raise RuntimeError("server did not become ready (%s); stdout %r; stderr %r" % (
                "exit status %s" % status if status is not None else "timeout", text, self.stderr_tail()))
        self.port = int(text[len(prefix):-1])
        # Keep draining stdout so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self.port

    def _drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 65536):
                pass
        except (OSError, ValueError):
            pass

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_desc(self):
        rc = self.proc.poll()
        if rc is None:
            return "running"
        return "killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc

    def stderr_tail(self, n=600):
        if self.log is None:
            return ""
        try:
            self.log.seek(0)
            return self.log.read().decode("utf-8", "replace")[-n:].strip()
        except (OSError, ValueError):
            return ""

    def stop(self, sig=signal.SIGTERM, grace=10.0):
        """Sends sig to the server's process group, then SIGKILL after `grace` seconds.
        Returns the exit status (negative: signal)."""
        return stop_group(self.proc, sig, grace)


def stop_group(proc, sig=signal.SIGTERM, grace=10.0):
    """Stops a process started with start_new_session: sig to its group, SIGKILL to the group
    after `grace` seconds (and to anything it left behind). Returns the exit status, or None
    when proc is None."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.wait()


# -- the runner ---------------------------------------------------------------------------------


class Runner:
    """Runs cases in order against one server, restarting it if a case kills it."""

    def __init__(self, script, overall_timeout=120.0):
        self.server = Server(script)
        self.cases = []
        self.passed = 0
        self.failed = 0
        self.overall_timeout = overall_timeout

    def case(self, name, timeout=5.0):
        def register(fn):
            self.cases.append((name, fn, timeout))
            return fn
        return register

    def _run_one(self, name, fn, timeout):
        if not self.server.alive():
            if self.server.proc is not None:
                print("# server %s; restarting" % self.server.exit_desc(), file=sys.stderr)
            self.server.start()
        set_deadline(timeout)
        conn = None
        try:
            conn = Conn(self.server.port)
            fn(conn)
            why = None
        except Failure as e:
            why = str(e)
        except Exception as e:  # a bug in the case itself: report it, keep going
            why = "harness error: %s: %s" % (type(e).__name__, e)
        finally:
            if conn is not None:
                conn.close()
        if not self.server.alive():
            time.sleep(0.05)
            why = (why + "; " if why else "") + "server %s: %s" % (
                self.server.exit_desc(), self.server.stderr_tail(300))
        self.report(name, why)

    def report(self, name, why):
        if why is None:
            self.passed += 1
            print("ok   %s" % name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)

    def run(self, only=None):
        def abort(signum, frame):
            raise Abort("overall timeout of %d s" % self.overall_timeout
                        if signum == signal.SIGALRM else "signal %d" % signum)

        signal.signal(signal.SIGALRM, abort)
        signal.signal(signal.SIGTERM, abort)
        signal.alarm(int(self.overall_timeout))
        todo = [c for c in self.cases if not only or any(o in c[0] for o in only)]
        i = 0
        try:
            for i, (name, fn, timeout) in enumerate(todo):
                self._run_one(name, fn, timeout)
            i = len(todo)
        except (KeyboardInterrupt, Abort, RuntimeError) as e:
            why = str(e) or type(e).__name__
            self.report(todo[i][0], "aborted: " + why)
            for name, _, _ in todo[i + 1:]:
                self.report(name, "not run")
        finally:
            signal.alarm(0)
            self.server.stop()
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0
