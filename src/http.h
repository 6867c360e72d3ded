/* http.h - incremental, bounded HTTP/1.1 request-head parser (RFC 9112 section 2-5).
 * Feed it the bytes received so far; it remembers how far it scanned, so each call costs only
 * the new bytes until the blank line that ends the head arrives, then the head is parsed once.
 * Results are views into the caller's buffer: they stay valid while that buffer is unchanged.
 * No allocation; no knowledge of WebSocket beyond the ws and wss schemes of a target. */
#ifndef WS_HTTP_H
#define WS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_HTTP_MAX_HEADERS 64

typedef struct ws_http_header {
	const char *name; /* as sent; compare without regard to case */
	size_t name_len;
	const char *value; /* leading and trailing blanks removed */
	size_t value_len;
} ws_http_header;

typedef struct ws_http_request {
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent */
	size_t target_len;
	/* The target in origin form (RFC 9112 3.2.1), also for an absolute-form target, so the
	 * application routes on the same path either way. path starts with '/' (for an
	 * absolute-form target with an empty path it is a static "/"); query is what follows the
	 * first '?', without it, or NULL when there is no '?'. */
	const char *path;
	size_t path_len;
	const char *query;
	size_t query_len;
	const char *authority; /* absolute-form only: host[:port] of the target, else NULL */
	size_t authority_len;
	int version_minor; /* HTTP/1.x */
	size_t num_headers;
	ws_http_header headers[WS_HTTP_MAX_HEADERS];
} ws_http_request;

typedef struct ws_http_parser {
	size_t max_head_bytes; /* configuration: the limit for request line + headers; 0 = 8192 */
	size_t scanned;        /* private: bytes already searched for the end of the head */
	int status;            /* after an error: the HTTP status to answer (400, 431, 505) */
} ws_http_parser;

/* Parses the request head at the start of buf[0, len), where len includes every byte received
 * so far (not only the new ones). Returns the head's length including the final CRLF CRLF
 * (> 0) and fills *req; WS_EAGAIN while the head is incomplete and within max_head_bytes;
 * WS_ETOOBIG (status 431) past max_head_bytes or WS_HTTP_MAX_HEADERS headers; WS_EPROTO
 * (status 400, or 505 for a version other than HTTP/1.x) for a malformed head.
 * Accepts a bare LF as line end, rejects obsolete line folding and control characters.
 * The request-target must be origin-form ("/path?query") or absolute-form with the scheme
 * http, https, ws or wss (any case) and no userinfo, whose authority equals the value of the
 * one Host header (compared without regard to case; RFC 6455 4.1 asks the two to match);
 * anything else (authority-form "host:port", asterisk-form "*", another scheme, a mismatch)
 * is WS_EPROTO with status 400. */
ssize_t ws_http_parse(ws_http_parser *p, const uint8_t *buf, size_t len, ws_http_request *req);

/* Finds a header by name (case-insensitive); returns the first match or NULL. */
const ws_http_header *ws_http_find(const ws_http_request *req, const char *name);

/* True when the comma-separated list `value` contains `token` (case-insensitive, blanks around
 * elements ignored), e.g. "keep-alive, Upgrade" contains "upgrade". */
bool ws_http_has_token(const char *value, size_t value_len, const char *token);

#endif
