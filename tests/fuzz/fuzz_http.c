/* fuzz_http.c - libFuzzer target for src/http.c and src/handshake.c.
 * Input: byte 0 picks max_head_bytes (0 = the 8192 default, 64, 256, 1024) and a buffer cap for
 * the response writers; byte 1 is the step (plus one) by which the received length grows;
 * the rest is the request. Feeds growing prefixes the way a connection does (each call sees
 * every byte so far, in an exact-size allocation) and checks that the result equals one call
 * on the whole input. On success it checks the parsed views against the grammar, runs
 * ws_handshake_check, and writes the responses at a short and a long cap, which must agree and
 * never pass the cap. */
#include "fuzz.h"
#include "handshake.h"
#include "http.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

typedef struct outcome {
	ssize_t rc;
	int status;
	uint64_t digest; /* of the parsed request, as offsets into the buffer */
} outcome;

static void mix(uint64_t *d, uint64_t v)
{
	*d = (*d ^ v) * 0x100000001B3ull;
}

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The views must lie in the head and hold only what the grammar allows. */
static uint64_t check_request(const uint8_t *buf, size_t head_len, const ws_http_request *req)
{
	const char *base = (const char *)buf, *end = base + head_len;
	uint64_t d = 0;

	/* Up to two empty lines before the request-line are skipped (RFC 9112 2.2). */
	REQUIRE(req->method >= base && req->method <= base + 4 && req->method_len > 0);
	for (size_t i = 0; i < req->method_len; i++)
		REQUIRE(is_tchar((uint8_t)req->method[i]));
	REQUIRE(req->target > base && req->target + req->target_len < end && req->target_len > 0);
	/* The origin-form views: inside the target, or the static "/" of an empty path; the
	 * authority of an absolute-form target is the Host. */
	REQUIRE(req->path_len > 0 && req->path[0] == '/');
	if (req->path_len == 1 &&
	    (req->path < req->target || req->path >= req->target + req->target_len))
		REQUIRE(req->authority != NULL);
	else
		REQUIRE(req->path >= req->target &&
		        req->path + req->path_len <= req->target + req->target_len);
	REQUIRE(req->query == NULL || (req->query > req->target &&
	                               req->query + req->query_len == req->target + req->target_len &&
	                               req->query[-1] == '?'));
	REQUIRE(req->authority == NULL ||
	        (req->authority > req->target && req->authority_len > 0 &&
	         req->authority + req->authority_len <= req->target + req->target_len));
	if (req->authority) {
		const ws_http_header *h = ws_http_find(req, "host");
		REQUIRE(h && h->value_len == req->authority_len);
	} else {
		REQUIRE(req->path == req->target);
	}
	REQUIRE(req->version_minor >= 0 && req->version_minor <= 9);
	REQUIRE(req->num_headers <= WS_HTTP_MAX_HEADERS);
	mix(&d, req->method_len);
	mix(&d, (uint64_t)(req->target - base) << 32 | req->target_len);
	mix(&d, req->path_len);
	mix(&d, req->query ? (uint64_t)(req->query - base) << 32 | req->query_len : 0);
	mix(&d, req->authority ? (uint64_t)(req->authority - base) << 32 | req->authority_len : 0);
	mix(&d, (uint64_t)req->version_minor);
	const ws_http_header *host = ws_http_find(req, "host");
	REQUIRE(host == NULL || (host->name_len == 4 && host >= req->headers &&
	                         host < req->headers + req->num_headers));
	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		REQUIRE(h->name > base && h->name_len > 0 && h->name + h->name_len < end);
		for (size_t k = 0; k < h->name_len; k++)
			REQUIRE(is_tchar((uint8_t)h->name[k]));
		REQUIRE(h->value >= h->name + h->name_len + 1 && h->value + h->value_len < end);
		for (size_t k = 0; k < h->value_len; k++) {
			uint8_t c = (uint8_t)h->value[k];
			REQUIRE(c >= 0x20 || c == '\t');
			REQUIRE(c != 0x7F);
		}
		if (h->value_len) {
			REQUIRE(h->value[0] != ' ' && h->value[0] != '\t');
			REQUIRE(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
		}
		(void)ws_http_has_token(h->value, h->value_len, "upgrade");
		mix(&d, (uint64_t)(h->name - base) << 32 | h->name_len);
		mix(&d, (uint64_t)(h->value - base) << 32 | h->value_len);
	}
	return d;
}

static ssize_t parse_copy(ws_http_parser *p, const uint8_t *src, size_t len, ws_http_request *req,
                          uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	memcpy(*copy, src, len);
	return ws_http_parse(p, *copy, len, req);
}

static void feed(size_t max_head, const uint8_t *in, size_t len, size_t step, outcome *o,
                 ws_http_request *req, uint8_t **buf)
{
	ws_http_parser p = {.max_head_bytes = max_head};
	size_t have = 0;

	*buf = NULL;
	o->rc = WS_EAGAIN;
	o->status = 0;
	o->digest = 0;
	while (have < len) {
		have = len - have > step ? have + step : len;
		free(*buf);
		o->rc = parse_copy(&p, in, have, req, buf);
		REQUIRE(p.scanned <= have);
		if (o->rc == WS_EAGAIN)
			continue;
		o->status = p.status;
		if (o->rc > 0) {
			REQUIRE((size_t)o->rc <= have && (size_t)o->rc <= (max_head ? max_head : 8192));
			o->digest = check_request(*buf, (size_t)o->rc, req);
		} else {
			REQUIRE((o->rc == WS_ETOOBIG && p.status == 431) ||
			        (o->rc == WS_EPROTO && (p.status == 400 || p.status == 505)));
		}
		return;
	}
}

static void check_writers(const ws_handshake *hs, const ws_http_request *req, size_t cap)
{
	static const char *const supported[] = {"chat", "superchat", "v1.json"};
	static char big[16384];
	const ws_http_header *extra = ws_http_find(req, "X-Extra");
	const char *proto = NULL;
	size_t proto_len = 0, full, n;
	char *small = malloc(cap ? cap : 1);

	int k = ws_handshake_select_protocol(hs->protocols, hs->protocols_len, supported, 3);
	REQUIRE(k >= -1 && k < 3);
	if (k >= 0) {
		proto = supported[k];
		proto_len = strlen(proto);
	}
	if (hs->kind == WS_HANDSHAKE_UPGRADE) {
		REQUIRE(hs->status == 101 && strlen(hs->accept) == WS_HANDSHAKE_ACCEPT_LEN);
		full = ws_handshake_write_101(big, sizeof(big), hs->accept, proto, proto_len,
		                              extra ? extra->value : NULL, extra ? extra->value_len : 0);
		n = ws_handshake_write_101(small, cap, hs->accept, proto, proto_len,
		                           extra ? extra->value : NULL, extra ? extra->value_len : 0);
	} else {
		int status = hs->kind == WS_HANDSHAKE_BAD ? hs->status : 200;
		const char *body = hs->reason ? hs->reason : "";
		if (hs->kind == WS_HANDSHAKE_BAD)
			REQUIRE((status == 400 || status == 405 || status == 426) && hs->reason);
		full = ws_handshake_write_response(big, sizeof(big), status, extra ? extra->value : NULL,
		                                   extra ? extra->value_len : 0, body, strlen(body));
		n = ws_handshake_write_response(small, cap, status, extra ? extra->value : NULL,
		                                extra ? extra->value_len : 0, body, strlen(body));
	}
	REQUIRE(n == full);
	if (full <= sizeof(big))
		REQUIRE(memcmp(small, big, cap < full ? cap : full) == 0);
	free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = {0, 64, 256, 1024};
	static ws_http_request req_a, req_b;
	outcome a, b;
	uint8_t *buf_a, *buf_b;

	if (size < 2)
		return 0;
	size_t max_head = limits[data[0] & 3];
	size_t cap = (size_t)(data[0] >> 2) * 8;
	size_t step = (size_t)data[1] + 1;

	feed(max_head, data + 2, size - 2, step, &a, &req_a, &buf_a);
	feed(max_head, data + 2, size - 2, size, &b, &req_b, &buf_b);
	REQUIRE(a.rc == b.rc && a.status == b.status && a.digest == b.digest);
	if (a.rc > 0) {
		ws_handshake hs;
		ws_handshake_kind kind = ws_handshake_check(&req_a, &hs);
		REQUIRE(kind == hs.kind && (kind == WS_HANDSHAKE_UPGRADE || kind == WS_HANDSHAKE_PLAIN ||
		                            kind == WS_HANDSHAKE_BAD));
		check_writers(&hs, &req_a, cap);
	}
	free(buf_a);
	free(buf_b);
	return 0;
}
