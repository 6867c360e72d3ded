/* handshake.c - the server side of the RFC 6455 opening handshake (section 4.2).
 * Classifies a parsed request as a WebSocket upgrade, plain HTTP or a broken upgrade with the
 * status to answer, computes Sec-WebSocket-Accept (SHA-1 from libcrypto, base64 here), picks
 * a subprotocol, and writes responses into caller buffers without ever passing their end.
 * No sockets, no allocation. */
#include "handshake.h"
#include "err.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 6455 1.3: appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define KEY_B64_LEN 24 /* base64 of the 16 random bytes of Sec-WebSocket-Key, with "==" */
#define KEY_RAW_LEN 16

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Writes base64 of in[0, len) with padding and returns the number of characters. */
static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	return o;
}

static int b64_value(char c)
{
	const char *pos = c ? strchr(b64_alphabet, c) : NULL;

	return pos ? (int)(pos - b64_alphabet) : -1;
}

/* True when s is the canonical base64 form of exactly 16 bytes: 22 alphabet characters then
 * "==", and the 4 bits that the last character carries beyond the 128th are zero. Anything a
 * real client sends passes; the strictness only turns away hand-made keys that a different
 * decoder would read as a different nonce. */
static bool key_valid(const char *s, size_t len)
{
	if (len != KEY_B64_LEN || s[22] != '=' || s[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (b64_value(s[i]) < 0)
			return false;
	return (b64_value(s[21]) & 0x0F) == 0;
}

void ws_handshake_accept(const char *key, size_t key_len, char out[WS_HANDSHAKE_ACCEPT_LEN + 1])
{
	uint8_t digest[SHA_DIGEST_LENGTH];
	uint8_t input[256];
	size_t guid_len = sizeof(ws_guid) - 1;

	/* The one-shot SHA1() is the libcrypto call that is not deprecated in OpenSSL 3, and it
	 * needs the key and the GUID in one buffer. A valid key is 24 bytes; a longer one is
	 * truncated so that the buffer stays on the stack, which only changes the answer for
	 * keys that ws_handshake_check rejects anyway. */
	if (key_len > sizeof(input) - guid_len)
		key_len = sizeof(input) - guid_len;
	memcpy(input, key, key_len);
	memcpy(input + key_len, ws_guid, guid_len);
	SHA1(input, key_len + guid_len, digest);
	out[b64_encode(digest, sizeof(digest), out)] = '\0';
}

static bool name_is(const ws_http_header *h, const char *name)
{
	size_t len = strlen(name);

	if (h->name_len != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char a = h->name[i], b = name[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a + ('a' - 'A'));
		if (b >= 'A' && b <= 'Z')
			b = (char)(b + ('a' - 'A'));
		if (a != b)
			return false;
	}
	return true;
}

/* True when any header called `name` lists `token`: a list-valued field may be split over
 * several field lines (RFC 9110 5.3), e.g. "Connection: keep-alive" then "Connection: Upgrade". */
static bool any_has_token(const ws_http_request *req, const char *name, const char *token)
{
	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		if (name_is(h, name) && ws_http_has_token(h->value, h->value_len, token))
			return true;
	}
	return false;
}

static size_t count_headers(const ws_http_request *req, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < req->num_headers; i++)
		if (name_is(&req->headers[i], name))
			n++;
	return n;
}

static ws_handshake_kind bad(ws_handshake *hs, int status, const char *reason)
{
	hs->kind = WS_HANDSHAKE_BAD;
	hs->status = status;
	hs->reason = reason;
	return hs->kind;
}

ws_handshake_kind ws_handshake_check(const ws_http_request *req, ws_handshake *hs)
{
	const ws_http_header *h;

	memset(hs, 0, sizeof(*hs));
	if ((h = ws_http_find(req, "Sec-WebSocket-Protocol"))) {
		hs->protocols = h->value;
		hs->protocols_len = h->value_len;
	}
	if ((h = ws_http_find(req, "Sec-WebSocket-Extensions"))) {
		hs->extensions = h->value;
		hs->extensions_len = h->value_len;
	}
	/* Only a request that asks for websocket is an upgrade; everything else (health checks,
	 * the demo page, an h2c upgrade) is plain HTTP for the request handler. */
	if (!any_has_token(req, "Upgrade", "websocket")) {
		hs->kind = WS_HANDSHAKE_PLAIN;
		return hs->kind;
	}
	/* Method names are case-sensitive (RFC 9110 9.1). */
	if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
		return bad(hs, 405, "A WebSocket handshake must use the GET method.");
	if (req->version_minor < 1)
		return bad(hs, 400, "A WebSocket handshake needs HTTP/1.1 or later.");
	/* RFC 9112 3.2: no Host, or more than one, is answered with 400. */
	if (count_headers(req, "Host") != 1)
		return bad(hs, 400, "The request must carry exactly one Host header.");
	/* A user agent never sends more than one Origin (RFC 6454 7.3). Two would be checked
	 * against allowed_origins by the first alone while the application sees both. */
	if (count_headers(req, "Origin") > 1)
		return bad(hs, 400, "The request must not carry more than one Origin header.");
	if (!any_has_token(req, "Connection", "upgrade"))
		return bad(hs, 400, "The Connection header must contain \"Upgrade\".");
	/* The key may not appear more than once (RFC 6455 11.3.1). */
	h = ws_http_find(req, "Sec-WebSocket-Key");
	if (!h || count_headers(req, "Sec-WebSocket-Key") != 1 || !key_valid(h->value, h->value_len))
		return bad(hs, 400, "Sec-WebSocket-Key must be the base64 form of 16 bytes.");
	ws_handshake_accept(h->value, h->value_len, hs->accept);
	/* The version may not appear more than once either (11.3.5): "13" then "12" on two lines
	 * is as ambiguous as "13, 12" on one, and must not pass on its first line. */
	if (count_headers(req, "Sec-WebSocket-Version") > 1)
		return bad(hs, 400, "The request must carry one Sec-WebSocket-Version header.");
	/* 4.2.2: an unknown version is answered with 426 and the versions we speak. */
	h = ws_http_find(req, "Sec-WebSocket-Version");
	if (!h || h->value_len != 2 || memcmp(h->value, "13", 2) != 0) {
		hs->accept[0] = '\0';
		return bad(hs, 426, "Only WebSocket version 13 is supported.");
	}
	hs->kind = WS_HANDSHAKE_UPGRADE;
	hs->status = 101;
	return hs->kind;
}

int ws_handshake_select_protocol(const char *offer, size_t offer_len, const char *const *supported,
                                 size_t n)
{
	size_t i = 0;

	if (!offer)
		return -1;
	while (i < offer_len) {
		size_t start, end;
		while (i < offer_len && is_blank(offer[i]))
			i++;
		start = i;
		while (i < offer_len && offer[i] != ',')
			i++;
		end = i;
		while (end > start && is_blank(offer[end - 1]))
			end--;
		for (size_t k = 0; end > start && k < n; k++) {
			if (supported[k] && strlen(supported[k]) == end - start &&
			    memcmp(supported[k], offer + start, end - start) == 0)
				return (int)k;
		}
		i++; /* past the comma */
	}
	return -1;
}

int ws_handshake_choose_protocol(const ws_http_request *req, const char *const *supported, size_t n)
{
	static const char name[] = "sec-websocket-protocol";
	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		if (h->name_len != sizeof(name) - 1 || strncasecmp(h->name, name, h->name_len) != 0)
			continue;
		int k = ws_handshake_select_protocol(h->value, h->value_len, supported, n);
		if (k >= 0)
			return k;
	}
	return -1;
}

/* Appends to a caller buffer without passing cap, while counting the full length, so one pass
 * both writes a response and tells a caller with a short buffer how much it needs. */
typedef struct out_writer {
	char *out;
	size_t cap;
	size_t len;
} out_writer;

static void put(out_writer *w, const char *s, size_t n)
{
	if (w->len < w->cap && n)
		memcpy(w->out + w->len, s, w->cap - w->len < n ? w->cap - w->len : n);
	w->len += n;
}

static void put_str(out_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

size_t ws_handshake_write_101(char *out, size_t cap, const char *accept, const char *protocol,
                              size_t protocol_len, const char *extra, size_t extra_len)
{
	out_writer w = {out, cap, 0};

	put_str(&w, "HTTP/1.1 101 Switching Protocols\r\n"
	            "Upgrade: websocket\r\n"
	            "Connection: Upgrade\r\n"
	            "Sec-WebSocket-Accept: ");
	put_str(&w, accept);
	put_str(&w, "\r\n");
	if (protocol && protocol_len) {
		put_str(&w, "Sec-WebSocket-Protocol: ");
		put(&w, protocol, protocol_len);
		put_str(&w, "\r\n");
	}
	if (extra)
		put(&w, extra, extra_len);
	put_str(&w, "\r\n");
	return w.len;
}

/* True when one of the "Name: value\r\n" lines in extra is a Content-Type field. */
static bool extra_has_content_type(const char *extra, size_t extra_len)
{
	static const char name[] = "content-type:";
	size_t name_len = sizeof(name) - 1;
	size_t i = 0;

	while (i < extra_len) {
		const char *line = extra + i;
		const char *nl = memchr(line, '\n', extra_len - i);
		size_t n = nl ? (size_t)(nl - line) : extra_len - i;
		if (n >= name_len) {
			size_t k = 0;
			while (k < name_len && (line[k] | 0x20) == name[k])
				k++;
			if (k == name_len)
				return true;
		}
		i += n + 1;
	}
	return false;
}

size_t ws_handshake_write_response(char *out, size_t cap, int status, const char *extra,
                                   size_t extra_len, const char *body, size_t body_len)
{
	out_writer w = {out, cap, 0};
	char num[32];

	snprintf(num, sizeof(num), "%d ", status);
	put_str(&w, "HTTP/1.1 ");
	put_str(&w, num);
	put_str(&w, ws_handshake_status_text(status));
	/* The connection is closed after an error response, so the client must not wait for a
	 * second response on it; Content-Length lets it know the body is complete. */
	put_str(&w, "\r\nConnection: close\r\nContent-Length: ");
	snprintf(num, sizeof(num), "%zu", body_len);
	put_str(&w, num);
	put_str(&w, "\r\n");
	if (body_len > 0 && !(extra && extra_has_content_type(extra, extra_len)))
		put_str(&w, "Content-Type: text/plain; charset=utf-8\r\n");
	if (status == 426)
		put_str(&w, "Sec-WebSocket-Version: 13\r\n");
	if (extra)
		put(&w, extra, extra_len);
	put_str(&w, "\r\n");
	if (body)
		put(&w, body, body_len);
	return w.len;
}

const char *ws_handshake_status_text(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Content Too Large";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}
