"""wsharness.py - what the Python suites share (hardening, workers, compression, tls, interop):
the server under test (a PHP script, by default the hardening lab tests/hardening/server.php, in
its own process group, its stdout read line by line), raw WebSocket clients (wsraw.Conn from
tests/conformance, plus source address and receive buffer), /proc readings (RSS, CPU time,
kernel socket queues, process state), ending processes by pid, and the one-test-per-process
runner (tests/inc/suite.sh runs each test of a file in its own process).

Every process a test starts is written to $HARDENING_PIDFILE (if set) so that the suite's
run.sh can end what a killed test left behind; every wait is bounded by the test's deadline.
"""

import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LAB = os.path.join(ROOT, "tests", "hardening", "server.php")
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))

import wsraw  # noqa: E402
from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402,F401
                   Failure, accept_for, close_payload, encode_frame, new_key, upgrade_request)

MiB = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Abort(BaseException):
    """SIGTERM (run.sh's timeout): unwind so that finally blocks stop the servers."""


def php_command():
    php = os.environ.get("WS_PHP")
    if php:
        return shlex.split(php)
    return ["php", "-d", "extension=" + os.path.join(ROOT, "modules", "websocket.so")]


def register_pid(pid):
    path = os.environ.get("HARDENING_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % pid)


# -- deadlines ----------------------------------------------------------------------------------


@contextmanager
def within(seconds):
    """Narrows wsraw's deadline (every read/write of a Conn) to `seconds` for the block."""
    saved = wsraw._deadline[0]
    wsraw._deadline[0] = min(saved, time.monotonic() + seconds)
    try:
        yield
    finally:
        wsraw._deadline[0] = saved


def check(cond, why):
    if not cond:
        raise Failure(why)


# -- the server under test -------------------------------------------------------------------


READY = r"^listening on ws://127\.0\.0\.1:(\d+)/$"


class Srv:
    """The hardening lab (tests/hardening/server.php, LAB) with a config and a mode. `prefix` goes before the php command
    (e.g. prlimit); it must exec php so that self.pid is the server itself. Another suite can
    run its own `script` (called as `script JSON MODE *args`) with its own readiness line
    `ready` (a regex whose group 1 is the port). `ini` ({"memory_limit": "128M"}) sets php.ini
    values with -d."""

    def __init__(self, config=None, mode="lab", prefix=(), ready_timeout=10.0, script=None,
                 args=(), ready=READY, ini=None):
        self.config = dict(config or {})
        self.mode = mode
        self.prefix = list(prefix)
        self.ready_timeout = ready_timeout
        self.script = script or LAB
        self.args = [str(a) for a in args]
        self.ready = ready
        self.ini = ["-d%s=%s" % kv for kv in (ini or {}).items()]
        self.proc = None
        self.port = None
        self.lines = []  # (monotonic time, line)
        self.cond = threading.Condition()
        self.errlog = None
        self.rc = None

    def start(self):
        self.errlog = tempfile.TemporaryFile()
        cmd = self.prefix + php_command() + self.ini + [self.script, json.dumps(self.config),
                                             self.mode] + self.args
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.errlog,
                                     start_new_session=True)
        register_pid(self.proc.pid)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_line(self.ready, self.ready_timeout, what="the server's listening line")
        self.port = int(re.search(self.ready, line).group(1))
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        # Clients close first, so the graceful stop has nobody to wait for.
        for c in list(Client.all):
            c.close()
        Client.all.clear()
        self.stop()

    def _read(self):
        f = self.proc.stdout
        for raw in iter(f.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), None))  # EOF marker
            self.cond.notify_all()

    # -- its output --

    def output(self):
        with self.cond:
            return [l for _, l in self.lines if l is not None]

    def find(self, pattern, start=0):
        """Lines (from index `start`) matching the regex `pattern`, as (time, line)."""
        rx = re.compile(pattern)
        with self.cond:
            return [(t, l) for t, l in self.lines[start:] if l is not None and rx.search(l)]

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_line(self, pattern, timeout, start=0, what=None):
        """The first line from index `start` that matches `pattern`; Failure after `timeout`."""
        return self.wait_time(pattern, timeout, start, what)[1]

    def wait_time(self, pattern, timeout, start=0, what=None):
        """Like wait_line, but returns (monotonic time the line arrived, line)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, l = self.lines[i]
                    i += 1
                    if l is None:
                        raise Failure("server ended (%s) before printing %s; stderr: %s" % (
                            self.exit_desc(wait=1.0), what or repr(pattern), self.stderr_tail()))
                    if rx.search(l):
                        return t, l
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure("server did not print %s within %.1f s; last lines: %r" % (
                        what or repr(pattern), timeout, [l for _, l in self.lines[-5:]]))
                self.cond.wait(left)

    def stderr_tail(self, n=800):
        try:
            self.errlog.seek(0)
            return self.errlog.read().decode("utf-8", "replace")[-n:].strip() or "(empty)"
        except (OSError, ValueError, AttributeError):
            return "(unavailable)"

    # -- the process --

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_desc(self, wait=0.0):
        try:
            rc = self.proc.wait(wait) if wait else self.proc.poll()
        except subprocess.TimeoutExpired:
            rc = None
        if rc is None:
            return "still running"
        return "killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc

    def check_alive(self):
        if not self.alive():
            raise Failure("server died: %s; stderr: %s" % (self.exit_desc(), self.stderr_tail()))

    def signal(self, sig):
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait_exit(self, timeout):
        """Exit status (negative: signal), or Failure if still running after `timeout`."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("server did not exit within %.1f s" % timeout)
        # Its last lines may still be in the pipe: wait for the reader to reach EOF.
        end = time.monotonic() + 3.0
        with self.cond:
            while not (self.lines and self.lines[-1][1] is None) and time.monotonic() < end:
                self.cond.wait(0.1)
        return rc

    def stop(self, grace=5.0):
        if self.proc is not None:
            self.rc = wsraw.stop_group(self.proc, signal.SIGTERM, grace)
        return self.rc

    def rss_kib(self):
        return proc_rss_kib(self.proc.pid)

    def sanitized(self):
        """True when the server runs under ASan or valgrind, whose quarantine and shadow memory
        make RSS say nothing about the server's own memory: RSS bounds are not checked then."""
        try:
            with open("/proc/%d/maps" % self.proc.pid) as f:
                maps = f.read()
        except OSError:
            return False
        return any(k in maps for k in ("libclang_rt.asan", "libasan.so", "vgpreload"))

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for pid %d" % pid)


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14 and stime 15 (1-based, man proc)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_state(pid):
    """(state letter, ppid, pgid) from /proc/PID/stat, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def alive(pid):
    """True for a process that exists and is not a zombie."""
    st = proc_state(pid)
    return st is not None and st[0] not in ("Z", "X")


def children(pid):
    """Pids of the live children of `pid` (from /proc/PID/task/*/children)."""
    out = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out.update(int(x) for x in f.read().split())
        except OSError:
            pass
    return {p for p in out if alive(p)}


def group_members(pgid):
    """Live (not zombie) processes whose process group is `pgid`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_state(int(name))
            if st and st[2] == pgid and st[0] not in ("Z", "X"):
                found.append(int(name))
    return found


def wait_gone(pids, seconds, what):
    end = time.monotonic() + seconds
    while True:
        left = [p for p in pids if alive(p)]
        if not left:
            return
        if time.monotonic() > end:
            raise Failure("%s still running %.1f s later: %s" % (what, seconds, left))
        time.sleep(0.02)


def tcp_queues(local_port, remote_port):
    """(tx_queue, rx_queue) of the IPv4 TCP socket 127.0.0.1:local_port <-> :remote_port from
    /proc/net/tcp, or None."""
    want_local = "0100007F:%04X" % local_port
    want_remote = "0100007F:%04X" % remote_port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == want_local and p[2] == want_remote:
                tx, rx = p[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


# -- clients -----------------------------------------------------------------------------------


class Client(wsraw.Conn):
    """wsraw.Conn with a source address (e.g. 127.0.0.2) and a receive buffer set before
    connecting (a small one keeps the kernel from absorbing what a test wants queued)."""

    all = []

    def __init__(self, port, source=None, rcvbuf=None, ws=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if source:
                s.bind((source, 0))
            s.settimeout(wsraw.remaining())
            s.connect(("127.0.0.1", port))
        except OSError as e:
            s.close()
            raise Failure("connect to 127.0.0.1:%d failed: %s" % (port, e))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.buf = bytearray()
        self.eof = False
        Client.all.append(self)
        if ws:
            self.handshake()

    def expect_eof(self, seconds=2.0):
        """The server ends TCP within `seconds`; then this side closes too (as a client does)."""
        super().expect_eof(seconds)
        self.close()

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send_cmd(self, **cmd):
        self.send_frame(OP_TEXT, "cmd:" + json.dumps(cmd))

    def reset(self):
        """Closes with RST (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close_cleanly(self, code=1000):
        """Sends Close, reads until the server's Close and EOF (data before it is skipped)."""
        self.send_frame(OP_CLOSE, close_payload(code))
        while True:
            f = self.recv_message("the server's Close answer")
            if f.op == OP_CLOSE:
                break
        self.expect_eof(3.0)
        self.close()

    def answer_close(self, frame):
        self.send_frame(OP_CLOSE, frame.payload[:2])

    def echo_ok(self, payload=b"ping me"):
        self.echo(OP_BINARY, payload)


def recv_until_close(conn, what):
    """Reads messages until a Close frame; returns (messages before it, close frame)."""
    msgs = []
    while True:
        f = conn.recv_message(what)
        if f.op == OP_CLOSE:
            return msgs, f
        msgs.append(f)


def close_code(frame):
    return struct.unpack(">H", frame.payload[:2])[0] if len(frame.payload) >= 2 else None


# -- the runner ------------------------------------------------------------------------------

TESTS = []


def test(name, timeout):
    def register(fn):
        TESTS.append((name, fn, timeout))
        return fn
    return register


def main(argv):
    if argv[1:] == ["--list"]:
        for name, _, timeout in TESTS:
            print(name, timeout)
        return 0
    want = argv[1:]
    todo = [t for t in TESTS if t[0] in want] if want else TESTS
    if want and len(todo) != len(want):
        print("unknown test(s): %s" % ", ".join(set(want) - {t[0] for t in TESTS}))
        return 2

    def abort(signum, frame):
        raise Abort("signal %d" % signum)

    signal.signal(signal.SIGTERM, abort)
    signal.signal(signal.SIGINT, abort)
    failed = 0
    for name, fn, timeout in todo:
        wsraw.set_deadline(timeout)
        t0 = time.monotonic()
        try:
            fn()
            why = None
        except Failure as e:
            why = str(e)
        except Abort as e:
            why = "aborted (%s) after %.1f s" % (e, time.monotonic() - t0)
        except Exception as e:  # a bug in the test itself
            import traceback
            why = "harness error: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
        dt = time.monotonic() - t0
        if why is None:
            print("ok   %s (%.1f s)" % (name, dt), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)
    return 1 if failed else 0


def open_client(srv, **kw):
    """A Client that completed its handshake with `srv` (lab mode), with .id set from the
    server's `open ID` line. Opens must not overlap (the next open line is taken)."""
    mark = srv.mark()
    c = Client(srv.port, ws=True, **kw)
    line = srv.wait_line(r"^open \d+ ", 3.0, start=mark, what="the open line of a new client")
    c.id = int(line.split()[1])
    return c
