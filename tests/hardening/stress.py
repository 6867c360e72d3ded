#!/usr/bin/python3
"""stress.py - churn against the chat server: thousands of connections opening, chatting
(every message is broadcast to everyone, numbered by the server) and leaving cleanly, by FIN
without a Close, or by RST, at random, in rounds.

Checks, per round:
  - every connection, from its welcome ("w ID SEQ") until it leaves, receives every broadcast
    in order with no gap (broadcast SEQ+1, SEQ+2, ...), and the ones still open at the end of
    the round receive the round's final broadcast (so nothing was dropped at the tail);
  - the server never closes a connection on its own, never reports an error, never dies;
  - once everyone left, the server counts 0 connections and its memory (VmRSS) is back within
    STRESS_RSS_MARGIN_MIB of the baseline taken after the first (warm-up) round.

CI runs it bounded (STRESS_SECONDS, default 45: three rounds of about 13 s; rounds go on
while the next one fits in STRESS_SECONDS, at least two). A soak, about 280 rounds:

    STRESS_SECONDS=3600 sh tests/hardening/run.sh stress

Env: STRESS_SECONDS (45), STRESS_PROCS (client processes, 4), STRESS_CONNS (connections per
process, 600), STRESS_ROUND (seconds of churn per round, 10), STRESS_RATE (chat messages per
second over all processes, each broadcast to every connection, 30), STRESS_RSS_MARGIN_MIB (4),
WS_PHP. Prints `# round ...` lines and one `ok   stress` or `FAIL stress: why`.
"""

import errno
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inc"))
from wsharness import Failure, Srv, encode_frame, register_pid  # noqa: E402

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
REQUEST = (b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
MAX_ERRORS = 20


def env_num(name, default, kind=int):
    try:
        return kind(os.environ.get(name, default))
    except ValueError:
        return kind(default)


# == the client process =========================================================================


class Conn:
    __slots__ = ("sock", "state", "buf", "out", "last", "leave_at", "how", "final", "opened_at",
                 "close_sent_at", "open_before_end")

    def __init__(self, sock, leave_at, how):
        self.sock = sock
        self.state = "connecting"
        self.buf = bytearray()
        self.out = bytearray()
        self.last = None  # seq of the last broadcast received (None before the welcome)
        self.leave_at = leave_at
        self.how = how  # clean | fin | rst
        self.final = False
        self.opened_at = None
        self.close_sent_at = None
        self.open_before_end = False


class Worker:
    def __init__(self, port, n, send_end, rate, seed):
        self.port = port
        self.n = n
        self.send_end = send_end  # time.time() after which nobody sends, opens or leaves
        self.rate = rate
        self.rng = random.Random(seed)
        self.sel = selectors.DefaultSelector()
        self.conns = set()
        self.stats = dict(opened=0, clean=0, fin=0, rst=0, sent=0, received=0, finals=0,
                          connect_errors=0)
        self.errors = []
        self.nerrors = 0
        self.reconnects = []  # times (time.time()) at which to open a new connection

    def error(self, msg):
        self.nerrors += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(msg)

    # -- connections --

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", self.port))
        if rc not in (0, errno.EINPROGRESS):
            self.stats["connect_errors"] += 1
            self.error("connect: %s" % os.strerror(rc))
            s.close()
            return
        life = self.rng.uniform(0.5, 6.0)
        c = Conn(s, time.time() + life, self.rng.choice(("clean", "fin", "rst")))
        self.conns.add(c)
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def drop(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.state = "gone"
        self.conns.discard(c)
        if time.time() < self.send_end:
            self.reconnects.append(time.time() + self.rng.uniform(0.0, 0.3))

    def leave(self, c, how=None):
        how = how or c.how
        if c.state != "open":
            return
        if how == "clean":
            c.close_sent_at = time.monotonic()
            c.state = "closing"
            self.write(c, encode_frame(OP_CLOSE, struct.pack(">H", 1000)))
            return
        if how == "rst":
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.stats[how] += 1
        self.drop(c)

    def write(self, c, data):
        if c.out:
            c.out += data
            return
        try:
            n = c.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError as e:
            self.error("send: %s (state %s)" % (e, c.state))
            self.drop(c)
            return
        if n < len(data):
            c.out += data[n:]
            self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    # -- events --

    def on_writable(self, c):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.stats["connect_errors"] += 1
                self.error("connect: %s" % os.strerror(err))
                self.drop(c)
                return
            c.state = "handshake"
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            self.write(c, REQUEST)
            return
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            return
        except OSError as e:
            self.error("send: %s" % e)
            self.drop(c)
            return
        del c.out[:n]
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)

    def on_readable(self, c):
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            data = b""
            why = str(e)
        else:
            why = "EOF"
        if not data:
            if c.state == "closing":
                self.error("server ended TCP without answering our Close")
            else:
                self.error("server ended the connection (%s) in state %s" % (why, c.state))
            self.drop(c)
            return
        c.buf += data
        if c.state == "handshake":
            end = c.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not c.buf.startswith(b"HTTP/1.1 101"):
                self.error("handshake answered %r" % bytes(c.buf[:40]))
                self.drop(c)
                return
            del c.buf[:end + 4]
            c.state = "open"
            c.opened_at = time.monotonic()
            c.open_before_end = time.time() < self.send_end
            self.stats["opened"] += 1
        self.frames(c)

    def frames(self, c):
        buf = c.buf
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            ln = b1 & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = struct.unpack_from(">H", buf, pos + 2)[0]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = struct.unpack_from(">Q", buf, pos + 2)[0]
                hdr = 10
            if n - pos < hdr + ln:
                break
            payload = bytes(buf[pos + hdr:pos + hdr + ln])
            pos += hdr + ln
            op = b0 & 0x0F
            if not b0 & 0x80 or b1 & 0x80:
                self.error("unexpected frame header %#x %#x" % (b0, b1))
            if op == OP_TEXT:
                self.message(c, payload)
            elif op == OP_PING:
                if c.state == "open":
                    self.write(c, encode_frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                if c.state == "closing":
                    if code != 1000:
                        self.error("our Close 1000 was answered with %r" % code)
                    self.stats["clean"] += 1
                else:
                    self.error("the server closed an open connection: Close %r %r" % (
                        code, payload[2:40]))
                del buf[:pos]
                self.drop(c)
                return
            elif op != OP_PONG:
                self.error("unexpected opcode %d" % op)
            if c.state == "gone":
                return
        del buf[:pos]

    def message(self, c, payload):
        self.stats["received"] += 1
        if c.last is None:
            if not payload.startswith(b"w "):
                self.error("first message is %r, not the welcome" % payload[:40])
                c.last = -1
                return
            c.last = int(payload.split()[2])
            return
        if not payload.startswith(b"b "):
            self.error("unexpected message %r" % payload[:40])
            return
        parts = payload.split(b" ", 2)
        seq = int(parts[1])
        if seq != c.last + 1:
            self.error("broadcast %d after %d: %d missing" % (seq, c.last, seq - c.last - 1))
        c.last = seq
        if len(parts) > 2 and parts[2] == b"final":
            c.final = True
            self.stats["finals"] += 1

    # -- the run --

    def run(self):
        for _ in range(self.n):
            self.open()
        t0 = time.time()
        next_tick = 0.0
        phase = "churn"
        wait_final_until = self.send_end + 8.0
        while True:
            now = time.time()
            if phase == "churn" and now >= self.send_end:
                phase = "final"
            if phase == "final":
                pending = [c for c in self.conns if c.state == "open" and c.open_before_end
                           and not c.final]
                closing = [c for c in self.conns if c.state == "closing"]
                if now > self.send_end + 0.5 and not pending and not closing:
                    break
                if now > wait_final_until:
                    for c in pending:
                        self.error("no final broadcast (last %s)" % c.last)
                    for c in closing:
                        self.error("no answer to our Close after %.1f s" % (
                            time.monotonic() - c.close_sent_at))
                    break
            for key, mask in self.sel.select(0.02):
                c = key.data
                if c.state == "gone":
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.on_writable(c)
                if c.state != "gone" and mask & selectors.EVENT_READ:
                    self.on_readable(c)
            if time.monotonic() < next_tick:
                continue
            next_tick = time.monotonic() + 0.02
            if phase != "churn":
                continue
            due = int((now - t0) * self.rate) - self.stats["sent"]
            opened = [c for c in self.conns if c.state == "open"]
            for _ in range(max(0, due)):
                if not opened:
                    break
                c = self.rng.choice(opened)
                self.stats["sent"] += 1
                self.write(c, encode_frame(OP_TEXT, b"m %d %d" % (os.getpid(), self.stats["sent"])))
            for c in opened:
                if c.state == "open" and now >= c.leave_at:
                    self.leave(c)
            while self.reconnects and self.reconnects[0] <= now:
                self.reconnects.pop(0)
                self.open()
        # Everybody leaves: half cleanly, the rest by RST.
        leaving = [c for c in self.conns if c.state == "open"]
        for i, c in enumerate(leaving):
            self.leave(c, "clean" if i % 2 else "rst")
        for c in [c for c in self.conns if c.state in ("connecting", "handshake")]:
            self.drop(c)
        end = time.monotonic() + 5.0
        while any(c.state == "closing" for c in self.conns) and time.monotonic() < end:
            for key, mask in self.sel.select(0.05):
                c = key.data
                if c.state == "gone":
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.on_writable(c)
                if c.state != "gone" and mask & selectors.EVENT_READ:
                    self.on_readable(c)
        for c in list(self.conns):
            if c.state == "closing":
                self.error("no answer to our final Close")
            self.drop(c)
        return dict(self.stats, errors=self.errors, nerrors=self.nerrors)


def worker_main(port, n, send_end, rate, seed):
    w = Worker(port, n, send_end, rate, seed)
    try:
        report = w.run()
    except Exception as e:  # report, do not hang the controller
        import traceback
        report = dict(w.stats, errors=["worker crashed: %s %s" % (e, traceback.format_exc())],
                      nerrors=1)
    print(json.dumps(report), flush=True)


# == the controller =============================================================================


def control(port, data=None, want=None, timeout=5.0):
    """A short-lived connection: sends `data` (a text message) and returns the first message
    that starts with `want`."""
    from wsharness import Client, within
    with within(timeout):
        c = Client(port, ws=True)
        try:
            if data is not None:
                c.send_frame(OP_TEXT, data)
            while True:
                f = c.recv_message("%r" % want)
                if f.op == OP_TEXT and f.payload.startswith(want):
                    return f.payload.decode()
        finally:
            c.reset()
            Client.all.remove(c)


def run():
    import wsraw
    seconds = env_num("STRESS_SECONDS", 45, float)
    procs = env_num("STRESS_PROCS", 4)
    conns = env_num("STRESS_CONNS", 600)
    round_s = env_num("STRESS_ROUND", 10.0, float)
    rate = env_num("STRESS_RATE", 30.0, float)
    margin_kib = env_num("STRESS_RSS_MARGIN_MIB", 4.0, float) * 1024
    wsraw.set_deadline(seconds + 50)
    cfg = {"max_connections": procs * conns + 100, "backlog": 4096}
    baseline = None
    t_start = time.monotonic()
    with Srv(cfg, mode="chat") as s:
        idle = s.rss_kib()
        sanitized = s.sanitized()
        if sanitized:
            print("# the server runs under ASan or valgrind: RSS is shown, not checked", flush=True)
        print("# server RSS idle %.1f MiB; rounds of %.0f s for %.0f s, %d processes x %d "
              "connections, %.0f broadcasts/s" % (idle / 1024, round_s, seconds, procs, conns,
                                                  rate), flush=True)
        r = 0
        last = round_s + 3
        # At least two rounds (the first one is the warm-up), then as many as fit.
        while r < 2 or time.monotonic() - t_start + last <= seconds:
            r += 1
            t_round = time.monotonic()
            send_end = time.time() + 1.0 + round_s
            workers = []
            try:
                for i in range(procs):
                    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                          str(s.port), str(conns), repr(send_end),
                                          repr(rate / procs), str(r * 1000 + i)],
                                         stdout=subprocess.PIPE, start_new_session=True)
                    register_pid(p.pid)
                    workers.append(p)
                peak = 0
                while time.time() < send_end + 1.0:
                    peak = max(peak, s.rss_kib())
                    s.check_alive()
                    time.sleep(0.2)
                final = control(s.port, b"final", b"b ")
                reports = []
                for p in workers:
                    line = p.stdout.readline()
                    p.wait(20)
                    if not line:
                        raise Failure("round %d: a client process ended without a report" % r)
                    reports.append(json.loads(line))
            finally:
                for p in workers:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
            tot = {k: sum(rep[k] for rep in reports) for k in reports[0] if k != "errors"}
            errors = [e for rep in reports for e in rep["errors"]]
            # Everyone left: the server must get back to no connection but the probe.
            end = time.monotonic() + 10.0
            while True:
                stat = control(s.port, b"cmd:stat", b"stat ").split()
                if stat[1] == "1":
                    break
                if time.monotonic() > end:
                    raise Failure("round %d: server still counts %s connections 10 s after "
                                  "everyone left" % (r, stat[1]))
                time.sleep(0.2)
            time.sleep(0.5)
            rss = s.rss_kib()
            print("# round %d: %d opened, %d clean, %d FIN, %d RST, %d sent -> %d received, "
                  "%d finals (%s); RSS peak %.1f MiB, after %.1f MiB%s; %.1f s" % (
                      r, tot["opened"], tot["clean"], tot["fin"], tot["rst"], tot["sent"],
                      tot["received"], tot["finals"], final, peak / 1024, rss / 1024,
                      "" if baseline is None else " (baseline %.1f)" % (baseline / 1024),
                      time.monotonic() - t_round), flush=True)
            if tot["nerrors"]:
                raise Failure("round %d: %d client errors, e.g. %s" % (r, tot["nerrors"],
                                                                       "; ".join(errors[:5])))
            server_errors = s.find(r"^error ")
            if server_errors:
                raise Failure("round %d: server error events: %r" % (r, server_errors[:3]))
            if tot["opened"] < procs * conns:
                raise Failure("round %d: only %d connections opened" % (r, tot["opened"]))
            if tot["finals"] < procs * conns // 2:
                raise Failure("round %d: only %d connections got the final broadcast" % (
                    r, tot["finals"]))
            if baseline is None:
                baseline = rss
            elif rss > baseline + margin_kib and not sanitized:
                raise Failure("round %d: server RSS %.1f MiB after everyone left, baseline "
                              "%.1f MiB (after round 1), margin %.0f MiB: memory not returned"
                              % (r, rss / 1024, baseline / 1024, margin_kib / 1024))
            s.check_alive()
            last = time.monotonic() - t_round
        s.check_alive()


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        worker_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]),
                    int(sys.argv[6]))
        return 0
    import signal

    from wsharness import Abort

    def abort(signum, frame):
        raise Abort("signal %d" % signum)

    signal.signal(signal.SIGTERM, abort)
    t0 = time.monotonic()
    try:
        run()
        print("ok   stress (%.1f s)" % (time.monotonic() - t0), flush=True)
        return 0
    except Failure as e:
        print("FAIL stress: %s" % e, flush=True)
    except Abort as e:
        print("FAIL stress: aborted (%s) after %.1f s" % (e, time.monotonic() - t0), flush=True)
    except Exception as e:
        import traceback
        print("FAIL stress: harness error: %s: %s\n%s" % (type(e).__name__, e,
                                                          traceback.format_exc()), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
