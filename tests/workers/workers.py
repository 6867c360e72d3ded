#!/usr/bin/python3
"""workers.py - black-box tests of the multi-process server (workers => N):
workers and their connection ids, the message bus (send, broadcast, rooms across workers),
stats(), supervision (kill -9, fatal errors), graceful stop (SIGTERM, SIGINT), reload
(SIGUSR1, also with broken code), pid_file and control(), bus overflow, and workers => 1.

Each test starts tests/workers/server.php (see its header for the command protocol) in its own
process group through the shared harness (tests/inc/wsharness.py), drives it from raw
WebSocket clients on 127.0.0.1 and checks what clients see, what the server prints and what
/proc says. Sized for 2 cores and 20,000 descriptors.

Usage: workers.py [name ...]      run the named tests (all by default), one line each
       workers.py --list          names and hard timeouts (run.sh runs each in its own process)
Env:   WS_PHP  command that runs PHP with the extension (default: php -d extension=<repo>/modules/websocket.so)
       HARDENING_PIDFILE  process groups to end afterwards (run.sh sets it)
       WORKERS_PIDFILE    single worker pids to end afterwards, should one leave its group
"""

import collections
import json
import math
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "inc"))
import wsharness  # noqa: E402
import wsraw  # noqa: E402  (wsharness put tests/conformance on the path)
from wsharness import (OP_CLOSE, OP_TEXT, Client, Failure, Srv, alive, check,  # noqa: E402
                       children, close_code, close_payload, group_members, main, php_command,
                       proc_state, register_pid, test, wait_gone)

SERVER = os.path.join(HERE, "server.php")
READY = r"^ready worker=\d+ pid=\d+ port=(\d+) "
READY_FIELDS = re.compile(r"^ready worker=(\d+) pid=(\d+) port=(\d+) version=(.*)$")
WORKER_SHIFT = 40  # id >> 40 is the index of the worker that owns the connection


# -- processes ---------------------------------------------------------------------------------


def register_worker(pid):
    path = os.environ.get("WORKERS_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % pid)


# -- the application file the workers include -----------------------------------------------------


class App:
    """A temporary copy of tests/workers/app.php whose app_version() returns `version`."""

    def __init__(self, version="v1"):
        fd, self.path = tempfile.mkstemp(prefix="ws-workers-app-", suffix=".php")
        os.close(fd)
        self.write(version)

    def _put(self, code):
        # Written aside and renamed, so a worker never includes half a file.
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(code)
        os.rename(tmp, self.path)

    def write(self, version):
        self._put("<?php\nfunction app_version(): string\n{\n    return %s;\n}\n" % json.dumps(version))

    def write_broken(self):
        self._put("<?php\nfunction app_version(): string\n{\n    return 'broken' +;\n")

    def remove(self):
        for p in (self.path, self.path + ".tmp"):
            try:
                os.unlink(p)
            except OSError:
                pass


# -- the server under test -----------------------------------------------------------------------


class WSrv(Srv):
    """tests/workers/server.php with a config (workers, pid_file, ...). start() returns once
    every worker printed its ready line; self.ready maps worker index -> pid of those lines."""

    def __init__(self, config, app=None, ready_timeout=15.0):
        self.app = app or App("v1")
        self.own_app = app is None
        super().__init__(config, mode="start", script=SERVER, args=[self.app.path],
                         ready=READY, ready_timeout=ready_timeout)
        self.workers = self.config.get("workers", 1)
        self.seen_pids = set()
        self.ready_pids = {}

    def start(self):
        super().start()
        self.ready_pids = self.wait_ready(range(self.workers), 0, 10.0)
        ports = {int(READY_FIELDS.match(l).group(3)) for _, l in self.find(r"^ready ")}
        check(ports == {self.port}, "the workers report different ports: %s" % sorted(ports))
        return self

    def wait_ready(self, workers, start, seconds, exclude=()):
        """Waits for a ready line (from line index `start`) of each worker index in `workers`
        whose pid is not in `exclude`; returns {worker: pid}."""
        want = set(workers)
        got = {}
        end = time.monotonic() + seconds
        while True:
            for _, line in self.find(r"^ready ", start):
                m = READY_FIELDS.match(line)
                w, pid = int(m.group(1)), int(m.group(2))
                self.note_pid(pid)
                if w in want and pid not in exclude:
                    got[w] = pid
            if set(got) >= want:
                return got
            if time.monotonic() > end:
                raise Failure("no ready line from worker(s) %s within %.1f s (stderr: %s)" % (
                    sorted(want - set(got)), seconds, self.stderr_tail(400)))
            self.check_alive()
            time.sleep(0.01)

    def note_pid(self, pid):
        if pid not in self.seen_pids and pid != self.pid:
            self.seen_pids.add(pid)
            register_worker(pid)

    def stderr_all(self):
        # pread leaves the file offset alone: the server appends its stderr at that offset.
        fd = self.errlog.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def stderr_lines(self):
        return self.stderr_all().splitlines()

    def stop(self, grace=5.0):
        rc = super().stop(grace)
        # A worker that left the process group is ended by its pid, if it still runs this script.
        for pid in self.seen_pids:
            if alive(pid):
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        mine = SERVER.encode() in f.read()
                    if mine:
                        os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.own_app:
            self.app.remove()
        return rc


def control(config, command, timeout=15.0, server=None):
    """Runs `server.php JSON COMMAND` (control()); returns (exit status, stdout + stderr).
    With `server` (a WSrv), reaps it as soon as it exits, as a shell or supervisor would: an
    exited server is this process's zombie until then, and control() rightly waits for it."""
    cfg = dict(config)
    cfg.setdefault("host", "127.0.0.1")
    cfg.setdefault("port", 0)
    return run_php([SERVER, json.dumps(cfg), command], timeout, server)


def run_php(args, timeout, reap=None):
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(php_command() + args, cwd=wsharness.ROOT, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        register_pid(p.pid)
        end = time.monotonic() + min(timeout, wsraw.remaining())
        while p.poll() is None:
            if reap is not None:
                reap.alive()  # Popen.poll() reaps it once it exited
            if time.monotonic() > end:
                wsraw.stop_group(p, signal.SIGKILL, 1.0)
                out.seek(0)
                raise Failure("`%s` did not end within %.0f s; output: %r" % (
                    " ".join(args[2:] or args), timeout,
                    out.read().decode("utf-8", "replace")[-400:]))
            time.sleep(0.01)
        out.seek(0)
        return p.returncode, out.read().decode("utf-8", "replace")


# -- clients -------------------------------------------------------------------------------------


def cmd(c, text):
    c.send_frame(OP_TEXT, text)


def recv_text(c, what):
    f = c.recv_message(what)
    if f.op == OP_CLOSE:
        raise Failure("client %s: got %r while waiting for %s" % (label(c), f, what))
    if f.op != OP_TEXT:
        raise Failure("client %s: expected a text message (%s), got %r" % (label(c), what, f))
    return f.payload.decode("utf-8")


def expect_reply(c, prefix, what=None):
    m = recv_text(c, what or "a reply starting %r" % prefix)
    if not m.startswith(prefix):
        raise Failure("client %s: expected a reply starting %r, got %r" % (label(c), prefix, m[:300]))
    return m


def ask(c, text, prefix):
    cmd(c, text)
    return expect_reply(c, prefix)


def expect_messages(c, want, what):
    """Reads len(want) text messages; they must equal `want` (a list, in order)."""
    got = []
    try:
        for _ in want:
            got.append(recv_text(c, what))
    except Failure as e:
        raise Failure("%s; received so far %r, expected %r" % (
            e, [g[:100] for g in got], [w[:100] for w in want]))
    check(got == list(want), "client %s (%s): expected %r, got %r" % (
        label(c), what, [w[:100] for w in want], [g[:100] for g in got]))


def expect_quiet(cs, seconds=0.2):
    """Nothing more arrives at any of the clients within `seconds`."""
    time.sleep(seconds)
    for c in cs:
        check(not c.buf, "client %s: expected nothing more, got %r" % (label(c), bytes(c.buf[:80])))
        c.sock.setblocking(False)  # wsraw sets its own timeout before each read
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            continue
        except OSError as e:
            raise Failure("client %s: %s while expecting silence" % (label(c), e))
        raise Failure("client %s: expected nothing more, got %r" % (label(c), data[:80]))


def label(c):
    if getattr(c, "id", None) is None:
        return "?"
    return "%d@w%d" % (c.id, c.worker)


def identify(cs):
    """Sends `id` to every client and sets .id, .worker, .pid from the replies."""
    for c in cs:
        c.id = None
        cmd(c, "id")
    for c in cs:
        _, cid, worker, pid = expect_reply(c, "id ").split()
        c.id, c.worker, c.pid = int(cid), int(worker), int(pid)
    return cs


def open_clients(s, n):
    return identify([Client(s.port, ws=True) for _ in range(n)])


def open_until(s, per_worker, at_least=0, limit=400):
    """Opens clients until every worker owns at least `per_worker` of them (and there are at
    least `at_least`); returns them."""
    cs = []
    while True:
        counts = collections.Counter(c.worker for c in cs)
        if len(cs) >= at_least and all(counts[w] >= per_worker for w in range(s.workers)):
            return cs
        if len(cs) >= limit:
            raise Failure("after %d connections some worker has fewer than %d: %s" % (
                len(cs), per_worker, dict(counts)))
        cs += open_clients(s, 8)


def by_worker(cs):
    out = collections.defaultdict(list)
    for c in cs:
        out[c.worker].append(c)
    return out


def stats(c):
    return json.loads(ask(c, "stats", "stats ")[6:])


def poll_until(fn, seconds, what):
    """Calls fn() every 20 ms until it returns a true value (returned); Failure after `seconds`
    with the last value."""
    end = time.monotonic() + seconds
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure("%s: not within %.1f s (last: %r)" % (what, seconds, v))
        time.sleep(0.02)


def room_size_everywhere(reps, room, want, seconds=2.0):
    """roomSize(room) seen from a client on every worker reaches `want`."""
    for w, c in sorted(reps.items()):
        last = []

        def seen():
            last[:] = [int(ask(c, "size:" + room, "size %s " % room).split()[2])]
            return last[0] == want
        try:
            poll_until(seen, seconds, "roomSize(%r) on worker %d == %d" % (room, w, want))
        except Failure:
            raise Failure("roomSize(%r) on worker %d is %s, expected %d (after %.1f s)" % (
                room, w, last[0] if last else "?", want, seconds))


def frame_complete(buf):
    """True when buf starts with a whole frame."""
    if len(buf) < 2:
        return False
    n, head = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return False
        n, head = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return False
        n, head = int.from_bytes(buf[2:10], "big"), 10
    if buf[1] & 0x80:
        head += 4
    return len(buf) >= head + n


class Pool:
    """Reads many clients at once: poll() returns the frames that arrived, as (client, frame),
    with frame None when the client's connection ended."""

    def __init__(self, clients):
        self.sel = selectors.DefaultSelector()
        self.live = set()
        for c in clients:
            self.add(c)

    def add(self, c):
        self.sel.register(c.sock, selectors.EVENT_READ, c)
        self.live.add(c)

    def remove(self, c):
        if c in self.live:
            self.sel.unregister(c.sock)
            self.live.discard(c)

    def poll(self, timeout):
        got = []
        # Frames already buffered (e.g. read by a blocking call before) come first.
        for c in list(self.live):
            while frame_complete(c.buf):
                got.append((c, self._frame(c)))
        if got:
            timeout = 0
        for key, _ in self.sel.select(max(0.0, min(timeout, wsraw.remaining()))):
            c = key.data
            try:
                chunk = c.sock.recv(1 << 18)
            except (BlockingIOError, InterruptedError, socket.timeout):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                c.eof = True
                self.remove(c)
                got.append((c, None))
                continue
            c.buf += chunk
            while frame_complete(c.buf):
                got.append((c, self._frame(c)))
        return got

    @staticmethod
    def _frame(c):
        f = c.recv_frame("a frame")
        if not f.fin:
            raise Failure("client %s: the server fragmented a small message: %r" % (label(c), f))
        return f

    def collect(self, want, seconds, what, on_frame=None):
        """Reads until want(client) is satisfied for every client: on_frame(c, frame) handles
        each frame (None: EOF) and returns nothing; `want` is a function () -> set of clients
        still waiting. Failure after `seconds`."""
        end = time.monotonic() + seconds
        while want():
            left = end - time.monotonic()
            if left <= 0:
                waiting = want()
                raise Failure("%s: %d client(s) still waiting after %.1f s, e.g. %s" % (
                    what, len(waiting), seconds, sorted(label(c) for c in waiting)[:5]))
            for c, f in self.poll(min(left, 0.1)):
                on_frame(c, f)

    def close(self):
        self.sel.close()


def text_of(c, f, what):
    if f is None:
        raise Failure("client %s: connection closed (%s)" % (label(c), what))
    if f.op != OP_TEXT:
        raise Failure("client %s: expected text (%s), got %r" % (label(c), what, f))
    return f.payload.decode("utf-8")


def read_all_until(clients, want_count, seconds, what):
    """Reads text messages from every client until each has want_count(c) of them; returns
    {client: [messages]}."""
    pool = Pool(clients)
    got = {c: [] for c in clients}

    def on_frame(c, f):
        got[c].append(text_of(c, f, what))

    try:
        pool.collect(lambda: {c for c in clients if len(got[c]) < want_count(c)}, seconds, what,
                     on_frame)
    finally:
        pool.close()
    return got


def close_all(cs):
    for c in cs:
        c.close()


def new_stderr_lines(s, before, pattern):
    rx = re.compile(pattern, re.I)
    return [l for l in s.stderr_lines()[before:] if rx.search(l)]


# == 1. ids and broadcast =======================================================================


@test("broadcast_400_clients", 40)
def _():
    """4 workers, 400 clients: ids unique, id >> 40 is the worker and every worker got clients;
    a broadcast reaches each of the 400 exactly once; 8 senders x 25 broadcasts keep per-sender
    order everywhere"""
    with WSrv({"workers": 4}) as s:
        cs = open_clients(s, 400)
        ids = [c.id for c in cs]
        check(all(i > 0 for i in ids), "ids not positive: %s" % [i for i in ids if i <= 0][:5])
        check(len(set(ids)) == 400, "%d duplicate ids among 400" % (400 - len(set(ids))))
        wrong = [(c.id, c.worker) for c in cs if c.id >> WORKER_SHIFT != c.worker]
        check(not wrong, "id >> 40 differs from workerId() of the worker that answered: %s" % wrong[:5])
        per = collections.Counter(c.worker for c in cs)
        check(set(per) == {0, 1, 2, 3}, "connections per worker: %s (every worker should get some)"
              % dict(per))
        pids = {}
        for c in cs:
            pids.setdefault(c.worker, set()).add(c.pid)
        check(all(len(p) == 1 for p in pids.values()), "one worker index, several pids: %s" % pids)
        check({w: p.pop() for w, p in pids.items()} == s.ready_pids,
              "pids in `id` replies differ from the ready lines %s" % s.ready_pids)

        # One broadcast, then a second from the same sender: everyone gets B1 then B2, no copy.
        sender = cs[0]
        cmd(sender, "bcast:B1")
        cmd(sender, "bcast:B2")
        got = read_all_until(cs, lambda c: 2, 10.0, "broadcasts B1, B2")
        bad = [(label(c), m) for c, m in got.items() if m != ["B1", "B2"]]
        check(not bad, "%d of 400 clients did not get exactly [B1, B2]: %s" % (len(bad), bad[:3]))
        expect_quiet(cs)

        # Several senders at once (two per worker), interleaved.
        groups = by_worker(cs)
        senders = [g[i] for g in groups.values() for i in range(2)]
        n = 25
        for seq in range(n):
            for k, c in enumerate(senders):
                cmd(c, "bcast:m %d %d" % (k, seq))
        for k, c in enumerate(senders):
            cmd(c, "bcast:end %d" % k)
        total = len(senders) * (n + 1)
        got = read_all_until(cs, lambda c: total, 30.0, "%d broadcasts" % total)
        for c, msgs in got.items():
            streams = collections.defaultdict(list)
            for m in msgs:
                kind, k, *rest = m.split()
                streams[int(k)].append(int(rest[0]) if kind == "m" else "end")
            for k in range(len(senders)):
                want = list(range(n)) + ["end"]
                check(streams[k] == want, "client %s, broadcasts of sender %d (%s): got %r" % (
                    label(c), k, label(senders[k]), streams[k]))
        s.check_alive()


# == 2. send across workers ======================================================================


@test("send_between_workers", 20)
def _():
    """send() to ids owned by every other worker (every ordered pair) arrives; an unknown local
    id gives false, an unknown remote id true and nothing arrives; close() of a remote id"""
    with WSrv({"workers": 4}) as s:
        cs = open_until(s, 2)
        reps = {w: g[0] for w, g in by_worker(cs).items()}
        spare = {w: g[1] for w, g in by_worker(cs).items()}
        for i in range(4):
            for j in range(4):
                a, b = reps[i], reps[j]
                cmd(a, "trysend:%d:from %d to %d" % (b.id, i, j))
                if i == j:
                    got = sorted([recv_text(a, "own send"), recv_text(a, "own send")])
                    check(got == sorted(["sent 1", "from %d to %d" % (i, j)]),
                          "send() to itself on worker %d: got %r" % (i, got))
                else:
                    expect_messages(a, ["sent 1"], "send() to worker %d" % j)
                    expect_messages(b, ["from %d to %d" % (i, j)], "message from worker %d" % i)
        # The silent variant too, several in a row, in order.
        for i in range(4):
            j = (i + 1) % 4
            for k in range(5):
                cmd(reps[i], "send:%d:seq %d %d" % (reps[j].id, i, k))
        for j in range(4):
            i = (j - 1) % 4
            expect_messages(reps[j], ["seq %d %d" % (i, k) for k in range(5)], "5 sends")

        # Unknown ids: a local one is refused, a remote one is queued and dropped by its owner.
        a = reps[0]
        local_unknown = (0 << WORKER_SHIFT) | 0xFFFFFFFF
        check(ask(a, "trysend:%d:nobody" % local_unknown, "sent ") == "sent 0",
              "send() to an unknown local id should return false")
        remote_unknown = (2 << WORKER_SHIFT) | 0xFFFFFFFF
        check(ask(a, "trysend:%d:nobody" % remote_unknown, "sent ") == "sent 1",
              "send() to an unknown id of another worker should return true (queued)")
        cmd(a, "send:%d:after the unknown" % reps[2].id)
        expect_messages(reps[2], ["after the unknown"], "a send after one to an unknown id")
        expect_quiet(cs)

        # close() of another worker's connection.
        victim = spare[1]
        check(ask(reps[3], "close:%d:4001" % victim.id, "closed ") == "closed 1",
              "close() of a remote id should return true")
        code, reason = victim.expect_close(4001)
        check(reason == b"by request", "close reason %r" % reason)
        victim.send_frame(OP_CLOSE, close_payload(4001))
        victim.expect_eof(3.0)
        s.wait_line(r"^close %d 4001 worker=1 " % victim.id, 3.0, what="onClose of the victim")
        for w in range(4):
            ask(reps[w], "e:still", "e:still")
        s.check_alive()


# == 3. rooms across workers =====================================================================


@test("rooms_across_workers", 30)
def _():
    """rooms across workers: members on every worker get a publish, non-members do not,
    exceptIds, roomSize everywhere, leave, membership ends with the connection, and join/leave
    of a remote connection by id"""
    with WSrv({"workers": 4}) as s:
        cs = open_until(s, 3)
        g = by_worker(cs)
        m = {w: g[w][0] for w in range(4)}  # members of "lobby"
        n = {w: g[w][1] for w in range(4)}  # never members
        x = {w: g[w][2] for w in range(4)}  # for $server->join/leave by id

        def everyone_but(*who):
            return [c for c in list(m.values()) + list(n.values()) + list(x.values())
                    if c not in who and not c.eof]

        for w in range(4):
            check(ask(m[w], "join:lobby", "joined ") == "joined lobby 1", "first join returns true")
            check(ask(m[w], "join:lobby", "joined ") == "joined lobby 0", "second join returns false")
        check(ask(m[0], "rooms", "rooms ") == 'rooms ["lobby"]', "rooms() of a member")
        check(ask(n[0], "rooms", "rooms ") == "rooms []", "rooms() of a non-member")
        room_size_everywhere(n, "lobby", 4)
        room_size_everywhere(n, "nowhere", 0, 0.1)

        def publish_round(sender, command, local, receivers, mark):
            check(ask(sender, command, "published ") == "published %d" % local,
                  "%r on worker %d: local count" % (command, sender.worker))
            cmd(sender, "bcast:" + mark)
            text = command.split(":", 3)[-1]
            for c in everyone_but():
                want = ([text] if c in receivers else []) + [mark]
                expect_messages(c, want, "publish %r then broadcast %r" % (text, mark))

        # From a non-member on worker 0: members everywhere get it, the publisher does not.
        publish_round(n[0], "pub:lobby:hello 1", 1, set(m.values()), "mark 1")
        # exceptIds: a member on worker 1 publishes without itself and worker 2's member.
        publish_round(m[1], "pubx:lobby:%d,%d:hello 2" % (m[2].id, m[1].id), 0,
                      {m[0], m[3]}, "mark 2")
        # leave
        check(ask(m[2], "leave:lobby", "left ") == "left lobby 1", "leave of a member returns true")
        check(ask(m[2], "leave:lobby", "left ") == "left lobby 0", "second leave returns false")
        check(ask(m[2], "rooms", "rooms ") == "rooms []", "rooms() after leave")
        room_size_everywhere(n, "lobby", 3)
        publish_round(n[3], "pub:lobby:hello 3", 1, {m[0], m[1], m[3]}, "mark 3")
        # The connection ends: its membership ends.
        m[3].close_cleanly()
        m[3].eof = True
        room_size_everywhere(n, "lobby", 2)
        publish_round(n[2], "pub:lobby:hello 4", 0, {m[0], m[1]}, "mark 4")

        # $server->join()/leave() of another worker's connection.
        check(ask(x[0], "sjoin:%d:side" % x[1].id, "sjoined ") == "sjoined side 1",
              "join() of a remote id returns true (queued)")
        room_size_everywhere(x, "side", 1)
        poll_until(lambda: ask(x[1], "rooms", "rooms ") == 'rooms ["side"]', 2.0,
                   "rooms() of the remotely joined connection")
        publish_round(x[3], "pub:side:hello 5", 0, {x[1]}, "mark 5")
        check(ask(x[2], "sleave:%d:side" % x[1].id, "sleft ") == "sleft side 1",
              "leave() of a remote id returns true (queued)")
        room_size_everywhere(x, "side", 0)
        poll_until(lambda: ask(x[1], "rooms", "rooms ") == "rooms []", 2.0,
                   "rooms() after the remote leave")
        publish_round(x[3], "pub:side:hello 6", 0, set(), "mark 6")
        # A local $server->join() by id works at once.
        check(ask(x[2], "sjoin:%d:solo" % n[2].id, "sjoined ") == "sjoined solo 1",
              "join() of a local id")
        check(ask(n[2], "rooms", "rooms ") == 'rooms ["solo"]', "rooms() after a local join by id")
        s.check_alive()


# == 4. stats ====================================================================================


STATS_KEYS = ["connections", "messages_in", "messages_out", "bytes_in", "bytes_out",
              "bus_dropped", "receiving", "receive_refused", "workers"]
WORKER_KEYS = ["worker", "pid", "connections", "messages_in", "messages_out", "bytes_in",
               "bytes_out", "bus_queue", "bus_dropped", "receiving", "receive_refused", "restarts",
               "started"]
TOTALS = ["connections", "messages_in", "messages_out", "bytes_in", "bytes_out", "bus_dropped"]


def check_stats_shape(st, workers, t_start):
    check(isinstance(st, dict) and set(st) == set(STATS_KEYS),
          "stats() keys %r, expected %r" % (list(st) if isinstance(st, dict) else st, STATS_KEYS))
    ws = st["workers"]
    check(isinstance(ws, list) and len(ws) == workers, "stats()['workers'] has %s entries, expected %d"
          % (len(ws) if isinstance(ws, list) else ws, workers))
    for i, w in enumerate(ws):
        check(set(w) == set(WORKER_KEYS), "stats()['workers'][%d] keys %r, expected %r" % (i, list(w), WORKER_KEYS))
        check(w["worker"] == i, "stats()['workers'][%d]['worker'] is %r" % (i, w["worker"]))
        for k in WORKER_KEYS[:-1]:
            check(isinstance(w[k], int) and not isinstance(w[k], bool) and w[k] >= 0,
                  "stats()['workers'][%d][%r] is %r, expected an int >= 0" % (i, k, w[k]))
        check(isinstance(w["started"], float), "'started' is %r, expected a float" % (w["started"],))
        check(t_start - 5 <= w["started"] <= time.time() + 1,
              "worker %d 'started' %.3f is not the unix time of its start (now %.3f)" % (
                  i, w["started"], time.time()))
    for k in TOTALS:
        check(isinstance(st[k], int) and not isinstance(st[k], bool), "stats()[%r] is %r" % (k, st[k]))
    check(len({w["pid"] for w in ws}) == workers, "worker pids not distinct: %s" % [w["pid"] for w in ws])


def check_totals(st):
    for k in TOTALS:
        total = sum(w[k] for w in st["workers"])
        check(st[k] == total, "stats()[%r] is %d, the workers' sum is %d" % (k, st[k], total))


@test("stats_counters", 25)
def _():
    """stats(): shape, one entry per worker in order with its pid, connections per worker sum
    to the clients, totals are the sums, messages and bytes counters grow"""
    t_start = time.time()
    with WSrv({"workers": 4}) as s:
        cs = open_until(s, 2, at_least=40)
        st = stats(cs[0])
        check_stats_shape(st, 4, t_start)
        for i, w in enumerate(st["workers"]):
            check(w["pid"] == s.ready_pids[i], "worker %d pid %d, its ready line said %d" % (
                i, w["pid"], s.ready_pids[i]))
            check(proc_state(w["pid"]) and proc_state(w["pid"])[1] == s.pid,
                  "worker %d (pid %d) is not a child of the master %d" % (i, w["pid"], s.pid))
            check(w["restarts"] == 0 and w["bus_dropped"] == 0, "worker %d: %r" % (i, w))
        per = collections.Counter(c.worker for c in cs)

        def conns_match():
            st = stats(cs[0])
            got = [w["connections"] for w in st["workers"]]
            return got == [per[i] for i in range(4)] and st["connections"] == len(cs) and st
        st0 = poll_until(conns_match, 2.0, "per-worker connections == %s" % [per[i] for i in range(4)])
        check_totals(st0)
        # Every worker's stats() sees the same pids.
        for g in by_worker(cs).values():
            other = stats(g[0])
            check([w["pid"] for w in other["workers"]] == [w["pid"] for w in st0["workers"]],
                  "stats() differs between workers")

        # 10 echoes of 100 bytes per client.
        body = "e:" + "x" * 98
        for c in cs:
            for _ in range(10):
                cmd(c, body)
        got = read_all_until(cs, lambda c: 10, 10.0, "echoes")
        check(all(m == [body] * 10 for m in got.values()), "echoes differ")
        st1 = stats(cs[0])
        check_totals(st1)
        for i in range(4):
            a, b = st0["workers"][i], st1["workers"][i]
            k = per[i]
            for key, grow in (("messages_in", 10 * k), ("messages_out", 10 * k),
                              ("bytes_in", 1000 * k), ("bytes_out", 1000 * k)):
                check(b[key] - a[key] >= grow, "worker %d (%d clients): %s grew by %d, expected >= %d"
                      % (i, k, key, b[key] - a[key], grow))
        # Connections that go are no longer counted.
        leaving = cs[:10]
        for c in leaving:
            c.close_cleanly()
        rest = cs[10:]
        poll_until(lambda: stats(rest[0])["connections"] == len(rest), 2.0,
                   "stats()['connections'] == %d after 10 clients left" % len(rest))
        s.check_alive()


# == 5. supervision ==============================================================================


def settle_uptime(c, k, seconds=1.2):
    """Waits until worker k has run `seconds`: a master may delay the restart of a worker that
    dies right after its start (crash loops), which is not what these tests measure."""
    age = time.time() - stats(c)["workers"][k]["started"]
    if age < seconds:
        time.sleep(seconds - age)


def expect_dropped(c, seconds=2.0):
    """The connection ends (EOF or RST) without a Close frame."""
    try:
        c.expect_eof(seconds)
    except Failure as e:
        raise Failure("client %s of the dead worker: %s" % (label(c), e))


def check_restarted(s, cs, k, old_pid, t_dead, mark, stderr_mark, ids_before):
    """After worker k (old_pid) died at t_dead: its clients were dropped, a new worker k is
    ready within 1 s, the others' clients still work, new connections reach worker k with
    new ids, restarts counts it."""
    g = by_worker(cs)
    for c in g[k]:
        expect_dropped(c)
    t_ready, line = s.wait_time(r"^ready worker=%d pid=(?!%d )\d+ " % (k, old_pid), 3.0, mark,
                                what="the ready line of the new worker %d" % k)
    new_pid = int(READY_FIELDS.match(line).group(2))
    s.note_pid(new_pid)
    check(t_ready - t_dead <= 1.0, "the new worker %d was ready %.2f s after the old one died "
          "(at most 1 s)" % (k, t_ready - t_dead))
    wait_gone([old_pid], 1.0, "the dead worker")
    survivors = [c for c in cs if c.worker != k]
    for c in survivors:
        check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, c.pid),
              "client %s of another worker after the death" % label(c))
    # New connections: some land on worker k (its listening socket is served again).
    fresh = []
    for _ in range(12):
        fresh += open_clients(s, 4)
        if any(c.worker == k for c in fresh):
            break
    on_k = [c for c in fresh if c.worker == k]
    check(on_k, "48 new connections, none on the restarted worker %d: %s" % (
        k, collections.Counter(c.worker for c in fresh)))
    check(all(c.pid == new_pid for c in on_k), "new connections of worker %d answer from pid %s, "
          "its ready line said %d" % (k, {c.pid for c in on_k}, new_pid))
    reused = [c.id for c in fresh if c.id in ids_before]
    check(not reused, "ids reused after the restart: %s" % reused)
    # A broadcast from a survivor reaches the survivors and the new worker's clients.
    everyone = survivors + fresh
    cmd(survivors[0], "bcast:after the restart of %d" % k)
    got = read_all_until(everyone, lambda c: 1, 5.0, "broadcast after the restart")
    bad = [label(c) for c, m in got.items() if m != ["after the restart of %d" % k]]
    check(not bad, "broadcast after the restart not received by %s" % bad[:5])
    st = stats(survivors[0])
    restarts = [w["restarts"] for w in st["workers"]]
    want = [1 if i == k else 0 for i in range(4)]
    check(restarts == want, "stats restarts %s, expected %s" % (restarts, want))
    check(st["workers"][k]["pid"] == new_pid, "stats pid of worker %d is %d, not the new %d" % (
        k, st["workers"][k]["pid"], new_pid))
    check(new_stderr_lines(s, stderr_mark, r"^websocket: "),
          "the master logged nothing on stderr about the restart")
    return fresh


@test("kill9_worker_restarted", 25)
def _():
    """kill -9 of a worker: its clients are dropped (no Close), the others' stay and work, a new
    worker for the slot is ready within 1 s and takes new connections (new ids), restarts == 1"""
    with WSrv({"workers": 4}) as s:
        cs = open_until(s, 3)
        k = 1
        st = stats(cs[0])
        pid = st["workers"][k]["pid"]
        check(pid in children(s.pid), "worker %d pid %d is not among the master's children %s" % (
            k, pid, sorted(children(s.pid))))
        settle_uptime(cs[0], k)
        mark, err_mark = s.mark(), len(s.stderr_lines())
        os.kill(pid, signal.SIGKILL)
        t_dead = time.monotonic()
        check_restarted(s, cs, k, pid, t_dead, mark, err_mark, {c.id for c in cs})
        check(len(children(s.pid)) == 4, "the master has %d children, expected 4: %s" % (
            len(children(s.pid)), sorted(children(s.pid))))
        s.check_alive()


@test("fatal_error_worker_restarted", 30)
def _():
    """a fatal error in a worker's callback (memory exhausted), then exit() in another worker:
    each worker is restarted like after kill -9"""
    with WSrv({"workers": 4}) as s:
        cs = open_until(s, 3)
        k = 2
        victim = by_worker(cs)[k][0]
        settle_uptime(victim, k)
        mark, err_mark = s.mark(), len(s.stderr_lines())
        cmd(victim, "fatal")
        t0 = time.monotonic()
        wait_gone([victim.pid], 2.0, "the worker with the fatal error")
        check_restarted(s, cs, k, victim.pid, t0, mark, err_mark, {c.id for c in cs})

        # exit() in a callback of worker 3.
        cs = [c for c in cs if c.worker != k]
        k = 3
        victim = by_worker(cs)[k][0]
        settle_uptime(victim, k)
        mark, err_mark = s.mark(), len(s.stderr_lines())
        cmd(victim, "exit:3")
        t0 = time.monotonic()
        wait_gone([victim.pid], 2.0, "the worker that called exit()")
        g = by_worker(cs)
        for c in g[k]:
            expect_dropped(c)
        t_ready, line = s.wait_time(r"^ready worker=3 pid=(?!%d )\d+ " % victim.pid, 3.0, mark,
                                    what="the ready line of the new worker 3")
        check(t_ready - t0 <= 1.0, "worker 3 was ready %.2f s after exit()" % (t_ready - t0))
        survivors = [c for c in cs if c.worker != k]
        for c in survivors:
            check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, c.pid),
                  "client %s after worker 3 exited" % label(c))
        st = stats(survivors[0])
        restarts = [w["restarts"] for w in st["workers"]]
        check(restarts == [0, 0, 1, 1], "stats restarts %s, expected [0, 0, 1, 1]" % restarts)
        s.check_alive()


@test("callback_exception_contained", 15)
def _():
    """an Error thrown by a callback (undefined function) goes to onError; the worker keeps its
    clients and is not restarted"""
    with WSrv({"workers": 2}) as s:
        cs = open_until(s, 2)
        c = by_worker(cs)[1][0]
        cmd(c, "undefined")
        s.wait_line(r"^error %d Error: Call to undefined function no_such_function_" % c.id, 3.0,
                    what="the onError line of the Error")
        for d in cs:
            check(ask(d, "id", "id ") == "id %d %d %d" % (d.id, d.worker, d.pid),
                  "client %s after the Error" % label(d))
        check([w["restarts"] for w in stats(c)["workers"]] == [0, 0], "a worker was restarted")


# == 6. graceful stop ============================================================================


@test("sigterm_10000_in_flight", 40)
def _():
    """SIGTERM to the master right after clients on all workers sent 10,000 messages to clients
    on other workers: every message arrives, then Close 1001; the master exits 0 within
    shutdown_timeout + 2 s; no worker remains"""
    shutdown_timeout = 3.0
    with WSrv({"workers": 4, "shutdown_timeout": shutdown_timeout}) as s:
        cs = open_until(s, 4, at_least=40)
        worker_pids = [w["pid"] for w in stats(cs[0])["workers"]]
        total = 10000
        # Sender i sends to the clients of other workers in turn.
        targets = {c: [d for d in cs if d.worker != c.worker] for c in cs}
        blobs = {c: bytearray() for c in cs}
        expected = {c: collections.defaultdict(list) for c in cs}  # target -> sender id -> seqs
        seq = collections.Counter()
        for k in range(total):
            c = cs[k % len(cs)]
            t = targets[c][seq[c] % len(targets[c])]
            blobs[c] += wsraw.encode_frame(OP_TEXT, "send:%d:r %d %d" % (t.id, c.id, seq[c]))
            expected[t][c.id].append(seq[c])
            seq[c] += 1
        err_mark = len(s.stderr_lines())
        for c in cs:
            c.send(bytes(blobs[c]))
        s.signal(signal.SIGTERM)
        t0 = time.monotonic()

        got = {c: collections.defaultdict(list) for c in cs}
        closed = {}
        pool = Pool(cs)

        def on_frame(c, f):
            if f is None:
                if c not in closed:
                    raise Failure("client %s: TCP closed without a Close frame after %d messages"
                                  % (label(c), sum(len(v) for v in got[c].values())))
                return
            if c in closed:
                raise Failure("client %s: %r after the Close" % (label(c), f))
            if f.op == OP_CLOSE:
                closed[c] = close_code(f)
                c.send_frame(OP_CLOSE, f.payload[:2])
                return
            _, sender, n = text_of(c, f, "relayed messages").split()
            got[c][int(sender)].append(int(n))

        pool.collect(lambda: set(pool.live), shutdown_timeout + 2.0, "Close and EOF after SIGTERM",
                     on_frame)
        codes = collections.Counter(closed.values())
        check(codes == {1001: len(cs)}, "close codes %s, expected 1001 for all %d" % (dict(codes), len(cs)))
        arrived = sum(len(v) for g in got.values() for v in g.values())
        for c in cs:
            for sender, seqs in expected[c].items():
                check(got[c][sender] == seqs, "client %s, messages from %d: %d expected, %d arrived "
                      "before the Close (first missing or out of order: %s); %d of %d overall" % (
                          label(c), sender, len(seqs), len(got[c][sender]),
                          next((a for a, b in zip(seqs, got[c][sender] + [None] * len(seqs))
                                if a != b), None), arrived, total))
        rc = s.wait_exit(max(0.1, shutdown_timeout + 2.0 - (time.monotonic() - t0)))
        check(rc == 0, "master exit status %d, expected 0; stderr: %s" % (rc, s.stderr_tail()))
        check(s.find(r"^start returned pid=%d$" % s.pid), "start() did not return in the master")
        wait_gone(worker_pids, 1.0, "workers after the master exited")
        check(not group_members(s.pid), "processes of the server's group remain: %s" %
              group_members(s.pid))
        check(new_stderr_lines(s, err_mark, r"^websocket: "), "no summary line at stop on stderr")


def sigint_test(to_group):
    shutdown_timeout = 3.0
    with WSrv({"workers": 4, "shutdown_timeout": shutdown_timeout}) as s:
        cs = open_until(s, 1, at_least=8)
        worker_pids = [w["pid"] for w in stats(cs[0])["workers"]]
        for c in cs:
            cmd(c, "e:before")
        if to_group:
            os.killpg(s.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            s.signal(signal.SIGINT)
        t0 = time.monotonic()
        for c in cs:
            expect_messages(c, ["e:before"], "the echo sent before SIGINT")
            code, _ = c.expect_close(1001)
            c.send_frame(OP_CLOSE, close_payload(1001))
        for c in cs:
            c.expect_eof(shutdown_timeout)
        rc = s.wait_exit(max(0.1, shutdown_timeout + 2.0 - (time.monotonic() - t0)))
        check(rc == 0, "master exit status %d after SIGINT, expected 0; stderr: %s" % (
            rc, s.stderr_tail()))
        check(s.find(r"^start returned pid=%d$" % s.pid), "start() did not return in the master")
        wait_gone(worker_pids, 1.0, "workers after SIGINT")


@test("sigint_master", 20)
def _():
    """SIGINT to the master: every client gets its echo then Close 1001, exit status 0"""
    sigint_test(False)


@test("sigint_process_group", 20)
def _():
    """SIGINT to the whole process group (Ctrl-C): the workers ignore it, the master stops
    everything gracefully (Close 1001), exit status 0"""
    sigint_test(True)


# == 7. reload ===================================================================================


class Traffic:
    """Every client sends "e:SEQ" (echoed) every `period` s, staggered, and every 4th time also
    "send:PARTNER:r ID SEQ" to its partner on another worker. Checks as frames arrive that
    each client gets its echoes and its sender's relays in order without gap or copy, and fails
    at once on a Close or EOF."""

    def __init__(self, clients, period):
        self.cs = clients
        self.period = period
        self.pool = Pool(clients)
        order = sorted(clients, key=lambda c: (c.worker, c.id))
        n = len(order)
        shift = next((k for k in [n // 2] + list(range(1, n))
                      if all(order[i].worker != order[(i + k) % n].worker for i in range(n))), n // 2)
        self.partner = {order[i]: order[(i + shift) % n] for i in range(n)}
        self.sender_of = {p: c for c, p in self.partner.items()}
        self.sent = {c: 0 for c in clients}          # echoes sent
        self.relayed = {c: 0 for c in clients}       # relays sent
        self.echo_next = {c: 0 for c in clients}     # next echo expected
        self.relay_next = {c: 0 for c in clients}    # next relay expected (from sender_of[c])
        self.offset = {c: (i % 16) * period / 16 for i, c in enumerate(clients)}
        self.t0 = time.monotonic()
        self.received = 0

    def step(self, sending=True):
        now = time.monotonic()
        if sending:
            for c in self.cs:
                due = math.floor((now - self.t0 - self.offset[c]) / self.period) + 1
                while self.sent[c] < due:
                    data = wsraw.encode_frame(OP_TEXT, "e:%d" % self.sent[c])
                    if self.sent[c] % 4 == 3:
                        data += wsraw.encode_frame(OP_TEXT, "send:%d:r %d %d" % (
                            self.partner[c].id, c.id, self.relayed[c]))
                        self.relayed[c] += 1
                    self.sent[c] += 1
                    c.send(data)
        for c, f in self.pool.poll(0.003):
            self.on_frame(c, f)

    def on_frame(self, c, f):
        t = time.monotonic() - self.t0
        if f is None:
            raise Failure("client %s: connection ended without a Close at t=%.2f s" % (label(c), t))
        if f.op == OP_CLOSE:
            raise Failure("client %s: got %r at t=%.2f s" % (label(c), f, t))
        m = text_of(c, f, "traffic")
        self.received += 1
        if m.startswith("e:"):
            n = int(m[2:])
            check(n == self.echo_next[c], "client %s: echo %d arrived when %d was due (lost, "
                  "duplicated or reordered) at t=%.2f s" % (label(c), n, self.echo_next[c], t))
            self.echo_next[c] += 1
        elif m.startswith("r "):
            _, sender, n = m.split()
            sender, n = int(sender), int(n)
            check(sender == self.sender_of[c].id, "client %s: relay from %d, expected only %d"
                  % (label(c), sender, self.sender_of[c].id))
            check(n == self.relay_next[c], "client %s: relay %d from %d arrived when %d was due "
                  "at t=%.2f s" % (label(c), n, sender, self.relay_next[c], t))
            self.relay_next[c] += 1
        else:
            raise Failure("client %s: unexpected %r" % (label(c), m[:100]))

    def run(self, seconds, until=None):
        """Sends and checks for `seconds`, or until until() is true (then Failure if `seconds`
        pass first)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            if until and until():
                return
        if until:
            raise Failure("traffic ran %.1f s and the condition never came" % seconds)

    def drain(self, seconds):
        def pending():
            return {c for c in self.cs if self.echo_next[c] < self.sent[c]
                    or self.relay_next[c] < self.relayed[self.sender_of[c]]}
        end = time.monotonic() + seconds
        while pending():
            if time.monotonic() > end:
                p = sorted(pending(), key=label)
                c = p[0]
                raise Failure("%d clients still wait for messages %.1f s after the traffic "
                              "stopped, e.g. %s: echo %d/%d, relay %d/%d" % (
                                  len(p), seconds, label(c), self.echo_next[c], self.sent[c],
                                  self.relay_next[c], self.relayed[self.sender_of[c]]))
            self.step(sending=False)
        self.pool.close()


@test("reload_400_clients", 60)
def _():
    """SIGUSR1 while 400 clients message (echo and relays to other workers): no close, nothing
    lost, copied or reordered, ids and $conn->data survive, every worker pid changes, onOpen
    is not called again, and `version` answers from the new code"""
    app = App("v1")
    try:
        with WSrv({"workers": 4}, app=app) as s:
            cs = open_clients(s, 400)
            check(len({c.worker for c in cs}) == 4, "not every worker got clients")
            for c in cs:
                cmd(c, "set:k:val-%d" % c.id)
            for c in cs:
                expect_messages(c, ["set k"], "set:k")
            old_pids = dict(s.ready_pids)
            for c in cs[:4]:
                check(ask(c, "version", "version ") == "version v1", "version before the reload")
            traffic = Traffic(cs, 0.025)
            traffic.run(1.0)
            app.write("v2")
            mark = s.mark()
            s.signal(signal.SIGUSR1)

            progress = []

            def reloaded():
                news = {int(READY_FIELDS.match(l).group(1)): int(READY_FIELDS.match(l).group(2))
                        for _, l in s.find(r"^ready ", mark)}
                stops = {int(re.match(r"^stop worker=(\d+) pid=(\d+)", l).group(2))
                         for _, l in s.find(r"^stop worker=", mark)}
                running = [p for p in old_pids.values() if alive(p)]
                progress[:] = ["new workers ready: %s" % sorted(news),
                               "old workers that ran workerStop: %d of 4" % len(stops & set(old_pids.values())),
                               "old workers still running: %s" % running]
                return (len(news) == 4 and not set(news.values()) & set(old_pids.values())
                        and set(old_pids.values()) <= stops and not running)
            t_reload = time.monotonic()
            try:
                traffic.run(20.0, until=reloaded)
            except Failure as e:
                raise Failure("%s (reload: %s; stderr: %s)" % (e, "; ".join(progress),
                                                               s.stderr_tail(300)))
            took = time.monotonic() - t_reload
            traffic.run(1.5)
            traffic.drain(5.0)
            new_pids = s.wait_ready(range(4), mark, 0.1, exclude=set(old_pids.values()))
            closes = s.find(r"^close ", mark)
            check(not closes, "onClose ran during the reload: %r" % [l for _, l in closes[:3]])
            for c in cs:
                cmd(c, "id")
                cmd(c, "get:k")
                cmd(c, "version")
                cmd(c, "opens")
            for c in cs:
                _, cid, worker, pid = expect_reply(c, "id ").split()
                check((int(cid), int(worker)) == (c.id, c.worker),
                      "client %s answers as %s@w%s after the reload" % (label(c), cid, worker))
                check(int(pid) == new_pids[c.worker], "client %s is served by pid %s, not by the "
                      "new worker %d" % (label(c), pid, new_pids[c.worker]))
                got = json.loads(expect_reply(c, "got k ")[6:])
                want = ["val-%d" % c.id, len("val-%d" % c.id), "val-%d" % c.id]
                check(got == want, "client %s: $conn->data / dynamic property after the reload "
                      "%r, expected %r" % (label(c), got, want))
                check(expect_reply(c, "version ") == "version v2",
                      "client %s: version after the reload" % label(c))
                check(expect_reply(c, "opens ") == "opens 0",
                      "onOpen ran again in the new worker of %s" % label(c))
            st = stats(cs[0])
            check([w["pid"] for w in st["workers"]] == [new_pids[i] for i in range(4)],
                  "stats pids %s, the new workers are %s" % ([w["pid"] for w in st["workers"]],
                                                           new_pids))
            check(st["connections"] == 400, "stats connections %d after the reload" % st["connections"])
            check(traffic.received > 4000, "only %d messages during the test" % traffic.received)
            print("# reload of 4 workers with 400 clients took %.2f s, %d messages checked" % (
                took, traffic.received))
            s.check_alive()
    finally:
        app.remove()


@test("reload_mid_frame_and_handshake", 40)
def _():
    """A reload while connections are mid-way: a frame whose header and half its payload
    arrived, a fragmented message with its first fragment in, a control frame cut after two
    bytes, an upgrade request without its final CRLF. The new workers finish each of them
    from the state handed over: the echoes are whole, the 101 comes"""
    with WSrv({"workers": 2}) as s:
        cs = open_until(s, 2)
        a, b, c = cs[0], cs[1], cs[2]
        text = "e:" + "x" * 3000
        frame = wsraw.encode_frame(OP_TEXT, text)
        a.send(frame[:1500])
        b.send(wsraw.encode_frame(OP_TEXT, "e:first-", fin=False))
        ping = wsraw.encode_frame(wsraw.OP_PING, b"still here")
        c.send(ping[:2])
        h = Client(s.port)
        key = wsraw.new_key()
        req = wsraw.upgrade_request(key=key)
        h.send(req[:-2])
        time.sleep(0.2)  # the old workers have read and parsed all of it
        old = dict(s.ready_pids)
        mark = s.mark()
        s.signal(signal.SIGUSR1)
        s.wait_ready(range(2), mark, 10.0, exclude=set(old.values()))
        end = time.monotonic() + 10
        while any(alive(p) for p in old.values()):
            check(time.monotonic() < end, "the old workers did not exit after the reload")
            time.sleep(0.02)
        a.send(frame[1500:])
        check(recv_text(a, "the echo of the frame cut by the reload") == text,
              "the frame cut by the reload did not come back whole")
        b.send(wsraw.encode_frame(wsraw.OP_CONT, "second", fin=True))
        check(recv_text(b, "the echo of the fragmented message") == "e:first-second",
              "the fragmented message did not come back whole")
        c.send(ping[2:])
        f = c.recv_frame("the pong")
        check(f.op == wsraw.OP_PONG and f.payload == b"still here", "expected the pong, got %r" % (f,))
        h.send(req[-2:])
        resp = h.read_response()
        check(resp.status == 101, "the upgrade cut by the reload got %r" % resp.raw[:60])
        check(resp.header("sec-websocket-accept") == wsraw.accept_for(key), "bad accept key")
        h.send_frame(OP_TEXT, "e:after")
        check(recv_text(h, "an echo on the late upgrade") == "e:after", "no echo after the upgrade")
        for x in (a, b, c):
            check(ask(x, "version", "version ") == "version v1", "the connection still works")


@test("reload_keeps_ping_deadline", 40)
def _():
    """ping_interval=3: a reload hands over the keep-alive state: a client that left the old
    worker's Ping unanswered is dropped (1006) by the new worker one interval after that Ping,
    not one interval after the reload; a client that answers its pings stays"""
    with WSrv({"workers": 2, "ping_interval": 3}) as s:
        cs = open_until(s, 1)
        silent, live = cs[0], cs[1]
        f = silent.recv_message("the old worker's Ping")
        t_ping = time.monotonic()
        check(f.op == wsraw.OP_PING, "expected a Ping, got %r" % (f,))
        f = live.recv_message("the old worker's Ping")
        check(f.op == wsraw.OP_PING, "expected a Ping, got %r" % (f,))
        live.send_frame(wsraw.OP_PONG, f.payload)
        time.sleep(max(0.0, t_ping + 1.0 - time.monotonic()))
        old = dict(s.ready_pids)
        mark = s.mark()
        s.signal(signal.SIGUSR1)
        new = s.wait_ready(range(2), mark, 10.0, exclude=set(old.values()))
        wait_gone(list(old.values()), 10.0, "old workers after the reload")
        check(time.monotonic() < t_ping + 2.8, "the reload took too long for this test")
        while not silent.eof:
            try:
                f = silent.recv_message("the drop of the silent client")
            except Failure:
                if silent.eof:
                    break
                raise
            check(f.op == wsraw.OP_PING, "unexpected %r" % (f,))
        t_drop = time.monotonic() - t_ping
        check(2.9 <= t_drop <= 3.6, "dropped %.2f s after the Ping (ping_interval 3)" % t_drop)
        line = s.wait_line(r"^close %d 1006 " % silent.id, 2.0, what="onClose 1006 of the silent client")
        check("pid=%d" % new[silent.worker] in line, "not closed by the new worker: %r" % line)
        cmd(live, "version")
        while True:
            f = live.recv_message("the version, after the reload")
            if f.op != wsraw.OP_PING:
                break
            live.send_frame(wsraw.OP_PONG, f.payload)
        check(f.op == OP_TEXT and f.payload == b"version v1", "the live client got %r" % (f,))


@test("reload_broken_code", 40)
def _():
    """SIGUSR1 with new code that does not compile: the reload stops, the old workers keep
    serving (same pids, old version), clients see nothing, the master logs it; a later reload
    with fixed code works"""
    app = App("v1")
    try:
        with WSrv({"workers": 4}, app=app) as s:
            cs = open_until(s, 2, at_least=40)
            old_pids = dict(s.ready_pids)
            err_mark = len(s.stderr_lines())
            traffic = Traffic(cs, 0.02)
            traffic.run(0.3)
            app.write_broken()
            mark = s.mark()
            s.signal(signal.SIGUSR1)
            traffic.run(8.0, until=lambda: new_stderr_lines(
                s, err_mark, r"^websocket: .*(fail|error|abandon|abort|stopp|gave up|cannot)"))
            traffic.run(1.0)
            traffic.drain(3.0)
            check(new_stderr_lines(s, err_mark, r"^app error: ParseError"),
                  "the new worker did not report the broken code (app error: ParseError)")
            check(not s.find(r"^ready ", mark), "a worker started with the broken code: %r" %
                  s.find(r"^ready ", mark))
            check(not s.find(r"^(stop|close) ", mark), "old workers stopped or closed clients: %r"
                  % s.find(r"^(stop|close) ", mark)[:3])
            for c in cs:
                check(ask(c, "version", "version ") == "version v1", "version after the failed reload")
                check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, c.pid),
                      "client %s after the failed reload" % label(c))
            st = stats(cs[0])
            check([w["pid"] for w in st["workers"]] == [old_pids[i] for i in range(4)],
                  "stats() pids after the failed reload are %s, the workers still serving are %s"
                  % ([w["pid"] for w in st["workers"]], [old_pids[i] for i in range(4)]))
            time.sleep(0.3)
            check(children(s.pid) == set(old_pids.values()), "the master's children are %s, "
                  "expected the old workers %s" % (sorted(children(s.pid)), sorted(old_pids.values())))

            # Fixed code: the next reload goes through.
            app.write("v3")
            mark = s.mark()
            s.signal(signal.SIGUSR1)
            new_pids = s.wait_ready(range(4), mark, 20.0, exclude=set(old_pids.values()))
            wait_gone(list(old_pids.values()), 10.0, "old workers after the second reload")
            for c in cs:
                check(ask(c, "version", "version ") == "version v3", "version after the fixed reload")
                check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, new_pids[c.worker]),
                      "client %s after the fixed reload" % label(c))
            s.check_alive()
    finally:
        app.remove()


# == 8. pid_file and control() ===================================================================


@test("pid_file_and_control", 60)
def _():
    """pid_file: written with the master pid, a second start fails with "already running", and
    `status`, `reload`, `stop` through control(): stop ends the server (exit 0) and removes the
    file; afterwards status says "not running" (1); a stale pid file does not block a start"""
    tmp = tempfile.mkdtemp(prefix="ws-workers-")
    pidf = os.path.join(tmp, "server.pid")
    cfg = {"workers": 2, "pid_file": pidf, "shutdown_timeout": 2}
    try:
        with WSrv(cfg) as s:
            with open(pidf) as f:
                content = f.read().strip()
            check(content == str(s.pid), "pid file holds %r, the master is %d" % (content, s.pid))
            rc, out = control(cfg, "status")
            check(rc == 0 and "running (pid %d)" % s.pid in out,
                  "status: exit %d, output %r" % (rc, out))
            # A second server with the same pid_file refuses to start.
            second = dict(cfg, host="127.0.0.1", port=0)
            rc, out = run_php([SERVER, json.dumps(second), "start"], 10.0)
            check(rc != 0, "a second start with the same pid_file exited 0: %r" % out[-300:])
            check("already running (pid %d)" % s.pid in out,
                  "the second start did not say 'already running (pid %d)': %r" % (s.pid, out[-400:]))
            check(not re.search(r"^ready ", out, re.M), "the second start ran workers: %r" % out[-300:])
            with open(pidf) as f:
                check(f.read().strip() == str(s.pid), "the second start changed the pid file")
            c = open_clients(s, 1)[0]
            # reload through control()
            mark = s.mark()
            rc, out = control(cfg, "reload")
            check(rc == 0 and "reloading (pid %d)" % s.pid in out, "reload: exit %d, output %r" % (rc, out))
            new = s.wait_ready(range(2), mark, 15.0, exclude=set(s.ready_pids.values()))
            check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, new[c.worker]),
                  "the client after a reload through control()")
            # stop through control()
            c.close()
            rc, out = control(cfg, "stop", timeout=15.0, server=s)
            check(rc == 0 and "stopped (pid %d)" % s.pid in out, "stop: exit %d, output %r" % (rc, out))
            check(not s.alive(), "control('stop') returned while the server still runs")
            check(s.wait_exit(1.0) == 0, "server exit status %s after stop" % s.exit_desc())
            check(not os.path.exists(pidf), "the pid file is still there after stop")
            check(not group_members(s.pid), "processes remain: %s" % group_members(s.pid))
            rc, out = control(cfg, "status")
            check(rc == 1 and "not running" in out, "status after stop: exit %d, output %r" % (rc, out))
            rc, out = control(cfg, "stop")
            check(rc == 1 and "not running" in out, "stop when stopped: exit %d, output %r" % (rc, out))

        # A pid file naming a process that is gone does not block a start.
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(pidf, "w") as f:
            f.write("%d\n" % dead.pid)
        with WSrv(cfg) as s:
            with open(pidf) as f:
                check(f.read().strip() == str(s.pid), "a stale pid file was not replaced")
            s.signal(signal.SIGTERM)
            check(s.wait_exit(5.0) == 0, "exit status after SIGTERM: %s" % s.exit_desc())
            check(not os.path.exists(pidf), "the pid file is still there after SIGTERM")
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


# == 9. bus overflow ==============================================================================


@test("bus_overflow_stuck_worker", 40)
def _():
    """bus_buffer_size 64 KiB, one worker stuck for 3 s while another client floods 400
    broadcasts of 4 KiB: the other workers' clients get every one during the sleep, the stuck
    worker's clients an in-order subset, stats counts bus_dropped for the stuck worker only,
    the master logs it, the stuck worker serves again once its queue drained, and a SIGTERM
    afterwards still stops everything within shutdown_timeout + 2 s"""
    shutdown_timeout = 2.0
    with WSrv({"workers": 4, "bus_buffer_size": 65536, "shutdown_timeout": shutdown_timeout}) as s:
        cs = open_until(s, 2)
        g = by_worker(cs)
        stuck_w, flood_w = 0, 1
        sleeper, stuck_peer = g[stuck_w][0], g[stuck_w][1]
        flooder = g[flood_w][0]
        watchers = [c for c in cs if c.worker != stuck_w and c is not flooder]
        err_mark = len(s.stderr_lines())
        cmd(sleeper, "sleep:3")
        s.wait_line(r"^sleeping worker=%d " % stuck_w, 3.0, what="the sleeping line")
        t_sleep = time.monotonic()
        count, pad = 400, "x" * 4096
        pool = Pool(watchers + [flooder, stuck_peer, sleeper])
        got = collections.defaultdict(list)
        last_at = {}
        slept_at = []

        def on_frame(c, f):
            m = text_of(c, f, "the flood")
            if m == "slept":
                slept_at.append(time.monotonic())
                return
            n = int(m.split()[1])
            got[c].append(n)
            last_at[c] = time.monotonic()

        sent = 0
        next_at = time.monotonic()
        while sent < count:
            if time.monotonic() >= next_at:
                for _ in range(10):
                    cmd(flooder, "bcast:f %d %s" % (sent, pad))
                    sent += 1
                next_at += 0.025
            for c, f in pool.poll(0.005):
                on_frame(c, f)
        flood_end = time.monotonic()
        pool.collect(lambda: {c for c in watchers + [flooder] if len(got[c]) < count}, 3.0,
                     "the flood on the other workers", on_frame)
        for c in watchers + [flooder]:
            check(got[c] == list(range(count)), "client %s on worker %d (not stuck) got %d of %d "
                  "broadcasts or out of order" % (label(c), c.worker, len(got[c]), count))
        latest = max(last_at[c] for c in watchers)
        check(not slept_at or latest < slept_at[0], "the other workers' clients got the flood "
              "only after the stuck worker woke up: the master was blocked")
        check(latest - t_sleep < 2.8, "the flood reached the other workers %.2f s into the 3 s "
              "sleep (flood sent in %.2f s)" % (latest - t_sleep, flood_end - t_sleep))
        # The stuck worker wakes up and serves again.
        pool.collect(lambda: set() if slept_at else {sleeper}, 5.0, "the sleeper's reply", on_frame)
        pool.close()
        # Until the stuck worker drained its queue, messages for it may still be dropped.
        poll_until(lambda: stats(flooder)["workers"][stuck_w]["bus_queue"] == 0, 5.0,
                   "bus_queue of the stuck worker back to 0 after its sleep")
        # A broadcast after the flood comes after whatever the stuck worker still delivers.
        cmd(flooder, "bcast:after")
        for c in (sleeper, stuck_peer):
            while True:
                m = recv_text(c, "the broadcast after the flood")
                if m == "after":
                    break
                got[c].append(int(m.split()[1]))
        for c in watchers + [flooder]:
            expect_messages(c, ["after"], "a broadcast after the episode")
        for c in (sleeper, stuck_peer):
            check(ask(c, "id", "id ") == "id %d %d %d" % (c.id, c.worker, c.pid),
                  "the stuck worker's client %s after the episode" % label(c))
            seq = got[c]
            check(seq == sorted(set(seq)), "stuck worker's client %s got broadcasts out of order "
                  "or twice: %s..." % (label(c), seq[:20]))
            check(len(seq) < count, "stuck worker's client %s got all %d broadcasts: nothing was "
                  "dropped with a 64 KiB bus buffer" % (label(c), count))
        st = stats(flooder)
        dropped = [w["bus_dropped"] for w in st["workers"]]
        check(dropped[stuck_w] > 0, "bus_dropped of the stuck worker is 0: %s" % dropped)
        check(all(d == 0 for w, d in enumerate(dropped) if w != stuck_w),
              "bus_dropped of other workers: %s" % dropped)
        check(st["bus_dropped"] >= dropped[stuck_w], "total bus_dropped %d" % st["bus_dropped"])
        check(new_stderr_lines(s, err_mark, r"^websocket: .*(drop|full|overflow|bus|stuck|slow)"),
              "the master logged nothing about the dropped messages: %r" % s.stderr_tail(300))
        s.check_alive()
        # After the episode the bus still carries a graceful stop.
        close_all(cs)
        s.signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = s.wait_exit(shutdown_timeout + 2.0)
        except Failure:
            raise Failure("the master did not exit within shutdown_timeout + 2 s of SIGTERM after "
                          "the episode; stderr: %s" % s.stderr_tail(400))
        check(rc == 0, "exit status %d after SIGTERM (%.1f s)" % (rc, time.monotonic() - t0))


# == 10. one worker ==============================================================================


@test("single_worker", 20)
def _():
    """workers => 1: no master (stats pid is the server's pid, no child process), ids with
    index 0, rooms and broadcast work, pid_file, SIGUSR1 only logs, SIGTERM exits 0"""
    tmp = tempfile.mkdtemp(prefix="ws-workers-")
    pidf = os.path.join(tmp, "one.pid")
    try:
        t_start = time.time()
        with WSrv({"workers": 1, "pid_file": pidf}) as s:
            check(s.ready_pids == {0: s.pid}, "worker 0 runs in pid %s, the server is %d" % (
                s.ready_pids, s.pid))
            check(not children(s.pid), "the single process has children: %s" % children(s.pid))
            with open(pidf) as f:
                check(f.read().strip() == str(s.pid), "pid file")
            cs = open_clients(s, 5)
            check(all(c.worker == 0 and c.id >> WORKER_SHIFT == 0 and c.pid == s.pid for c in cs),
                  "ids/workers: %s" % [(c.id, c.worker, c.pid) for c in cs])
            st = stats(cs[0])
            check_stats_shape(st, 1, t_start)
            check_totals(st)
            check(st["workers"][0]["pid"] == s.pid and st["connections"] == 5, "stats %r" % st)
            for c in cs[:2]:
                ask(c, "join:r", "joined r 1")
            check(ask(cs[4], "size:r", "size ") == "size r 2", "roomSize")
            check(ask(cs[4], "pub:r:hi", "published ") == "published 2", "publish count")
            for c in cs[:2]:
                expect_messages(c, ["hi"], "publish")
            cmd(cs[0], "bcast:all")
            for c in cs:
                expect_messages(c, ["all"], "broadcast")
            err_mark = len(s.stderr_lines())
            mark = s.mark()
            s.signal(signal.SIGUSR1)
            poll_until(lambda: new_stderr_lines(s, err_mark, r"^websocket: .*reload"), 2.0,
                       "a websocket: line about reload on stderr after SIGUSR1")
            s.check_alive()
            check(not s.find(r"^(ready|stop|close) ", mark), "SIGUSR1 with one worker changed "
                  "something: %r" % s.find(r"^(ready|stop|close) ", mark))
            for c in cs:
                check(ask(c, "id", "id ") == "id %d 0 %d" % (c.id, s.pid), "after SIGUSR1")
            s.signal(signal.SIGTERM)
            for c in cs:
                c.expect_close(1001)
                c.send_frame(OP_CLOSE, close_payload(1001))
            for c in cs:
                c.expect_eof(3.0)
            check(s.wait_exit(3.0) == 0, "exit status %s" % s.exit_desc())
            check(not os.path.exists(pidf), "pid file left after SIGTERM")
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
