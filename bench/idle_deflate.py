#!/usr/bin/python3
"""idle_deflate.py - server memory per idle connection that negotiated permessage-deflate.

Starts ext-websocket's echo peer (bench/peers/ext.php, one process, 'ping_interval' off) with
'compression' on, reads its VmRSS (/proc/PID/status), then opens N connections that offer
`permessage-deflate; client_max_window_bits`; each sends one compressed text message (RSV1,
raw DEFLATE, the 00 00 FF FF tail removed) of SIZE bytes, at least min_size, so the server
inflates it and deflates its echo, and reads that echo (checked: RSV1 set, inflates to what
was sent). Once every connection has done so, all of them stay idle; after a short settle the
server's VmRSS is read again and the growth per connection is printed in KiB:

    RESULT conns=10000 rss_before_kb=... rss_after_kb=... kib_per_conn=... compression={...}

Connections come from source addresses 127.0.0.1, 127.0.0.2, ... with at most 10,000 each
(connect() scans the ephemeral range, even ports first, and crawls beyond that). The
descriptor limit is raised to its hard limit (the server inherits it). Every process it
starts is stopped on exit.

Usage: python3 bench/idle_deflate.py [--conns 10000] [--size 256] [--settle 2]
           [--compression JSON] [--port 0]
  --compression  the 'compression' array as JSON (default true: the server's defaults), e.g.
                 '{"server_context_takeover": true, "client_context_takeover": true}'
Env: WS_PHP  command that runs PHP with the extension (default: php -d
             extension=<repo>/modules/websocket.so)
"""

import argparse
import base64
import errno
import json
import os
import re
import resource
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PER_SOURCE = 10000
IN_FLIGHT = 200  # connections between connect() and their echo at any time


def php_command():
    php = os.environ.get("WS_PHP")
    if php:
        return shlex.split(php)
    return ["php", "-d", "extension=" + os.path.join(ROOT, "modules", "websocket.so")]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def compressed_message(text):
    """One message as a fresh compressor sends it, so every connection can send the same bytes
    (the first message of a context is the same with or without context takeover)."""
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def masked_frame(op, payload, rsv1):
    b0 = 0x80 | (0x40 if rsv1 else 0) | op
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    key = os.urandom(4)
    body = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + body


def parse_frame(buf):
    """(rsv1, opcode, payload, bytes used) of the first whole unmasked frame in buf, or None."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    at = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack("!H", buf[2:4])[0]
        at = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack("!Q", buf[2:10])[0]
        at = 10
    if len(buf) < at + n:
        return None
    return bool(b0 & 0x40), b0 & 0x0F, bytes(buf[at:at + n]), at + n


class Conn:
    __slots__ = ("sock", "state", "out", "inp")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.out = b""
        self.inp = bytearray()


class Run:
    def __init__(self, port, n, text):
        self.port = port
        self.n = n
        self.text = text
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: "
                        "permessage-deflate; client_max_window_bits\r\n\r\n"
                        % (port, self.key)).encode()
        self.message = masked_frame(0x1, compressed_message(text), True)
        self.sel = selectors.DefaultSelector()
        self.done = []
        self.started = 0
        self.busy = 0
        self.extension = None

    def fail(self, c, why):
        raise RuntimeError("connection %d: %s" % (len(self.done) + self.busy, why))

    def start_one(self):
        i = self.started
        source = "127.0.0.%d" % (1 + i // PER_SOURCE)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The port is chosen at connect() for the whole 4-tuple, so the TIME_WAIT sockets of an
        # earlier run (against another server port) do not use the ports up.
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((source, 0))
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            raise RuntimeError("connect from %s: %s" % (source, os.strerror(rc)))
        c = Conn(s)
        c.out = self.request
        self.sel.register(s, selectors.EVENT_WRITE, c)
        self.started += 1
        self.busy += 1

    def flush(self, c):
        try:
            k = c.sock.send(c.out)
        except BlockingIOError:
            k = 0
        c.out = c.out[k:]
        self.sel.modify(c.sock, selectors.EVENT_WRITE if c.out else selectors.EVENT_READ, c)

    def on_event(self, c, mask):
        if mask & selectors.EVENT_WRITE:
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.fail(c, "connect: %s" % os.strerror(err))
                c.state = "handshake"
            self.flush(c)
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            self.fail(c, "the server closed the connection (%s)" % c.state)
        c.inp += data
        if c.state == "handshake":
            end = c.inp.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(c.inp[:end]).decode("latin-1")
            del c.inp[:end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self.fail(c, "handshake answered %r" % head.split("\r\n")[0])
            m = re.search(r"(?im)^sec-websocket-extensions:\s*(.*)$", head)
            if not m or not m.group(1).startswith("permessage-deflate"):
                self.fail(c, "permessage-deflate was not accepted")
            self.extension = m.group(1).strip()
            c.state = "echo"
            c.out = self.message
            self.flush(c)
        if c.state == "echo":
            f = parse_frame(c.inp)
            if f is None:
                return
            rsv1, op, payload, used = f
            del c.inp[:used]
            if op != 0x1 or not rsv1:
                self.fail(c, "the echo is not a compressed text message (op %d, rsv1 %s)"
                          % (op, rsv1))
            d = zlib.decompressobj(-15)
            if d.decompress(payload + b"\x00\x00\xff\xff") != self.text:
                self.fail(c, "the echo does not inflate to the message sent")
            c.state = "idle"
            self.sel.unregister(c.sock)
            self.done.append(c)
            self.busy -= 1

    def open_all(self, seconds):
        end = time.monotonic() + seconds
        while len(self.done) < self.n:
            while self.busy < IN_FLIGHT and self.started < self.n:
                self.start_one()
            if time.monotonic() > end:
                raise RuntimeError("only %d of %d connections ready after %.0f s"
                                   % (len(self.done), self.n, seconds))
            for key, mask in self.sel.select(1.0):
                self.on_event(key.data, mask)

    def close_all(self):
        for c in self.done:
            c.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--compression", default="true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args()
    compression = json.loads(a.compression)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.conns + 64 > hard:
        sys.exit("idle_deflate: %d connections need more than the %d descriptors allowed"
                 % (a.conns, hard))

    words = b"idle connection with permessage-deflate "
    text = (words * (a.size // len(words) + 1))[:a.size]
    port = a.port or free_port()
    flag = "--compression" if compression is True else "--compression=" + json.dumps(compression)
    cmd = php_command() + [os.path.join(ROOT, "bench", "peers", "ext.php"), "echo", str(port),
                           "1", flag, "--ping-interval=0"]
    srv = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           start_new_session=True)
    run = None
    try:
        line = srv.stdout.readline().decode()
        if not line.startswith("listening on"):
            sys.exit("idle_deflate: the server did not start: %r" % line)
        time.sleep(0.5)
        before = rss_kib(srv.pid)
        run = Run(port, a.conns, text)
        t0 = time.monotonic()
        run.open_all(a.timeout)
        opened = time.monotonic() - t0
        time.sleep(a.settle)
        if srv.poll() is not None:
            sys.exit("idle_deflate: the server exited")
        after = rss_kib(srv.pid)
        per = (after - before) / a.conns
        print("server pid %d: VmRSS %d KiB before, %d KiB with %d idle compressed connections "
              "(opened in %.1f s); negotiated: %s" % (srv.pid, before, after, a.conns, opened,
                                                     run.extension))
        print("RESULT conns=%d size=%d rss_before_kb=%d rss_after_kb=%d kib_per_conn=%.2f "
              "compression=%s" % (a.conns, a.size, before, after, per,
                                  json.dumps(compression, separators=(",", ":"))))
    finally:
        if run:
            run.close_all()
        try:
            os.killpg(srv.pid, signal.SIGTERM)
            srv.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(srv.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            srv.wait()


if __name__ == "__main__":
    main()
