/* handshake.h - the server side of the RFC 6455 opening handshake (section 4.2).
 * Validates a parsed request (ws_http_request), computes Sec-WebSocket-Accept (SHA-1 through
 * libcrypto), chooses a subprotocol, and writes the 101 response or an error response.
 * No sockets, no allocation. */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

#define WS_HANDSHAKE_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */

typedef enum ws_handshake_kind {
	WS_HANDSHAKE_UPGRADE = 0, /* a valid WebSocket upgrade: answer 101 */
	WS_HANDSHAKE_PLAIN,       /* a request with no Upgrade: websocket: plain HTTP */
	WS_HANDSHAKE_BAD,         /* an invalid upgrade: answer `status` */
} ws_handshake_kind;

typedef struct ws_handshake {
	ws_handshake_kind kind;
	int status;                               /* UPGRADE: 101; BAD: 400, 405 or 426; PLAIN: 0 */
	const char *reason;                       /* for BAD: a short sentence for the response body */
	char accept[WS_HANDSHAKE_ACCEPT_LEN + 1]; /* for UPGRADE, NUL-terminated */
	const char *protocols; /* Sec-WebSocket-Protocol as offered (several headers: the first) */
	size_t protocols_len;
	const char *extensions; /* Sec-WebSocket-Extensions as offered (first header) */
	size_t extensions_len;
} ws_handshake;

/* Checks req against RFC 6455 4.2.1: method GET (else 405), HTTP/1.1 or later (else 400),
 * exactly one Host and at most one Origin (else 400), Upgrade containing the token
 * "websocket" and Connection containing the token "upgrade" (any case, among other tokens, on
 * any of several field lines), exactly one Sec-WebSocket-Key, the canonical base64 of exactly
 * 16 bytes (else 400), at most one Sec-WebSocket-Version line (else 400), and that one 13
 * (else 426, and the response must carry Sec-WebSocket-Version: 13). Checked in this order;
 * the first failure decides. The list-valued Upgrade, Connection, Sec-WebSocket-Protocol and
 * Sec-WebSocket-Extensions may repeat.
 * A request with no Upgrade header naming websocket is WS_HANDSHAKE_PLAIN.
 * Fills *hs and returns its kind. hs views point into the request's buffer. */
ws_handshake_kind ws_handshake_check(const ws_http_request *req, ws_handshake *hs);

/* Computes the Sec-WebSocket-Accept value for a key: base64(SHA-1(key + GUID)).
 * out receives WS_HANDSHAKE_ACCEPT_LEN characters and a NUL. */
void ws_handshake_accept(const char *key, size_t key_len, char out[WS_HANDSHAKE_ACCEPT_LEN + 1]);

/* Picks the first protocol of the client's comma-separated offer that is in `supported`
 * (n entries, compared exactly, as RFC 6455 tokens are case-sensitive). Returns its index in
 * `supported`, or -1 when none matches or nothing was offered. */
int ws_handshake_select_protocol(const char *offer, size_t offer_len, const char *const *supported,
                                 size_t n);

/* ws_handshake_select_protocol over every Sec-WebSocket-Protocol line of the request, in order:
 * repeated lines form one list (RFC 6455 11.3.4, RFC 9110 5.3). Same result convention. */
int ws_handshake_choose_protocol(const ws_http_request *req, const char *const *supported,
                                 size_t n);

/* Writes "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection, Sec-WebSocket-Accept,
 * Sec-WebSocket-Protocol (when protocol is non-NULL and non-empty) and `extra` (zero or more
 * complete "Name: value\r\n" lines, may be NULL), then the blank line.
 * Returns the length written, or the length needed (> cap) when `cap` is too small; with
 * cap 0, out may be NULL and nothing is written (a sizing pass). */
size_t ws_handshake_write_101(char *out, size_t cap, const char *accept, const char *protocol,
                              size_t protocol_len, const char *extra, size_t extra_len);

/* Writes a complete HTTP/1.1 response with `Connection: close`, Content-Length and, when
 * body_len > 0 and no Content-Type is in `extra`, "Content-Type: text/plain; charset=utf-8".
 * For 426 it adds Sec-WebSocket-Version: 13. `extra` as above. Returns as ws_handshake_write_101.
 * The reason phrase comes from the status (ws_handshake_status_text). */
size_t ws_handshake_write_response(char *out, size_t cap, int status, const char *extra,
                                   size_t extra_len, const char *body, size_t body_len);

/* The standard reason phrase for an HTTP status ("Bad Request"), or "Unknown". */
const char *ws_handshake_status_text(int status);

#endif
