/* fuzz_extensions.c - libFuzzer target for ws_deflate_negotiate (src/deflate.c).
 * Input: byte 0 is the server's configuration (bits 0-2: server_max_window_bits 8 + value,
 * bits 3-5: client_max_window_bits 8 + value, bit 6: no server context takeover, bit 7: no
 * client context takeover); byte 1 the number of header lines (1 + value % 3); bytes 2-3 where
 * the rest is cut into those lines; byte 4 the response buffer's size (0..128); the rest is
 * the Sec-WebSocket-Extensions text. Each line is an exact-size allocation.
 * Checks: the result is 0, 1 or WS_ETOOBIG, the last exactly when the response does not fit;
 * an accepted response reads back, offered to a server that allows everything, as the same
 * response with the same parameters; the parameters match the response's text and respect
 * the configuration; and several lines decide the same as those lines joined by commas
 * (unless a line ends inside a quoted-string, which a join would carry over). */
#include "fuzz.h"
#include "deflate.h"
#include "err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct outcome {
	int rc;
	ws_deflate_params p;
	char resp[WS_DEFLATE_RESP_MAX + 1]; /* NUL-terminated copy */
	size_t resp_len;
} outcome;

static void negotiate(const ws_deflate_config *cfg, const char *const *values, const size_t *lens,
                      size_t n, size_t cap, outcome *o)
{
	char *resp = malloc(cap ? cap : 1);

	memset(o, 0, sizeof(*o));
	o->rc = ws_deflate_negotiate(cfg, values, lens, n, &o->p, resp, cap, &o->resp_len);
	REQUIRE(o->rc == 0 || o->rc == 1 || o->rc == WS_ETOOBIG);
	REQUIRE(o->rc == 1 || o->resp_len == 0);
	REQUIRE(o->resp_len <= cap && o->resp_len <= WS_DEFLATE_RESP_MAX);
	memcpy(o->resp, resp, o->resp_len);
	o->resp[o->resp_len] = '\0';
	free(resp);
}

static bool ends_in_quote(const char *p, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (quoted && p[i] == '\\')
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
	}
	return quoted;
}

/* A parameter's value in the response, or 0 when the parameter is absent. */
static unsigned bits_in(const char *resp, const char *name)
{
	const char *at = strstr(resp, name);
	unsigned v = 0;

	if (!at)
		return 0;
	REQUIRE(at[strlen(name)] == '=');
	REQUIRE(sscanf(at + strlen(name) + 1, "%u", &v) == 1);
	return v;
}

static void check_accepted(const ws_deflate_config *cfg, const outcome *o)
{
	static const ws_deflate_config any = {15, 15, true, true, 8, 6};
	const ws_deflate_params *p = &o->p;
	outcome back;
	const char *v = o->resp;
	size_t len = o->resp_len;

	REQUIRE(strncmp(o->resp, "permessage-deflate", 18) == 0);
	negotiate(&any, &v, &len, 1, WS_DEFLATE_RESP_MAX, &back);
	REQUIRE(back.rc == 1 && back.resp_len == o->resp_len);
	REQUIRE(memcmp(back.resp, o->resp, o->resp_len) == 0);
	REQUIRE(memcmp(&back.p, p, sizeof(*p)) == 0);

	REQUIRE(p->server_no_context_takeover == (strstr(o->resp, "server_no_context_takeover") != 0));
	REQUIRE(p->client_no_context_takeover == (strstr(o->resp, "client_no_context_takeover") != 0));
	REQUIRE(cfg->server_context_takeover || p->server_no_context_takeover);
	REQUIRE(cfg->client_context_takeover || p->client_no_context_takeover);
	unsigned sb = bits_in(o->resp, "server_max_window_bits");
	unsigned cb = bits_in(o->resp, "client_max_window_bits");
	REQUIRE(sb ? sb == p->server_max_window_bits : p->server_max_window_bits == 15);
	REQUIRE(cb ? cb == p->client_max_window_bits : p->client_max_window_bits == 15);
	REQUIRE(p->server_max_window_bits >= 8 &&
	        p->server_max_window_bits <= cfg->server_max_window_bits);
	REQUIRE(p->client_max_window_bits >= 8 && p->client_max_window_bits <= 15);
	REQUIRE(!cb || p->client_max_window_bits <= cfg->client_max_window_bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	ws_deflate_config cfg = {(uint8_t)(8 + (data[0] & 7)),
	                         (uint8_t)(8 + ((data[0] >> 3) & 7)),
	                         !(data[0] & 0x40),
	                         !(data[0] & 0x80),
	                         8,
	                         6};
	size_t n = 1 + data[1] % 3;
	size_t cap = data[4] > WS_DEFLATE_RESP_MAX ? WS_DEFLATE_RESP_MAX : data[4];
	const char *text = (const char *)data + 5;
	size_t len = size - 5;

	/* Cut points, in order. */
	size_t cut[4] = {0, data[2] % (len + 1), data[3] % (len + 1), len};
	if (cut[1] > cut[2]) {
		size_t t = cut[1];
		cut[1] = cut[2];
		cut[2] = t;
	}
	if (n == 1)
		cut[1] = cut[2] = len;
	else if (n == 2)
		cut[2] = len;
	char *lines[3];
	const char *values[3];
	size_t lens[3];
	bool quote_carries = false;
	for (size_t i = 0; i < n; i++) {
		lens[i] = cut[i + 1] - cut[i];
		lines[i] = malloc(lens[i] ? lens[i] : 1);
		memcpy(lines[i], text + cut[i], lens[i]);
		values[i] = lines[i];
		if (i + 1 < n && ends_in_quote(lines[i], lens[i]))
			quote_carries = true;
	}

	outcome full, small;
	negotiate(&cfg, values, lens, n, WS_DEFLATE_RESP_MAX, &full);
	REQUIRE(full.rc == 0 || full.rc == 1);
	negotiate(&cfg, values, lens, n, cap, &small);
	if (full.rc == 1) {
		check_accepted(&cfg, &full);
		REQUIRE(small.rc == (full.resp_len <= cap ? 1 : WS_ETOOBIG));
		if (small.rc == 1)
			REQUIRE(strcmp(small.resp, full.resp) == 0);
	} else {
		REQUIRE(small.rc == 0);
	}

	if (n > 1 && !quote_carries) {
		size_t joined_len = 0;
		char *joined = malloc(len + n);
		for (size_t i = 0; i < n; i++) {
			if (i)
				joined[joined_len++] = ',';
			memcpy(joined + joined_len, lines[i], lens[i]);
			joined_len += lens[i];
		}
		const char *jv = joined;
		outcome one;
		negotiate(&cfg, &jv, &joined_len, 1, WS_DEFLATE_RESP_MAX, &one);
		REQUIRE(one.rc == full.rc && strcmp(one.resp, full.resp) == 0);
		REQUIRE(one.rc == 0 || memcmp(&one.p, &full.p, sizeof(one.p)) == 0);
		free(joined);
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	return 0;
}
