#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora in tests/fuzz/corpus/<target>/.

The files are committed; rerun this only to change the seeds. Each target's first input
bytes are its settings (see the comment at the top of fuzz_<target>.c), then the data.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(b0, payload, mask=MASK, enc=None):
    n = len(payload)
    m = 0x80 if mask else 0
    if enc is None:
        enc = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
    if enc == 7:
        head = bytes([b0, m | n])
    elif enc == 16:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


# fuzz_frame: config byte (bit 0 require_mask, bit 1 allow_rsv1, bits 2-3 limit, bit 4
# defer_unmask, as a connection parses), 4 split sizes.
SERVER, DEFLATE, LENIENT, DEFER = 0x01, 0x03, 0x00, 0x10
SPLITS = bytes([0, 2, 6, 13])
frames = {
    "rfc_masked_hello": (SERVER, frame(0x81, b"Hello")),
    "rfc_unmasked_hello": (LENIENT, frame(0x81, b"Hello", mask=None)),
    "fragmented_with_ping": (SERVER, frame(0x01, b"Hel") + frame(0x89, b"p")
                             + frame(0x00, b"l") + frame(0x8A, b"") + frame(0x80, b"o")),
    "binary_126": (SERVER, frame(0x82, bytes(range(126)))),
    # The 64-bit length form, cut short: a whole 64 KiB seed would raise libFuzzer's -max_len
    # for every input and slow the run down.
    "binary_65536_cut": (SERVER | 0x0C, frame(0x82, b"\xAB" * 65536)[:48]),
    "non_minimal_length": (SERVER, frame(0x81, b"hi", enc=64)),
    "close_1000_reason": (SERVER, frame(0x88, b"\x03\xe8bye")),
    "close_bad_utf8": (SERVER, frame(0x88, b"\x03\xe8\xed\xa0\x80")),
    "close_empty": (SERVER, frame(0x88, b"")),
    "compressed_text": (DEFLATE, frame(0xC1, b"\xf2\x48\xcd\xc9\xc9\x07\x00")),
    "text_kosme_split": (SERVER, frame(0x01, "κόσ".encode()[:5]) + frame(0x80, "κόσ".encode()[5:])),
    "text_invalid_utf8": (SERVER, frame(0x81, b"ok\xf4\x90\x80\x80")),
    "limit_1000_exceeded": (SERVER | 0x08, frame(0x82, b"z" * 1001)),
    "reserved_opcode": (SERVER, frame(0x83, b"x")),
    "deferred_binary_300": (SERVER | DEFER, frame(0x82, bytes(range(150)) * 2)),
    "deferred_fragments_with_ping": (DEFLATE | DEFER, frame(0x01, b"Hel") + frame(0x89, b"p")
                                     + frame(0x80, b"lo")),
}
for name, (cfg, data) in frames.items():
    write("frame", name, bytes([cfg]) + SPLITS + data)

# fuzz_http: byte 0 = limit (bits 0-1) and writer cap (bits 2-7, times 8); byte 1 = step - 1.
RFC = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
       b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
       b"Sec-WebSocket-Version: 13\r\n\r\n")
requests = {
    "rfc_upgrade": RFC,
    "upgrade_deflate": RFC[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate; "
                                   b"client_max_window_bits\r\nX-Extra: A: b\r\n\r\n",
    "bare_lf": RFC.replace(b"\r\n", b"\n"),
    "plain_get": b"GET /health HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
    "version_8": RFC.replace(b"Version: 13", b"Version: 8"),
    "post_upgrade": RFC.replace(b"GET", b"POST", 1),
    "http10": RFC.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "obs_fold": b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
    "http2": b"GET / HTTP/2.0\r\n\r\n",
    "head_then_frame": RFC + frame(0x81, b"Hello"),
    "absolute_target": RFC.replace(b"/chat", b"http://server.example.com/chat?x=1", 1),
    "asterisk_target": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
}
for name, data in requests.items():
    write("http", name, bytes([0x40, 6]) + data)
write("http", "small_limit", bytes([0x01, 0]) + RFC)

# fuzz_utf8: byte 0 = two piece sizes (nibbles, plus one).
texts = {
    "ascii": b"Hello, world! 0123456789abcdef",
    "kosme": "κόσμε".encode(),
    "mixed": "Hello-µ@ßöäüàá-UTF-8!! 😀 \U0010FFFF".encode(),
    "surrogate": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    "above_max": b"\xf4\x90\x80\x80",
    "overlong": b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",
    "truncated": b"abc\xe2\x82",
    "long_ascii_then_bad": b"a" * 40 + b"\x80" + b"b" * 9,
}
for name, data in texts.items():
    write("utf8", name, bytes([0x52]) + data)

# fuzz_bus: bytes 0-1 = split offset (little-endian, modulo the stream length plus one), then
# the stream of bus messages (src/bus.h; host byte order, little-endian here).
BUS_TYPES = {"send": 1, "broadcast": 2, "publish": 3, "close": 4, "join": 5, "leave": 6,
             "ready": 7, "stop": 8, "quiesced": 9, "flush": 10, "handoff": 11, "handed": 12}


def bus(kind, flags=0, code=0, origin=0, target=0, ids=(), room=b"", payload=b"", type_=None):
    rest = struct.pack("<%dQ" % len(ids), *ids) + room + payload
    size = 28 + len(rest)
    t = BUS_TYPES[kind] if type_ is None else type_
    return struct.pack("<IBBHIIQII", size, t, flags, code, origin, 0, target, len(ids),
                       len(room)) + rest


buses = {
    "ready": bus("ready", origin=1),
    "send_text": bus("send", target=(2 << 48) | 7, payload=b"Hello"),
    "send_binary": bus("send", flags=1, target=5, payload=bytes(range(200))),
    "broadcast_except": bus("broadcast", origin=3, ids=(1, 2, 1 << 60), payload=b"all"),
    "publish_room": bus("publish", ids=(9,), room=b"lobby", payload=b"hi room"),
    "close_code": bus("close", code=1001, target=4, payload=b"going away"),
    "join_leave": bus("join", target=8, room=b"r1") + bus("leave", target=8, room=b"r1"),
    "control_stream": b"".join(bus(k) for k in ("stop", "quiesced", "flush", "handoff"))
                      + bus("handed", target=12),
    "truncated": bus("send", target=1, payload=b"cut short")[:-3],
    "size_below_header": struct.pack("<I", 27) + bytes(40),
    "size_above_max": struct.pack("<I", 256 * 1024 * 1024 + 1) + bytes(28),
    "type_zero": bus("send", type_=0),
    "type_max": bus("send", type_=13),
    "lengths_over_size": bus("publish", room=b"abc")[:24] + struct.pack("<II", 1, 4) + b"abc",
    "valid_then_garbage": bus("ready") + b"\x05\x00\x00\x00garbage",
}
for name, data in buses.items():
    write("bus", name, struct.pack("<H", 17) + data)

# fuzz_inflate: byte 0 = window bits - 8 (bits 0-2) and no context takeover (bit 3); byte 1 =
# output window; bytes 2-3 = piece sizes - 1; byte 4 = level (low nibble), memLevel (high);
# then the bytes, taken both as a compressed message and as plain text to round-trip.


def deflated(data, bits=15, level=6, flush=zlib.Z_SYNC_FLUSH, zdict=None):
    c = zlib.compressobj(level, zlib.DEFLATED, -bits, 8, zlib.Z_DEFAULT_STRATEGY,
                         *([zdict] if zdict else []))
    out = c.compress(data) + c.flush(flush)
    return out[:-4] if flush in (zlib.Z_SYNC_FLUSH, zlib.Z_FULL_FLUSH) else out


TEXT = b"The quick brown fox jumps over the lazy dog. " * 8 + '{"id": 1, "name": "κόσμε"}'.encode()
inflates = {
    # RFC 7692 7.2.3 examples.
    "rfc_hello": (0x07, b"\xf2\x48\xcd\xc9\xc9\x07\x00"),
    "rfc_hello_again": (0x07, b"\xf2\x00\x11\x00\x00"),
    "rfc_stored": (0x07, b"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00"),
    "rfc_bfinal": (0x07, b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00"),
    "rfc_two_blocks": (0x07, b"\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00"),
    "rfc_empty": (0x0F, b"\x00"),
    "empty_payload": (0x07, b""),
    "text_sync": (0x07, deflated(TEXT)),
    "text_sync_nct": (0x0F, deflated(TEXT)),
    "text_window_9": (0x01, deflated(TEXT, bits=9)),
    "text_window_8": (0x00, deflated(TEXT, bits=9)),
    "text_full_flush": (0x07, deflated(TEXT, level=9, flush=zlib.Z_FULL_FLUSH)),
    "text_finish": (0x07, deflated(TEXT, flush=zlib.Z_FINISH)),
    "text_finish_00": (0x07, deflated(TEXT, flush=zlib.Z_FINISH) + b"\x00"),
    "text_stored": (0x07, deflated(TEXT, level=0)),
    "zeros_bomb": (0x07, deflated(bytes(300000), level=9)),
    "dictionary_reference": (0x07, deflated(TEXT, zdict=TEXT)),
    "truncated": (0x07, deflated(TEXT)[:40]),
    "reserved_block_type": (0x07, b"\x06\x00"),
    "bad_nlen": (0x07, b"\x00\x05\x00\x00\x00Hello"),
}
for name, (cfg, data) in inflates.items():
    write("inflate", name, bytes([cfg, 0x05, 6, 0, 0x86]) + data)
write("inflate", "plain_text_big_window", bytes([0x07, 0x83, 200, 17, 0x89]) + TEXT)

# fuzz_extensions: byte 0 = config (bits 0-2 server bits - 8, 3-5 client bits - 8, 6 no server
# takeover, 7 no client takeover); byte 1 = lines - 1; bytes 2-3 = cut points; byte 4 =
# response buffer size; then the header text.
PMD = b"permessage-deflate"
offers = {
    "bare": PMD,
    "chrome": PMD + b"; client_max_window_bits",
    "all_params": PMD + b"; server_no_context_takeover; client_no_context_takeover; "
                        b"server_max_window_bits=10; client_max_window_bits=9",
    "quoted": PMD + b'; server_max_window_bits="12"; client_max_window_bits="1\\0"',
    "whitespace": b" \t" + PMD + b" ;\tserver_max_window_bits = 11 , ",
    "case": b"PerMessage-Deflate; Client_No_Context_Takeover",
    "several_offers": PMD + b"; server_max_window_bits=7, " + PMD + b"; foo, " + PMD
                      + b"; client_max_window_bits=8",
    "webkit_then_ours": b"x-webkit-deflate-frame, " + PMD + b"; client_max_window_bits",
    "quoted_comma": b'foo; a="x, ' + PMD + b'", ' + PMD,
    "duplicate": PMD + b"; server_no_context_takeover; server_no_context_takeover",
    "leading_zero": PMD + b"; server_max_window_bits=08",
    "unterminated": PMD + b'; server_max_window_bits="10, ' + PMD,
}
for name, data in offers.items():
    write("extensions", name, bytes([0x3F, 0, 0, 0, 128]) + data)
write("extensions", "three_lines_small_config",
      bytes([0x12, 2, 20, 45, 128]) + b"foo; bar=baz, " + PMD + b"; server_max_window_bits=15, "
      + PMD + b"; client_max_window_bits")
write("extensions", "no_takeover_config_short_buffer",
      bytes([0xFF, 0, 0, 0, 40]) + PMD + b"; client_max_window_bits=10")

# fuzz_message: byte 0 = piece size - 1; byte 1 bit 0 = offer permessage-deflate; then per
# message a header byte (bit 0 binary, bit 1 compressed, bits 2-4 fragments - 1, bits 5-7
# control frames between fragments), a 16-bit little-endian length, one byte per cut, and the
# payload.
def message(binary, payload, compressed=False, cuts=(), controls=0):
    h = (1 if binary else 0) | (2 if compressed else 0) | (len(cuts) << 2) | (controls << 5)
    return bytes([h]) + struct.pack("<H", len(payload)) + bytes(cuts) + payload


write("message", "one_text", bytes([255, 0]) + message(False, b"Hello"))
write("message", "fragments_with_pings", bytes([7, 0])
      + message(False, "fragmented h\u00e9llo".encode(), cuts=(40, 80, 200), controls=7)
      + message(True, bytes(range(64)), cuts=(0, 255), controls=2))
write("message", "compressed_takeover", bytes([31, 1])
      + message(False, TEXT[:300], compressed=True, cuts=(10, 100, 101, 250), controls=5)
      + message(False, TEXT[:300], compressed=True)
      + message(True, b"\x00" * 200, compressed=True, cuts=(128,)))
write("message", "mixed_then_invalid_utf8", bytes([0, 1])
      + message(True, b"raw", cuts=(128,)) + message(False, b"ok", compressed=True)
      + message(False, b"bad \xed\xa0\x80 text", cuts=(100,)) + message(False, b"never"))
write("message", "empty_messages", bytes([3, 1])
      + message(False, b"") + message(True, b"", compressed=True) + message(False, b"", cuts=(0, 0)))

# fuzz_conn: byte 0 = piece size - 1; byte 1 = settings (bit 0 offer permessage-deflate, bit 1
# small message limit, bit 2 small output limit that refuses, bit 3 echo, bit 4 close after
# the first message); then the raw client stream.
REQUEST = (b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n")
PMD_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
write("conn", "echo_text", bytes([255, 0x08]) + REQUEST + b"\r\n" + frame(0x81, b"Hello")
      + frame(0x88, struct.pack(">H", 1000) + b"bye"))
write("conn", "request_bytewise_fragments", bytes([0, 0x08]) + REQUEST + b"\r\n"
      + frame(0x01, b"Hel") + frame(0x89, b"ping") + frame(0x80, b"lo"))
write("conn", "deflate_echo", bytes([63, 0x09]) + REQUEST + PMD_OFFER + b"\r\n"
      + frame(0xC1, deflated(TEXT)) + frame(0x82, bytes(300)))
write("conn", "too_big", bytes([100, 0x02]) + REQUEST + b"\r\n" + frame(0x82, bytes(2000)))
write("conn", "invalid_utf8", bytes([200, 0x00]) + REQUEST + b"\r\n" + frame(0x81, b"\xc0\xaf"))
write("conn", "plain_http", bytes([255, 0x00]) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
write("conn", "close_after_first", bytes([17, 0x1C]) + REQUEST + b"\r\n"
      + b"".join(frame(0x82, bytes([i]) * 1000) for i in range(8)))
