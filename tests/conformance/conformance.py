#!/usr/bin/python3
"""conformance.py - black-box RFC 6455 checks of examples/echo.php (handshake 4.2.1, framing 5,
UTF-8 8.1, closing 7). Each case runs on a fresh connection and checks one rule.

Usage: tests/conformance/conformance.py [substring ...]   (only cases whose name contains one)
Env:   WS_PHP  the command that runs a PHP script (default: php -d extension=<repo>/modules/websocket.so)
Prints `ok   <case>` or `FAIL <case>: <why>` per case, then `N passed, N failed`; exits 1 on failure.
"""

import base64
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402
from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Failure,  # noqa: E402
                   accept_for, close_payload, encode_frame, upgrade_request)

MiB = 1 << 20
LIMIT = 16 * MiB  # echo.php's max frame and message size

run = wsraw.Runner("examples/echo.php")
case = run.case


def protocol_error(name, *frames, code=1002, timeout=5.0):
    """A case that opens the connection, sends `frames` (bytes) and expects close `code`."""
    @case(name, timeout)
    def _(c):
        c.handshake()
        c.send(b"".join(frames))
        c.expect_close(code)


def check(cond, why):
    if not cond:
        raise Failure(why)


# -- Handshake (RFC 6455 4.2.1, 4.2.2, 4.4) ---------------------------------------------------


@case("handshake: valid request gets 101 with Sec-WebSocket-Accept, Upgrade and Connection")
def _(c):
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    r = c.expect_status(upgrade_request(key=key), 101)
    check(r.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" == accept_for(key),
          "Sec-WebSocket-Accept is %r" % r.header("sec-websocket-accept"))
    check((r.header("upgrade") or "").lower() == "websocket", "Upgrade is %r" % r.header("upgrade"))
    tokens = [t.strip().lower() for t in (r.header("connection") or "").split(",")]
    check("upgrade" in tokens, "Connection is %r" % r.header("connection"))


@case("handshake: 'Upgrade: WebSocket' (mixed case) is accepted")
def _(c):
    c.expect_status(upgrade_request(upgrade="WebSocket"), 101)


@case("handshake: 'Connection: keep-alive, Upgrade' is accepted")
def _(c):
    c.expect_status(upgrade_request(connection="keep-alive, Upgrade"), 101)


@case("handshake: missing Host -> 400")
def _(c):
    c.expect_status(upgrade_request(host=False), 400)


@case("handshake: missing Sec-WebSocket-Key -> 400")
def _(c):
    c.expect_status(upgrade_request(key=False), 400)


@case("handshake: Sec-WebSocket-Key not base64 -> 400")
def _(c):
    c.expect_status(upgrade_request(key="not base64 at all!!!!!!!"), 400)


@case("handshake: Sec-WebSocket-Key of 15 bytes -> 400")
def _(c):
    c.expect_status(upgrade_request(key=base64.b64encode(b"x" * 15).decode()), 400)


@case("handshake: Sec-WebSocket-Key of 17 bytes -> 400")
def _(c):
    c.expect_status(upgrade_request(key=base64.b64encode(b"x" * 17).decode()), 400)


@case("handshake: Sec-WebSocket-Version 8 -> 426 with Sec-WebSocket-Version: 13")
def _(c):
    r = c.expect_status(upgrade_request(ws_version="8"), 426)
    check(r.header("sec-websocket-version") == "13",
          "Sec-WebSocket-Version header is %r" % r.header("sec-websocket-version"))


@case("handshake: missing Sec-WebSocket-Version -> 426")
def _(c):
    c.expect_status(upgrade_request(ws_version=None), 426)


@case("handshake: Origin on two lines -> 400")
def _(c):
    c.expect_status(upgrade_request(extra="Origin: http://a.example\r\nOrigin: http://b.example\r\n"),
                    400)


@case("handshake: Sec-WebSocket-Version 13 then 12 on two lines -> 400")
def _(c):
    c.expect_status(upgrade_request(extra="Sec-WebSocket-Version: 12\r\n"), 400)


def with_target(target):
    return upgrade_request().replace(b"GET / ", b"GET " + target + b" ", 1)


@case("handshake: absolute-form target whose authority is not the Host -> 400")
def _(c):
    c.expect_status(with_target(b"http://evil.example/"), 400)


@case("handshake: absolute-form target with another port than the Host -> 400")
def _(c):
    c.expect_status(with_target(b"ws://127.0.0.1:1/"), 400)


@case("handshake: authority-form target -> 400")
def _(c):
    c.expect_status(with_target(b"127.0.0.1:80"), 400)


@case("request: asterisk-form target (OPTIONS *) -> 400")
def _(c):
    c.expect_status(b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400)


@case("handshake: POST with upgrade headers -> 405")
def _(c):
    c.expect_status(upgrade_request(method="POST", extra="Content-Length: 0\r\n"), 405)


@case("handshake: HTTP/1.0 upgrade -> 400")
def _(c):
    c.expect_status(upgrade_request(version="1.0"), 400)


@case("handshake: plain GET without Upgrade -> 426")
def _(c):
    c.expect_status(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 426)


@case("handshake: request head larger than 8 KiB -> 431")
def _(c):
    c.expect_status(upgrade_request(extra="X-Padding: %s\r\n" % ("a" * 9000)), 431)


@case("handshake: request sent in 1-byte writes completes")
def _(c):
    key = wsraw.new_key()
    for b in upgrade_request(key=key):
        c.send(bytes([b]))
        time.sleep(0.001)
    r = c.read_response()
    check(r.status == 101, "expected 101, got %d" % r.status)
    check(r.header("sec-websocket-accept") == accept_for(key), "bad Sec-WebSocket-Accept")
    c.echo(OP_TEXT, "after slow handshake")


@case("handshake: frame in the same write as the request is processed after the 101")
def _(c):
    c.handshake(extra=encode_frame(OP_TEXT, "early bird"))
    c.expect_message(OP_TEXT, "early bird")


# -- Framing (RFC 6455 5) ------------------------------------------------------------------------


def echo_case(op, n):
    name = "%s" % ("text" if op == OP_TEXT else "binary")
    size = "%d MiB" % (n // MiB) if n >= MiB and n % MiB == 0 else "%d bytes" % n

    @case("framing: %s echo of %s" % (name, size), timeout=5.0 + n / MiB)
    def _(c):
        c.handshake()
        payload = (b"0123456789abcdef" * (n // 16 + 1))[:n] if op == OP_TEXT else os.urandom(n)
        c.echo(op, payload)


for _op in (OP_TEXT, OP_BINARY):
    for _n in (0, 1, 125, 126, 127, 65535, 65536, MiB, 16 * MiB):
        echo_case(_op, _n)


@case("framing: text message in 3 fragments is echoed as one message")
def _(c):
    c.handshake()
    c.send(encode_frame(OP_TEXT, "Hel", fin=False) + encode_frame(OP_CONT, "lo, ", fin=False)
           + encode_frame(OP_CONT, "world"))
    c.expect_message(OP_TEXT, "Hello, world")


@case("framing: 16 MiB binary message in 65536 fragments of 256 bytes is echoed whole", timeout=40)
def _(c):
    c.handshake()
    data = os.urandom(LIMIT)
    frames = [encode_frame(OP_BINARY if i == 0 else OP_CONT, data[i * 256:(i + 1) * 256],
                           fin=(i == 65535)) for i in range(65536)]
    c.send(b"".join(frames))
    c.expect_message(OP_BINARY, data)


@case("framing: empty ping is answered by an empty pong")
def _(c):
    c.handshake()
    c.send_frame(OP_PING, b"")
    c.expect_message(OP_PONG, b"")


@case("framing: 125-byte ping is answered by a pong with the same payload")
def _(c):
    c.handshake()
    data = os.urandom(125)
    c.send_frame(OP_PING, data)
    c.expect_message(OP_PONG, data)


@case("framing: ping between fragments is answered and the message still echoed whole")
def _(c):
    c.handshake()
    c.send(encode_frame(OP_TEXT, "frag-one ", fin=False) + encode_frame(OP_PING, "mid")
           + encode_frame(OP_CONT, "frag-two"))
    got = [c.recv_message(), c.recv_message()]
    want = {(OP_PONG, b"mid"), (OP_TEXT, b"frag-one frag-two")}
    check({(m.op, m.payload) for m in got} == want, "expected pong 'mid' and the text, got %r" % got)


@case("framing: unsolicited pong is ignored")
def _(c):
    c.handshake()
    c.send_frame(OP_PONG, "unsolicited")
    c.echo(OP_TEXT, "still here")


protocol_error("framing: unmasked client frame -> 1002", encode_frame(OP_TEXT, "hello", mask=False))
for _bit, _rsv in (("RSV1", 4), ("RSV2", 2), ("RSV3", 1)):
    protocol_error("framing: %s set without an extension -> 1002" % _bit,
                   encode_frame(OP_TEXT, "hello", rsv=_rsv))
for _op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    protocol_error("framing: reserved opcode %#x -> 1002" % _op, encode_frame(_op, "x"))
protocol_error("framing: ping with 126-byte payload -> 1002", encode_frame(OP_PING, b"p" * 126))
protocol_error("framing: fragmented ping (FIN=0) -> 1002", encode_frame(OP_PING, "p", fin=False))
protocol_error("framing: continuation with no message started -> 1002", encode_frame(OP_CONT, "x"))
protocol_error("framing: text frame while a fragmented message is open -> 1002",
               encode_frame(OP_TEXT, "open", fin=False), encode_frame(OP_TEXT, "again"))
protocol_error("framing: 64-bit length with the most significant bit set -> 1002",
               b"\x82\xff" + struct.pack(">Q", (1 << 63) | 5) + b"\x00\x00\x00\x00")
# RFC 6455 5.2: the minimal number of bytes must encode the length (mask key 0: payload as is).
protocol_error("framing: 16-bit length holding 5 (not minimal) -> 1002",
               b"\x81\xfe" + struct.pack(">H", 5) + bytes(4) + b"Hello")
protocol_error("framing: 16-bit length holding 125 (not minimal) -> 1002",
               b"\x82\xfe" + struct.pack(">H", 125) + bytes(4) + bytes(125))
protocol_error("framing: 64-bit length holding 5 (not minimal) -> 1002",
               b"\x81\xff" + struct.pack(">Q", 5) + bytes(4) + b"Hello")
protocol_error("framing: 64-bit length holding 65535 (not minimal) -> 1002",
               b"\x82\xff" + struct.pack(">Q", 65535) + bytes(4) + bytes(65535))
protocol_error("framing: ping with a 16-bit length holding 4 (not minimal) -> 1002",
               b"\x89\xfe" + struct.pack(">H", 4) + bytes(4) + b"ping")


@case("framing: header announcing 2^62 bytes -> 1009 before any payload is sent")
def _(c):
    c.handshake()
    c.send(b"\x82\xff" + struct.pack(">Q", 1 << 62) + b"\x01\x02\x03\x04")
    c.expect_close(1009)


@case("framing: message of 16 MiB + 1 byte in two fragments -> 1009", timeout=25)
def _(c):
    c.handshake()
    c.send(encode_frame(OP_BINARY, bytes(LIMIT), fin=False) + encode_frame(OP_CONT, b"!"))
    c.expect_close(1009)


# -- UTF-8 (RFC 6455 8.1) ------------------------------------------------------------------------

for _name, _text in (("2-byte", "caf\u00e9 \u00fc\u00df"), ("3-byte", "\u20ac \u4e2d\u6587 \uffff"),
                     ("4-byte", "\U0001F600 \U0001D11E"), ("U+10FFFF", "max \U0010FFFF")):
    def _valid(c, text=_text):
        c.handshake()
        c.echo(OP_TEXT, text.encode("utf-8"))
    case("utf-8: valid %s sequences are echoed" % _name)(_valid)

for _name, _bad in (("lone continuation byte 0x80", b"ab\x80cd"),
                    ("overlong 0xC0 0xAF", b"ab\xc0\xafcd"),
                    ("surrogate ED A0 80", b"ab\xed\xa0\x80cd"),
                    ("code point above U+10FFFF (F4 90 80 80)", b"ab\xf4\x90\x80\x80cd"),
                    ("sequence truncated at the end of the message", b"abcd\xe2\x82")):
    protocol_error("utf-8: %s -> 1007" % _name, encode_frame(OP_TEXT, _bad), code=1007)


@case("utf-8: invalid byte in a first fragment -> 1007 before the rest is sent")
def _(c):
    c.handshake()
    c.send_frame(OP_TEXT, b"caf\xc3\xa9 \xff and more", fin=False)
    c.expect_close(1007)


@case("utf-8: code point split across two fragments is valid")
def _(c):
    c.handshake()
    euro = "\u20ac".encode()
    c.send(encode_frame(OP_TEXT, b"price: " + euro[:1], fin=False) + encode_frame(OP_CONT, euro[1:] + b"5"))
    c.expect_message(OP_TEXT, b"price: " + euro + b"5")


# -- Closing (RFC 6455 5.5.1, 7.1, 7.4) -----------------------------------------------------------


@case("close: close(1000, 'bye') is answered with 1000 and then TCP is closed")
def _(c):
    c.handshake()
    c.send_frame(OP_CLOSE, close_payload(1000, "bye"))
    c.expect_close(1000)
    c.expect_eof(2.0)


@case("close: empty close is answered with an empty close or 1000")
def _(c):
    c.handshake()
    c.send_frame(OP_CLOSE, b"")
    c.expect_close((None, 1000))


def close_code_case(code, valid):
    @case("close: %s code %d -> %s" % ("valid" if valid else "invalid", code,
                                       "echoed" if valid else "1002"))
    def _(c):
        c.handshake()
        c.send_frame(OP_CLOSE, close_payload(code, "x"))
        c.expect_close((code, 1000) if valid else 1002)


for _code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
              4000, 4999):
    close_code_case(_code, True)
for _code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
    close_code_case(_code, False)

protocol_error("close: 1-byte close payload -> 1002", encode_frame(OP_CLOSE, b"\x03"))
protocol_error("close: close reason with invalid UTF-8 -> 1007",
               encode_frame(OP_CLOSE, close_payload(1000, b"bad \xff reason")), code=1007)
protocol_error("close: 126-byte close payload -> 1002",
               encode_frame(OP_CLOSE, close_payload(1000, b"r" * 124)))


@case("close: after a protocol error the close frame arrives, then TCP is closed")
def _(c):
    c.handshake()
    c.send_frame(OP_TEXT, "hello", mask=False)
    c.expect_close(1002)
    c.expect_eof(2.0)


if __name__ == "__main__":
    sys.exit(run.run(only=sys.argv[1:]))
