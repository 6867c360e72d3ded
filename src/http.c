/* http.c - incremental, bounded HTTP/1.1 request-head parser (RFC 9112 sections 2-5).
 * Each call searches only the bytes it has not searched before for the blank line that ends
 * the head, and gives up with 431 once max_head_bytes have arrived without one, so a slow or
 * endless head costs linear time and bounded memory. The complete head is then parsed once:
 * request line, then header fields, with the strict grammar of RFC 9110/9112 (tokens for the
 * method and field names, no control characters, no obsolete line folding), then the
 * request-target, which is reduced to origin form (path and query).
 * Results are views into the caller's buffer. No allocation; no knowledge of WebSocket beyond
 * the ws and wss schemes in an absolute-form target. */
#include "http.h"
#include "err.h"

#include <string.h>

#define DEFAULT_MAX_HEAD 8192

/* tchar of RFC 9110 5.6.2: the characters allowed in a method and a field name. */
static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static bool equal_nocase(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower((uint8_t)a[i]) != lower((uint8_t)b[i]))
			return false;
	return true;
}

static ssize_t fail(ws_http_parser *p, ssize_t rc, int status)
{
	p->status = status;
	return rc;
}

/* Looks for the end of the head in buf[p->scanned, len): a line feed followed by an empty
 * line, which is LF or CR LF (bare LF is tolerated as RFC 9112 2.2 allows). Returns the head
 * length, or 0 when it is not there yet. `scanned` never moves past a line feed whose
 * following bytes have not all arrived, so a terminator split across calls is still found. */
static size_t find_end(ws_http_parser *p, const uint8_t *buf, size_t len)
{
	size_t i = p->scanned;

	for (;;) {
		const uint8_t *lf = i < len ? memchr(buf + i, '\n', len - i) : NULL;
		if (!lf) {
			p->scanned = len;
			return 0;
		}
		i = (size_t)(lf - buf);
		if (i + 1 >= len)
			break;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r') {
			if (i + 2 >= len)
				break;
			if (buf[i + 2] == '\n')
				return i + 3;
		}
		i++;
	}
	p->scanned = i;
	return 0;
}

/* Returns the length of the line starting at `line` (without its CR LF or LF) and sets *next
 * to the start of the following line. The head is known to end in a line feed. */
static size_t line_len(const uint8_t *line, const uint8_t *end, const uint8_t **next)
{
	const uint8_t *lf = memchr(line, '\n', (size_t)(end - line));
	size_t n = (size_t)(lf - line);

	*next = lf + 1;
	if (n && line[n - 1] == '\r')
		n--;
	return n;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). Anything else in that place is a
 * malformed request (400); a well-formed version other than 1.x is 505. */
static ssize_t parse_version(ws_http_parser *p, const uint8_t *v, size_t len, ws_http_request *req)
{
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
		return fail(p, WS_EPROTO, 400);
	if (v[5] != '1')
		return fail(p, WS_EPROTO, 505);
	req->version_minor = v[7] - '0';
	return 0;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3), with exactly one
 * space between the parts: lenient splitting on runs of blanks is a known request-smuggling
 * vector when a proxy in front splits differently. */
static ssize_t parse_request_line(ws_http_parser *p, const uint8_t *s, size_t len,
                                  ws_http_request *req)
{
	size_t i = 0, start;

	while (i < len && is_tchar(s[i]))
		i++;
	if (i == 0 || i == len || s[i] != ' ')
		return fail(p, WS_EPROTO, 400);
	req->method = (const char *)s;
	req->method_len = i;
	start = ++i;
	/* The target is visible ASCII only (RFC 3986 characters); raw UTF-8 or controls here are
	 * rejected rather than passed on to the application's router. */
	while (i < len && s[i] > ' ' && s[i] < 0x7F)
		i++;
	if (i == start || i == len || s[i] != ' ')
		return fail(p, WS_EPROTO, 400);
	req->target = (const char *)s + start;
	req->target_len = i - start;
	i++;
	return parse_version(p, s + i, len - i, req);
}

/* The length of an absolute-form target's "scheme://" when the scheme is one a WebSocket or
 * HTTP client may name here (RFC 6455 3 and 4.1, RFC 9110 4.2), else 0. */
static size_t scheme_len(const char *t, size_t len)
{
	static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);
		if (len >= n && equal_nocase(t, schemes[i], n))
			return n;
	}
	return 0;
}

/* True when the request has exactly one Host header and its value is `authority`. */
static bool host_matches(const ws_http_request *req, const char *authority, size_t len)
{
	const ws_http_header *host = NULL;

	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		if (h->name_len == 4 && equal_nocase(h->name, "host", 4)) {
			if (host)
				return false;
			host = h;
		}
	}
	return host && host->value_len == len && equal_nocase(host->value, authority, len);
}

/* Splits the request-target (RFC 9112 3.2) into path and query, origin-form either way.
 * Origin-form is taken as sent. Absolute-form is what proxies are sent, and a server that
 * routes on its path must not see a scheme and a host there; its authority must be the Host
 * the request names, or a front end that routes on Host and this server would disagree on
 * which site was asked for. Authority-form belongs to CONNECT and asterisk-form to
 * OPTIONS *: neither names a resource here. */
static ssize_t parse_target(ws_http_parser *p, ws_http_request *req)
{
	const char *t = req->target, *end = t + req->target_len, *path = t;

	req->authority = NULL;
	req->authority_len = 0;
	if (t[0] != '/') {
		size_t n = scheme_len(t, req->target_len);
		if (n == 0)
			return fail(p, WS_EPROTO, 400);
		const char *a = t + n, *a_end = a;
		while (a_end < end && *a_end != '/' && *a_end != '?')
			a_end++;
		/* userinfo is deprecated in http(s) URIs (RFC 9110 4.2.4) and never matches a Host. */
		if (a_end == a || memchr(a, '@', (size_t)(a_end - a)) ||
		    !host_matches(req, a, (size_t)(a_end - a)))
			return fail(p, WS_EPROTO, 400);
		req->authority = a;
		req->authority_len = (size_t)(a_end - a);
		path = a_end;
	}
	const char *q = memchr(path, '?', (size_t)(end - path));
	const char *path_end = q ? q : end;
	if (path_end == path) {
		req->path = "/"; /* an empty path is "/" (RFC 9110 4.2.3) */
		req->path_len = 1;
	} else {
		req->path = path;
		req->path_len = (size_t)(path_end - path);
	}
	req->query = q ? q + 1 : NULL;
	req->query_len = q ? (size_t)(end - q - 1) : 0;
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5). */
static ssize_t parse_field(ws_http_parser *p, const uint8_t *s, size_t len, ws_http_header *h)
{
	size_t i = 0, start, end;

	/* A line that starts with a blank continues the previous one (obs-fold, RFC 9112 5.2)
	 * or, right after the request line, hides a header from some parsers; both get 400. */
	if (len && is_blank(s[0]))
		return fail(p, WS_EPROTO, 400);
	while (i < len && is_tchar(s[i]))
		i++;
	/* No blank is allowed between the name and the colon (RFC 9112 5.1). */
	if (i == 0 || i == len || s[i] != ':')
		return fail(p, WS_EPROTO, 400);
	h->name = (const char *)s;
	h->name_len = i;
	i++;
	while (i < len && is_blank(s[i]))
		i++;
	start = i;
	end = i;
	for (; i < len; i++) {
		/* Controls other than HTAB (including a lone CR and DEL) are never valid in a field
		 * value (RFC 9110 5.5); obs-text bytes 0x80-0xFF are kept for the application. */
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F)
			return fail(p, WS_EPROTO, 400);
		if (!is_blank(s[i]))
			end = i + 1;
	}
	h->value = (const char *)s + start;
	h->value_len = end - start;
	return 0;
}

static ssize_t parse_head(ws_http_parser *p, const uint8_t *buf, size_t head_len,
                          ws_http_request *req)
{
	const uint8_t *end = buf + head_len;
	const uint8_t *next;
	size_t n = line_len(buf, end, &next);
	ssize_t rc = parse_request_line(p, buf, n, req);

	if (rc < 0)
		return rc;
	req->num_headers = 0;
	for (const uint8_t *line = next;; line = next) {
		n = line_len(line, end, &next);
		if (n == 0)
			break;
		if (req->num_headers == WS_HTTP_MAX_HEADERS)
			return fail(p, WS_ETOOBIG, 431);
		rc = parse_field(p, line, n, &req->headers[req->num_headers]);
		if (rc < 0)
			return rc;
		req->num_headers++;
	}
	rc = parse_target(p, req);
	return rc < 0 ? rc : (ssize_t)head_len;
}

/* RFC 9112 2.2: a server SHOULD ignore at least one empty line received before the
 * request-line. Up to two (CRLF or bare LF) are skipped. Returns how many bytes they take, or
 * SIZE_MAX while the input so far is only such lines (or one CR of the next). */
static size_t leading_empty_lines(const uint8_t *buf, size_t len)
{
	size_t i = 0;
	for (int lines = 0; lines < 2; lines++) {
		size_t j = i < len && buf[i] == '\r' ? i + 1 : i;
		if (j >= len)
			return SIZE_MAX;
		if (buf[j] != '\n')
			break;
		i = j + 1;
	}
	return i < len ? i : SIZE_MAX;
}

ssize_t ws_http_parse(ws_http_parser *p, const uint8_t *buf, size_t len, ws_http_request *req)
{
	size_t limit = p->max_head_bytes ? p->max_head_bytes : DEFAULT_MAX_HEAD;
	size_t skip = leading_empty_lines(buf, len);
	if (skip == SIZE_MAX)
		return len >= limit ? fail(p, WS_ETOOBIG, 431) : WS_EAGAIN;
	/* The empty lines are fixed once anything else arrived, so `scanned` keeps counting from
	 * the request-line across calls. */
	const uint8_t *line = buf + skip;
	if (line[0] == '\n' || (line[0] == '\r' && len - skip > 1 && line[1] == '\n'))
		return fail(p, WS_EPROTO, 400); /* a third empty line: not a client that means well */

	/* Searching only the first `limit` bytes (skipped lines included) keeps a head that ends
	 * past the limit from being accepted just because its last bytes arrived in one read. */
	size_t window = (len < limit ? len : limit) - skip;
	size_t head_len = find_end(p, line, window);
	if (head_len == 0) {
		if (len >= limit)
			return fail(p, WS_ETOOBIG, 431);
		return WS_EAGAIN;
	}
	ssize_t rc = parse_head(p, line, head_len, req);
	return rc < 0 ? rc : rc + (ssize_t)skip;
}

const ws_http_header *ws_http_find(const ws_http_request *req, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		if (h->name_len == len && equal_nocase(h->name, name, len))
			return h;
	}
	return NULL;
}

bool ws_http_has_token(const char *value, size_t value_len, const char *token)
{
	size_t token_len = strlen(token);
	size_t i = 0;

	while (i < value_len) {
		size_t start, end;
		while (i < value_len && is_blank((uint8_t)value[i]))
			i++;
		start = i;
		while (i < value_len && value[i] != ',')
			i++;
		end = i;
		while (end > start && is_blank((uint8_t)value[end - 1]))
			end--;
		if (end - start == token_len && equal_nocase(value + start, token, token_len))
			return true;
		i++; /* past the comma */
	}
	return false;
}
