/* test_handshake.c - unit tests for src/handshake.c: the RFC 6455 sample key, each rule of
 * section 4.2.1 with the status it must produce (and a passing sibling), upgrade versus plain
 * requests, strict key decoding, subprotocol selection, and the response writers at every
 * buffer size (they must never write past cap and must report the length they need). */
#include "unit.h"

#include "err.h"
#include "handshake.h"
#include "http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char sample_key[] = "dGhlIHNhbXBsZSBub25jZQ==";
/* RFC 6455 1.3 gives this 28-character value; a 27-character variant with "2K" in place of
 * "RbK" circulates in notes and is wrong (base64 of a 20-byte SHA-1 is always 28 characters). */
static const char sample_accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/* The RFC 6455 1.3 request without a trailing blank line, so cases can add headers. */
#define REQUEST_LINE "GET /chat HTTP/1.1\r\n"
#define GOOD_HEADERS                                                                               \
	"Host: server.example.com\r\n"                                                                 \
	"Upgrade: websocket\r\n"                                                                       \
	"Connection: Upgrade\r\n"                                                                      \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
	"Sec-WebSocket-Version: 13\r\n"

/* Parses `head` (copied against a guard page, which the views then point into) and runs the
 * check. The guard stays mapped until the next call, so hs views remain readable. */
static ws_handshake_kind check(const char *head, ws_handshake *hs)
{
	static unit_guard g;
	static ws_http_request req;
	ws_http_parser p = {0};
	size_t len = strlen(head);
	const uint8_t *buf;

	if (g.map)
		unit_guard_release(&g);
	unit_guard_init(&g, len);
	buf = unit_guard_place(&g, head, len);
	UNIT_CHECK(ws_http_parse(&p, buf, len, &req) == (ssize_t)len, "parse: %s", head);
	return ws_handshake_check(&req, hs);
}

static void test_accept(void)
{
	char out[WS_HANDSHAKE_ACCEPT_LEN + 1];

	memset(out, 'x', sizeof(out));
	ws_handshake_accept(sample_key, strlen(sample_key), out);
	UNIT_CHECK(strcmp(out, sample_accept) == 0, "got %s", out);
	/* A second pair, checked against Python's hashlib and base64. */
	ws_handshake_accept("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
	UNIT_CHECK(strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0, "got %s", out);
}

static void test_rfc_request(void)
{
	ws_handshake hs;
	ws_handshake_kind k =
	    check(REQUEST_LINE GOOD_HEADERS "Origin: http://example.com\r\n"
	                                    "Sec-WebSocket-Protocol: chat, superchat\r\n"
	                                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	                                    "\r\n",
	          &hs);

	UNIT_CHECK(k == WS_HANDSHAKE_UPGRADE && hs.kind == k && hs.status == 101, "kind %d", k);
	UNIT_CHECK(strcmp(hs.accept, sample_accept) == 0, "accept %s", hs.accept);
	UNIT_CHECK(hs.protocols_len == 15 && memcmp(hs.protocols, "chat, superchat", 15) == 0,
	           "protocols");
	UNIT_CHECK(hs.extensions_len == 18 && memcmp(hs.extensions, "permessage-deflate", 18) == 0,
	           "extensions");
	k = check(REQUEST_LINE GOOD_HEADERS "\r\n", &hs);
	UNIT_CHECK(k == WS_HANDSHAKE_UPGRADE && hs.protocols == NULL && hs.protocols_len == 0 &&
	               hs.extensions == NULL,
	           "without offers");
	k = check(REQUEST_LINE GOOD_HEADERS "Sec-WebSocket-Protocol: a\r\n"
	                                    "Sec-WebSocket-Protocol: b\r\n\r\n",
	          &hs);
	UNIT_CHECK(k == WS_HANDSHAKE_UPGRADE && hs.protocols_len == 1 && hs.protocols[0] == 'a',
	           "first of several protocol headers");
}

/* Every 4.2.1 rule: a request that breaks it, with the status, next to one that bends it
 * legally (case, other tokens, several field lines) and must pass. */
static void test_rules(void)
{
	static const struct {
		const char *name;
		const char *head;
		ws_handshake_kind kind;
		int status;
	} cases[] = {
	    {"POST", "POST /chat HTTP/1.1\r\n" GOOD_HEADERS "\r\n", WS_HANDSHAKE_BAD, 405},
	    {"lowercase get", "get /chat HTTP/1.1\r\n" GOOD_HEADERS "\r\n", WS_HANDSHAKE_BAD, 405},
	    {"HTTP/1.0", "GET /chat HTTP/1.0\r\n" GOOD_HEADERS "\r\n", WS_HANDSHAKE_BAD, 400},
	    {"HTTP/1.2", "GET /chat HTTP/1.2\r\n" GOOD_HEADERS "\r\n", WS_HANDSHAKE_UPGRADE, 101},
	    {"no Host",
	     REQUEST_LINE "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"two Hosts", REQUEST_LINE "Host: a\r\n" GOOD_HEADERS "\r\n", WS_HANDSHAKE_BAD, 400},
	    {"Upgrade in other case",
	     REQUEST_LINE "Host: a\r\nUpgrade: WebSocket\r\n"
	                  "Connection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    {"Upgrade among tokens",
	     REQUEST_LINE "Host: a\r\nUpgrade: h2c, websocket\r\n"
	                  "Connection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    {"no Upgrade",
	     REQUEST_LINE "Host: a\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_PLAIN, 0},
	    {"Upgrade: h2c", REQUEST_LINE "Host: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
	     WS_HANDSHAKE_PLAIN, 0},
	    {"plain GET", REQUEST_LINE "Host: a\r\n\r\n", WS_HANDSHAKE_PLAIN, 0},
	    {"plain POST", "POST /form HTTP/1.0\r\n\r\n", WS_HANDSHAKE_PLAIN, 0},
	    {"no Connection",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"Connection: keep-alive",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\n"
	                  "Connection: keep-alive\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"Connection: keep-alive, Upgrade",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\n"
	                  "Connection: keep-alive, Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    {"Connection on two lines",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\n"
	                  "Connection: keep-alive\r\nConnection: UPGRADE\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    {"no key",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"two keys",
	     REQUEST_LINE GOOD_HEADERS "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"no version",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	     WS_HANDSHAKE_BAD, 426},
	    {"version 8",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 8\r\n\r\n",
	     WS_HANDSHAKE_BAD, 426},
	    {"version 013",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 013\r\n\r\n",
	     WS_HANDSHAKE_BAD, 426},
	    {"version list",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13, 8\r\n\r\n",
	     WS_HANDSHAKE_BAD, 426},
	    {"version with blanks",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version:  13 \r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    /* Singletons (RFC 6454 7.3, RFC 6455 11.3.5): a second line is 400, whatever it says. */
	    {"two Origins",
	     REQUEST_LINE GOOD_HEADERS "Origin: https://good.example\r\n"
	                               "Origin: https://evil.example\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"the same Origin twice",
	     REQUEST_LINE GOOD_HEADERS "Origin: https://good.example\r\n"
	                               "origin: https://good.example\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"one Origin", REQUEST_LINE GOOD_HEADERS "Origin: https://good.example\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    {"version 13, then 12 on a second line",
	     REQUEST_LINE GOOD_HEADERS "Sec-WebSocket-Version: 12\r\n\r\n", WS_HANDSHAKE_BAD, 400},
	    {"version 13 on two lines", REQUEST_LINE GOOD_HEADERS "Sec-WebSocket-Version: 13\r\n\r\n",
	     WS_HANDSHAKE_BAD, 400},
	    {"list-valued headers on several lines",
	     REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n"
	                  "Connection: Upgrade\r\nConnection: keep-alive\r\n"
	                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                  "Sec-WebSocket-Version: 13\r\n"
	                  "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n"
	                  "Sec-WebSocket-Extensions: x\r\nSec-WebSocket-Extensions: y\r\n\r\n",
	     WS_HANDSHAKE_UPGRADE, 101},
	    /* Order of the checks: the method is judged first. */
	    {"POST with no key", "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
	     WS_HANDSHAKE_BAD, 405},
	};
	ws_handshake hs;

	for (size_t i = 0; i < N(cases); i++) {
		memset(&hs, 0x5A, sizeof(hs));
		ws_handshake_kind k = check(cases[i].head, &hs);
		UNIT_CHECK(k == cases[i].kind && hs.kind == k, "%s: kind %d", cases[i].name, k);
		if (k == WS_HANDSHAKE_BAD)
			UNIT_CHECK(hs.status == cases[i].status && hs.reason && hs.reason[0], "%s: status %d",
			           cases[i].name, hs.status);
		else if (k == WS_HANDSHAKE_UPGRADE)
			UNIT_CHECK(hs.status == 101 && strcmp(hs.accept, sample_accept) == 0, "%s",
			           cases[i].name);
	}
}

/* Sec-WebSocket-Key must be canonical base64 of exactly 16 bytes (4.1, 4.2.1 item 5). */
static void test_keys(void)
{
	static const struct {
		const char *key;
		bool ok;
	} cases[] = {
	    {"dGhlIHNhbXBsZSBub25jZQ==", true},
	    {"AAAAAAAAAAAAAAAAAAAAAA==", true},
	    {"/////////////////////w==", true},
	    {"+/+/+/+/+/+/+/+/+/+/+w==", true},
	    {"dGhlIHNhbXBsZSBub25jZQ", false},    /* padding missing */
	    {"dGhlIHNhbXBsZSBub25jZQ=", false},   /* padding cut */
	    {"dGhlIHNhbXBsZSBub25jZQ===", false}, /* too long */
	    {"dGhlIHNhbXBsZSBub25jZR==", false},  /* stray bits in the last character */
	    {"dGhlIHNhbXBsZSBub25j", false},      /* 15 bytes */
	    {"dGhlIHNhbXBsZSBub25jZQAA", false},  /* 18 bytes, no padding */
	    {"dGhlIHNhbXBsZSBub25jZWE=", false},  /* 17 bytes */
	    {"dGhlIHNhbXBsZSBub25j-Q==", false},  /* URL-safe alphabet */
	    {"dGhlIHNhbXBsZSBub2 jZQ==", false},  /* blank inside */
	    {"dGhlIHNhbXBsZSBub25jZ===", false},  /* padding in data */
	    {"dGhlIHNhbXBsZSBub25jZQ=A", false},  /* data after padding */
	    {"", false},
	};
	char head[512];
	ws_handshake hs;

	for (size_t i = 0; i < N(cases); i++) {
		snprintf(head, sizeof(head),
		         REQUEST_LINE "Host: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		         cases[i].key);
		ws_handshake_kind k = check(head, &hs);
		UNIT_CHECK(cases[i].ok ? k == WS_HANDSHAKE_UPGRADE
		                       : k == WS_HANDSHAKE_BAD && hs.status == 400,
		           "key \"%s\": kind %d status %d", cases[i].key, k, hs.status);
	}
}

static void test_select_protocol(void)
{
	const char *const supported[] = {"superchat", "chat", "v2.json"};
	static const struct {
		const char *offer;
		int want;
	} cases[] = {
	    {"chat, superchat", 1}, /* the client's order decides */
	    {"superchat, chat", 0},
	    {"v1.json, v2.json", 2},
	    {"  ,, chat ,", 1},
	    {"Chat", -1}, /* tokens are case-sensitive */
	    {"chat2", -1},
	    {"cha", -1},
	    {"", -1},
	    {"mqtt", -1},
	    {"mqtt,\tchat", 1},
	};

	for (size_t i = 0; i < N(cases); i++)
		UNIT_CHECK(ws_handshake_select_protocol(cases[i].offer, strlen(cases[i].offer), supported,
		                                        N(supported)) == cases[i].want,
		           "offer \"%s\"", cases[i].offer);
	UNIT_CHECK(ws_handshake_select_protocol(NULL, 0, supported, N(supported)) == -1, "no offer");
	UNIT_CHECK(ws_handshake_select_protocol("chat", 4, supported, 0) == -1, "nothing supported");
	UNIT_CHECK(ws_handshake_select_protocol("chat, superchat", 4, supported, N(supported)) == 1,
	           "offer_len respected");
}

/* Calls `write` with every cap from 0 to the full length, the output ending at a guard page,
 * and checks that each short call reports the full length and wrote only a prefix of it. */
typedef size_t (*writer_fn)(char *out, size_t cap, const void *ctx);

static void check_caps(const char *name, writer_fn write, const void *ctx, const char *want)
{
	size_t want_len = strlen(want);
	char full[1024];
	unit_guard g;

	UNIT_CHECK(write(full, sizeof(full), ctx) == want_len, "%s: length", name);
	UNIT_CHECK(memcmp(full, want, want_len) == 0, "%s: got\n%.*s", name, (int)want_len, full);
	unit_guard_init(&g, want_len + 1);
	for (size_t cap = 0; cap <= want_len; cap++) {
		char *out = (char *)g.end - cap;
		memset(out, 0, cap);
		size_t n = write(out, cap, ctx);
		UNIT_CHECK(n == want_len, "%s: cap %zu gave %zu", name, cap, n);
		UNIT_CHECK(cap == 0 || memcmp(out, want, cap) == 0, "%s: cap %zu prefix", name, cap);
	}
	unit_guard_release(&g);
}

typedef struct args_101 {
	const char *protocol;
	const char *extra;
} args_101;

static size_t write_101(char *out, size_t cap, const void *ctx)
{
	const args_101 *a = ctx;
	return ws_handshake_write_101(out, cap, sample_accept, a->protocol,
	                              a->protocol ? strlen(a->protocol) : 0, a->extra,
	                              a->extra ? strlen(a->extra) : 0);
}

static void test_write_101(void)
{
	const args_101 plain = {NULL, NULL};
	const args_101 proto = {"chat", NULL};
	const args_101 empty_proto = {"", "X-A: 1\r\n"};
	const args_101 extra = {"chat", "Sec-WebSocket-Extensions: permessage-deflate\r\nX-B: 2\r\n"};

	check_caps("101", write_101, &plain,
	           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	check_caps("101 with protocol", write_101, &proto,
	           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	           "Sec-WebSocket-Protocol: chat\r\n\r\n");
	check_caps("101 with empty protocol", write_101, &empty_proto,
	           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-A: 1\r\n\r\n");
	check_caps("101 with extra", write_101, &extra,
	           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	           "Sec-WebSocket-Protocol: chat\r\n"
	           "Sec-WebSocket-Extensions: permessage-deflate\r\nX-B: 2\r\n\r\n");
}

typedef struct args_response {
	int status;
	const char *extra;
	const char *body;
} args_response;

static size_t write_response(char *out, size_t cap, const void *ctx)
{
	const args_response *a = ctx;
	return ws_handshake_write_response(out, cap, a->status, a->extra,
	                                   a->extra ? strlen(a->extra) : 0, a->body,
	                                   a->body ? strlen(a->body) : 0);
}

static void test_write_response(void)
{
	const args_response bad = {400, NULL, "Bad key."};
	const args_response upgrade = {426, NULL, ""};
	const args_response typed = {200, "X-A: 1\r\ncontent-TYPE: text/html\r\n", "<p>hi</p>"};
	const args_response empty = {204, NULL, NULL};
	const args_response unknown = {299, "Retry-After: 5\r\n", "x"};

	check_caps("400", write_response, &bad,
	           "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 8\r\n"
	           "Content-Type: text/plain; charset=utf-8\r\n\r\nBad key.");
	check_caps("426", write_response, &upgrade,
	           "HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Length: 0\r\n"
	           "Sec-WebSocket-Version: 13\r\n\r\n");
	check_caps("own content type", write_response, &typed,
	           "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 9\r\n"
	           "X-A: 1\r\ncontent-TYPE: text/html\r\n\r\n<p>hi</p>");
	check_caps("204", write_response, &empty,
	           "HTTP/1.1 204 No Content\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
	check_caps("unknown status", write_response, &unknown,
	           "HTTP/1.1 299 Unknown\r\nConnection: close\r\nContent-Length: 1\r\n"
	           "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n\r\nx");
}

static void test_status_text(void)
{
	static const struct {
		int status;
		const char *text;
	} cases[] = {
	    {101, "Switching Protocols"},
	    {200, "OK"},
	    {204, "No Content"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {304, "Not Modified"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {413, "Content Too Large"},
	    {426, "Upgrade Required"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {503, "Service Unavailable"},
	    {505, "HTTP Version Not Supported"},
	    {0, "Unknown"},
	    {418, "Unknown"},
	    {-1, "Unknown"},
	};

	for (size_t i = 0; i < N(cases); i++)
		UNIT_CHECK(strcmp(ws_handshake_status_text(cases[i].status), cases[i].text) == 0, "%d",
		           cases[i].status);
}

/* conn_upgrade.c sizes a response with (NULL, 0) and then writes it into a chunk of exactly that
 * size. */
static void test_sizing_pass(void)
{
	char buf[512];
	size_t need = ws_handshake_write_response(NULL, 0, 404, "X-A: b\r\n", 8, "gone", 4);
	size_t full = ws_handshake_write_response(buf, sizeof(buf), 404, "X-A: b\r\n", 8, "gone", 4);
	UNIT_CHECK(need == full && need < sizeof(buf), "need %zu full %zu", need, full);
	need = ws_handshake_write_101(NULL, 0, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat", 4, NULL, 0);
	full = ws_handshake_write_101(buf, sizeof(buf), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat", 4, NULL,
	                              0);
	UNIT_CHECK(need == full && need < sizeof(buf), "need %zu full %zu", need, full);
}

static const CU_TestInfo tests[] = {
    {"accept of the RFC sample key", test_accept},
    {"RFC 6455 request", test_rfc_request},
    {"4.2.1 rules", test_rules},
    {"strict key decoding", test_keys},
    {"select protocol", test_select_protocol},
    {"write 101", test_write_101},
    {"write response", test_write_response},
    {"status text", test_status_text},
    {"sizing pass", test_sizing_pass},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("handshake", tests);
}
