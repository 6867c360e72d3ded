/* deflate_offer.c - permessage-deflate (RFC 7692) negotiation: reads the Sec-WebSocket-Extensions
 * header values as a list of extensions (RFC 7230 7 list rules, RFC 6455 9.1 grammar), declines,
 * one by one, the offers it cannot read, and answers the first it can honour. See deflate.h for
 * the contract. */
#include "deflate.h"

#include <stdio.h>
#include <string.h>

/* RFC 7692 7.1.2: the window bits a peer may name */
#define WINDOW_BITS_MIN 8
#define WINDOW_BITS_MAX 15

/* ---- negotiation ---- */

enum {
	P_SERVER_NO_CONTEXT_TAKEOVER,
	P_CLIENT_NO_CONTEXT_TAKEOVER,
	P_SERVER_MAX_WINDOW_BITS,
	P_CLIENT_MAX_WINDOW_BITS,
	P_COUNT
};

static const char *const param_names[P_COUNT] = {
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
};

/* One permessage-deflate offer as read: which parameters it has, and the window bits given
 * (0 when client_max_window_bits came without a value). */
typedef struct offer {
	bool has[P_COUNT];
	uint8_t server_bits;
	uint8_t client_bits;
} offer;

/* A parameter value after unquoting. Only the first bytes are kept: every value we accept
 * has at most two characters, so a longer one only needs to be known as longer. */
typedef struct value {
	bool present;
	size_t len;
	char text[3];
} value;

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* qdtext and the second byte of a quoted-pair (RFC 7230 3.2.6): HTAB, SP, VCHAR, obs-text. */
static bool is_qchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	return p;
}

static bool token_is(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != name[i])
			return false;
	}
	return true;
}

/* The end of the list element that starts at p: the next comma outside a quoted-string, or
 * the end of the line. A comma inside quotes never splits an element, so an extension we do
 * not know cannot hide or fake an offer of ours; an unterminated quote runs to the end. */
static const char *element_end(const char *p, const char *end)
{
	bool quoted = false;

	for (; p < end; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == ',') {
			break;
		}
	}
	return p;
}

static void value_add(value *v, char c)
{
	if (v->len < sizeof(v->text))
		v->text[v->len] = c;
	v->len++;
}

/* Reads a token or a quoted-string at p, unquoting the latter. Returns the end of the value,
 * or NULL when there is none or it is malformed. */
static const char *read_value(const char *p, const char *end, value *v)
{
	v->present = true;
	v->len = 0;
	if (p < end && *p == '"') {
		for (p++; p < end; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '"')
				return p + 1;
			if (c == '\\') {
				if (++p == end)
					return NULL;
				c = (unsigned char)*p;
			}
			if (!is_qchar(c))
				return NULL;
			value_add(v, (char)c);
		}
		return NULL;
	}
	const char *q = skip_token(p, end);
	if (q == p)
		return NULL;
	for (; p < q; p++)
		value_add(v, *p);
	return q;
}

/* RFC 7692 7.1.2: the value is 1*DIGIT without leading zeros, 8 to 15. Returns 0 when not. */
static uint8_t window_bits(const value *v)
{
	if (v->len == 1 && (v->text[0] == '8' || v->text[0] == '9'))
		return (uint8_t)(v->text[0] - '0');
	if (v->len == 2 && v->text[0] == '1' && v->text[1] >= '0' && v->text[1] <= '5')
		return (uint8_t)(10 + v->text[1] - '0');
	return 0;
}

/* Records one parameter of an offer. False declines the offer: an unknown or repeated
 * parameter, or a value that the parameter does not allow (RFC 7692 5 and 7.1). */
static bool take_param(offer *o, const char *name, const char *name_end, const value *v)
{
	int k = 0;

	while (k < P_COUNT && !token_is(name, name_end, param_names[k]))
		k++;
	if (k == P_COUNT || o->has[k])
		return false;
	o->has[k] = true;
	switch (k) {
	case P_SERVER_NO_CONTEXT_TAKEOVER:
	case P_CLIENT_NO_CONTEXT_TAKEOVER:
		return !v->present;
	case P_SERVER_MAX_WINDOW_BITS:
		o->server_bits = v->present ? window_bits(v) : 0;
		return o->server_bits != 0;
	default:
		o->client_bits = v->present ? window_bits(v) : 0;
		return !v->present || o->client_bits != 0;
	}
}

/* Reads the list element [p, end). Returns true for a valid permessage-deflate offer (filled
 * into *o); false for another extension, a malformed element or an offer we decline. */
static bool read_offer(const char *p, const char *end, offer *o)
{
	memset(o, 0, sizeof(*o));
	p = skip_ows(p, end);
	const char *name = p;
	p = skip_token(p, end);
	if (!token_is(name, p, "permessage-deflate"))
		return false;
	for (;;) {
		p = skip_ows(p, end);
		if (p == end)
			return true;
		if (*p != ';')
			return false;
		p = skip_ows(p + 1, end);
		const char *pname = p;
		p = skip_token(p, end);
		const char *pname_end = p;
		if (pname == pname_end)
			return false;
		value v = {0};
		p = skip_ows(p, end);
		if (p < end && *p == '=') {
			p = read_value(skip_ows(p + 1, end), end, &v);
			if (!p)
				return false;
		}
		if (!take_param(o, pname, pname_end, &v))
			return false;
	}
}

static uint8_t min_bits(uint8_t a, uint8_t b)
{
	return a < b ? a : b;
}

static bool config_valid(const ws_deflate_config *cfg)
{
	return cfg->server_max_window_bits >= WINDOW_BITS_MIN &&
	       cfg->server_max_window_bits <= WINDOW_BITS_MAX &&
	       cfg->client_max_window_bits >= WINDOW_BITS_MIN &&
	       cfg->client_max_window_bits <= WINDOW_BITS_MAX;
}

/* Answers an accepted offer (RFC 7692 7.1.1, 7.1.2). Returns the response's length. */
static int accept_offer(const ws_deflate_config *cfg, const offer *o, ws_deflate_params *out,
                        char *text, size_t cap)
{
	bool server_nct = o->has[P_SERVER_NO_CONTEXT_TAKEOVER] || !cfg->server_context_takeover;
	bool client_nct = o->has[P_CLIENT_NO_CONTEXT_TAKEOVER] || !cfg->client_context_takeover;
	bool offered_server_bits = o->has[P_SERVER_MAX_WINDOW_BITS];
	bool offered_client_bits = o->has[P_CLIENT_MAX_WINDOW_BITS];
	uint8_t server_bits = cfg->server_max_window_bits;
	uint8_t client_bits = WINDOW_BITS_MAX;

	/* A limit offered for our window binds us and must be answered (7.1.2.1); without one we
	 * still announce a smaller window of our own so the client can size its decompressor. */
	if (offered_server_bits)
		server_bits = min_bits(o->server_bits, server_bits);
	/* We may ask for a smaller client window only when the offer says the client can take
	 * the parameter (7.1.2.2); otherwise the client compresses with up to 15 bits. */
	if (offered_client_bits)
		client_bits = min_bits(o->client_bits ? o->client_bits : WINDOW_BITS_MAX,
		                       cfg->client_max_window_bits);

	out->server_max_window_bits = server_bits;
	out->client_max_window_bits = client_bits;
	out->server_no_context_takeover = server_nct;
	out->client_no_context_takeover = client_nct;

	int n = snprintf(text, cap, "permessage-deflate%s%s", server_nct ? "; " : "",
	                 server_nct ? param_names[P_SERVER_NO_CONTEXT_TAKEOVER] : "");
	if (client_nct)
		n += snprintf(text + n, cap - (size_t)n, "; %s", param_names[P_CLIENT_NO_CONTEXT_TAKEOVER]);
	if (offered_server_bits || server_bits < WINDOW_BITS_MAX)
		n += snprintf(text + n, cap - (size_t)n, "; %s=%u", param_names[P_SERVER_MAX_WINDOW_BITS],
		              server_bits);
	if (offered_client_bits)
		n += snprintf(text + n, cap - (size_t)n, "; %s=%u", param_names[P_CLIENT_MAX_WINDOW_BITS],
		              client_bits);
	return n;
}

int ws_deflate_negotiate(const ws_deflate_config *cfg, const char *const *values,
                         const size_t *lens, size_t n, ws_deflate_params *out, char *resp,
                         size_t cap, size_t *resp_len)
{
	*resp_len = 0;
	if (!config_valid(cfg))
		return WS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *p = values[i], *end = values[i] + lens[i];
		while (p < end) {
			const char *e = element_end(p, end);
			offer o;
			if (read_offer(p, e, &o)) {
				char text[WS_DEFLATE_RESP_MAX + 1]; /* and snprintf's NUL */
				ws_deflate_params agreed;
				int len = accept_offer(cfg, &o, &agreed, text, sizeof(text));
				if ((size_t)len > cap)
					return WS_ETOOBIG;
				memcpy(resp, text, (size_t)len);
				*resp_len = (size_t)len;
				*out = agreed;
				return 1;
			}
			p = e < end ? e + 1 : e;
		}
	}
	return 0;
}
