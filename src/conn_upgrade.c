/* conn_upgrade.c - the server side of the opening handshake of a connection (see conn.h): the
 * HTTP request is checked (RFC 6455 4.2.1), answered with 101 and the subprotocol and
 * permessage-deflate it agreed, or with an HTTP response (a plain request, a refusal, a
 * limit), after the application's handshake or request hook had its say. The request head is
 * parsed from every byte received so far, which conn_in.c keeps until the head is whole.
 * The client side of the handshake (sending a request, checking the 101) does not exist yet. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "conn_int.h"
#include "alloc.h"
#include "handshake.h"

#include <string.h>
#include <strings.h>

/* Queues a complete HTTP response and closes the connection once it is written. */
static void respond(ws_conn *c, int status, const char *headers, size_t headers_len,
                    const char *body, size_t body_len, bool head_only)
{
	/* A sizing pass (cap 0), then the response straight into a chunk of that size. */
	size_t need =
	    ws_handshake_write_response(NULL, 0, status, headers, headers_len, body, body_len);
	ws_chunk *chunk = ws_chunk_new(need);
	if (!chunk) {
		ws__conn_finish(c);
		return;
	}
	ws_handshake_write_response((char *)chunk->data, need, status, headers, headers_len, body,
	                            body_len);
	if (head_only)
		chunk->len = need - body_len;
	if (ws__conn_queue(c, chunk) < 0) {
		ws_chunk_unref(chunk);
		ws__conn_finish(c);
		return;
	}
	c->read_paused = true;
	ws__conn_start_closing(c);
	c->shutdown_after_flush = true;
}

void ws_conn_reject(ws_conn *c, int status, const char *body, size_t body_len)
{
	respond(c, status, NULL, 0, body, body_len, false);
}

static void respond_plain(ws_conn *c, const ws_http_request *req)
{
	static const char upgrade_body[] = "Upgrade Required: this is a WebSocket endpoint.\n";
	ws_reply reply = {0};
	if (c->env->hooks->on_request)
		c->env->hooks->on_request(c->env->owner, c, req, &reply);
	if (c->state != WS_CONN_HANDSHAKE)
		return; /* the hook closed the connection */
	bool head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	if (!reply.status) {
		respond(c, 426, reply.headers, reply.headers_len, upgrade_body, sizeof(upgrade_body) - 1,
		        head);
		return;
	}
	respond(c, reply.status, reply.headers, reply.headers_len, reply.body, reply.body_len, head);
}

bool ws_conn_protocol_offered(const ws_http_request *req, const char *protocol, size_t len)
{
	char name[256];
	if (len >= sizeof(name))
		return false;
	memcpy(name, protocol, len);
	name[len] = '\0';
	const char *const list[1] = {name};
	return ws_handshake_choose_protocol(req, list, 1) == 0;
}

/* Cross-site WebSocket hijacking: a browser sends the page's Origin, and a page of another site
 * must not open a socket with the user's cookies. Clients without Origin are not browsers. */
static bool origin_allowed(const ws_conn_limits *lim, const ws_http_request *req)
{
	if (!lim->num_allowed_origins)
		return true;
	const ws_http_header *origin = ws_http_find(req, "origin");
	if (!origin)
		return true;
	for (size_t i = 0; i < lim->num_allowed_origins; i++) {
		const char *o = lim->allowed_origins[i];
		if (strlen(o) == origin->value_len && strncasecmp(o, origin->value, origin->value_len) == 0)
			return true;
	}
	return false;
}

/* Accepts the first acceptable permessage-deflate offer, if compression is on: sets up c and
 * appends the response line to extra. Returns 0, or WS_ENOMEM. */
static int negotiate_deflate(ws_conn *c, const ws_http_request *req, ws_buf *extra)
{
	const ws_conn_limits *lim = c->env->limits;
	if (!lim->deflate)
		return 0;
	const char *values[WS_HTTP_MAX_HEADERS];
	size_t lens[WS_HTTP_MAX_HEADERS], n = 0;
	for (size_t i = 0; i < req->num_headers && n < WS_HTTP_MAX_HEADERS; i++) {
		const ws_http_header *h = &req->headers[i];
		static const char name[] = "sec-websocket-extensions";
		if (h->name_len == sizeof(name) - 1 && strncasecmp(h->name, name, h->name_len) == 0) {
			values[n] = h->value;
			lens[n++] = h->value_len;
		}
	}
	char resp[160];
	size_t resp_len = 0;
	if (!n || ws_deflate_negotiate(lim->deflate, values, lens, n, &c->deflate, resp, sizeof(resp),
	                               &resp_len) != 1)
		return 0;
	if (lim->deflate->server_context_takeover && !c->deflate.server_no_context_takeover &&
	    !(c->deflater = ws_deflater_new(&c->deflate, lim->deflate)))
		return WS_ENOMEM;
	static const char name[] = "Sec-WebSocket-Extensions: ";
	if (ws_buf_append(extra, name, sizeof(name) - 1) < 0 ||
	    ws_buf_append(extra, resp, resp_len) < 0 || ws_buf_append(extra, "\r\n", 2) < 0)
		return WS_ENOMEM;
	c->deflate_on = true;
	ws__conn_configure_parser(c); /* RSV1 now means "compressed" */
	return 0;
}

static void accept_upgrade(ws_conn *c, const ws_http_request *req, const ws_handshake *hs)
{
	const ws_conn_limits *lim = c->env->limits;
	ws_reply reply = {0};
	if (!origin_allowed(lim, req)) {
		static const char body[] = "Origin not allowed.\n";
		respond(c, 403, NULL, 0, body, sizeof(body) - 1, false);
		return;
	}
	int idx = ws_handshake_choose_protocol(req, lim->subprotocols, lim->num_subprotocols);
	if (idx >= 0) {
		reply.protocol = lim->subprotocols[idx];
		reply.protocol_len = strlen(reply.protocol);
	}
	if (c->env->hooks->on_handshake)
		c->env->hooks->on_handshake(c->env->owner, c, req, &reply);
	if (c->state != WS_CONN_HANDSHAKE)
		return; /* the hook closed the connection */
	if (reply.status && reply.status != 101) {
		respond(c, reply.status, reply.headers, reply.headers_len, reply.body, reply.body_len,
		        false);
		return;
	}
	/* A subprotocol the client did not offer would make it fail the connection (RFC 6455
	 * 4.1); checking the offer also guarantees the name holds no CR or LF. */
	if (reply.protocol_len && !ws_conn_protocol_offered(req, reply.protocol, reply.protocol_len)) {
		static const char body[] = "The server chose a subprotocol the client did not offer.\n";
		respond(c, 500, NULL, 0, body, sizeof(body) - 1, false);
		return;
	}
	/* The extension header goes first, then the application's own lines. */
	ws_buf extra = {0};
	if (negotiate_deflate(c, req, &extra) < 0 ||
	    (reply.headers_len && ws_buf_append(&extra, reply.headers, reply.headers_len) < 0)) {
		ws_buf_release(&extra);
		ws__conn_finish(c);
		return;
	}
	const char *extra_ptr = extra.ptr ? (const char *)extra.ptr + extra.head : NULL;
	size_t extra_len = ws_buf_avail(&extra);
	size_t need = ws_handshake_write_101(NULL, 0, hs->accept, reply.protocol, reply.protocol_len,
	                                     extra_ptr, extra_len);
	ws_chunk *chunk = ws_chunk_new(need);
	if (!chunk) {
		ws_buf_release(&extra);
		ws__conn_finish(c);
		return;
	}
	ws_handshake_write_101((char *)chunk->data, need, hs->accept, reply.protocol,
	                       reply.protocol_len, extra_ptr, extra_len);
	ws_buf_release(&extra);
	if (reply.protocol_len) {
		c->subprotocol = ws_malloc(reply.protocol_len + 1);
		if (c->subprotocol) {
			memcpy(c->subprotocol, reply.protocol, reply.protocol_len);
			c->subprotocol[reply.protocol_len] = '\0';
		}
	}
	if (!c->subprotocol && reply.protocol_len) {
		ws_chunk_unref(chunk);
		ws__conn_finish(c);
		return;
	}
	if (ws__conn_queue(c, chunk) < 0) {
		ws_chunk_unref(chunk);
		ws__conn_finish(c);
		return;
	}
	c->state = WS_CONN_OPEN;
	c->opened = true;
	ws_conn_keepalive(c); /* replaces the handshake timeout */
	c->env->opened(c->env->server, c);
	/* Send the 101 now, so that bufferedAmount() in onOpen counts only what the application
	 * queued; this is one write per connection, not per message. */
	ws_conn_flush(c);
	if (c->state != WS_CONN_OPEN)
		return;
	if (c->env->hooks->on_open)
		c->env->hooks->on_open(c->env->owner, c);
}

size_t ws__conn_upgrade(ws_conn *c, const uint8_t *buf, size_t len)
{
	ws_http_request req;
	ssize_t n = ws_http_parse(&c->http, buf, len, &req);
	if (n == WS_EAGAIN)
		return 0;
	if (n < 0) {
		static const char body[] = "Bad request.\n";
		static const char too_big[] = "Request header fields too large.\n";
		int status = c->http.status ? c->http.status : 400;
		if (status == 431)
			respond(c, status, NULL, 0, too_big, sizeof(too_big) - 1, false);
		else
			respond(c, status, NULL, 0, body, sizeof(body) - 1, false);
		return len;
	}
	ws_handshake hs;
	switch (ws_handshake_check(&req, &hs)) {
	case WS_HANDSHAKE_UPGRADE:
		accept_upgrade(c, &req, &hs);
		break;
	case WS_HANDSHAKE_PLAIN:
		respond_plain(c, &req);
		break;
	default: {
		const char *reason = hs.reason ? hs.reason : "Bad request.";
		char body[160];
		size_t blen = strlen(reason);
		if (blen > sizeof(body) - 1)
			blen = sizeof(body) - 1;
		memcpy(body, reason, blen);
		body[blen++] = '\n';
		/* A 405 must say which methods the resource supports (RFC 9110 15.5.6). */
		static const char allow[] = "Allow: GET\r\n";
		bool is_405 = hs.status == 405;
		respond(c, hs.status, is_405 ? allow : NULL, is_405 ? sizeof(allow) - 1 : 0, body, blen,
		        false);
		break;
	}
	}
	return (size_t)n;
}
