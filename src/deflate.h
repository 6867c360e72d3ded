/* deflate.h - permessage-deflate (RFC 7692): negotiation of the extension's parameters from a
 * client's Sec-WebSocket-Extensions offers (deflate_offer.c), and the compressor and
 * decompressor of messages (deflate.c).
 *
 * Negotiation accepts the first offer it can honour (RFC 7692 5): every valid offer can be
 * honoured, since a server may always use a smaller window or no context takeover; offers
 * with an unknown or repeated parameter, or a bad value, are declined one by one.
 *
 * Window bits 8: zlib cannot compress raw DEFLATE with a 256-byte window and uses 512 bytes
 * instead. We still accept server_max_window_bits=8 and answer 8: zlib never emits a distance
 * beyond its window minus 262 bytes (MIN_LOOKAHEAD), so its 512-byte window refers back at
 * most 250 bytes, which a client keeping 256 can decode (the unit tests check this against an
 * 8-bit zlib inflater). The decompressor uses the agreed client_max_window_bits, 8 included,
 * so a server that asks for a small client window also keeps only that much. zlib checks a
 * distance against that window only when it reaches before the output of the current call,
 * so a client that refers back further than it agreed gets WS_EPROTO or not depending on the
 * output windows; data within the agreement always decodes.
 *
 * Compression: a message is deflated as raw DEFLATE (no zlib header), flushed with
 * Z_SYNC_FLUSH, and the trailing 00 00 FF FF removed (RFC 7692 7.2.1). Decompression appends
 * 00 00 FF FF to the message's payload itself (7.2.2) and is incremental: payload bytes are
 * fed as they arrive, in any split, and output goes only into windows the caller passes, so
 * the caller bounds the total (max_message_bytes) and a decompression bomb costs the codec
 * nothing beyond its fixed zlib state.
 *
 * Memory (measured with zlib 1.2.13, through alloc.h): a deflate stream holds
 * (1 << (window_bits + 2)) + (1 << (mem_level + 9)) bytes (window_bits 9 for 8) plus a
 * 5.9 KiB state: 262 KiB at 15 and 8, 18 KiB at 10 and 4. An inflate stream holds a 7 KiB
 * state plus a 1 << window_bits window (39 KiB at 15), the window allocated at the first
 * output. Streams are allocated on first use. Without context takeover a stream is needed only
 * while one message is processed, and the *_idle functions release it between messages. With
 * context takeover the *_park functions free it between messages and keep only the history:
 * the bytes in the window, at most 1 << window_bits (512 for a deflater of 8 bits), in a
 * buffer of exactly that size. A parked codec holds its struct (under 160 bytes) and that
 * history: after ten messages of 200 bytes, 2.1 KiB each way at window bits 15, against
 * 262 KiB and 39 KiB with live streams. The next message recreates the stream from the history
 * (*_memory tell what a codec holds; each zlib allocation carries 16 bytes for that count).
 * Plain C on zlib, no Zend. */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the server is willing to do (the configuration). */
typedef struct ws_deflate_config {
	uint8_t server_max_window_bits; /* 8..15: the largest window our compressor uses */
	uint8_t client_max_window_bits; /* 8..15: asked of the client when its offer allows */
	bool server_context_takeover;   /* false: we announce server_no_context_takeover */
	bool client_context_takeover;   /* false: we ask client_no_context_takeover */
	uint8_t mem_level;              /* 1..9, zlib's memLevel for compression */
	int8_t level;                   /* 0..9 (or -1, zlib's default), the compression level */
} ws_deflate_config;

/* What was agreed for one connection. */
typedef struct ws_deflate_params {
	uint8_t server_max_window_bits; /* window of our compressor, 8..15 (zlib uses 9 for 8) */
	uint8_t client_max_window_bits; /* window the client compresses with, 8..15 */
	bool server_no_context_takeover;
	bool client_no_context_takeover;
} ws_deflate_params;

/* A response buffer of this size always suffices for ws_deflate_negotiate. */
#define WS_DEFLATE_RESP_MAX 128

/* Parses the values of every Sec-WebSocket-Extensions header line of a request (values[i] of
 * lens[i] bytes, in order; borrowed) as one comma-separated list and picks the first
 * permessage-deflate offer that is valid.
 *
 * The grammar is RFC 6455 9.1 with RFC 7230 list rules: empty elements and optional
 * whitespace around every token, ';' and '=' are allowed; a value is a token or a
 * quoted-string (unquoted before use); extension and parameter names are compared without
 * regard to case. A comma inside a quoted-string does not end an element. Other extensions
 * are skipped unread. An offer is declined for a malformed element, an unknown or repeated
 * parameter, a value on server_no_context_takeover or client_no_context_takeover, or a window
 * value other than exactly 8..15 in decimal ("08", "7", "16" and an empty value are declined;
 * server_max_window_bits needs a value, client_max_window_bits may lack one).
 *
 * The response is "permessage-deflate", then, in this order and separated by "; ":
 * server_no_context_takeover when the offer has it or cfg disables server context takeover;
 * client_no_context_takeover when the offer has it or cfg disables client context takeover;
 * server_max_window_bits=N, N = min(offer, cfg), when the offer has the parameter or cfg is
 * below 15; client_max_window_bits=N, N = min(offer or 15, cfg), only when the offer has the
 * parameter (otherwise the client may use 15 bits, and params say so).
 *
 * On success fills *out, writes the response's header value (without name, CRLF or NUL) into
 * resp[0, cap), sets *resp_len and returns 1. Returns 0 when there is no acceptable offer (the
 * extension is simply not used), WS_ETOOBIG when cap is too small (WS_DEFLATE_RESP_MAX always
 * suffices), WS_EINVAL when cfg's window bits are outside 8..15; *out and resp are untouched
 * and *resp_len is 0 then. Never fails the handshake: a malformed header only declines. */
int ws_deflate_negotiate(const ws_deflate_config *cfg, const char *const *values,
                         const size_t *lens, size_t n, ws_deflate_params *out, char *resp,
                         size_t cap, size_t *resp_len);

/* ---- compressor ---- */

typedef struct ws_deflater ws_deflater;

/* A compressor for messages that the server sends with these parameters (p and cfg are
 * copied: window bits from p, level and mem_level from cfg). NULL when out of memory or a
 * value is out of range. The zlib stream is allocated with the first non-empty message; with
 * server_no_context_takeover it is reset after each message, so one deflater can then serve
 * any number of connections with the same window. */
ws_deflater *ws_deflater_new(const ws_deflate_params *p, const ws_deflate_config *cfg);

/* Frees the deflater and its stream. NULL is a no-op. */
void ws_deflater_free(ws_deflater *d);

/* Compresses one whole message (data borrowed) and appends the result, without the
 * 00 00 FF FF tail, to out (which may already hold bytes and may be compacted or grown).
 * Returns the bytes appended, or WS_ENOMEM (out is then as before and the stream is dropped:
 * the next message starts a fresh one, still valid with context takeover). An empty message
 * compresses to a single 00 byte (RFC 7692 7.2.3.6) without touching zlib. Rarely, when a
 * flush fills the output window exactly, the result carries one more empty stored block
 * (5 bytes); it decodes to nothing. */
ssize_t ws_deflater_message(ws_deflater *d, const uint8_t *data, size_t len, ws_buf *out);

/* Between messages: releases the zlib stream when no context is kept (server no context
 * takeover), so an idle connection holds no zlib memory; a no-op otherwise (with context
 * takeover, ws_deflater_park frees the stream and keeps the history). */
void ws_deflater_idle(ws_deflater *d);

/* Between messages, with context takeover: copies the stream's history (the bytes in its
 * window, at most 1 << window bits, fewer while the stream is young) into a buffer of exactly
 * that size, which the deflater owns, and frees the zlib stream. Returns the bytes of zlib
 * memory released. The next non-empty ws_deflater_message recreates the stream, primes it
 * with the history and frees the buffer: its output is a valid continuation for a peer that
 * kept its context (it may only refer back less far than an unparked stream would). If that
 * fails it returns WS_ENOMEM, keeps the history and produces nothing.
 * Returns 0 and does what ws_deflater_idle does when there is no stream or no context is
 * kept. Returns 0 and keeps the stream when the buffer cannot be allocated, and always with
 * zlib older than 1.2.9. Parking a parked deflater returns 0. */
size_t ws_deflater_park(ws_deflater *d);

/* True while the deflater is parked with a saved history. */
bool ws_deflater_parked(const ws_deflater *d);

/* The bytes the deflater holds through alloc.h: its own struct, its zlib stream (if any) and
 * its parked history (if any). */
size_t ws_deflater_memory(const ws_deflater *d);

/* ---- decompressor ---- */

typedef struct ws_inflater ws_inflater;

/* A decompressor for messages that the client sends with these parameters (copied). Its
 * window is client_max_window_bits. NULL when out of memory or the window is out of range.
 * The zlib stream is allocated with the first payload byte. */
ws_inflater *ws_inflater_new(const ws_deflate_params *p);

/* Frees the inflater and its stream. NULL is a no-op. */
void ws_inflater_free(ws_inflater *f);

/* Decompresses payload bytes of the current message: consumes input from *in / *in_len
 * (advancing them; the bytes are borrowed for the call) and writes to out[0, out_cap).
 * Returns the bytes written (possibly 0), or WS_EPROTO for data that is not valid DEFLATE
 * (the caller fails the connection: 1007 for text, 1002 otherwise), or WS_ENOMEM. Errors are
 * sticky: every later call returns the same code. Never allocates beyond the fixed stream.
 *
 * `last` says that *in holds the final payload bytes of the message; the 00 00 FF FF tail is
 * then fed too, after them. A call returns when all input is consumed and zlib has no more
 * output for it, or when the window is full. So: call while *in_len > 0 for each frame's
 * payload; with `last`, call until ws_inflater_done() (passing *in_len == 0 once the input is
 * consumed) to drain the rest through as many windows as it takes. Each call with
 * out_cap > 0 consumes input, writes output or completes the message, so these loops end.
 * A caller that meets its size limit just stops calling.
 *
 * The message must end where a sync flush ends (between two DEFLATE blocks, once the tail is
 * added), else WS_EPROTO, so a message cut inside a block is not delivered. It may also
 * end with a final block (BFINAL, RFC 7692 7.2.3.4), followed by nothing or by the single 00
 * byte of 7.2.3.4 (the appended tail is then not fed); any other payload byte after a final
 * block is WS_EPROTO. With context takeover the message after a final block keeps the window
 * (zlib >= 1.2.7.1).
 * A message with an empty payload decodes to an empty message (no tail is fed).
 *
 * The first call after a completed message (or after ws_inflater_idle) starts the next one.
 * After each message the stream is reset when client_no_context_takeover was agreed, and kept
 * (window and all) otherwise. */
ssize_t ws_inflater_feed(ws_inflater *f, const uint8_t **in, size_t *in_len, bool last,
                         uint8_t *out, size_t out_cap);

/* True once a call with `last` has written all of the message's output (the message is
 * complete), until the next call starts another message. */
bool ws_inflater_done(const ws_inflater *f);

/* Between messages: releases the zlib stream when no context is kept (client no context
 * takeover), or after an error; a no-op otherwise. Called inside a message (payload fed, not
 * yet done) it abandons that message: without context takeover the next call starts a new
 * one; with it, the window no longer matches the client's, so every later call returns
 * WS_EPROTO. */
void ws_inflater_idle(ws_inflater *f);

/* Between messages, with context takeover: copies the stream's window (the output of the last
 * messages, at most 1 << window bits) into a buffer of exactly that size, which the inflater
 * owns, and frees the zlib stream. Returns the bytes of zlib memory released. The first payload
 * byte of the next message recreates the stream, primes it with the history and frees the
 * buffer, so the message may refer back into the earlier ones. If that fails, that call
 * returns WS_ENOMEM, sticky like every error of ws_inflater_feed, and the history is freed.
 * Returns 0 and changes nothing in the middle of a message (fed, not yet done). Otherwise
 * returns 0 and does what ws_inflater_idle does when there is no stream, no context is kept
 * or after an error. Returns 0 and keeps the stream when the buffer cannot be allocated, and
 * always with zlib older than 1.2.7.1. Parking a parked inflater returns 0. */
size_t ws_inflater_park(ws_inflater *f);

/* True while the inflater is parked with a saved history. */
bool ws_inflater_parked(const ws_inflater *f);

/* The bytes the inflater holds through alloc.h: its own struct, its zlib stream (if any) and
 * its parked history (if any). */
size_t ws_inflater_memory(const ws_inflater *f);

/* ---- carrying a context to another process (a reload's handoff) ----
 * With context takeover the next message may refer to the history of the previous ones: a
 * process that takes over a connection needs the same window. *_window copies it into
 * out[0, cap) and returns its length; cap must hold the whole window, 1 << window bits
 * (1 << 15 always does: zlib writes the whole window whatever the room), else nothing is
 * copied. It returns 0 when no context is kept (or,
 * for the inflater, in the middle of a message), and always with zlib older than 1.2.9
 * (deflater) or 1.2.7.1 (inflater), which cannot read a window back. *_set_window gives a fresh
 * codec that history; it returns 0, WS_ENOMEM or WS_EINVAL. Call it before the first message.
 * A parked codec gives its saved history (under the same rule for cap), so a connection
 * parked while idle can be handed over as it is; *_set_window replaces a parked history. */
size_t ws_deflater_window(ws_deflater *d, uint8_t *out, size_t cap);
int ws_deflater_set_window(ws_deflater *d, const uint8_t *window, size_t len);
size_t ws_inflater_window(ws_inflater *f, uint8_t *out, size_t cap);
int ws_inflater_set_window(ws_inflater *f, const uint8_t *window, size_t len);

#endif
