/* test_http.c - unit tests for src/http.c: valid heads (CRLF, bare LF, blanks, obs-text),
 * each malformation with its status (obs-fold, controls, bad token characters, broken or
 * missing versions, 505), the 431 limits on head size and header count, the incremental
 * search, the request-target forms (origin form as sent, absolute form reduced to its path
 * and query, the others 400), ws_http_find and ws_http_has_token. Every case runs whole, byte
 * by byte and split at each offset; each call sees the bytes so far ending at a PROT_NONE
 * page. */
#include "unit.h"

#include "err.h"
#include "http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The parsed request as text, "METHOD TARGET MINOR\n" then "Name: value\n" per header, so a
 * case states its whole expected result in one string. */
static void summarize(const ws_http_request *req, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "%.*s %.*s %d\n", (int)req->method_len, req->method,
	                            (int)req->target_len, req->target, req->version_minor);
	for (size_t i = 0; i < req->num_headers && n < cap; i++) {
		const ws_http_header *h = &req->headers[i];
		n += (size_t)snprintf(out + n, cap - n, "%.*s: %.*s\n", (int)h->name_len, h->name,
		                      (int)h->value_len, h->value);
	}
}

typedef struct http_outcome {
	ssize_t rc;
	int status;
	char summary[16384];
} http_outcome;

/* Feeds growing prefixes of `in` as a connection would (len = every byte received so far),
 * stopping at the first result that is not WS_EAGAIN. */
static void feed(size_t max_head, const char *in, size_t len, const unit_way *w, unit_guard *g,
                 http_outcome *o, const char *ctx)
{
	ws_http_parser p = {.max_head_bytes = max_head};
	static ws_http_request req;
	size_t pos = 0;

	o->rc = WS_EAGAIN;
	o->status = 0;
	o->summary[0] = '\0';
	while (pos < len) {
		size_t end = unit_way_piece_end(w, pos, len);
		const uint8_t *buf = unit_guard_place(g, in, end);
		memset(&req, 0xA5, sizeof(req));
		o->rc = ws_http_parse(&p, buf, end, &req);
		UNIT_CHECK(p.scanned <= end, "%s: scanned %zu of %zu", ctx, p.scanned, end);
		pos = end;
		if (o->rc == WS_EAGAIN)
			continue;
		o->status = p.status;
		if (o->rc > 0) {
			UNIT_CHECK((size_t)o->rc <= end, "%s: head of %zd in %zu bytes", ctx, o->rc, end);
			UNIT_CHECK(req.num_headers <= WS_HTTP_MAX_HEADERS, "%s", ctx);
			/* The method starts the head, after at most two skipped empty lines (4 bytes). */
			UNIT_CHECK((const uint8_t *)req.method >= buf &&
			               (const uint8_t *)req.method <= buf + 4 &&
			               (const uint8_t *)req.target + req.target_len <= buf + o->rc,
			           "%s: views outside the head", ctx);
			for (size_t i = 0; i < req.num_headers && i < WS_HTTP_MAX_HEADERS; i++)
				UNIT_CHECK((const uint8_t *)req.headers[i].name > buf &&
				               (const uint8_t *)req.headers[i].value + req.headers[i].value_len <=
				                   buf + o->rc,
				           "%s: header %zu outside the head", ctx, i);
			summarize(&req, o->summary, sizeof(o->summary));
		}
		return;
	}
}

/* Runs a case every way; want_summary is checked on success (NULL: do not check). */
static void expect(const char *name, size_t max_head, const char *in, size_t len, ssize_t want_rc,
                   int want_status, const char *want_summary)
{
	static http_outcome o;
	unit_guard g;
	char ctx[160], way[48];

	unit_guard_init(&g, len);
	UNIT_FOR_EACH_WAY(w, len)
	{
		snprintf(ctx, sizeof(ctx), "%s (%s)", name, unit_way_name(&w, way, sizeof(way)));
		feed(max_head, in, len, &w, &g, &o, ctx);
		UNIT_CHECK(o.rc == want_rc, "%s: result %zd, want %zd", ctx, o.rc, want_rc);
		if (want_rc < 0 && want_rc != WS_EAGAIN)
			UNIT_CHECK(o.status == want_status, "%s: status %d, want %d", ctx, o.status,
			           want_status);
		if (want_rc > 0 && want_summary)
			UNIT_CHECK(strcmp(o.summary, want_summary) == 0, "%s: got\n%s\nwant\n%s", ctx,
			           o.summary, want_summary);
	}
	unit_guard_release(&g);
}

#define S(lit) lit, sizeof(lit) - 1

/* A head that is the whole input. */
#define EXPECT_OK(name, lit, summary)                                                              \
	expect(name, 0, lit, sizeof(lit) - 1, sizeof(lit) - 1, 0, summary)
/* A malformed head. */
#define EXPECT_BAD(name, lit, rc, status) expect(name, 0, lit, sizeof(lit) - 1, rc, status, NULL)

static void test_valid_heads(void)
{
	static const char rfc[] = "GET /chat HTTP/1.1\r\n"
	                          "Host: server.example.com\r\n"
	                          "Upgrade: websocket\r\n"
	                          "Connection: Upgrade\r\n"
	                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                          "Origin: http://example.com\r\n"
	                          "Sec-WebSocket-Protocol: chat, superchat\r\n"
	                          "Sec-WebSocket-Version: 13\r\n"
	                          "\r\n";
	static const char rfc_summary[] = "GET /chat 1\n"
	                                  "Host: server.example.com\n"
	                                  "Upgrade: websocket\n"
	                                  "Connection: Upgrade\n"
	                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
	                                  "Origin: http://example.com\n"
	                                  "Sec-WebSocket-Protocol: chat, superchat\n"
	                                  "Sec-WebSocket-Version: 13\n";
	char buf[512];

	EXPECT_OK("RFC 6455 request", rfc, rfc_summary);
	/* Bytes after the head (an eager client's first frame) are not part of it. */
	snprintf(buf, sizeof(buf), "%s\x81\x85\x37\xfa\x21\x3d\x7f", rfc);
	expect("head followed by a frame", 0, buf, strlen(buf), sizeof(rfc) - 1, 0, rfc_summary);
	EXPECT_OK("bare LF", "GET / HTTP/1.1\nHost: a\nX: b\n\n", "GET / 1\nHost: a\nX: b\n");
	EXPECT_OK("mixed line ends", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\n",
	          "GET / 1\nHost: a\nX: b\n");
	EXPECT_OK("LF then CRLF", "GET / HTTP/1.1\n\r\n", "GET / 1\n");
	EXPECT_OK("no headers", "GET / HTTP/1.1\r\n\r\n", "GET / 1\n");
	EXPECT_OK("blanks trimmed", "GET /?a=b HTTP/1.1\r\nX: \t a \t b \t\r\nEmpty:\r\nE2:  \r\n\r\n",
	          "GET /?a=b 1\nX: a \t b\nEmpty: \nE2: \n");
	EXPECT_OK("obs-text in a value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",
	          "GET / 1\nX: caf\xc3\xa9\n");
	EXPECT_OK("token characters", "M-1!#$%&'*+.^_`|~ / HTTP/1.1\r\nA-b_C.d!#$%&'*+^`|~: v\r\n\r\n",
	          "M-1!#$%&'*+.^_`|~ / 1\nA-b_C.d!#$%&'*+^`|~: v\n");
	EXPECT_OK("HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "GET / 0\n");
	/* Any single-digit minor version is HTTP/1.x (RFC 9110 2.5: a recipient treats a higher
	 * minor version as the highest it implements). */
	EXPECT_OK("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", "GET / 2\n");
	EXPECT_OK("lowercase method is a token", "get / HTTP/1.1\r\n\r\n", "get / 1\n");
	EXPECT_OK("absolute target", "GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n",
	          "GET http://h/p?q 1\nHost: h\n");
	/* RFC 9112 2.2: empty lines before the request-line are ignored and count as consumed. */
	EXPECT_OK("one leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", "GET / 1\n");
	EXPECT_OK("two leading empty lines", "\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	          "GET / 1\nHost: a\n");
}

/* Parses a complete head once (against a guard page) and checks the origin-form views of its
 * target; want_query NULL means no '?', want_authority NULL means origin-form. The case also
 * runs every way through expect(). */
static void expect_target(const char *name, const char *head, const char *want_path,
                          const char *want_query, const char *want_authority)
{
	static ws_http_request req;
	ws_http_parser p = {0};
	size_t len = strlen(head);
	unit_guard g;

	expect(name, 0, head, len, (ssize_t)len, 0, NULL);
	unit_guard_init(&g, len);
	const uint8_t *buf = unit_guard_place(&g, head, len);
	UNIT_CHECK(ws_http_parse(&p, buf, len, &req) == (ssize_t)len, "%s: parse", name);
	UNIT_CHECK(req.path_len == strlen(want_path) && memcmp(req.path, want_path, req.path_len) == 0,
	           "%s: path %.*s", name, (int)req.path_len, req.path);
	if (want_query)
		UNIT_CHECK(req.query && req.query_len == strlen(want_query) &&
		               memcmp(req.query, want_query, req.query_len) == 0,
		           "%s: query", name);
	else
		UNIT_CHECK(req.query == NULL && req.query_len == 0, "%s: no query", name);
	if (want_authority)
		UNIT_CHECK(req.authority && req.authority_len == strlen(want_authority) &&
		               memcmp(req.authority, want_authority, req.authority_len) == 0,
		           "%s: authority", name);
	else
		UNIT_CHECK(req.authority == NULL && req.authority_len == 0, "%s: no authority", name);
	unit_guard_release(&g);
}

/* Request targets (RFC 9112 3.2, RFC 6455 4.1): origin-form as sent; absolute-form reduced to
 * its path and query when its authority is the Host; every other form 400. */
static void test_targets(void)
{
	expect_target("origin-form", "GET /chat?room=1&x HTTP/1.1\r\n\r\n", "/chat", "room=1&x", NULL);
	expect_target("origin-form, empty query", "GET /a? HTTP/1.1\r\n\r\n", "/a", "", NULL);
	expect_target("origin-form, two slashes", "GET //h/p HTTP/1.1\r\n\r\n", "//h/p", NULL, NULL);
	expect_target("absolute http",
	              "GET http://example.com/chat?a=b HTTP/1.1\r\nHost: example.com\r\n\r\n", "/chat",
	              "a=b", "example.com");
	expect_target("absolute HTTPS with a port, Host in another case",
	              "GET HTTPS://Example.COM:8443/x/y HTTP/1.1\r\nhost: example.com:8443\r\n\r\n",
	              "/x/y", NULL, "Example.COM:8443");
	expect_target("absolute ws", "GET ws://h:9/p HTTP/1.1\r\nHost: h:9\r\n\r\n", "/p", NULL, "h:9");
	expect_target("absolute wss", "GET wss://h/ HTTP/1.1\r\nHost: h\r\n\r\n", "/", NULL, "h");
	expect_target("absolute, empty path", "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", "/", NULL,
	              "h");
	expect_target("absolute, empty path with a query",
	              "GET http://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/", "q=1", "h");
	expect_target("absolute, IPv6 literal",
	              "GET http://[::1]:8000/p HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", "/p", NULL,
	              "[::1]:8000");

	static const struct {
		const char *name;
		const char *in;
		size_t len;
	} bad[] = {
	    {"asterisk-form", S("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")},
	    {"authority-form", S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")},
	    {"authority-form with GET", S("GET h:80 HTTP/1.1\r\nHost: h:80\r\n\r\n")},
	    {"relative path", S("GET chat HTTP/1.1\r\nHost: h\r\n\r\n")},
	    {"another scheme", S("GET ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n")},
	    {"scheme without //", S("GET http:/p HTTP/1.1\r\nHost: h\r\n\r\n")},
	    {"absolute, no Host", S("GET http://h/p HTTP/1.1\r\n\r\n")},
	    {"absolute, other Host",
	     S("GET http://evil.example/p HTTP/1.1\r\nHost: good.example\r\n\r\n")},
	    {"absolute, other port", S("GET http://h:8080/p HTTP/1.1\r\nHost: h\r\n\r\n")},
	    {"absolute, two Hosts", S("GET http://h/p HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n")},
	    {"absolute, empty authority", S("GET http:///p HTTP/1.1\r\nHost: \r\n\r\n")},
	    {"absolute, userinfo", S("GET http://u@h/p HTTP/1.1\r\nHost: u@h\r\n\r\n")},
	};
	for (size_t i = 0; i < N(bad); i++)
		expect(bad[i].name, 0, bad[i].in, bad[i].len, WS_EPROTO, 400, NULL);
}

static void test_incomplete(void)
{
	EXPECT_BAD("no blank line", "GET / HTTP/1.1\r\nHost: a\r\n", WS_EAGAIN, 0);
	EXPECT_BAD("half a terminator", "GET / HTTP/1.1\r\nHost: a\r\n\r", WS_EAGAIN, 0);
	EXPECT_BAD("request line only", "GET / HTTP/1.1", WS_EAGAIN, 0);
}

static void test_malformed(void)
{
	static const struct {
		const char *name;
		const char *in;
		size_t len;
		int status;
	} cases[] = {
	    {"obs-fold", S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 400},
	    {"obs-fold with tab", S("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), 400},
	    {"blank before the first header", S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400},
	    {"control in a value", S("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"), 400},
	    {"DEL in a value", S("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n"), 400},
	    {"lone CR in a value", S("GET / HTTP/1.1\r\nX: a\rz\r\n\r\n"), 400},
	    {"NUL in a value", S("GET / HTTP/1.1\r\nX: a\0z\r\n\r\n"), 400},
	    {"blank before the colon", S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400},
	    {"no colon", S("GET / HTTP/1.1\r\nHost a\r\n\r\n"), 400},
	    {"empty name", S("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400},
	    {"bad name character", S("GET / HTTP/1.1\r\nX(y): a\r\n\r\n"), 400},
	    {"space in a name", S("GET / HTTP/1.1\r\nX y: a\r\n\r\n"), 400},
	    {"non-ASCII name", S("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n"), 400},
	    {"bad method character", S("G(T / HTTP/1.1\r\n\r\n"), 400},
	    {"at sign in method", S("GE@T / HTTP/1.1\r\n\r\n"), 400},
	    {"empty method", S(" / HTTP/1.1\r\n\r\n"), 400},
	    {"two spaces", S("GET  / HTTP/1.1\r\n\r\n"), 400},
	    {"tab separator", S("GET\t/ HTTP/1.1\r\n\r\n"), 400},
	    {"control in target", S("GET /\x01 HTTP/1.1\r\n\r\n"), 400},
	    {"non-ASCII target", S("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400},
	    {"missing version", S("GET /\r\n\r\n"), 400},
	    {"missing version after space", S("GET / \r\n\r\n"), 400},
	    {"missing target", S("GET HTTP/1.1\r\n\r\n"), 400},
	    {"trailing space after version", S("GET / HTTP/1.1 \r\n\r\n"), 400},
	    {"lowercase protocol name", S("GET / http/1.1\r\n\r\n"), 400},
	    {"two-digit minor", S("GET / HTTP/1.10\r\n\r\n"), 400},
	    {"no minor", S("GET / HTTP/1\r\n\r\n"), 400},
	    {"CR inside the request line", S("GET / HTTP/1.1\rX\r\n\r\n"), 400},
	    {"three leading empty lines", S("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n"), 400},
	    {"only blank lines", S("\r\n\r\n\r\n"), 400},
	    {"HTTP/2.0", S("GET / HTTP/2.0\r\n\r\n"), 505},
	    {"HTTP/0.9", S("GET / HTTP/0.9\r\n\r\n"), 505},
	    {"HTTP/3.0", S("GET / HTTP/3.0\r\n\r\n"), 505},
	};

	for (size_t i = 0; i < N(cases); i++)
		expect(cases[i].name, 0, cases[i].in, cases[i].len, WS_EPROTO, cases[i].status, NULL);
}

/* Builds "GET / HTTP/1.1\r\n", then `n` headers "H<i>: v\r\n", then the blank line. */
static size_t build_headers(char *out, size_t cap, size_t n)
{
	size_t len = (size_t)snprintf(out, cap, "GET / HTTP/1.1\r\n");

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "H%zu: v\r\n", i);
	len += (size_t)snprintf(out + len, cap - len, "\r\n");
	return len;
}

static void test_limits(void)
{
	static char buf[16384];
	char head[128];
	size_t len;

	len = build_headers(buf, sizeof(buf), WS_HTTP_MAX_HEADERS);
	expect("64 headers", 0, buf, len, (ssize_t)len, 0, NULL);
	len = build_headers(buf, sizeof(buf), WS_HTTP_MAX_HEADERS + 1);
	expect("65 headers", 0, buf, len, WS_ETOOBIG, 431, NULL);

	/* A head of exactly max_head_bytes passes, one byte more does not. */
	len = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX: %s\r\n\r\n",
	                       "0123456789012345678901234567890123456789");
	expect("head at the limit", len, head, len, (ssize_t)len, 0, NULL);
	expect("head one over the limit", len - 1, head, len, WS_ETOOBIG, 431, NULL);
	/* The verdict does not depend on what else arrived in the same read. */
	memcpy(buf, head, len);
	memset(buf + len, 'z', 100);
	expect("head at the limit, more bytes behind", len, buf, len + 100, (ssize_t)len, 0, NULL);
	expect("head over the limit, more bytes behind", len - 1, buf, len + 100, WS_ETOOBIG, 431,
	       NULL);
	/* Skipped empty lines count toward the limit (a crash the fuzzer found when they did not). */
	buf[0] = '\r';
	buf[1] = '\n';
	memcpy(buf + 2, head, len);
	expect("empty line and head at the limit", len + 2, buf, len + 2, (ssize_t)len + 2, 0, NULL);
	expect("empty line and head over the limit", len + 1, buf, len + 2, WS_ETOOBIG, 431, NULL);
	/* A head that never ends fails once the limit is reached, not before. */
	memset(buf, 'a', 200);
	expect("endless line", 100, buf, 99, WS_EAGAIN, 0, NULL);
	expect("endless line at the limit", 100, buf, 100, WS_ETOOBIG, 431, NULL);
	/* max_head_bytes 0 means 8192. */
	len = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: ");
	memset(buf + len, 'v', 8192 - len - 4);
	memcpy(buf + 8192 - 4, "\r\n\r\n", 4);
	expect("default limit, 8192 bytes", 0, buf, 8192, 8192, 0, NULL);
	memmove(buf + 1, buf, 8192);
	buf[0] = 'G';
	buf[1] = 'E';
	buf[2] = 'T';
	buf[3] = 'T';
	expect("default limit, 8193 bytes", 0, buf, 8193, WS_ETOOBIG, 431, NULL);
}

/* The parser searches each byte once and keeps its place across calls. */
static void test_scanned(void)
{
	static char buf[2048];
	ws_http_parser p = {0};
	ws_http_request req;

	memset(buf, 'a', 1000);
	UNIT_CHECK(ws_http_parse(&p, (const uint8_t *)buf, 1000, &req) == WS_EAGAIN, "no end yet");
	UNIT_CHECK(p.scanned == 1000, "scanned %zu", p.scanned);
	memcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r", 26);
	memset(&p, 0, sizeof(p));
	UNIT_CHECK(ws_http_parse(&p, (const uint8_t *)buf, 26, &req) == WS_EAGAIN, "half end");
	UNIT_CHECK(p.scanned == 24, "kept at the line feed: %zu", p.scanned);
	buf[26] = '\n';
	UNIT_CHECK(ws_http_parse(&p, (const uint8_t *)buf, 27, &req) == 27, "complete");
	UNIT_CHECK(ws_http_parse(&p, (const uint8_t *)buf, 27, &req) == 27, "same answer again");
}

static void test_find(void)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n";
	ws_http_parser p = {0};
	ws_http_request req;
	const ws_http_header *h;

	UNIT_CHECK(ws_http_parse(&p, (const uint8_t *)in, sizeof(in) - 1, &req) > 0, "parse");
	h = ws_http_find(&req, "HOST");
	UNIT_CHECK(h && h->value_len == 1 && h->value[0] == 'a', "case-insensitive");
	h = ws_http_find(&req, "x-DUP");
	UNIT_CHECK(h && h->value[0] == '1', "first match");
	UNIT_CHECK(ws_http_find(&req, "Hos") == NULL, "prefix is not a match");
	UNIT_CHECK(ws_http_find(&req, "Hostname") == NULL, "longer name");
	UNIT_CHECK(ws_http_find(&req, "Upgrade") == NULL, "absent");
}

static void test_has_token(void)
{
	static const struct {
		const char *value;
		const char *token;
		bool want;
	} cases[] = {
	    {"keep-alive, Upgrade", "upgrade", true},
	    {"Upgrade", "upgrade", true},
	    {"UPGRADE", "upgrade", true},
	    {"  upgrade\t", "upgrade", true},
	    {",,upgrade,,", "upgrade", true},
	    {"keep-alive,upgrade", "upgrade", true},
	    {"keep-alive", "upgrade", false},
	    {"upgrade2", "upgrade", false},
	    {"xupgrade", "upgrade", false},
	    {"up grade", "upgrade", false},
	    {"upgrade;q=1", "upgrade", false},
	    {"", "upgrade", false},
	    {"websocket/13", "websocket", false},
	    {"h2c, WebSocket", "websocket", true},
	};

	for (size_t i = 0; i < N(cases); i++)
		UNIT_CHECK(ws_http_has_token(cases[i].value, strlen(cases[i].value), cases[i].token) ==
		               cases[i].want,
		           "\"%s\" has \"%s\"", cases[i].value, cases[i].token);
	/* value_len bounds the search even without a NUL. */
	UNIT_CHECK(!ws_http_has_token("keep-alive, upgrade", 11, "upgrade"), "length respected");
}

static const CU_TestInfo tests[] = {
    {"valid heads", test_valid_heads},
    {"incomplete heads", test_incomplete},
    {"malformed heads", test_malformed},
    {"limits", test_limits},
    {"incremental search", test_scanned},
    {"find", test_find},
    {"has token", test_has_token},
    {"request targets", test_targets},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("http", tests);
}
