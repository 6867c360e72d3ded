#!/usr/bin/python3
"""compression.py - black-box checks of permessage-deflate (RFC 7692) against
tests/compression/server.php (an echo server configured from JSON), in the style of the
Autobahn testsuite's sections 12 (the server compresses) and 13 (the client compresses).

The client is raw (tests/conformance/wsraw.py for sockets and frames, tests/inc/wsharness.py
for the server processes) and implements permessage-deflate itself with zlib: raw DEFLATE
(compressobj(level, DEFLATED, -wbits)), Z_SYNC_FLUSH, the 00 00 FF FF tail stripped when
sending and appended when receiving, the compressor and decompressor reset per message or
kept, as negotiated. Every message the server sends is decompressed with exactly the window
the server announced (fed in small pieces, so that zlib rejects any back-reference farther
than that window: a server that compresses with a larger window than it announced fails) and
with a fresh decompressor per message when it announced server_no_context_takeover.

Sections (case names start with them):
  nego   the exact Sec-WebSocket-Extensions answer for many offers and configurations
  12.x   the server compresses: every window 9..15 (by configuration and by offer), with and
         without context takeover, messages of 0 B .. 1 MiB, text and binary, many in a row
  13.x   the client compresses: client_max_window_bits 8..15, with and without
         client_no_context_takeover, compressed messages cut into random frames
  rfc    the examples of RFC 7692 7.2.3, byte for byte
  size   min_size, level, memory_level
  viol   protocol violations (1002), corrupt DEFLATE and invalid UTF-8 (1007), max_message_size
         and a decompression bomb with bounded server memory (1009)

Usage: compression.py [substring ...]     only the cases whose name contains one of them
Env:   WS_PHP  the command that runs PHP with the extension (default: php -d extension=<repo>/modules/websocket.so)
Prints `ok   <case>` or `FAIL <case>: <why>` per case, then `N passed, N failed`; exits 1 on failure.
"""

import itertools
import json
import os
import random
import signal
import struct
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "inc"))

import wsharness  # noqa: E402  (puts tests/conformance on sys.path for wsraw)
import wsraw  # noqa: E402
from wsharness import MiB, Failure, Srv, check, within  # noqa: E402
from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                   accept_for, close_payload, encode_frame, new_key, upgrade_request)

SERVER = os.path.join(HERE, "server.php")
TAIL = b"\x00\x00\xff\xff"
KiB = 1024
SIZES = (0, 16, 64, 128, 256, KiB, 4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB, 128 * KiB, 256 * KiB, MiB)
OVERALL_TIMEOUT = 110
DEFAULTS = {"server_max_window_bits": 15, "client_max_window_bits": 15,
            "server_context_takeover": False, "client_context_takeover": False,
            "memory_level": 8, "level": 1, "min_size": 64}
PMD = "permessage-deflate"
# An offer that requires server_max_window_bits=8 is accepted: zlib compresses with a 512-byte
# window, which never refers back more than 250 bytes and so is valid for a 256-byte window
# (README, Compression); the cases check that what the server sends inflates with 256 bytes.
# False would expect the other lawful answer, declining the offer.
SMWB8_ACCEPTED = True
BASE = PMD + "; server_no_context_takeover; client_no_context_takeover"  # the default answer


class Abort(BaseException):
    pass


# == Sec-WebSocket-Extensions ====================================================================


def split_outside_quotes(s, sep):
    parts, cur, quoted, esc = [], [], False, False
    for ch in s:
        if esc:
            cur.append(ch)
            esc = False
        elif quoted and ch == "\\":
            cur.append(ch)
            esc = True
        elif ch == '"':
            cur.append(ch)
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_extensions(values):
    """[(name, [(param, value or None), ...]), ...] of header values; values in quotes unquoted."""
    out = []
    for value in values:
        for ext in split_outside_quotes(value, ","):
            items = [p.strip() for p in split_outside_quotes(ext, ";")]
            if not items[0]:
                continue
            params = []
            for item in items[1:]:
                name, eq, val = item.partition("=")
                val = val.strip() if eq else None
                if val and len(val) >= 2 and val[0] == val[-1] == '"':
                    val = val[1:-1].replace("\\", "")
                params.append((name.strip(), val))
            out.append((items[0], params))
    return out


def window_value(v):
    """8..15 written as RFC 7692 7.1.2 allows (no leading zero), else None."""
    if v is None or not v.isdigit() or (len(v) > 1 and v[0] == "0"):
        return None
    n = int(v)
    return n if 8 <= n <= 15 else None


class Negotiated:
    """What a permessage-deflate answer means for this client. Raises Failure when the answer
    breaks RFC 7692 (7.1: an answer a client must reject)."""

    def __init__(self, header, offer):
        exts = parse_extensions([header])
        check(len(exts) == 1 and exts[0][0] == PMD,
              "the server answered %r: expected exactly one permessage-deflate" % header)
        if offer is None:
            raise Failure("the server answered %r to a request without an offer" % header)
        params = dict(offer)
        for name in ("server_max_window_bits", "client_max_window_bits"):
            if params.get(name) is not None and window_value(params[name]) is None:
                raise Failure("the server answered %r to an offer with %s=%s" % (header, name, params[name]))
        got = {}
        for name, val in exts[0][1]:
            check(name not in got, "answer %r repeats %s" % (header, name))
            if name in ("server_no_context_takeover", "client_no_context_takeover"):
                check(val is None, "answer %r gives %s a value" % (header, name))
                got[name] = True
            elif name in ("server_max_window_bits", "client_max_window_bits"):
                n = window_value(val)
                check(n is not None, "answer %r: bad %s value" % (header, name))
                got[name] = n
            else:
                raise Failure("answer %r has the unknown parameter %r" % (header, name))
        if "server_no_context_takeover" in params:
            check("server_no_context_takeover" in got,
                  "the offer asked server_no_context_takeover, the answer %r lacks it (RFC 7692 7.1.1.1)" % header)
        if "server_max_window_bits" in params:
            want = int(params["server_max_window_bits"])
            check(got.get("server_max_window_bits", 99) <= want,
                  "the offer asked server_max_window_bits=%d, the answer %r does not accept it "
                  "(RFC 7692 7.1.2.1)" % (want, header))
        if "client_max_window_bits" in got:
            check("client_max_window_bits" in params,
                  "answer %r has client_max_window_bits, which the offer did not have (RFC 7692 7.1.2.2)" % header)
            offered = params["client_max_window_bits"]
            check(offered is None or got["client_max_window_bits"] <= int(offered),
                  "answer %r: client_max_window_bits above the offered %s" % (header, offered))
        self.header = header
        self.s_reset = got.get("server_no_context_takeover", False)
        self.s_wbits = got.get("server_max_window_bits", 15)
        self.c_reset = got.get("client_no_context_takeover", False) or "client_no_context_takeover" in params
        offered = params.get("client_max_window_bits")
        self.c_wbits = got.get("client_max_window_bits", int(offered) if offered else 15)


def offer_params(offer):
    """The parameters of the one permessage-deflate offer in `offer` (a header value)."""
    exts = parse_extensions([offer]) if offer else []
    if len(exts) != 1 or exts[0][0] != PMD:
        raise ValueError("not a single permessage-deflate offer: %r" % offer)
    return exts[0][1]


def model(comp, offer):
    """The answers the contract allows to a single, valid `offer` (a header value) when the
    server runs with compression config `comp` (True or a dict): a set of strings, or {None}
    when the offer must be declined."""
    cfg = dict(DEFAULTS)
    if isinstance(comp, dict):
        cfg.update(comp)
    p = dict(offer_params(offer))
    smwb = int(p["server_max_window_bits"]) if p.get("server_max_window_bits") else None
    if smwb == 8 and not SMWB8_ACCEPTED:
        return {None}
    fixed = [PMD]
    if not cfg["server_context_takeover"] or "server_no_context_takeover" in p:
        fixed.append("server_no_context_takeover")
    cnct = ["client_no_context_takeover"]
    if cfg["client_context_takeover"]:
        cnct = [None, "client_no_context_takeover"] if "client_no_context_takeover" in p else [None]
    if smwb is not None:
        swin = "server_max_window_bits=%d" % min(smwb, cfg["server_max_window_bits"])
    elif cfg["server_max_window_bits"] < 15:
        swin = "server_max_window_bits=%d" % cfg["server_max_window_bits"]
    else:
        swin = None
    cwin = [None]
    if "client_max_window_bits" in p:
        offered = int(p["client_max_window_bits"]) if p["client_max_window_bits"] else 15
        n = min(offered, cfg["client_max_window_bits"])
        cwin = ["client_max_window_bits=%d" % n]
        if cfg["client_max_window_bits"] == 15:
            cwin.append(None)  # the client may use its own window anyway
    out = set()
    for a, b in itertools.product(cnct, cwin):
        out.add("; ".join(x for x in fixed + [a, swin, b] if x))
    return out


def show_set(answers):
    return " or ".join("no header" if a is None else repr(a) for a in sorted(answers, key=str))


# == the client ==================================================================================


class Msg(wsraw.Frame):
    """A received message (payload decompressed) or control frame; compressed: RSV1 was set;
    frames: how many frames it came in; wire: payload bytes on the wire."""


class Client(wsraw.Conn):
    """A raw client that speaks permessage-deflate when the server agreed to it."""

    all = []  # closed after each case

    def __init__(self, port):
        super().__init__(port)
        Client.all.append(self)
        self.pmd = None
        self.ext_header = None
        self.inflater = None
        self.deflater = None
        self.level = 6
        self.server_level, self.server_memlevel = DEFAULTS["level"], DEFAULTS["memory_level"]
        self.pongs = []

    # -- handshake --

    def open(self, offer=None, lines=None):
        """Sends the upgrade request with one Sec-WebSocket-Extensions line per entry of
        `lines` ((name, value) or value), or with `offer` alone; checks the 101 and returns the
        value of the server's Sec-WebSocket-Extensions header (None without one)."""
        if lines is None:
            lines = [] if offer is None else [offer]
        extra = ""
        for line in lines:
            name, value = line if isinstance(line, tuple) else ("Sec-WebSocket-Extensions", line)
            extra += "%s: %s\r\n" % (name, value)
        key = new_key()
        resp = self.request(upgrade_request(key=key, extra=extra))
        check(resp.status == 101, "handshake: expected 101, got %r" % resp.raw.split(b"\r\n")[0])
        check(resp.header("sec-websocket-accept") == accept_for(key), "handshake: bad Sec-WebSocket-Accept")
        values = []
        for raw in resp.raw.split(b"\r\n")[1:]:
            name, _, value = raw.partition(b":")
            if name.strip().lower() == b"sec-websocket-extensions":
                values.append(value.strip().decode("latin-1"))
        check(len(values) <= 1, "the 101 has %d Sec-WebSocket-Extensions lines: %r" % (len(values), values))
        self.ext_header = values[0] if values else None
        if self.ext_header is not None:
            values = [l[1] if isinstance(l, tuple) else l for l in lines]
            offers = [p for name, p in parse_extensions(values) if name == PMD]
            # The answer must suit one of the offers (RFC 7692 7.1); the first it suits sets
            # what the client does.
            self.pmd = None
            why = None
            for p in offers or [None]:
                try:
                    self.pmd = Negotiated(self.ext_header, p)
                    break
                except Failure as e:
                    why = why or e
            if self.pmd is None:
                raise why
        return self.ext_header

    def open_expect(self, offer, answers, lines=None):
        got = self.open(offer, lines)
        if got not in answers:
            raise Failure("offer %r: the server answered %s, expected %s" % (
                lines if lines is not None else offer, "no header" if got is None else repr(got),
                show_set(answers)))
        return got

    # -- frames --

    def recv_frame(self, what="a frame"):
        b0, b1 = self._take(2, what)
        n = b1 & 0x7F
        if b1 & 0x80:
            raise Failure("server frame is masked")
        if n == 126:
            (n,) = struct.unpack(">H", self._take(2, what))
            check(n >= 126, "server used a 16-bit length for %d bytes" % n)
        elif n == 127:
            (n,) = struct.unpack(">Q", self._take(8, what))
            check(n >= 65536, "server used a 64-bit length for %d bytes" % n)
        rsv = (b0 >> 4) & 7
        op = b0 & 0xF
        check(not rsv & 3, "server frame has RSV2/RSV3 set (%#04x)" % b0)
        if rsv & 4:
            check(self.pmd is not None, "server frame has RSV1 set, but permessage-deflate was "
                  "not negotiated (answer %r)" % self.ext_header)
            check(op in (OP_TEXT, OP_BINARY), "server set RSV1 on a %s frame" % wsraw.OP_NAMES.get(op, op))
        return wsraw.Frame(bool(b0 & 0x80), rsv, op, self._take(n, what))

    def recv_message(self, what="a message"):
        first = self.recv_frame(what)
        if first.op >= 8:
            check(first.fin, "server sent a fragmented control frame")
            m = Msg(True, first.rsv, first.op, first.payload)
            m.compressed, m.frames, m.wire = False, 1, len(first.payload)
            return m
        check(first.op != OP_CONT, "server sent a continuation frame with no message open")
        parts = [first.payload]
        frames = 1
        fin = first.fin
        while not fin:
            f = self.recv_frame(what)
            if f.op == OP_PONG and f.fin:  # the answer to a ping of ours, between fragments
                self.pongs.append(f.payload)
                continue
            check(f.op == OP_CONT, "server sent %r inside a fragmented message" % f)
            parts.append(f.payload)
            frames += 1
            fin = f.fin
        wire = b"".join(parts)
        compressed = bool(first.rsv & 4)
        payload = self.inflate(wire) if compressed else wire
        m = Msg(True, first.rsv, first.op, payload)
        m.compressed, m.frames, m.wire = compressed, frames, len(wire)
        return m

    def recv_data(self, what):
        """The next data message; pongs before it are collected in self.pongs."""
        while True:
            m = self.recv_message(what)
            if m.op == OP_PONG:
                self.pongs.append(m.payload)
                continue
            if m.op == OP_CLOSE:
                code = struct.unpack(">H", m.payload[:2])[0] if len(m.payload) >= 2 else None
                raise Failure("expected %s, got close %s %r" % (what, code, bytes(m.payload[2:80])))
            check(m.op in (OP_TEXT, OP_BINARY), "expected %s, got %r" % (what, m))
            return m

    # -- permessage-deflate --

    def inflate(self, wire):
        p = self.pmd
        if self.inflater is None or p.s_reset:
            self.inflater = zlib.decompressobj(-p.s_wbits)
        d = self.inflater
        data = memoryview(wire + TAIL)
        out = []
        try:
            # Small pieces: zlib then refuses distances beyond the window (plus the little
            # output of one call), which a big output buffer would hide.
            for i in range(0, len(data), 64):
                out.append(d.decompress(data[i:i + 64]))
        except zlib.error as e:
            raise Failure("cannot inflate the server's %d-byte compressed message with window bits "
                          "%d%s (answer %r): %s" % (len(wire), p.s_wbits,
                                                    ", fresh per message" if p.s_reset else ", context kept",
                                                    self.ext_header, e))
        if d.eof:  # a final block: the next message starts a new stream
            self.inflater = None
        return b"".join(out)

    def deflate(self, data, wbits=None, reset=None, level=None, flush=zlib.Z_SYNC_FLUSH):
        p = self.pmd
        wbits = p.c_wbits if wbits is None else wbits
        reset = p.c_reset if reset is None else reset
        if self.deflater is None or reset:
            # zlib refuses a 256-byte window for raw deflate; with 512 bytes it never reaches
            # farther back than 250 bytes, which is valid for client_max_window_bits=8.
            self.deflater = zlib.compressobj(self.level if level is None else level, zlib.DEFLATED,
                                             -max(9, wbits), 9)
        out = self.deflater.compress(data) + self.deflater.flush(flush)
        if flush == zlib.Z_SYNC_FLUSH:
            assert out.endswith(TAIL)
            return out[:-4]
        self.deflater = None
        return out

    def fresh_size(self, data):
        """Bytes of data compressed alone the way the server does (its level, memory level and
        window), tail stripped."""
        z = zlib.compressobj(self.server_level, zlib.DEFLATED, -max(9, self.pmd.s_wbits), self.server_memlevel)
        return len(z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)) - 4

    def incompressible(self, data):
        return self.fresh_size(data) >= len(data) - len(data) // 20 - 8

    def build_msg(self, op, data, compress=True, pieces=None, ping=None):
        """The frames of one message, as bytes, and how many data frames: compressed (RSV1 on
        the first frame) unless compress is False; `pieces` splits the payload into frames;
        `ping` goes between the first and the second frame."""
        payload = self.deflate(data) if compress else data
        parts = pieces(payload) if pieces else [payload]
        out = []
        for i, part in enumerate(parts):
            out.append(encode_frame(op if i == 0 else OP_CONT, part, fin=i == len(parts) - 1,
                                    rsv=4 if compress and i == 0 else 0))
            if i == 0 and ping is not None and len(parts) > 1:
                out.append(encode_frame(OP_PING, ping))
        return b"".join(out), len(parts)

    def send_msg(self, op, data, compress=True, pieces=None, ping=None):
        raw, n = self.build_msg(op, data, compress, pieces, ping)
        self.send(raw)
        return n

    def echo(self, op, data, compress=True, pieces=None, ping=None, min_size=64):
        """Sends a message and checks its echo (see check_echo)."""
        self.pongs = []
        nframes = self.send_msg(op, data, compress, pieces, ping)
        m = self.check_echo(op, data, nframes, min_size)
        if ping is not None and nframes > 1:
            check(ping in self.pongs, "the echo of a %d-byte message: no pong for the ping sent between "
                  "its fragments" % len(data))
        return m

    def check_echo(self, op, data, nframes=1, min_size=64):
        """Reads the next message and checks it is the echo of data: same opcode and bytes;
        compressed, in one frame, when compression was negotiated and it has at least min_size
        bytes (see below for the one exception); uncompressed otherwise."""
        kind = "text" if op == OP_TEXT else "binary"
        what = "the echo of a %d-byte %s message%s" % (len(data), kind,
                                                      " (%d frames)" % nframes if nframes > 1 else "")
        m = self.recv_data(what)
        check(m.op == op, "%s: came back as %s" % (what, wsraw.OP_NAMES.get(m.op)))
        if m.payload != data:
            if len(m.payload) != len(data):
                raise Failure("%s: came back with %d bytes" % (what, len(m.payload)))
            i = next(i for i in range(len(data)) if m.payload[i] != data[i])
            raise Failure("%s: differs at byte %d" % (what, i))
        if self.pmd is None or len(data) < min_size:
            check(not m.compressed, "%s: RSV1 is set (negotiated: %r, min_size %d)" % (
                what, self.ext_header, min_size))
        elif not m.compressed:
            # Without context takeover the server may send a message that does not shrink as
            # it is (RFC 7692 6: any message may go uncompressed); with context takeover it
            # must not, and compressible data must be compressed.
            check(self.pmd.s_reset and self.incompressible(data),
                  "%s: RSV1 is clear (negotiated: %r, min_size %d, the data compresses to %d bytes)" % (
                      what, self.ext_header, min_size, self.fresh_size(data)))
        check(not m.compressed or m.frames == 1, "%s: compressed in %d frames, expected one" % (what, m.frames))
        return m

    def close_cleanly(self):
        self.send_frame(OP_CLOSE, close_payload(1000))
        code, _ = self.expect_close(1000)
        self.expect_eof(3.0)


# == test data ===================================================================================

WORDS = ("the quick brown fox jumps over lazy dog websocket deflate window context takeover "
         "message frame server client zlib compress inflate héllo wörld naïve café ünïcödé "
         "€uro £ ¥ 日本語 中文 한국어 Ελληνικά русский 😀 🚀 ✓ λ ∑ ∞").split()


class Corpus:
    """About 2.5 MiB each of text (valid UTF-8, JSON-like records, repeats near and far) and
    binary (random blocks and copies of earlier blocks up to 48 KiB back) data, built once
    from a fixed seed; messages are consecutive slices, so a message repeats pieces of the
    previous ones (context takeover pays) and of itself at every distance (the window matters)."""

    SIZE = 5 * MiB // 2

    def __init__(self, seed=7692):
        rng = random.Random(seed)
        recs = []
        total = 0
        while total < self.SIZE:
            if len(recs) > 50 and rng.random() < 0.35:
                r = recs[-rng.randint(1, min(len(recs), 400))]
            else:
                r = '{"id": %d, "name": "%s", "tags": [%s], "token": "%s", "n": %f}\n' % (
                    rng.randrange(10 ** 6), " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))),
                    ", ".join('"%s"' % rng.choice(WORDS) for _ in range(rng.randint(0, 4))),
                    rng.randbytes(rng.randint(4, 24)).hex(), rng.random())
            recs.append(r)
            total += len(r.encode())
        self.text = "".join(recs).encode()
        blocks = bytearray()
        while len(blocks) < self.SIZE:
            k = rng.choice((8, 32, 100, 300, 1000, 3000))
            if len(blocks) > 4096 and rng.random() < 0.5:
                start = len(blocks) - rng.randint(k, min(len(blocks), 48 * KiB))
                blocks += blocks[start:start + k]
            else:
                blocks += rng.randbytes(k)
        self.binary = bytes(blocks)

    def take(self, kind, n, pos):
        """n bytes from position pos (wrapping); text is cut on a character boundary and
        padded with spaces, so it stays valid UTF-8."""
        src = self.text if kind == OP_TEXT else self.binary
        pos %= len(src) - n - 8
        b = src[pos:pos + n]
        if kind == OP_TEXT:
            b = b.decode("utf-8", "ignore").encode()
            b += b" " * (n - len(b))
        return b


_corpus = []


def corpus():
    if not _corpus:
        _corpus.append(Corpus())
    return _corpus[0]


def sequence(seed):
    """The messages of a 12.x/13.x case: every size of SIZES as text and binary, then 200 small
    ones, as (opcode, data)."""
    rng = random.Random(seed)
    c = corpus()
    pos = rng.randrange(c.SIZE)
    out = []
    for n in SIZES:
        for op in (OP_TEXT, OP_BINARY):
            out.append((op, c.take(op, n, pos)))
            pos += n
    for _ in range(200):
        n = rng.choice((0, 1, 10, 63, 64, 65, 100, 500, 1000, 2000))
        op = rng.choice((OP_TEXT, OP_BINARY))
        out.append((op, c.take(op, n, pos)))
        pos += n
    return out


def random_pieces(rng):
    """A splitter of compressed payloads into frames of random sizes (empty frames included)."""
    def split(payload):
        n = len(payload)
        if rng.random() < 0.25:
            return [payload]
        k = rng.randint(1, 12)
        cuts = sorted(rng.randint(0, n) for _ in range(k))
        if rng.random() < 0.3 and n > 2:
            cuts = sorted(cuts + [1, 2])  # 1-byte frames
        out, prev = [], 0
        for c in cuts:
            out.append(payload[prev:c])
            prev = c
        out.append(payload[prev:])
        return out
    return split


# == servers =====================================================================================


class Pool:
    """One server per configuration, started when a case first needs it, restarted if it died;
    a configuration that cannot start fails its cases at once."""

    def __init__(self):
        self.servers = {}
        self.broken = {}

    def get(self, config):
        key = json.dumps(config, sort_keys=True)
        if key in self.broken:
            raise Failure(self.broken[key])
        s = self.servers.get(key)
        if s is not None and s.alive():
            return s
        if s is not None:
            print("# server %s died (%s); restarting" % (key, s.exit_desc()), flush=True)
            s.stop()
        s = Srv(config, script=SERVER)
        try:
            with within(10.0):
                s.start()
        except Failure as e:
            s.stop()
            self.broken[key] = "server with %s did not start: %s" % (key, e)
            raise Failure(self.broken[key])
        self.servers[key] = s
        return s

    def stop_all(self):
        for s in self.servers.values():
            s.stop(grace=3.0)


POOL = Pool()
CASES = []


def case(name, config=None, timeout=10.0):
    """Registers fn(srv) to run against a server with `config` (merged over compression true)."""
    def register(fn):
        CASES.append((name, dict(config or {}), fn, timeout))
        return fn
    return register


def comp(**kw):
    return {"compression": kw}


OFF = {"compression": False}
DEFAULT_OFF = {"compression": None}  # the key left out: the extension's default
T = comp(server_context_takeover=True, client_context_takeover=True)


def connect(srv, offer=None, answers=None, lines=None):
    c = Client(srv.port)
    comp_cfg = srv.config.get("compression")
    if isinstance(comp_cfg, dict):
        c.server_level = comp_cfg.get("level", DEFAULTS["level"])
        c.server_memlevel = comp_cfg.get("memory_level", DEFAULTS["memory_level"])
    if answers is None:
        c.open(offer, lines)
    else:
        c.open_expect(offer, answers, lines)
    return c


def sample_echo(c):
    """A quick echo both ways with whatever was negotiated (text, compressed when possible)."""
    data = corpus().take(OP_TEXT, 3000, 12345)
    c.echo(OP_TEXT, data, compress=c.pmd is not None)
    c.echo(OP_BINARY, corpus().take(OP_BINARY, 3000, 999), compress=c.pmd is not None)


# == nego: the exact answer ======================================================================

SMWB8 = "is accepted" if SMWB8_ACCEPTED else "is declined"


def smwb8(declined, accepted=BASE + "; server_max_window_bits=8"):
    return {accepted} if SMWB8_ACCEPTED else {declined}


NEGO = [
    # (name, config, header lines, allowed answers)
    ("plain offer", {}, ["permessage-deflate"], {BASE}),
    ("client_max_window_bits without value", {}, ["permessage-deflate; client_max_window_bits"],
     {BASE, BASE + "; client_max_window_bits=15"}),
    ("client_max_window_bits=10", {}, ["permessage-deflate; client_max_window_bits=10"],
     {BASE, BASE + "; client_max_window_bits=10"}),
    ("client_max_window_bits=8", {}, ["permessage-deflate; client_max_window_bits=8"],
     {BASE, BASE + "; client_max_window_bits=8"}),
    ("server_max_window_bits=10", {}, ["permessage-deflate; server_max_window_bits=10"],
     {BASE + "; server_max_window_bits=10"}),
    ("server_max_window_bits=15 is confirmed", {}, ["permessage-deflate; server_max_window_bits=15"],
     {BASE + "; server_max_window_bits=15"}),
    ("server_max_window_bits=9", {}, ["permessage-deflate; server_max_window_bits=9"],
     {BASE + "; server_max_window_bits=9"}),
    ("server_max_window_bits=8 alone " + SMWB8, {}, ["permessage-deflate; server_max_window_bits=8"],
     smwb8(None)),
    ('server_max_window_bits="8" (quoted) ' + SMWB8, {}, ['permessage-deflate; server_max_window_bits="8"'],
     smwb8(None)),
    ("server_max_window_bits=8 %s, then a plain offer" % SMWB8, {},
     ["permessage-deflate; server_max_window_bits=8, permessage-deflate"], smwb8(BASE)),
    ("server_no_context_takeover asked", {}, ["permessage-deflate; server_no_context_takeover"], {BASE}),
    ("client_no_context_takeover offered", {}, ["permessage-deflate; client_no_context_takeover"], {BASE}),
    ('quoted server_max_window_bits="12"', {}, ['permessage-deflate; server_max_window_bits="12"'],
     {BASE + "; server_max_window_bits=12"}),
    ('quoted client_max_window_bits="9"', {}, ['permessage-deflate; client_max_window_bits="9"'],
     {BASE, BASE + "; client_max_window_bits=9"}),
    ("every parameter", {}, ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                             "server_max_window_bits=10; client_max_window_bits=10"],
     {BASE + "; server_max_window_bits=10", BASE + "; server_max_window_bits=10; client_max_window_bits=10"}),
    ("parameters in another order", {},
     ["permessage-deflate; client_max_window_bits; server_max_window_bits=11; client_no_context_takeover"],
     {BASE + "; server_max_window_bits=11", BASE + "; server_max_window_bits=11; client_max_window_bits=15"}),
    ("unknown parameter declines", {}, ["permessage-deflate; x-unknown"], {None}),
    ("unknown parameter declined, the next offer accepted", {},
     ["permessage-deflate; x-unknown=1, permessage-deflate; server_max_window_bits=11"],
     {BASE + "; server_max_window_bits=11"}),
    ("repeated server_no_context_takeover declines", {},
     ["permessage-deflate; server_no_context_takeover; server_no_context_takeover"], {None}),
    ("repeated client_max_window_bits declines", {},
     ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=10"], {None}),
    ("server_max_window_bits=16 declines", {}, ["permessage-deflate; server_max_window_bits=16"], {None}),
    ("server_max_window_bits=7 declines", {}, ["permessage-deflate; server_max_window_bits=7"], {None}),
    ("server_max_window_bits without value declines", {}, ["permessage-deflate; server_max_window_bits"], {None}),
    ("server_max_window_bits=010 declines", {}, ["permessage-deflate; server_max_window_bits=010"], {None}),
    ("server_max_window_bits=abc declines", {}, ["permessage-deflate; server_max_window_bits=abc"], {None}),
    ('server_max_window_bits="1 0" declines', {}, ['permessage-deflate; server_max_window_bits="1 0"'], {None}),
    ("client_max_window_bits=16 declines", {}, ["permessage-deflate; client_max_window_bits=16"], {None}),
    ("client_max_window_bits=7 declines", {}, ["permessage-deflate; client_max_window_bits=7"], {None}),
    ("server_no_context_takeover with a value declines", {},
     ["permessage-deflate; server_no_context_takeover=1"], {None}),
    ("three offers, the first two invalid", {},
     ["permessage-deflate; x-bad, permessage-deflate; client_max_window_bits=20, "
      "permessage-deflate; server_max_window_bits=14"], {BASE + "; server_max_window_bits=14"}),
    ("another extension first", {}, ["x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=13"],
     {BASE + "; server_max_window_bits=13"}),
    ("only another extension", {}, ["x-webkit-deflate-frame"], {None}),
    ("two header lines, the first offer invalid", {},
     ["permessage-deflate; bogus", "permessage-deflate; server_max_window_bits=13"],
     {BASE + "; server_max_window_bits=13"}),
    ("two header lines, the first valid offer wins", {},
     ["permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=9"],
     {BASE + "; server_max_window_bits=12"}),
    ("two header lines, another extension on the first", {}, ["foo", "permessage-deflate"], {BASE}),
    ("lower-case header name", {}, [("sec-websocket-extensions", "permessage-deflate")], {BASE}),
    ("no spaces", {}, ["permessage-deflate;server_max_window_bits=10"], {BASE + "; server_max_window_bits=10"}),
    ("spaces around ; and ,", {}, ["permessage-deflate ;  server_max_window_bits=10 ,  permessage-deflate"],
     {BASE + "; server_max_window_bits=10"}),
    ("empty header", {}, [""], {None}),
    ("no offer", {}, [], {None}),
    # server_context_takeover and client_context_takeover true
    ("takeover config: plain offer", T, ["permessage-deflate"], {PMD}),
    ("takeover config: server_no_context_takeover asked is granted", T,
     ["permessage-deflate; server_no_context_takeover"], {PMD + "; server_no_context_takeover"}),
    ("takeover config: client_no_context_takeover offered", T, ["permessage-deflate; client_no_context_takeover"],
     {PMD, PMD + "; client_no_context_takeover"}),
    ("takeover config: server_max_window_bits=11, client_max_window_bits", T,
     ["permessage-deflate; server_max_window_bits=11; client_max_window_bits"],
     {PMD + "; server_max_window_bits=11", PMD + "; server_max_window_bits=11; client_max_window_bits=15"}),
    # windows 10 (server) and 9 (client) by configuration
    ("window config: plain offer", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate"], {BASE + "; server_max_window_bits=10"}),
    ("window config: client_max_window_bits", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; client_max_window_bits"],
     {BASE + "; server_max_window_bits=10; client_max_window_bits=9"}),
    ("window config: client_max_window_bits=12", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; client_max_window_bits=12"],
     {BASE + "; server_max_window_bits=10; client_max_window_bits=9"}),
    ("window config: client_max_window_bits=8", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; client_max_window_bits=8"],
     {BASE + "; server_max_window_bits=10; client_max_window_bits=8"}),
    ("window config: server_max_window_bits=12", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; server_max_window_bits=12"], {BASE + "; server_max_window_bits=10"}),
    ("window config: server_max_window_bits=9", comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; server_max_window_bits=9"], {BASE + "; server_max_window_bits=9"}),
    ("window config: server_max_window_bits=8 " + SMWB8, comp(server_max_window_bits=10, client_max_window_bits=9),
     ["permessage-deflate; server_max_window_bits=8"],
     smwb8(None)),
    ("window config 9: plain offer", comp(server_max_window_bits=9), ["permessage-deflate"],
     {BASE + "; server_max_window_bits=9"}),
    # compression off
    ("compression false: no header", OFF, ["permessage-deflate"], {None}),
    ("compression false: no header for client_max_window_bits", OFF,
     ["permessage-deflate; client_max_window_bits"], {None}),
    ("compression not configured (default off): no header", DEFAULT_OFF,
     ["permessage-deflate; client_max_window_bits"], {None}),
]


def nego_case(name, config, lines, answers):
    @case("nego: " + name, config)
    def _(srv):
        c = connect(srv, None, answers, lines)
        # Whatever was agreed must work, and nothing may be compressed when nothing was.
        sample_echo(c)
        c.close_cleanly()


for _n in NEGO:
    nego_case(*_n)


# == 12.x: the server compresses =================================================================


def run_sequence(c, seed, compress, pieces=None, pings=False, min_size=64):
    rng = random.Random(seed)
    for i, (op, data) in enumerate(sequence(seed)):
        ping = b"p%d" % i if pings and rng.random() < 0.2 else None
        c.echo(op, data, compress=compress, pieces=pieces, ping=ping, min_size=min_size)


def server_compresses(name, config, offer, seed):
    @case(name, config, timeout=20.0)
    def _(srv):
        c = connect(srv, offer, model(config.get("compression", True), offer))
        check(c.pmd is not None, "no permessage-deflate")
        # The client sends uncompressed (RSV1 clear): that is allowed on a compressed connection,
        # and what comes back is the server's compression alone.
        run_sequence(c, seed, compress=False)
        c.close_cleanly()


_seed = 100
for _tk in (False, True):
    _tkname = "context takeover" if _tk else "no context takeover"
    for _n in range(9, 16):
        _cfg = comp(server_max_window_bits=_n, client_max_window_bits=_n - 1,
                    server_context_takeover=_tk, client_context_takeover=_tk)
        server_compresses("12.1 server compresses: server_max_window_bits=%d by config, %s" % (_n, _tkname),
                          _cfg, "permessage-deflate", _seed)
        _seed += 1
    for _n in range(8 if SMWB8_ACCEPTED else 9, 16):
        server_compresses("12.2 server compresses: server_max_window_bits=%d offered, %s" % (_n, _tkname),
                          T if _tk else {}, "permessage-deflate; server_max_window_bits=%d" % _n, _seed)
        _seed += 1


def reload_keeps(name, config):
    """SIGUSR1 to a 2-worker server: compressed connections move to the new workers with their
    negotiated parameters and, with context takeover, both compression windows; a compressed
    message cut in the middle by the reload is finished by the new worker."""
    @case(name, dict(config, workers=2), timeout=30.0)
    def _(srv):
        cs = []
        for _ in range(6):  # the kernel spreads them over both workers
            c = connect(srv, "permessage-deflate; client_max_window_bits")
            check(c.pmd is not None, "no permessage-deflate")
            cs.append(c)
        data = corpus().take(OP_TEXT, 20 * KiB, 4242)
        for c in cs:  # history on both sides, so a lost window would show
            for i in range(3):
                c.echo(OP_TEXT, data[i * 1000:][:8000])
        cut = cs[0]
        first = wsraw.encode_frame(OP_TEXT, cut.deflate(data), fin=False, rsv=4)
        half = len(first) // 2
        cut.send(first[:half])
        before = srv.stderr_tail(100000).count("reloaded 2 workers")
        srv.signal(signal.SIGUSR1)
        end = time.monotonic() + 10
        while srv.stderr_tail(100000).count("reloaded 2 workers") == before:
            check(time.monotonic() < end, "no reload within 10 s: %s" % srv.stderr_tail(400))
            time.sleep(0.02)
        cut.send(first[half:] + wsraw.encode_frame(OP_CONT, b"", fin=True))
        cut.check_echo(OP_TEXT, data, 2)
        for c in cs:
            for i in range(3):
                c.echo(OP_TEXT, data[i * 1000:][:8000])
            c.close_cleanly()


reload_keeps("reload: compressed connections survive SIGUSR1, no context takeover", {})
reload_keeps("reload: compressed connections survive SIGUSR1, context takeover both ways", T)


@case("12.3 server compresses: client asks server_no_context_takeover of a takeover server", T)
def _(srv):
    c = connect(srv, "permessage-deflate; server_no_context_takeover",
                {PMD + "; server_no_context_takeover"})
    run_sequence(c, 301, compress=False)


@case("12.4 server with context takeover uses it: a repeated message costs little", T)
def _(srv):
    c = connect(srv, "permessage-deflate", {PMD})
    data = random.Random(5).randbytes(4000)
    first = c.echo(OP_BINARY, data, compress=False)
    second = c.echo(OP_BINARY, data, compress=False)
    check(first.wire > 3500, "4000 random bytes compressed to %d bytes" % first.wire)
    check(second.wire < 200, "the repeated 4000-byte message took %d bytes compressed (first: %d): "
          "the server does not keep its context" % (second.wire, first.wire))


@case("12.4b idle_release: after a second of silence both codecs resume from their history",
      comp(server_context_takeover=True, client_context_takeover=True, idle_release=1))
def _(srv):
    c = connect(srv, "permessage-deflate", {PMD})
    data = random.Random(6).randbytes(4000)
    first = c.echo(OP_BINARY, data, compress=True)
    time.sleep(1.3)  # past idle_release: the server parks its streams, keeping their windows
    # The client's second message is a back-reference into its window: the server's inflater
    # must have kept it. The server's answer must refer back too (its deflater kept its own).
    second = c.echo(OP_BINARY, data, compress=True)
    check(second.wire < 200, "after the idle release the repeated 4000-byte message took %d "
          "bytes compressed (first: %d): the server's history was lost" % (second.wire, first.wire))
    time.sleep(1.3)
    c.echo(OP_TEXT, corpus().take(OP_TEXT, 3000, 77), compress=True)


@case("12.4c idle_release: 200 idle connections with context takeover give their zlib memory back",
      comp(server_context_takeover=True, client_context_takeover=True, idle_release=1), timeout=30)
def _(srv):
    if srv.sanitized():
        print("# RSS says nothing under a sanitizer: only the echoes are checked", flush=True)
    conns = [connect(srv, "permessage-deflate", {PMD}) for _ in range(200)]
    data = corpus().take(OP_TEXT, 4000, 4242)
    for c in conns:
        c.echo(OP_TEXT, data, compress=True)
    live = srv.rss_kib()  # within a second of the last message: every stream is still there
    time.sleep(2.5)  # idle_release, a wheel slot, and the at most once a second trim
    parked = srv.rss_kib()
    if not srv.sanitized():
        # Each connection held a deflate stream (window 15, memLevel 8) and an inflate stream:
        # about 90 KiB of touched pages; parked, a window's history of a few KiB.
        check(live - parked >= 200 * 40, "RSS went from %d KiB to %d KiB after the idle release: "
              "the streams of 200 idle connections were not freed" % (live, parked))
    for c in conns:  # and every one resumes
        c.echo(OP_TEXT, data, compress=True)
        c.close_cleanly()


@case("12.5 server without context takeover: a repeated message is compressed alone")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    data = random.Random(5).randbytes(4000)
    c.echo(OP_BINARY, data, compress=False)
    second = c.echo(OP_BINARY, data, compress=False)  # inflated with a fresh decompressor
    check(second.wire > 3500, "second message: %d bytes" % second.wire)


# == 13.x: the client compresses =================================================================


def client_compresses(name, config, offer, seed, expect_wbits=None, expect_reset=None):
    @case(name, config, timeout=20.0)
    def _(srv):
        c = connect(srv, offer, model(config.get("compression", True), offer))
        check(c.pmd is not None, "no permessage-deflate")
        if expect_wbits is not None:
            check(c.pmd.c_wbits == expect_wbits, "client window %d, expected %d (answer %r)" % (
                c.pmd.c_wbits, expect_wbits, c.ext_header))
        if expect_reset is not None:
            check(c.pmd.c_reset == expect_reset, "client context %s (answer %r)" % (
                "reset" if c.pmd.c_reset else "kept", c.ext_header))
        run_sequence(c, seed, compress=True, pieces=random_pieces(random.Random(seed)), pings=True)
        c.close_cleanly()


_seed = 500
for _w in range(8, 16):
    for _cnct in (False, True):
        _offer = "permessage-deflate; client_max_window_bits=%d%s" % (
            _w, "; client_no_context_takeover" if _cnct else "")
        client_compresses("13.1 client compresses: client_max_window_bits=%d, %s" % (
            _w, "client_no_context_takeover" if _cnct else "context takeover"), T, _offer, _seed,
            expect_wbits=_w, expect_reset=_cnct)
        _seed += 1
for _tk in (False, True):
    for _n in range(9, 16):
        _cfg = comp(server_max_window_bits=_n, client_max_window_bits=_n - 1,
                    server_context_takeover=_tk, client_context_takeover=_tk)
        client_compresses("13.2 client compresses: client_max_window_bits=%d by config, %s" % (
            _n - 1, "context takeover" if _tk else "client_no_context_takeover"), _cfg,
            "permessage-deflate; client_max_window_bits", _seed, expect_wbits=_n - 1, expect_reset=not _tk)
        _seed += 1
client_compresses("13.3 client compresses: default config, plain offer", {}, "permessage-deflate", 777,
                  expect_wbits=15, expect_reset=True)


@case("13.4 client compresses at levels 0 and 9, one message in many 1-byte frames")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    data = corpus().take(OP_TEXT, 20000, 4242)
    c.level = 0
    c.echo(OP_TEXT, data)
    c.level = 9
    c.echo(OP_TEXT, data)
    small = corpus().take(OP_TEXT, 700, 31337)
    c.echo(OP_TEXT, small, pieces=lambda p: [p[i:i + 1] for i in range(len(p))])


def pipelined(name, config, offer, compress, seed):
    @case(name, config, timeout=20.0)
    def _(srv):
        c = connect(srv, offer, model(config.get("compression", True), offer))
        rng = random.Random(seed)
        pos = rng.randrange(Corpus.SIZE)
        msgs = []
        for _ in range(500):
            op = rng.choice((OP_TEXT, OP_BINARY))
            n = rng.choice((0, 30, 64, 200, 1000, 4000, 9000))
            msgs.append((op, corpus().take(op, n, pos)))
            pos += n
        split = random_pieces(rng) if compress else None
        blob = b"".join(c.build_msg(op, data, compress, split)[0] for op, data in msgs)
        failed = []

        def sender():
            try:
                c.send(blob)
            except Failure as e:
                failed.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        for i, (op, data) in enumerate(msgs):
            try:
                c.check_echo(op, data)
            except Failure as e:
                raise Failure("message %d of 500: %s%s" % (i, e, "; sending: %s" % failed[0] if failed else ""))
        t.join(5.0)
        c.close_cleanly()


pipelined("12.6 pipelined: 500 messages sent at once, the server compresses with context takeover", T,
          "permessage-deflate", False, 61)
pipelined("13.5 pipelined: 500 compressed messages in random frames sent at once, context takeover", T,
          "permessage-deflate", True, 62)
pipelined("13.6 pipelined: 500 compressed messages in random frames sent at once, no context takeover", {},
          "permessage-deflate; client_max_window_bits=10", True, 63)


# == rfc: the examples of RFC 7692 7.2.3 =========================================================


def raw_frames(c, *frames):
    """Sends client frames given as (first byte, payload)."""
    out = b""
    for b0, payload in frames:
        f = bytearray(encode_frame(b0 & 0xF, payload, fin=bool(b0 & 0x80), rsv=(b0 >> 4) & 7))
        out += f
    c.send(out)


def expect_text(c, text, what):
    m = c.recv_data(what)
    check(m.op == OP_TEXT and m.payload == text, "%s: got %r" % (what, m))


HELLO = bytes.fromhex("f248cdc9c90700")


@case("rfc 7.2.3.1: 'Hello' compressed")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0xC1, HELLO))
    expect_text(c, b"Hello", "echo of 7.2.3.1")


@case("rfc 7.2.3.1: 'Hello' compressed, in two fragments")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0x41, HELLO[:3]), (0x80, HELLO[3:]))
    expect_text(c, b"Hello", "echo of the fragmented 7.2.3.1")


@case("rfc 7.2.3.2: two messages sharing the LZ77 window", T)
def _(srv):
    c = connect(srv, "permessage-deflate", {PMD})
    raw_frames(c, (0xC1, HELLO))
    expect_text(c, b"Hello", "echo of the first message")
    raw_frames(c, (0xC1, bytes.fromhex("f200110000")))
    expect_text(c, b"Hello", "echo of the second message (back-reference into the first)")


@case("rfc 7.2.3.3: a DEFLATE block with no compression")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0xC1, bytes.fromhex("000500faff48656c6c6f00")))
    expect_text(c, b"Hello", "echo of 7.2.3.3")


@case("rfc 7.2.3.4: a DEFLATE block with BFINAL set to 1")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0xC1, bytes.fromhex("f348cdc9c9070000")))
    expect_text(c, b"Hello", "echo of 7.2.3.4")
    raw_frames(c, (0xC1, HELLO))
    expect_text(c, b"Hello", "the next message")
    # Without the trailing 00 the appended tail lands after the final block: still valid.
    raw_frames(c, (0xC1, bytes.fromhex("f348cdc9c90700")))
    expect_text(c, b"Hello", "echo of a message ending with its final block")
    raw_frames(c, (0x41, bytes.fromhex("f348cdc9c907")), (0x80, bytes.fromhex("0000")))
    expect_text(c, b"Hello", "the final block and its 00 in two fragments")


@case("rfc 7.2.3.5: two DEFLATE blocks in one message")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0xC1, bytes.fromhex("f24805000000ffffcac9c90700")))
    expect_text(c, b"Hello", "echo of 7.2.3.5")


@case("rfc 7.2.3.6: an empty message compressed (0x00), and an empty compressed payload")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    raw_frames(c, (0xC1, b"\x00"))
    expect_text(c, b"", "echo of the empty message")
    raw_frames(c, (0xC2, b""))
    m = c.recv_data("echo of an empty RSV1 payload")
    check(m.op == OP_BINARY and m.payload == b"", "got %r" % m)


# == size: min_size, level, memory_level =========================================================


@case("size: default min_size 64: 63 bytes plain, 64 bytes compressed")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    for n in (0, 1, 63, 64, 65):
        c.echo(OP_TEXT, b"a" * n, compress=False)
        c.echo(OP_BINARY, b"b" * n, compress=True)


@case("size: min_size 0 compresses even empty messages", comp(min_size=0))
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    for n in (0, 1, 2, 63):
        c.echo(OP_TEXT, b"z" * n, min_size=0)
        c.echo(OP_BINARY, bytes(n), compress=False, min_size=0)


@case("size: min_size 1000: 999 bytes plain, 1000 compressed", comp(min_size=1000))
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    for n in (64, 999, 1000, 5000):
        c.echo(OP_TEXT, corpus().take(OP_TEXT, n, n), min_size=1000)


def level_case(cfg, what):
    @case("size: " + what, comp(**cfg))
    def _(srv):
        c = connect(srv, "permessage-deflate", {BASE})
        data = corpus().take(OP_TEXT, 64 * KiB, 777)
        m = c.echo(OP_TEXT, data)
        if cfg.get("level") == 0:
            check(not m.compressed or m.wire >= len(data), "level 0 compressed 64 KiB to %d bytes" % m.wire)
        else:
            check(m.wire < len(data) * 3 // 4, "64 KiB of text compressed to %d bytes" % m.wire)
        c.echo(OP_BINARY, corpus().take(OP_BINARY, 300 * KiB, 5), compress=True)


level_case({"level": 0}, "level 0 (stored blocks) still echoes")
level_case({"level": 9, "memory_level": 9}, "level 9, memory_level 9")
level_case({"level": 1, "memory_level": 1}, "level 1, memory_level 1")


# == viol: violations and limits =================================================================


def violation(name, config, offer, send, code, answers=None):
    """A case: open with `offer`, send(c) sends the bad frames, the server closes with `code`."""
    @case("viol: " + name, config)
    def _(srv):
        c = connect(srv, offer, answers)
        send(c)
        with within(3.0):
            c.expect_close(code)
        c.expect_eof(3.0)


def rsv1_text(c):
    c.send_frame(OP_TEXT, HELLO, rsv=4)


violation("RSV1 without an offer -> 1002", {}, None, rsv1_text, 1002, {None})
violation("RSV1 after a declined offer (unknown parameter) -> 1002", {},
          "permessage-deflate; x-unknown", rsv1_text, 1002, {None})
if not SMWB8_ACCEPTED:
    violation("RSV1 after a declined offer (server_max_window_bits=8) -> 1002", {},
              "permessage-deflate; server_max_window_bits=8", rsv1_text, 1002, {None})
violation("compression false: RSV1 after an offer -> 1002", OFF, "permessage-deflate", rsv1_text, 1002, {None})
violation("compression not configured: RSV1 after an offer -> 1002", DEFAULT_OFF, "permessage-deflate",
          rsv1_text, 1002, {None})
violation("RSV1 on a continuation of a compressed message -> 1002", {}, "permessage-deflate",
          lambda c: c.send(encode_frame(OP_TEXT, HELLO[:3], fin=False, rsv=4)
                           + encode_frame(OP_CONT, HELLO[3:], rsv=4)), 1002, {BASE})
violation("RSV1 on a continuation of an uncompressed message -> 1002", {}, "permessage-deflate",
          lambda c: c.send(encode_frame(OP_TEXT, b"Hel", fin=False) + encode_frame(OP_CONT, b"lo", rsv=4)),
          1002, {BASE})
violation("RSV1 on a ping -> 1002", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_PING, b"x", rsv=4), 1002, {BASE})
violation("RSV1 on a pong -> 1002", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_PONG, b"x", rsv=4), 1002, {BASE})
violation("RSV1 on a close -> 1002", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_CLOSE, close_payload(1000), rsv=4), 1002, {BASE})
violation("RSV1 on a ping between compressed fragments -> 1002", {}, "permessage-deflate",
          lambda c: c.send(encode_frame(OP_TEXT, HELLO[:3], fin=False, rsv=4)
                           + encode_frame(OP_PING, b"x", rsv=4) + encode_frame(OP_CONT, HELLO[3:])),
          1002, {BASE})
violation("RSV2 with permessage-deflate -> 1002", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_TEXT, b"Hello", rsv=2), 1002, {BASE})
violation("RSV3 with permessage-deflate -> 1002", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_BINARY, b"Hello", rsv=1), 1002, {BASE})
violation("corrupt DEFLATE in a text message (block type 3) -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_TEXT, b"\xff\xff\xff\xff", rsv=4), 1007, {BASE})
violation("corrupt DEFLATE in a binary message (block type 3) -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_BINARY, b"\x07\x00\x00\x00\x00", rsv=4), 1007, {BASE})
violation("corrupt DEFLATE: stored block with LEN != ~NLEN -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_BINARY, bytes.fromhex("00050000ff48656c6c6f"), rsv=4), 1007, {BASE})
violation("corrupt DEFLATE: a back-reference before the start -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_BINARY, bytes.fromhex("f200110000"), rsv=4), 1007, {BASE})
violation("corrupt DEFLATE after 100 KiB of good data, in fragments -> 1007", {}, "permessage-deflate",
          lambda c: c.send(encode_frame(OP_BINARY, c.deflate(corpus().take(OP_BINARY, 100 * KiB, 1)),
                                        fin=False, rsv=4) + encode_frame(OP_CONT, b"\xff" * 16)),
          1007, {BASE})
violation("bytes after the final DEFLATE block -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_TEXT, bytes.fromhex("f348cdc9c90700") + b"junk", rsv=4), 1007, {BASE})
violation("two 00 bytes after the final DEFLATE block -> 1007", {}, "permessage-deflate",
          lambda c: c.send_frame(OP_BINARY, bytes.fromhex("f348cdc9c907000000"), rsv=4), 1007, {BASE})
violation("a second message's blocks after a final block, in a continuation -> 1007", {},
          "permessage-deflate",
          lambda c: c.send(encode_frame(OP_TEXT, bytes.fromhex("f348cdc9c90700"), fin=False, rsv=4)
                           + encode_frame(OP_CONT, bytes.fromhex("f248cdc9c90700"))), 1007, {BASE})
violation("compressed invalid UTF-8 text -> 1007", {}, "permessage-deflate",
          lambda c: c.send_msg(OP_TEXT, b"valid so far \xff\xfe not UTF-8"), 1007, {BASE})
violation("compressed text with a bad byte after 200 KiB -> 1007", {}, "permessage-deflate",
          lambda c: c.send_msg(OP_TEXT, corpus().take(OP_TEXT, 200 * KiB, 3) + b"\xc0\xaf" + b"x" * 1000,
                               pieces=random_pieces(random.Random(3))), 1007, {BASE})
violation("compressed text ending inside a UTF-8 sequence -> 1007", {}, "permessage-deflate",
          lambda c: c.send_msg(OP_TEXT, "caf\u00e9 \u20ac".encode()[:-1]), 1007, {BASE})
violation("compressed text with a UTF-16 surrogate (ED A0 80) -> 1007", {}, "permessage-deflate",
          lambda c: c.send_msg(OP_TEXT, b"abc\xed\xa0\x80def" * 20), 1007, {BASE})


@case("viol: uncompressed messages (RSV1 clear) on a compressed connection are fine")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    for n in (0, 10, 100, 70000):
        c.echo(OP_TEXT, corpus().take(OP_TEXT, n, n), compress=False)
        c.echo(OP_BINARY, corpus().take(OP_BINARY, n, n), compress=False,
               pieces=lambda p: [p[:len(p) // 3], p[len(p) // 3:]])
        c.echo(OP_BINARY, corpus().take(OP_BINARY, n, n + 1), compress=True)


@case("viol: a multi-byte character split across frames of a compressed message is fine")
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    text = ("\u20ac\U0001F600\u00e9" * 3000).encode()
    c.deflater = None
    payload = c.deflate(text)
    frames = [payload[i:i + 7] for i in range(0, len(payload), 7)]
    c.send(b"".join(encode_frame(OP_TEXT if i == 0 else OP_CONT, f, fin=i == len(frames) - 1,
                                 rsv=4 if i == 0 else 0) for i, f in enumerate(frames)))
    m = c.recv_data("echo")
    check(m.payload == text, "echo differs")


LIMIT = {"max_message_size": MiB, "max_frame_size": MiB}


@case("viol: max_message_size 1 MiB: a message of exactly 1 MiB after decompression is echoed", LIMIT)
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    c.echo(OP_TEXT, corpus().take(OP_TEXT, MiB, 99))
    c.echo(OP_BINARY, bytes(MiB))


@case("viol: max_message_size 1 MiB: 1 MiB + 1 byte after decompression -> 1009", LIMIT)
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    data = corpus().take(OP_TEXT, MiB + 1, 99)
    payload = c.deflate(data)
    check(len(payload) < MiB // 2, "test data compressed to %d bytes only" % len(payload))
    c.send_frame(OP_TEXT, payload, rsv=4)
    with within(3.0):
        c.expect_close(1009)


@case("viol: max_message_size 1 MiB: 2 MiB compressed into fragments -> 1009", LIMIT)
def _(srv):
    c = connect(srv, "permessage-deflate", {BASE})
    c.send_msg(OP_BINARY, bytes(2 * MiB), pieces=lambda p: [p[i:i + 100] for i in range(0, len(p), 100)])
    with within(3.0):
        c.expect_close(1009)


_bomb = []


def bomb():
    """1 GiB of zeros as raw DEFLATE at level 9 (about 1,040,000 bytes, under 1 MiB), without the
    sync-flush tail. Built from 16 MiB chunks: after the first, each compresses to the same bytes."""
    if not _bomb:
        chunk = bytes(16 * MiB)
        z = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        first = z.compress(chunk) + z.flush(zlib.Z_SYNC_FLUSH)
        second = z.compress(chunk) + z.flush(zlib.Z_SYNC_FLUSH)
        third = z.compress(chunk) + z.flush(zlib.Z_SYNC_FLUSH)
        assert second == third, "zlib output is not periodic"
        out = first + second * 63
        assert out.endswith(TAIL)
        _bomb.append(out[:-4])
    return _bomb[0]


def hwm_reset(pid):
    """Resets the peak RSS (VmHWM) of pid; False where the kernel does not allow it."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def proc_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failure("no %s for pid %d" % (field, pid))


def bomb_case(name, split):
    @case("viol: decompression bomb (1 GiB of zeros, 1 MB compressed)%s -> 1009, server memory bounded"
          % name, LIMIT, timeout=20.0)
    def _(srv):
        payload = bomb()
        check(len(payload) < MiB, "the bomb is %d bytes, not under max_message_size" % len(payload))
        c = connect(srv, "permessage-deflate", {BASE})
        c.echo(OP_TEXT, b"warm up " * 100)
        rss0 = srv.rss_kib()
        reset = hwm_reset(srv.pid)
        peak = [rss0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], srv.rss_kib())
                except (Failure, OSError):
                    return
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        frames = split(payload)
        data = b"".join(encode_frame(OP_BINARY if i == 0 else OP_CONT, f, fin=i == len(frames) - 1,
                                     rsv=4 if i == 0 else 0) for i, f in enumerate(frames))
        sent = [None]

        def sender():
            try:
                c.send(data)
            except Failure as e:  # the server may stop reading once it has failed the message
                sent[0] = e

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        try:
            with within(8.0):
                c.expect_close(1009)
        finally:
            time.sleep(0.05)
            done.set()
            sampler.join(1.0)
        if reset:
            peak[0] = max(peak[0], proc_kib(srv.pid, "VmHWM"))
        grew = peak[0] - rss0
        check(srv.sanitized() or grew < 6 * 1024,
              "server RSS grew by %.1f MiB during the bomb (from %.1f MiB, max_message_size 1 MiB)" % (
                  grew / 1024, rss0 / 1024))
        srv.check_alive()
        c.close()
        d = connect(srv, "permessage-deflate", {BASE})
        d.echo(OP_TEXT, b"still serving " * 20)

    return _


bomb_case("", lambda p: [p])
bomb_case(", in 16 KiB frames", lambda p: [p[i:i + 16 * KiB] for i in range(0, len(p), 16 * KiB)])


# == the runner ==================================================================================


def main(argv):
    only = argv[1:]
    todo = [c for c in CASES if not only or any(o in c[0] for o in only)]

    def abort(signum, frame):
        raise Abort("overall timeout of %d s" % OVERALL_TIMEOUT if signum == signal.SIGALRM
                    else "signal %d" % signum)

    signal.signal(signal.SIGALRM, abort)
    signal.signal(signal.SIGTERM, abort)
    signal.signal(signal.SIGINT, abort)
    signal.alarm(OVERALL_TIMEOUT)
    passed = failed = 0
    i = 0
    try:
        for i, (name, config, fn, timeout) in enumerate(todo):
            cfg = {"compression": True}
            cfg.update(config)
            wsraw.set_deadline(timeout)
            t0 = time.monotonic()
            srv = None
            try:
                srv = POOL.get(cfg)
                fn(srv)
                why = None
            except Failure as e:
                why = str(e)
            except Exception as e:  # a bug in the case itself
                import traceback
                why = "harness error: %s: %s %s" % (type(e).__name__, e,
                                                    traceback.format_exc().replace("\n", " | "))
            finally:
                for c in Client.all:
                    c.close()
                Client.all.clear()
            if srv is not None and not srv.alive():
                why = (why + "; " if why else "") + "server %s: %s" % (srv.exit_desc(wait=0.5), srv.stderr_tail(300))
            if why is None:
                passed += 1
                print("ok   %s (%.2f s)" % (name, time.monotonic() - t0), flush=True)
            else:
                failed += 1
                print("FAIL %s: %s" % (name, why), flush=True)
        i = len(todo)
    except Abort as e:
        failed += 1
        print("FAIL %s: aborted: %s" % (todo[i][0], e), flush=True)
        for name, _, _, _ in todo[i + 1:]:
            failed += 1
            print("FAIL %s: not run" % name, flush=True)
    finally:
        signal.alarm(0)
        POOL.stop_all()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
