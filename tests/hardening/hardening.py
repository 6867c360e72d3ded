#!/usr/bin/python3
"""hardening.py - black-box checks that the server holds under bad input, load and faults.

Each test starts its own tests/hardening/server.php with the configuration it needs, attacks it
from raw sockets on 127.0.0.1 and checks the protection by its visible effect, so each one fails
when its protection is taken out (the docstring of a test says what it checks, the comment
below it what goes wrong without the protection). Under ASan or valgrind, RSS bounds are not
checked (their quarantine holds freed memory); everything else is.

Usage: hardening.py [name ...]      run the named tests (all by default), one line each
       hardening.py --list          names and hard timeouts (run.sh runs each in its own process)
       hardening.py --slowloris PORT N SECONDS   helper process of the slowloris test
Env:   WS_PHP  command that runs PHP with the extension (default: php -d extension=<repo>/modules/websocket.so)
"""

import json
import os
import selectors
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inc"))
from wsharness import (MiB, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                       Client, Failure, Srv, check, close_code, close_payload, encode_frame, main,
                       open_client, recv_until_close, register_pid, tcp_queues, test,
                       upgrade_request, within)
import wsraw  # noqa: E402  (tests/conformance, on the path through wsharness)


def expect_http(c, status, what):
    r = c.read_response()
    length = r.header("content-length")
    if length and length.isdigit():
        r.body = c._take(int(length), "the body of the %d response" % r.status)
    check(r.status == status, "%s: expected HTTP %d, got %r" % (what, status,
                                                                r.raw.split(b"\r\n")[0]))
    return r


def number_of(payload):
    """The number of a server.php numbered() message."""
    return int(bytes(payload[:10]))


# == 1. limits ===================================================================================


@test("limits_max_connections", 20)
def _():
    """limits: max_connections=5, the 6th connection gets 503, the first 5 still echo"""
    # Without the limit the 6th gets 101.
    with Srv({"max_connections": 5}) as s:
        cs = [open_client(s) for _ in range(5)]
        sixth = Client(s.port)
        sixth.send(upgrade_request())
        expect_http(sixth, 503, "6th connection")
        sixth.expect_eof(3.0)
        for i, c in enumerate(cs):
            try:
                c.echo_ok(b"still here %d" % i)
            except Failure as e:
                raise Failure("client %d of 5 after the 503: %s" % (i + 1, e))
        # A freed slot can be taken again.
        cs[0].close_cleanly()
        s.wait_line(r"^close %d " % cs[0].id, 3.0)
        again = Client(s.port, ws=True)
        again.echo_ok()
        s.check_alive()


@test("limits_max_connections_per_ip", 20)
def _():
    """limits: max_connections_per_ip=2, the 3rd from 127.0.0.1 gets 429, 127.0.0.2 is served"""
    # Without the limit the 3rd gets 101.
    with Srv({"max_connections_per_ip": 2}) as s:
        a, b = open_client(s), open_client(s)
        third = Client(s.port)
        third.send(upgrade_request())
        expect_http(third, 429, "3rd connection from 127.0.0.1")
        third.expect_eof(3.0)
        other_ip = Client(s.port, source="127.0.0.2", ws=True)
        other_ip.echo_ok(b"from 127.0.0.2")
        a.echo_ok()
        b.echo_ok()
        a.close_cleanly()
        s.wait_line(r"^close %d " % a.id, 3.0)
        again = Client(s.port, ws=True)
        again.echo_ok(b"slot freed")
        s.check_alive()


HALF = b"GET / HTT"  # nine bytes of a request that never goes on


def half_handshakes(port, sources, per_source, into):
    """Opens per_source connections from each address of `sources` (round robin, so the oldest
    come from every address alike) and sends each the first nine bytes of a request; appends
    the sockets to `into` in the order the server accepts them."""
    for _ in range(per_source):
        for src in sources:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            into.append(s)
            s.settimeout(3.0)
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(HALF)


def dropped(socks, seconds=2.0):
    """Indexes of the sockets the server ended (EOF or RST) within `seconds`; the others show
    nothing to read in that time."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    gone = set()
    end = time.monotonic() + seconds
    while len(gone) < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, end - time.monotonic())):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            check(not data, "a half-handshake got an answer: %r" % data[:40])
            gone.add(key.data)
            sel.unregister(key.fileobj)
    sel.close()
    return gone


def close_all(socks):
    for s in socks:
        s.close()


def legit_echo(s, what, seconds=1.0):
    """A client from 127.0.0.1 upgrades and echoes within `seconds`."""
    t0 = time.monotonic()
    with within(seconds):
        try:
            c = Client(s.port, ws=True)
            c.echo_ok(b"legit " + what.encode())
        except Failure as e:
            raise Failure("%s: %s" % (what, e))
    c.close()
    Client.all.remove(c)
    return time.monotonic() - t0


@test("limits_handshake_flood_one_host", 40)
def _():
    """limits: max_connections=600, 127.0.0.2 opens 1000 half-handshakes; a client from 127.0.0.1 upgrades and echoes throughout"""
    # Without eviction the 601st connection and every later one gets 503 until the
    # half-handshakes time out (handshake_timeout, 10 s).
    with Srv({"max_connections": 600}) as s:
        socks, errors = [], []

        def attack():
            try:
                half_handshakes(s.port, ["127.0.0.2"], 1000, socks)
            except OSError as e:
                errors.append(e)

        attacker = threading.Thread(target=attack, daemon=True)
        attacker.start()
        try:
            n = 0
            while attacker.is_alive() or n < 10:
                if not attacker.is_alive():
                    n += 1  # ten more once all 1000 were sent
                legit_echo(s, "attempt %d (%d half-handshakes sent)" % (n, len(socks)))
                time.sleep(0.02)
            attacker.join(10.0)
            check(not errors, "the attacker could not connect: %s" % errors[:1])
            check(len(socks) == 1000, "the attacker opened %d of 1000" % len(socks))
            s.check_alive()
        finally:
            attacker.join(10.0)
            close_all(socks)


@test("limits_handshake_flood_many_hosts", 40)
def _():
    """limits: max_handshakes=100, 59 addresses send 5 half-handshakes each (under max_handshakes_per_ip=8): a client is served and the oldest half-handshakes, once past their 1 s grace, are the ones dropped"""
    # Without max_handshakes all 295 stay pending until handshake_timeout: none is dropped.
    with Srv({"max_handshakes": 100, "max_handshakes_per_ip": 8}) as s:
        socks = []
        try:
            half_handshakes(s.port, ["127.0.0.%d" % i for i in range(2, 61)], 5, socks)
            time.sleep(1.2)  # the server accepts them all, and their grace passes
            legit_echo(s, "client after 295 half-handshakes")
            gone = dropped(socks)
            # 195 made room for the newer ones, one more for the client.
            check(len(gone) == 196, "%d of 295 half-handshakes dropped, expected 196" % len(gone))
            check(gone == set(range(196)), "not the oldest were dropped: kept %s" %
                  sorted(set(range(196)) - gone)[:10])
            s.check_alive()
        finally:
            close_all(socks)


@test("limits_handshake_flood_spares_open", 40)
def _():
    """limits: max_connections=100 with 90 clients open, then 400 half-handshakes from 8 addresses: every open client still echoes, a new one is served"""
    # Without eviction the new client gets 503; evicting the oldest connection whatever its
    # state would close the open clients, which are older than the flood.
    with Srv({"max_connections": 100}) as s:
        cs = [open_client(s) for _ in range(90)]
        socks = []
        try:
            half_handshakes(s.port, ["127.0.0.%d" % i for i in range(2, 10)], 50, socks)
            time.sleep(0.3)
            legit_echo(s, "new client during the flood")
            for i, c in enumerate(cs):
                try:
                    c.echo_ok(b"still here %d" % i)
                except Failure as e:
                    raise Failure("open client %d of 90 after the flood: %s" % (i + 1, e))
            ids = {c.id for c in cs}
            closed = [l for _, l in s.find(r"^close ") if int(l.split()[1]) in ids]
            check(not closed, "open clients were closed: %r" % closed[:3])
            check(len(dropped(socks, 1.0)) >= 300, "fewer than 300 of 400 half-handshakes "
                  "were dropped with 10 slots left")
            s.check_alive()
        finally:
            close_all(socks)


@test("limits_handshake_burst", 40)
def _():
    """limits: max_handshakes=50, 400 clients of one address connect at once and only then send their requests: every one upgrades (a burst younger than the 1 s grace is not taken for a flood)"""
    # Dropping the oldest pending handshake whatever its age cuts such a burst (a load test,
    # every browser reconnecting after a restart) down to 50.
    with Srv({"max_handshakes": 50}) as s:
        socks = []
        try:
            for _ in range(400):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(c)
                c.settimeout(5.0)
                c.connect(("127.0.0.1", s.port))
            time.sleep(0.2)  # the server has accepted them all before any request comes
            request = upgrade_request()
            for c in socks:
                c.sendall(request)
            for i, c in enumerate(socks):
                head = b""
                while b"\r\n\r\n" not in head:
                    try:
                        more = c.recv(4096)
                    except OSError as e:
                        raise Failure("client %d of 400: %s" % (i + 1, e))
                    check(more, "client %d of 400 was dropped before its 101" % (i + 1))
                    head += more
                check(head.startswith(b"HTTP/1.1 101"), "client %d of 400 got %r" % (i + 1, head[:40]))
            s.check_alive()
        finally:
            close_all(socks)


@test("limits_handshakes_per_ip", 30)
def _():
    """limits: max_handshakes_per_ip=4, the 5th pending handshake from 127.0.0.2 gets 429 while 127.0.0.3 is served; a handshake that completes frees its place"""
    # Without the limit the 5th gets 101.
    with Srv({"max_handshakes_per_ip": 4}) as s:
        socks = []
        try:
            half_handshakes(s.port, ["127.0.0.2"], 4, socks)
            fifth = Client(s.port, source="127.0.0.2")
            fifth.send(upgrade_request())
            r = expect_http(fifth, 429, "5th pending handshake from 127.0.0.2")
            check(b"handshakes" in (r.body or b""), "429 body %r" % r.body)
            fifth.expect_eof(3.0)
            other = Client(s.port, source="127.0.0.3", ws=True)
            other.echo_ok(b"from 127.0.0.3")
            check(not dropped(socks, 0.5), "the 4 pending handshakes were dropped")
            # One of the four completes its request: 127.0.0.2 has a free place again.
            socks[0].sendall(upgrade_request()[len(HALF):])
            head = socks[0].recv(4096)
            check(head.startswith(b"HTTP/1.1 101"), "completed handshake got %r" % head[:40])
            again = Client(s.port, source="127.0.0.2", ws=True)
            again.echo_ok(b"place freed by an upgrade")
            # A new half-handshake takes that place back: the next one is refused again.
            half_handshakes(s.port, ["127.0.0.2"], 1, socks)
            time.sleep(0.2)
            refused = Client(s.port, source="127.0.0.2")
            refused.send(upgrade_request())
            expect_http(refused, 429, "5th pending handshake from 127.0.0.2, again")
            # Two give up: their places are free once the server has seen them go.
            socks[1].close()
            socks[2].close()
            time.sleep(0.3)
            for i in range(2):
                c = Client(s.port, source="127.0.0.2", ws=True)
                c.echo_ok(b"place freed by a disconnect %d" % i)
            s.check_alive()
        finally:
            close_all(socks)


@test("limits_max_header_size", 20)
def _():
    """limits: max_header_size=1024, a larger request (whole or never ending) gets 431"""
    # Without the limit the padded request gets 101 and the endless one waits for its end.
    with Srv({"max_header_size": 1024}) as s:
        ok = Client(s.port)
        ok.send(upgrade_request(extra="X-Pad: %s\r\n" % ("p" * 600)))
        expect_http(ok, 101, "request of ~800 bytes")
        big = Client(s.port)
        big.send(upgrade_request(extra="X-Pad: %s\r\n" % ("p" * 2000)))
        expect_http(big, 431, "request with a 2000-byte header")
        big.expect_eof(3.0)
        many = Client(s.port)
        many.send(upgrade_request(extra="".join("X-H%d: %s\r\n" % (i, "v" * 20)
                                                for i in range(100))))
        expect_http(many, 431, "request with 100 header lines (~2.7 KB)")
        endless = Client(s.port)
        endless.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"q" * 3000)
        with within(3.0):
            expect_http(endless, 431, "3000 bytes of headers without an end")
        s.check_alive()


@test("limits_frame_2_62", 15)
def _():
    """limits: a frame announcing 2^62 bytes gets Close 1009 before any payload"""
    # Without the check before allocation the server waits for (or tries to allocate) 2^62 bytes.
    with Srv({}) as s:
        c = open_client(s)
        rss0 = s.rss_kib()
        head = encode_frame(OP_BINARY, b"", length=1 << 62)  # header + mask key, no payload
        c.send(head)
        with within(3.0):
            c.expect_close(1009)
        check(s.sanitized() or s.rss_kib() - rss0 < 8 * 1024, "RSS grew by %d KiB" % (s.rss_kib() - rss0))
        s.check_alive()
        Client(s.port, ws=True).echo_ok()


@test("limits_length_msb", 15)
def _():
    """limits: a 64-bit length with the most significant bit set gets Close 1002"""
    # Without the check the length reads as 2^63+5: Close 1009 instead of 1002.
    with Srv({}) as s:
        c = open_client(s)
        c.send(encode_frame(OP_BINARY, b"hello", length=(1 << 63) | 5))
        with within(3.0):
            c.expect_close(1002)
        s.check_alive()
        Client(s.port, ws=True).echo_ok()


@test("limits_message_fragments", 15)
def _():
    """limits: max_message_size=1000 across fragments: 600+400 echoes, 600+401 gets 1009"""
    # Without the check on the reassembled size the 1001-byte message is echoed.
    with Srv({"max_message_size": 1000, "max_frame_size": 1000}) as s:
        c = open_client(s)
        c.send(encode_frame(OP_BINARY, b"a" * 600, fin=False) + encode_frame(OP_CONT, b"b" * 400))
        c.expect_message(OP_BINARY, b"a" * 600 + b"b" * 400)
        c.send(encode_frame(OP_BINARY, b"c" * 600, fin=False) + encode_frame(OP_CONT, b"d" * 401))
        with within(3.0):
            c.expect_close(1009)
        # The header of the fragment that passes the limit is enough: no need to send its payload.
        d = open_client(s)
        d.send(encode_frame(OP_BINARY, b"e" * 600, fin=False)
               + encode_frame(OP_CONT, b"f" * 401)[:8])  # 2+2 header bytes + 4 mask bytes
        with within(3.0):
            try:
                d.expect_close(1009)
            except Failure as e:
                raise Failure("fragment header announcing 600+401 bytes, payload not sent: %s" % e)
        s.check_alive()


# == 2. output overflow ========================================================================


def flood_until_done(s, slow_id, rss_samples, others=(), seconds=15.0):
    """Waits for `flood_done ID` while sampling the server's RSS every 50 ms and checking that
    `others` still echo every 200 ms."""
    end = time.monotonic() + seconds
    next_echo = 0.0
    while True:
        rss_samples.append(s.rss_kib())
        if s.find(r"^flood_done %d " % slow_id):
            return s.find(r"^flood_done %d " % slow_id)[0][1]
        closed = s.find(r"^close %d " % slow_id)
        if closed:
            raise Failure("the flooded connection was closed before the flood ended (%r): the "
                          "queued data and the Close 1008 were not delivered" % closed[0][1])
        if time.monotonic() > end:
            raise Failure("flood did not finish within %.0f s; last lines %r" % (
                seconds, s.output()[-3:]))
        if time.monotonic() > next_echo:
            for o in others:
                try:
                    o.echo_ok(b"during the flood")
                except Failure as e:
                    raise Failure("another client during the flood: %s" % e)
            next_echo = time.monotonic() + 0.2
        s.check_alive()
        time.sleep(0.05)


@test("overflow_close", 40)
def _():
    """overflow 'close': a client that never reads is closed with 1008, memory stays bounded"""
    # Without max_output_buffer the queue (and RSS) grows by the whole flood, 60 MiB.
    limit = 4 * MiB
    with Srv({"max_output_buffer": limit, "close_timeout": 30}) as s:
        other = open_client(s)
        other.echo_ok(b"x" * 65536)  # warm PHP's allocator for 64 KiB strings
        slow = open_client(s, rcvbuf=16384)
        rss0 = s.rss_kib()
        slow.send_cmd(op="flood", size=65536, every=0.005, per_tick=2, count=960)
        samples = []
        done = flood_until_done(s, slow.id, samples, others=[other])
        attempts, accepted = map(int, done.split()[2:4])
        peak = max(samples)
        errors = s.find(r"^error %d " % slow.id)
        check(errors, "no error event for the connection that overflowed (lines: %r)" %
              [l for l in s.output() if l.startswith("error")][:3])
        check("max_output_buffer" in errors[0][1],
              "the error event does not name max_output_buffer: %r" % errors[0][1])
        check(errors[0][1].split()[2] == "WebsocketException:",
              "the error event carries a %s, not a WebsocketException" % errors[0][1].split()[2])
        check(len(errors) == 1, "error event fired %d times: %r" % (len(errors), errors[:3]))
        results = [int(l.split()[3]) for _, l in s.find(r"^s %d " % slow.id)]
        check(0 in results, "every send() returned true: the overflow never refused a message "
              "(accepted %d of %d, %.1f MiB)" % (accepted, attempts, accepted / 16))
        first_false = results.index(0)
        check(all(r == 0 for r in results[first_false:]),
              "send() returned true again after the connection overflowed and is closing")
        check(s.sanitized() or peak - rss0 < 3 * limit // 1024,
              "server RSS grew by %.1f MiB (baseline %.1f MiB, limit %d MiB): not bounded by "
              "max_output_buffer" % ((peak - rss0) / 1024, rss0 / 1024, limit // MiB))
        # The reader now reads: every accepted message, in order, then Close 1008.
        with within(20.0):
            msgs, close = recv_until_close(slow, "queued messages then Close 1008")
        got = [number_of(m.payload) for m in msgs]
        check(got == list(range(accepted)),
              "the slow client got %d messages (first gap at %s), the server accepted %d" % (
                  len(got), next((i for i, n in enumerate(got) if n != i), None), accepted))
        check(close_code(close) == 1008, "expected Close 1008, got %r" % close)
        slow.answer_close(close)
        slow.expect_eof(3.0)
        other.echo_ok(b"after the overflow")
        s.check_alive()


@test("overflow_reject", 40)
def _():
    """overflow 'reject': send() returns false, the connection stays open, nothing is lost"""
    # Without the limit nothing is refused (and RSS grows); with silent dropping the client
    # misses messages that send() accepted.
    limit = 2 * MiB
    with Srv({"max_output_buffer": limit, "output_overflow": "reject"}) as s:
        other = open_client(s)
        other.echo_ok(b"x" * 65536)
        slow = open_client(s, rcvbuf=16384)
        rss0 = s.rss_kib()
        slow.send_cmd(op="flood", size=65536, every=0.005, per_tick=2, count=800)
        # Not reading until well after the first refusal.
        s.wait_line(r"^s %d \d+ 0$" % slow.id, 10.0, what="a refused send() (s ID N 0)")
        m = s.mark()
        other.send_cmd(op="ping", target=slow.id)
        line = s.wait_line(r"^ping %d " % slow.id, 3.0, start=m)
        check(line.endswith(" 0"), "ping() to the overflowing connection returned true")
        samples = []
        t_end = time.monotonic() + 0.5
        while time.monotonic() < t_end:
            samples.append(s.rss_kib())
            time.sleep(0.05)
        other.echo_ok(b"during the overflow")
        # Now read while the flood goes on, until it is over and nothing more comes.
        got = []
        t_end = time.monotonic() + 20.0
        while True:
            check(time.monotonic() < t_end, "flood not over after 20 s: %r" % s.output()[-2:])
            done = s.find(r"^flood_done %d " % slow.id)
            try:
                with within(0.5):
                    f = slow.recv_message("flood messages")
            except Failure as e:
                if slow.eof or "timed out" not in str(e):
                    raise Failure("after %d messages: %s" % (len(got), e))
                if done:
                    break
                continue
            check(f.op == OP_BINARY, "expected a flood message, got %r" % f)
            got.append(number_of(f.payload))
            if len(got) % 64 == 0:
                samples.append(s.rss_kib())
        want = [int(l.split()[2]) for _, l in s.find(r"^s %d \d+ 1$" % slow.id)]
        rejected = [int(l.split()[2]) for _, l in s.find(r"^s %d \d+ 0$" % slow.id)]
        check(got == want, "received %d messages, send() accepted %d; first difference at "
              "index %s (got %s, accepted %s)" % (
                  len(got), len(want), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                                            min(len(got), len(want))),
                  got[:3], want[:3]))
        first_rejected = rejected[0]
        check(got[:first_rejected] == list(range(first_rejected)), "not a gap-free prefix")
        check(any(n > first_rejected for n in got),
              "no message accepted after the client started reading again")
        check(not s.find(r"^close %d " % slow.id), "the connection was closed")
        slow.echo_ok(b"still open")
        peak = max(samples)
        check(s.sanitized() or peak - rss0 < 3 * limit // 1024,
              "server RSS grew by %.1f MiB (limit %d MiB)" % ((peak - rss0) / 1024, limit // MiB))
        s.check_alive()


def broadcast_overflow(policy):
    limit = 1 * MiB
    with Srv({"max_output_buffer": limit, "output_overflow": policy, "close_timeout": 30}) as s:
        fast = open_client(s)
        slow = open_client(s, rcvbuf=16384)
        fast_got = []
        box = {}

        def read_fast():
            try:
                while len(fast_got) < 600:
                    f = fast.recv_message("broadcast %d" % len(fast_got))
                    if f.op != OP_BINARY:
                        raise Failure("the reading client got %r" % f)
                    fast_got.append(number_of(f.payload))
            except BaseException as e:  # noqa: B902 (reported below)
                box["e"] = e

        th = threading.Thread(target=read_fast, daemon=True)
        th.start()
        fast.send_cmd(op="bflood", size=32768, every=0.005, per_tick=2, count=600)
        s.wait_line(r"^bc \d+ 1$", 10.0, what="a broadcast that skipped the slow client")
        if policy == "close":
            line = s.wait_line(r"^error %d " % slow.id, 3.0, what="the error event of the slow "
                               "client")
            check("max_output_buffer" in line, "the error does not name max_output_buffer: %r"
                  % line)
        time.sleep(0.3)
        slow_got = []
        close = None
        t_end = time.monotonic() + 20.0
        while True:
            check(time.monotonic() < t_end, "broadcasts not over after 20 s")
            done = s.find(r"^bflood_done ")
            try:
                with within(0.5):
                    f = slow.recv_message("broadcasts")
            except Failure as e:
                if slow.eof or "timed out" not in str(e):
                    raise Failure("slow client after %d messages: %s" % (len(slow_got), e))
                if done:
                    break
                continue
            if f.op == OP_CLOSE:
                close = f
                break
            check(f.op == OP_BINARY, "slow client: expected a broadcast, got %r" % f)
            slow_got.append(number_of(f.payload))
        th.join(10.0)
        check("e" not in box, "the reading client: %s" % box.get("e"))
        check(fast_got == list(range(600)), "the reading client got %d of 600 broadcasts" %
              len(fast_got))
        counts = {int(l.split()[1]): int(l.split()[2]) for _, l in s.find(r"^bc ")}
        check(all(c >= 1 for c in counts.values()), "a broadcast reached nobody: the reading "
              "client overflowed too")
        want = [n for n in sorted(counts) if counts[n] == 2]
        check(slow_got == want, "the slow client got %d broadcasts, broadcast() counted it in %d"
              " (first difference at %s)" % (len(slow_got), len(want), next(
                  (i for i, (a, b) in enumerate(zip(slow_got, want)) if a != b),
                  min(len(slow_got), len(want)))))
        first_skip = min(n for n in counts if counts[n] == 1)
        if policy == "reject":
            check(close is None, "slow client closed: %r" % close)
            check(any(n > first_skip for n in want), "no broadcast reached the slow client "
                  "after it read again")
            slow.echo_ok(b"still open")
        else:
            check(close is not None and close_code(close) == 1008,
                  "expected Close 1008 after the queued broadcasts, got %r" % close)
            check(all(n < first_skip for n in want), "broadcasts counted for the slow client "
                  "after it overflowed")
        s.check_alive()


@test("overflow_broadcast_reject", 40)
def _():
    """output_overflow 'reject': broadcast() skips a full connection and does not count it; it
    reads again later and gets exactly the broadcasts that counted it, in order"""
    # Without the limit nothing is skipped; counting a refused connection, or queueing for it
    # without counting it, shows as a difference between the counts and what arrives.
    broadcast_overflow("reject")


@test("overflow_broadcast_close", 40)
def _():
    """output_overflow 'close': broadcast() to a full connection closes it with 1008 after the
    broadcasts that counted it; the error event names max_output_buffer; a reader is unaffected"""
    # Without the limit the slow client is never closed; see overflow_broadcast_reject.
    broadcast_overflow("close")


# == 3. backpressure ===========================================================================


@test("backpressure_drain", 40)
def _():
    """backpressure: bufferedAmount() is exact while blocked, drain fires once, then 0"""
    # bufferedAmount + the kernel's queues (server send queue, client receive queue, from
    # /proc/net/tcp) must add up to every byte queued. Without the drain event no drain line.
    with Srv({"max_output_buffer": 256 * MiB}) as s:
        ctl = open_client(s)
        slow = open_client(s, rcvbuf=65536)
        mark = s.mark()
        slow.send_cmd(op="fill", size=60000, count=200)
        line = s.wait_line(r"^filled %d " % slow.id, 5.0, start=mark)
        _, _, accepted, total, b0 = line.split()
        accepted, total, b0 = int(accepted), int(total), int(b0)
        check(accepted == 200, "only %d of 200 messages accepted" % accepted)
        check(total == 200 * 60004, "frame bytes %d" % total)
        check(0 < b0 <= total, "bufferedAmount() right after queueing %d bytes is %d" % (total, b0))
        time.sleep(0.3)
        seen = []
        for _ in range(30):
            m = s.mark()
            ctl.send_cmd(op="buffered", target=slow.id)
            b = int(s.wait_line(r"^buffered %d " % slow.id, 3.0, start=m).split()[2])
            q_srv = tcp_queues(s.port, slow.local_port)
            q_cli = tcp_queues(slow.local_port, s.port)
            check(q_srv and q_cli, "sockets not found in /proc/net/tcp")
            seen.append((b, q_srv[0], q_cli[1]))
            if b + q_srv[0] + q_cli[1] == total:
                break
            time.sleep(0.1)
        else:
            raise Failure("bufferedAmount + server send queue + client receive queue never "
                          "equalled the %d bytes queued: (buffered, srv tx, cli rx) = %r" % (
                              total, seen[-3:]))
        b, _, _ = seen[-1]
        check(b > 0, "bufferedAmount() is 0 while the client is not reading (kernel took "
              "all %d bytes?)" % total)
        check(not s.find(r"^drain %d " % slow.id), "drain fired while the client was not reading")
        # Read everything.
        n = 0
        with within(15.0):
            while n < total:
                chunk = slow.sock.recv(1 << 20)
                check(chunk, "EOF after %d of %d bytes" % (n, total))
                n += len(chunk)
        check(n == total, "read %d bytes, expected %d" % (n, total))
        line = s.wait_line(r"^drain %d " % slow.id, 5.0, what="the drain event")
        check(line.split()[2] == "0", "bufferedAmount() in onDrain is %s" % line.split()[2])
        m = s.mark()
        ctl.send_cmd(op="buffered", target=slow.id)
        b = int(s.wait_line(r"^buffered %d " % slow.id, 3.0, start=m).split()[2])
        check(b == 0, "bufferedAmount() after drain is %d" % b)
        time.sleep(0.2)
        check(len(s.find(r"^drain %d " % slow.id)) == 1,
              "drain fired %d times" % len(s.find(r"^drain %d " % slow.id)))
        check(not s.find(r"^drain %d " % ctl.id), "drain fired for a connection that never "
              "had backpressure")
        slow.echo_ok()
        s.check_alive()


# == 4. timeouts ===============================================================================


def slowloris_helper(port, n, seconds):
    """Opens n connections, then sends one byte of a request per second on each, never
    finishing it. Prints `connected N` once all are established, then at the end
    `result established closed min_life max_life errors` (lives from connect to the server's
    close, in seconds)."""
    req = b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200
    sel = selectors.DefaultSelector()
    socks = {}
    t_conn = {}
    errors = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks[s.fileno()] = s
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.monotonic() + 10.0
    pending = n
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            pending -= 1
            if err:
                errors += 1
                sel.unregister(s)
                del socks[s.fileno()]
                s.close()
                continue
            t_conn[s.fileno()] = time.monotonic()
            sel.modify(s, selectors.EVENT_READ)
    print("connected %d %d" % (len(t_conn), errors), flush=True)
    life = {}
    sent = 0
    next_byte = time.monotonic()
    end = time.monotonic() + seconds
    while len(life) < len(t_conn) and time.monotonic() < end:
        now = time.monotonic()
        if now >= next_byte and sent < len(req):
            for fd, s in socks.items():
                if fd in t_conn and fd not in life:
                    try:
                        s.send(req[sent:sent + 1])
                    except OSError:
                        pass
            sent += 1
            next_byte += 1.0
        for key, _ in sel.select(max(0.0, min(0.2, next_byte - time.monotonic()))):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                life[s.fileno()] = time.monotonic() - t_conn[s.fileno()]
                sel.unregister(s)
    lives = list(life.values()) or [0.0]
    print("result %d %d %.2f %.2f %d" % (len(t_conn), len(life), min(lives), max(lives), errors),
          flush=True)
    for s in socks.values():
        s.close()


@test("timeout_slowloris", 60)
def _():
    """slowloris: 10000 trickling connections, a normal client still echoes within 1 s, all are closed within handshake_timeout"""
    # Without the handshake timeout the trickling connections stay open (max_life = the
    # helpers' 12 s budget, closed < established).
    import subprocess
    timeout = 3.0
    procs = []
    # Its 10000 trickling connections come from one address and must all wait for the
    # timeout: the pending-handshake limits are off here.
    with Srv({"handshake_timeout": timeout, "max_connections": 12000, "backlog": 4096,
              "max_handshakes": 0, "max_handshakes_per_ip": 0}) as s:
        try:
            for _ in range(2):
                p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--slowloris",
                                      str(s.port), "5000", "12"], stdout=subprocess.PIPE,
                                     start_new_session=True)
                register_pid(p.pid)
                procs.append(p)
            established = 0
            for p in procs:
                line = p.stdout.readline().decode().split()
                check(line and line[0] == "connected", "helper said %r" % line)
                established += int(line[1])
            check(established >= 9900, "only %d of 10000 connections established" % established)
            # A normal client, while the 10000 are open.
            for attempt in range(2):
                t0 = time.monotonic()
                with within(1.0):
                    try:
                        c = Client(s.port, ws=True)
                        c.echo_ok(b"normal client %d" % attempt)
                    except Failure as e:
                        raise Failure("normal client %d under slowloris: %s" % (attempt, e))
                c.close()
                dt = time.monotonic() - t0
                check(dt < 1.0, "normal client took %.2f s" % dt)
                time.sleep(1.0)
            results = []
            for p in procs:
                line = p.stdout.readline().decode().split()
                check(line and line[0] == "result", "helper said %r" % line)
                results.append([float(x) for x in line[1:]])
            est = sum(r[0] for r in results)
            closed = sum(r[1] for r in results)
            max_life = max(r[3] for r in results)
            min_life = min(r[2] for r in results)
            check(closed == est, "the server closed %d of %d trickling connections within the "
                  "helpers' 12 s" % (closed, est))
            check(max_life <= timeout + 2.0, "a trickling connection lived %.2f s "
                  "(handshake_timeout %.0f s)" % (max_life, timeout))
            check(min_life >= timeout - 1.0, "a trickling connection was closed after %.2f s, "
                  "before handshake_timeout %.0f s" % (min_life, timeout))
            s.check_alive()
            Client(s.port, ws=True).echo_ok(b"after the storm")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()


@test("timeout_idle", 20)
def _():
    """idle_timeout=0.5: a silent client gets Close 1001 'idle timeout', an active one stays"""
    # Without idle_timeout the silent client never gets a Close.
    with Srv({"idle_timeout": 0.5, "ping_interval": 0}) as s:
        silent = open_client(s)
        t0 = time.monotonic()
        active = open_client(s)
        box = {}

        def watch():
            try:
                f = silent.recv_message("Close 1001 'idle timeout'")
                box["t"] = time.monotonic() - t0
                box["f"] = f
            except BaseException as e:  # noqa: B902 (reported below)
                box["e"] = e

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        while time.monotonic() - t0 < 1.5:
            active.echo_ok(b"keep me")
            time.sleep(0.15)
        th.join(3.0)
        check("e" not in box, "silent client: %s" % box.get("e"))
        check("f" in box, "silent client: no frame within 4.5 s")
        f = box["f"]
        check(f.op == OP_CLOSE and close_code(f) == 1001 and f.payload[2:] == b"idle timeout",
              "silent client: expected Close 1001 'idle timeout', got %r" % f)
        check(0.4 <= box["t"] <= 1.5, "Close after %.2f s (idle_timeout 0.5)" % box["t"])
        silent.answer_close(f)
        silent.expect_eof(3.0)
        active.echo_ok(b"after 1.5 s of activity")
        check(not s.find(r"^close %d " % active.id), "the active client was closed")
        s.check_alive()


@test("ping_answered", 20)
def _():
    """ping_interval=0.5: a client that answers pings stays connected"""
    # Guards against dropping live peers: pongs count as life.
    with Srv({"ping_interval": 0.5}) as s:
        c = open_client(s)
        t0 = time.monotonic()
        pings = []
        while time.monotonic() - t0 < 3.0:
            try:
                with within(0.3):
                    f = c.recv_message("a ping")
            except Failure as e:
                if c.eof or "timed out" not in str(e):
                    raise Failure("after %d pings: %s" % (len(pings), e))
                continue
            check(f.op == OP_PING, "expected a Ping, got %r" % f)
            pings.append(time.monotonic() - t0)
            c.send_frame(OP_PONG, f.payload)
        check(len(pings) >= 2, "%d pings in 3 s with ping_interval 0.5: %r" % (len(pings), pings))
        check(0.3 <= pings[0] <= 1.5, "first ping after %.2f s" % pings[0])
        c.echo_ok(b"still connected after 3 s")
        check(not s.find(r"^close %d " % c.id), "closed: %r" % s.find(r"^close %d " % c.id))
        s.check_alive()


@test("ping_unanswered", 20)
def _():
    """ping_interval=0.5: a client that answers nothing is dropped after ~2 intervals (1006)"""
    # Without the keep-alive the silent peer stays connected forever.
    with Srv({"ping_interval": 0.5}) as s:
        c = open_client(s)
        t0 = time.monotonic()
        frames = []
        with within(5.0):
            while True:
                try:
                    f = c.recv_message("a Ping, then the server dropping the connection")
                except Failure:
                    if c.eof:
                        break
                    raise
                frames.append((time.monotonic() - t0, f))
                check(f.op in (OP_PING, OP_CLOSE), "unexpected %r" % f)
        t_drop = time.monotonic() - t0
        check(frames and frames[0][1].op == OP_PING, "no Ping before the drop: %r" % frames)
        check(0.8 <= t_drop <= 2.5, "dropped after %.2f s (ping_interval 0.5: expected ~1 s)"
              % t_drop)
        s.wait_line(r"^close %d 1006 " % c.id, 2.0, what="onClose 1006 of the silent client")
        s.check_alive()


# == 5. no data loss ===========================================================================


def read_numbers(c, expect_count=None, until_close=False, pad=0):
    """Reads `N xxx` text messages; checks each number is the next one and the filler length.
    Returns (count, close frame or None)."""
    n = 0
    while expect_count is None or n < expect_count:
        f = c.recv_message("message %d" % n)
        if f.op == OP_CLOSE:
            if until_close:
                return n, f
            raise Failure("Close %r after %d messages" % (f, n))
        check(f.op == OP_TEXT, "message %d: %r" % (n, f))
        num, _, fill = bytes(f.payload).partition(b" ")
        if int(num) != n or len(fill) != n % 97 + pad:
            raise Failure("expected message %d, got %r (%d filler bytes)" % (
                n, bytes(f.payload[:20]), len(fill)))
        n += 1
    return n, None


@test("noloss_100k", 60)
def _():
    """no loss: 100000 numbered messages arrive exactly once, in order"""
    # A frame lost, duplicated or reordered between send() and the socket shows as a wrong number.
    with Srv({"max_output_buffer": 256 * MiB}) as s:
        c = open_client(s)
        c.send_cmd(op="numbers", count=100000, batch=2000, every=0.001)
        with within(40.0):
            n, _ = read_numbers(c, 100000)
        s.wait_line(r"^numbers_done", 5.0)
        last = s.find(r"^accepted ")[-1][1]
        check(last == "accepted 100000", "server: %r" % last)
        c.send_frame(OP_TEXT, "after")
        f = c.recv_message("the echo of 'after'")
        check(f.payload == b"after", "expected the echo, got %r (an extra message?)" % f)
        c.close_cleanly()
        s.check_alive()


@test("noloss_stop", 60)
def _():
    """no loss: stop() after 50000 accepted sends, every accepted message precedes Close 1001, exit 0"""
    # Without the flush on stop the Close (or the end of TCP) comes before queued messages.
    with Srv({"max_output_buffer": 256 * MiB, "shutdown_timeout": 20}) as s:
        c = open_client(s, rcvbuf=65536)
        other = open_client(s)
        c.send_cmd(op="numbers", count=100000, batch=3000, every=0.001, stop_at=50000)
        s.wait_line(r"^stopping 50000$", 20.0)
        # Accepting stopped: a new connection is refused or not served.
        try:
            late = Client(s.port)
            late.send(upgrade_request())
            with within(1.0):
                r = late.read_response()
            raise Failure("a connection after stop() got %r" % r.raw.split(b"\r\n")[0])
        except Failure as e:
            if str(e).startswith("a connection after stop()"):
                raise
        # Read only now, so most of it is still queued when stop() runs.
        with within(30.0):
            n, close = read_numbers(c, until_close=True)
        check(close_code(close) == 1001, "expected Close 1001, got %r" % close)
        c.answer_close(close)
        with within(5.0):
            _, oclose = recv_until_close(other, "Close 1001 for the other client")
        other.answer_close(oclose)
        rc = s.wait_exit(10.0)
        accepted = int(s.find(r"^accepted ")[-1][1].split()[1])
        check(not s.find(r"^nonprefix "), "send() returned true after returning false: %r" %
              s.find(r"^nonprefix ")[:3])
        check(n == accepted, "received %d messages before Close 1001, send() returned true "
              "%d times" % (n, accepted))
        check(accepted >= 50000, "accepted %d" % accepted)
        check(rc == 0, "server exit status %d; stderr: %s" % (rc, s.stderr_tail()))
        check(s.find(r"^start returned$"), "start() did not return")


@test("noloss_sigterm", 60)
def _():
    """no loss: SIGTERM while the server sends: every message send() accepted precedes
    Close 1001, exit 0"""
    # Without the flush on stop the queued messages (tens of MiB here) are lost before the Close.
    with Srv({"max_output_buffer": 256 * MiB, "shutdown_timeout": 20}) as s:
        c = open_client(s, rcvbuf=65536)
        # 1 KiB messages, so that most of them are still in the server's queue (the kernel's
        # buffers hold a few MiB) when the signal comes.
        c.send_cmd(op="numbers", count=2000000, batch=2000, every=0.01, pad=1000)
        s.wait_line(r"^accepted [5-9]\d{4}$", 20.0, what="50000 accepted sends")
        s.signal(15)
        with within(30.0):
            n, close = read_numbers(c, until_close=True, pad=1000)
        check(close_code(close) == 1001, "expected Close 1001, got %r" % close)
        c.answer_close(close)
        rc = s.wait_exit(10.0)
        accepted = int(s.find(r"^accepted ")[-1][1].split()[1])
        check(not s.find(r"^nonprefix "), "send() returned true after returning false")
        check(n == accepted, "received %d messages before Close 1001, send() returned true "
              "%d times" % (n, accepted))
        check(rc == 0, "server exit status %d; stderr: %s" % (rc, s.stderr_tail()))


# == 6. faults =================================================================================


@test("fault_rst_mid_frame", 20)
def _():
    """faults: clients killed mid-frame (RST) get onClose 1006, others are served"""
    # A half-parsed frame on a reset socket must be freed and reported, not crash or hang.
    with Srv({}) as s:
        other = open_client(s)
        frame = encode_frame(OP_BINARY, b"z" * 1000)
        for cut in (1, 8, 500):  # inside the header, header + mask only, mid-payload
            v = open_client(s)
            v.send(frame[:cut])
            time.sleep(0.1)
            v.reset()
            s.wait_line(r"^close %d 1006 " % v.id, 3.0,
                        what="onClose 1006 of the client reset after %d bytes of a frame" % cut)
            other.echo_ok(b"after a reset at byte %d" % cut)
        Client(s.port, ws=True).echo_ok()
        s.check_alive()


@test("fault_reset_during_write", 30)
def _():
    """faults: clients resetting while the server writes 8 MiB (ECONNRESET/EPIPE) do no harm"""
    # Without SIGPIPE handled (MSG_NOSIGNAL or SIG_IGN) the server dies of SIGPIPE.
    with Srv({"max_output_buffer": 64 * MiB}) as s:
        other = open_client(s)
        for i in range(10):
            v = open_client(s, rcvbuf=16384)
            v.send_cmd(op="big", size=8 * MiB)
            s.wait_line(r"^big %d 1$" % v.id, 3.0)
            if i % 2:
                v.sock.recv(30000)  # some of it
            v.reset()
            s.wait_line(r"^close %d 1006 " % v.id, 5.0, what="onClose 1006 of reset client %d" % i)
            s.check_alive()
            other.echo_ok(b"after reset %d" % i)
        # The same with a half-close first (the server may see EPIPE on its next write).
        v = open_client(s, rcvbuf=16384)
        v.send_cmd(op="big", size=8 * MiB)
        s.wait_line(r"^big %d 1$" % v.id, 3.0)
        v.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.1)
        v.reset()
        s.wait_line(r"^close %d " % v.id, 5.0)
        other.echo_ok(b"after the half-close")
        s.check_alive()


@test("fault_emfile", 40)
def _():
    """faults: EMFILE (nofile 64): the server does not spin and recovers"""
    # Without a reserve descriptor / accept pause, epoll reports the listening socket ready
    # forever and accept() fails with EMFILE: 100% CPU.
    with Srv({}, prefix=["prlimit", "--nofile=64:64", "--"]) as s:
        held = []
        for _ in range(100):
            c = Client(s.port)
            c.send(upgrade_request())
            held.append(c)
        time.sleep(1.0)
        served = []
        for c in held:
            c.sock.settimeout(0.05)
            try:
                data = c.sock.recv(4096, socket.MSG_PEEK)
            except (socket.timeout, OSError):
                data = b""
            if data.startswith(b"HTTP/1.1 101"):
                served.append(c)
        check(0 < len(served) < 100, "%d of 100 connections served with a 64-descriptor limit"
              % len(served))
        cpu0 = s.cpu_seconds()
        t0 = time.monotonic()
        time.sleep(2.0)
        share = (s.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        s.check_alive()
        check(share < 0.3, "server used %.0f%% of a core for 2 s while out of descriptors"
              % (share * 100))
        c = served[0]
        c.read_response()
        c.echo_ok(b"served while out of descriptors")
        for c in held:
            c.reset()
        with within(5.0):
            t0 = time.monotonic()
            while True:
                try:
                    n = Client(s.port, ws=True)
                    n.echo_ok(b"after the descriptors came back")
                    break
                except Failure as e:
                    if time.monotonic() - t0 > 4.0:
                        raise Failure("no new client served after the others closed: %s" % e)
                    time.sleep(0.2)
        s.check_alive()


@test("fault_stop_in_callback", 20)
def _():
    """faults: stop() from onMessage, with 12 open clients (onClose broadcasting and closing the
    next one during the shutdown) and 3 clients mid-handshake: the open ones get Close 1001,
    the others are dropped, exit 0"""
    # stop() runs inside a callback that the loop runs while it iterates connections.
    with Srv({}, mode="chain") as s:
        cs = [open_client(s) for _ in range(12)]
        half = []
        for _ in range(3):
            h = Client(s.port)
            h.send(upgrade_request()[:30])
            half.append(h)
        time.sleep(0.1)
        cs[5].send_cmd(op="stop")
        for i, c in enumerate(cs):
            with within(5.0):
                msgs, f = recv_until_close(c, "Close 1001 (client %d)" % i)
            check(close_code(f) == 1001, "client %d: expected Close 1001, got %r" % (i, f))
            check(all(m.payload.startswith(b"left ") for m in msgs),
                  "client %d: unexpected %r" % (i, msgs[:3]))
            c.answer_close(f)
        for c in cs:
            c.expect_eof(3.0)
        for h in half:
            h.expect_eof(3.0)
        rc = s.wait_exit(5.0)
        check(rc == 0, "exit status %d; stderr %s" % (rc, s.stderr_tail()))
        check(s.find(r"^start returned$"), "start() did not return")
        check(len(s.find(r"^close ")) == 12, "%d onClose calls for 12 clients" %
              len(s.find(r"^close ")))


@test("fault_close_while_iterating", 30)
def _():
    """faults: closing connections inside onMessage/onClose while iterating (closeall, broadcast and chained close in onClose, mass RST)"""
    # Iterating a connection list that callbacks change: a use-after-free or a skipped
    # connection shows as a crash, a hang or a client left without its Close (ASan: see run.sh).
    with Srv({}, mode="chain") as s:
        cs = [open_client(s) for _ in range(20)]
        cs[7].send_cmd(op="closeall")
        s.wait_line(r"^closeall done$", 3.0)
        for i, c in enumerate(cs):
            with within(5.0):
                msgs, f = recv_until_close(c, "Close 1000 of closeall (client %d)" % i)
            check(close_code(f) == 1000, "client %d: expected Close 1000, got %r" % (i, f))
            c.answer_close(f)
        for c in cs:
            c.expect_eof(3.0)
            c.close()
            s.wait_line(r"^close %d " % c.id, 3.0)
        s.check_alive()
        # Mass reset: each onClose broadcasts and closes the next connection.
        cs = [open_client(s) for _ in range(20)]
        for c in cs[:10]:
            c.reset()
        for c in cs[:10]:
            s.wait_line(r"^close %d 1006 " % c.id, 5.0)
        # The last one's onClose closes cs[10], whose onClose (once it answered) closes cs[11]...
        for i, c in enumerate(cs[10:], 10):
            with within(5.0):
                msgs, f = recv_until_close(c, "Close 1000 of the chain (client %d)" % i)
            check(all(m.payload.startswith(b"left ") for m in msgs),
                  "client %d: unexpected %r" % (i, msgs[:3]))
            check(close_code(f) == 1000, "client %d: expected Close 1000, got %r" % (i, f))
            c.answer_close(f)
            c.expect_eof(3.0)
            c.close()
            s.wait_line(r"^close %d 1000 " % c.id, 3.0)
        s.check_alive()
        n = open_client(s)
        n.echo_ok()
        # It still stops cleanly.
        s.signal(15)
        with within(5.0):
            _, f = recv_until_close(n, "Close 1001 after SIGTERM")
        check(close_code(f) == 1001, "expected Close 1001, got %r" % f)
        n.answer_close(f)
        rc = s.wait_exit(8.0)
        check(rc == 0, "exit status %d after SIGTERM; stderr %s" % (rc, s.stderr_tail()))


@test("fault_data_after_close", 15)
def _():
    """faults: data after the client's Close is ignored; the server answers and ends TCP"""
    # Without discarding input after the Close the server echoes (or fails on) the frames behind it.
    with Srv({}) as s:
        other = open_client(s)
        c = open_client(s)
        c.send(encode_frame(OP_CLOSE, close_payload(1000, "bye"))
               + encode_frame(OP_TEXT, "after close 1") + encode_frame(OP_BINARY, b"after close 2"))
        time.sleep(0.05)
        try:
            c.sock.sendall(encode_frame(OP_TEXT, "after close 3") * 50)
        except OSError:
            pass
        with within(3.0):
            f = c.recv_message("the answer to our Close")
        check(f.op == OP_CLOSE and close_code(f) == 1000,
              "expected Close 1000 (nothing else), got %r" % f)
        c.expect_eof(3.0)
        s.wait_line(r"^close %d 1000 bye$" % c.id, 3.0)
        check(not s.find(r"^message %d " % c.id), "the server handled data sent after the Close: "
              "%r" % s.find(r"^message %d " % c.id)[:2])
        other.echo_ok()
        s.check_alive()


# == 7. allowed_origins ========================================================================


@test("allowed_origins", 15)
def _():
    """allowed_origins: listed origins (any case) get 101, others 403, no Origin 101"""
    # Without the check every origin gets 101.
    cases = [("https://example.com", 101), ("HTTPS://Example.COM", 101),
             ("http://localhost:8080", 101), (None, 101),
             ("https://evil.com", 403), ("https://example.com.evil.com", 403),
             ("https://example.co", 403), ("http://example.com", 403),
             ("http://localhost:8081", 403), ("http://localhost", 403), ("null", 403)]
    with Srv({"allowed_origins": ["https://example.com", "http://localhost:8080"]}) as s:
        for origin, status in cases:
            c = Client(s.port)
            extra = "" if origin is None else "Origin: %s\r\n" % origin
            c.send(upgrade_request(extra=extra))
            expect_http(c, status, "Origin %r" % origin)
            if status == 101:
                c.echo_ok(b"from %r" % origin)
            else:
                c.expect_eof(3.0)
            c.close()
        s.check_alive()


# == 8. memory follows bytes received ==========================================================


def server_stats(s, ctl):
    """stats() of the lab server, asked over the open client `ctl`."""
    mark = s.mark()
    ctl.send_cmd(op="stats")
    line = s.wait_line(r"^stats ", 3.0, start=mark, what="the stats line")
    return json.loads(line[len("stats "):])


def wait_bytes_in(s, ctl, want, seconds):
    """Waits until the server has read `want` bytes (stats() bytes_in); returns stats()."""
    deadline = time.monotonic() + seconds
    while True:
        st = server_stats(s, ctl)
        if st["bytes_in"] >= want:
            return st
        if time.monotonic() > deadline:
            raise Failure("the server read %d bytes, expected %d" % (st["bytes_in"], want))
        time.sleep(0.05)


@test("memory_headers_announce_max", 60)
def _():
    """memory: under memory_limit=128M, 300 clients each announce a 16 MiB message (header and
    10 bytes): nothing is allocated for the announcement, a normal client is served, RSS stays
    bounded, and each message still arrives whole once its bytes come"""
    # Allocating on announcement (16 MiB per header) ends the process with "Allowed memory size
    # exhausted" after about 8 headers, dropping every client.
    big = 16 * MiB
    with Srv({"max_frame_size": big, "max_message_size": big},
             ini={"memory_limit": "128M"}) as s:
        ctl = open_client(s)
        rss0 = s.rss_kib()
        # The first one's message is sent whole later: its frame is made in full now.
        payload = bytes(range(256)) * (big // 256)
        frame = encode_frame(OP_BINARY, payload)
        head = len(frame) - big
        attackers = []
        for i in range(300):
            c = Client(s.port, ws=True)
            c.send(frame[:head + 10] if i == 0 else encode_frame(OP_BINARY, b"x" * 10, length=big))
            attackers.append(c)
        time.sleep(0.5)
        s.check_alive()
        Client(s.port, ws=True).echo_ok(b"served while 300 x 16 MiB are announced")
        held = server_stats(s, ctl)["receiving"]
        check(held <= 300 * 256, "300 x 10 received bytes hold %d bytes of storage" % held)
        grown = s.rss_kib() - rss0
        check(s.sanitized() or grown < 24 * 1024, "RSS grew by %d KiB for 300 headers" % grown)
        # Storage still grows to a whole message when its bytes do come.
        one = attackers[0]
        one.send(frame[head + 10:head + MiB])
        time.sleep(0.2)
        one.send(frame[head + MiB:])
        with within(10.0):
            one.expect_message(OP_BINARY, payload)
        s.check_alive()


@test("memory_receive_budget", 60)
def _():
    """memory: max_receive_memory=4 MiB: two clients 1.5 MiB into 2 MiB messages hold most of it,
    a third gets Close 1013 while small messages still flow; once a message is delivered its
    room serves the next, and stats() counts the refusal"""
    # Without a budget the third client is served and stats() has no receive figures.
    size = 2 * MiB
    with Srv({"max_receive_memory": 4 * MiB, "max_frame_size": 8 * MiB,
              "max_message_size": 8 * MiB}) as s:
        ctl = open_client(s)
        payloads = {n: bytes([n]) * size for n in (1, 2, 3, 4)}
        frames = {n: encode_frame(OP_BINARY, p) for n, p in payloads.items()}
        cut = len(frames[1]) - size // 4  # all but the last 512 KiB
        a, b = open_client(s), open_client(s)
        before = server_stats(s, ctl)["bytes_in"]
        a.send(frames[1][:cut])
        b.send(frames[2][:cut])
        # Each holds at least the 1.5 MiB it received and at most the 2 MiB announced.
        held = wait_bytes_in(s, ctl, before + 2 * cut, 5.0)["receiving"]
        check(3 * MiB <= held <= 4 * MiB, "two 1.5 MiB partial messages hold %d bytes" % held)
        ctl.echo_ok(b"a small message while the budget is spent")
        c = open_client(s)
        c.send(frames[3][:cut])
        with within(5.0):
            c.expect_close(1013)
        a.send(frames[1][cut:])
        with within(5.0):
            a.expect_message(OP_BINARY, payloads[1])
        d = open_client(s)
        d.send(frames[4])
        with within(5.0):
            d.expect_message(OP_BINARY, payloads[4])
        b.send(frames[2][cut:])
        with within(5.0):
            b.expect_message(OP_BINARY, payloads[2])
        st = server_stats(s, ctl)
        check(st["receive_refused"] == 1, "stats() receive_refused is %r, expected 1"
              % st.get("receive_refused"))
        check(st["receiving"] == 0, "stats() receiving is %r after every message was delivered"
              % st["receiving"])
        s.check_alive()


@test("memory_limit_not_fatal", 60)
def _():
    """memory: memory_limit=32M and a budget of 1 GiB: a message that grows toward the limit
    gets Close 1013 instead of a fatal error, and the server keeps serving"""
    # Without the check before each allocation, PHP's fatal "Allowed memory size exhausted"
    # ends the process (already at the 200 MiB announcement when allocating on it).
    with Srv({"max_receive_memory": 1024 * MiB, "max_frame_size": 256 * MiB,
              "max_message_size": 256 * MiB}, ini={"memory_limit": "32M"}) as s:
        if s.sanitized():
            return  # USE_ZEND_ALLOC=0: PHP enforces no memory_limit
        c = open_client(s)
        c.send(encode_frame(OP_BINARY, b"", length=200 * MiB))
        chunk = b"\0" * MiB  # masked with the key of encode_frame: any bytes will do
        sent = 0
        c.sock.setblocking(True)
        try:
            while sent < 40 * MiB:
                c.sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server has closed its side
        with within(5.0):
            c.expect_close(1013)
        s.check_alive()
        Client(s.port, ws=True).echo_ok(b"served after the refusal")


# == 9. closing: the close timeout and slow readers =============================================


def paced(c, rate):
    """Makes every later read of c take at most 16 KiB and keep to `rate` bytes a second on
    average (a slow reader); returns a function giving the bytes read so far."""
    t0 = time.monotonic()
    got = [0]

    def fill(what):
        ahead = t0 + got[0] / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        c.sock.settimeout(max(0.01, wsraw.remaining()))
        try:
            chunk = c.sock.recv(16384)
        except socket.timeout:
            raise Failure("timed out waiting for %s after %d bytes" % (what, got[0]))
        except OSError as e:
            raise Failure("%s after %d bytes while waiting for %s" % (e, got[0], what))
        if not chunk:
            c.eof = True
            raise Failure("TCP closed after %d bytes while waiting for %s" % (got[0], what))
        got[0] += len(chunk)
        c.buf += chunk

    c._fill = fill
    return lambda: got[0]


def end_of(c, seconds):
    """Reads c (at full speed, anything that still comes is counted) until the server ends TCP;
    returns ("reset" | "eof", monotonic time, bytes read), or Failure after `seconds`."""
    end = time.monotonic() + seconds
    n = len(c.buf)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("the server did not end TCP within %.1f s (%d bytes read)" % (seconds, n))
        c.sock.settimeout(left)
        try:
            chunk = c.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return "reset", time.monotonic(), n
        if not chunk:
            return "eof", time.monotonic(), n
        n += len(chunk)


@test("close_slow_reader", 40)
def _():
    """closing: a reader at 1 MB/s with MiBs queued when the server closes (1008, output
    overflow) gets every accepted message and then its Close 1008, although reading takes over
    twice close_timeout: the timeout counts from when the Close has been written"""
    # When the close timeout counts from when the Close is queued, the reader is cut after
    # close_timeout mid-frame and sees TCP close without a Close frame (1006).
    timeout = 1.0
    with Srv({"max_output_buffer": 2 * MiB, "close_timeout": timeout}) as s:
        other = open_client(s)
        slow = open_client(s, rcvbuf=16384)
        slow.send_cmd(op="flood", size=65536, every=0.005, per_tick=2, count=100)
        s.wait_line(r"^error %d .*max_output_buffer" % slow.id, 10.0,
                    what="the overflow (error event) of the flooded client")
        done = s.wait_line(r"^flood_done %d " % slow.id, 5.0)
        accepted = int(done.split()[3])
        check(accepted * 65536 > 2 * MiB, "only %d messages accepted" % accepted)
        t0 = time.monotonic()
        read = paced(slow, 1e6)
        with within(30.0):
            msgs, close = recv_until_close(slow, "queued messages then Close 1008")
        took = time.monotonic() - t0
        got = [number_of(m.payload) for m in msgs]
        check(got == list(range(accepted)), "got %d messages (first gap at %s), %d accepted" % (
            len(got), next((i for i, n in enumerate(got) if n != i), None), accepted))
        check(close_code(close) == 1008, "expected Close 1008, got %r" % close)
        check(took > 2 * timeout, "reading %d bytes took only %.1f s: the test does not read "
              "slowly enough to outlast close_timeout" % (read(), took))
        slow.answer_close(close)
        slow.expect_eof(3.0)
        s.wait_line(r"^close %d 1008 " % slow.id, 3.0, what="onClose 1008 of the slow reader")
        other.echo_ok(b"after the slow close")
        s.check_alive()


@test("close_stalled_reader_reset", 30)
def _():
    """closing: a reader that takes nothing after close() with 6 MiB queued is cut after
    close_timeout with a reset: the server's socket is gone at once, the client sees
    ECONNRESET; the server serves others"""
    # Closed with a FIN instead, the kernel keeps the unsent bytes in an orphaned socket and
    # retransmits them for minutes; without any deadline while output is queued the connection
    # is never cut.
    timeout = 1.0
    with Srv({"close_timeout": timeout}) as s:
        other = open_client(s)
        slow = open_client(s, rcvbuf=16384)
        m = s.mark()
        other.send_cmd(op="fill", target=slow.id, size=65536, count=96)
        s.wait_line(r"^filled %d 96 " % slow.id, 5.0, start=m)
        time.sleep(0.3)
        other.send_cmd(op="close", target=slow.id, code=1000)
        t0, _ = s.wait_time(r"^closed %d$" % slow.id, 3.0, start=m)
        t1, line = s.wait_time(r"^close %d " % slow.id, timeout + 3.0, start=m,
                               what="onClose of the reader that takes nothing")
        check(line.split()[2] == "1006", "expected onClose 1006, got %r" % line)
        check(timeout - 0.1 <= t1 - t0 <= timeout + 1.0,
              "cut %.2f s after close(); close_timeout is %.1f s" % (t1 - t0, timeout))
        end = time.monotonic() + 1.0
        while tcp_queues(s.port, slow.local_port) is not None and time.monotonic() < end:
            time.sleep(0.05)
        q = tcp_queues(s.port, slow.local_port)
        check(q is None, "1 s after the cut the server's socket is still there with %d bytes "
              "unsent: closed with FIN, not reset" % (q[0] if q else 0))
        how, _, n = end_of(slow, 5.0)
        check(how == "reset", "the client saw a clean EOF after %d bytes, not a reset" % n)
        other.echo_ok(b"after the reset")
        Client(s.port, ws=True).echo_ok()
        s.check_alive()


@test("close_timeout_from_sent", 30)
def _():
    """closing: a client that reads our Close late (1.2 s after close(), close_timeout 2 s) and
    never answers is cut close_timeout after it got the Close, not after close(), with a reset"""
    # When the timeout counts from when the Close is queued, the cut comes 0.8 s after the
    # client got the Close.
    timeout = 2.0
    with Srv({"close_timeout": timeout}) as s:
        other = open_client(s)
        slow = open_client(s, rcvbuf=16384)
        m = s.mark()
        other.send_cmd(op="fill", target=slow.id, size=65536, count=16)
        s.wait_line(r"^filled %d 16 " % slow.id, 5.0, start=m)
        other.send_cmd(op="close", target=slow.id, code=1000, reason="bye")
        t0, _ = s.wait_time(r"^closed %d$" % slow.id, 3.0, start=m)
        time.sleep(max(0.0, t0 + 1.2 - time.monotonic()))
        with within(5.0):
            msgs, close = recv_until_close(slow, "the queued messages then Close 1000")
        t1 = time.monotonic()
        check(len(msgs) == 16 and close_code(close) == 1000,
              "expected 16 messages and Close 1000, got %d and %r" % (len(msgs), close))
        check(t1 - t0 < timeout, "reading took until %.2f s after close()" % (t1 - t0))
        how, t2, n = end_of(slow, timeout + 3.0)
        check(n == 0, "%d bytes after the Close frame" % n)
        check(timeout - 0.1 <= t2 - t1 <= timeout + 1.0,
              "cut %.2f s after the client read the Close (%.2f s after close()); close_timeout "
              "is %.1f s" % (t2 - t1, t2 - t0, timeout))
        check(how == "reset", "the unanswered close ended with a FIN, not a reset")
        s.wait_line(r"^close %d 1006 " % slow.id, 3.0, start=m, what="onClose 1006")
        other.echo_ok(b"after the unanswered close")
        s.check_alive()


# == 10. leniencies a hostile client could use ====================================================


@test("lenient_duplicate_headers", 20)
def _():
    """leniencies: a second Origin line (allowed_origins bypass) or Sec-WebSocket-Version line gets 400"""
    # Without the check the first Origin passes allowed_origins while PHP sees both joined,
    # and Version 13 then 12 on two lines gets 101.
    with Srv({"allowed_origins": ["https://example.com"]}) as s:
        cases = [("Origin: https://example.com\r\nOrigin: https://evil.com\r\n", 400),
                 ("Origin: https://example.com\r\n", 101)]
        for extra, status in cases:
            c = Client(s.port)
            c.send(upgrade_request(extra=extra))
            expect_http(c, status, "request with %r" % extra)
            c.close()
        c = Client(s.port)
        c.send(upgrade_request(ws_version=None,
                               extra="Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 12\r\n"))
        expect_http(c, 400, "Sec-WebSocket-Version 13 then 12 on two lines")
        s.check_alive()


@test("lenient_length_not_minimal", 15)
def _():
    """leniencies: a payload length not in its minimal form (16-bit 5, 64-bit 200) gets Close 1002"""
    # Without the check both frames are echoed.
    with Srv({}) as s:
        for width, n in ((126, 5), (127, 200)):
            c = open_client(s)
            key = os.urandom(4)
            ext = struct.pack(">H", n) if width == 126 else struct.pack(">Q", n)
            c.send(bytes([0x82, 0x80 | width]) + ext + key + wsraw.mask_bytes(b"z" * n, key))
            with within(3.0):
                c.expect_close(1002)
        s.check_alive()
        Client(s.port, ws=True).echo_ok()


@test("lenient_request_targets", 15)
def _():
    """leniencies: '*' and authority-form get 400, an absolute-form target naming another host gets 400, one naming the Host upgrades"""
    # Without the check all four get 101 and PHP sees the absolute URI as the path.
    with Srv({}) as s:
        host = "127.0.0.1"
        for target, status in (("*", 400), ("127.0.0.1:%d" % s.port, 400),
                               ("http://evil.example/chat", 400),
                               ("http://%s/chat" % host, 101)):
            c = Client(s.port)
            c.send(upgrade_request().replace(b"GET / ", b"GET %s " % target.encode(), 1))
            expect_http(c, status, "request target %r" % target)
            if status == 101:
                c.echo_ok(b"absolute-form")
            c.close()
        s.check_alive()


@test("lenient_deflate_trailing_bytes", 15)
def _():
    """leniencies: permessage-deflate data after a message's final block gets Close 1007"""
    # Without the check the bytes after the final block are ignored and the message echoed.
    with Srv({"compression": True}) as s:
        c = Client(s.port)
        r = c.request(upgrade_request(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"))
        check(r.status == 101 and "permessage-deflate" in (r.header("sec-websocket-extensions") or ""),
              "permessage-deflate was not negotiated: %r" % r.raw[:200])
        z = zlib.compressobj(wbits=-15)
        final = z.compress(b"hello, compressed world") + z.flush(zlib.Z_FINISH)
        c.send_frame(OP_TEXT, final + b"\x01junk", rsv=4)
        with within(3.0):
            c.expect_close(1007)
        s.check_alive()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--slowloris":
        slowloris_helper(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        sys.exit(0)
    sys.exit(main(sys.argv))
