/* test_deflate.c - unit tests for src/deflate_offer.c and src/deflate.c: a table of
 * Sec-WebSocket-Extensions offers with the exact response and parameters each must give; round
 * trips through the compressor and the decompressor for sizes around the frame length encodings,
 * text and random data, every window and several memory levels, with and without context takeover;
 * the RFC 7692 7.2.3 examples; interop with zlib used directly (final blocks, full flushes, other
 * strategies, an 8-bit window decoded strictly); corrupt input; a decompression bomb drained
 * through a 64 KiB window; the memory the codecs hold and release; and every allocation failing in
 * turn. Compressed input is fed whole, byte by byte and split at many offsets, from buffers that
 * end at a PROT_NONE page, into output windows that end at one too. Every allocation goes through
 * the counting allocator of failalloc.h, so live bytes and allocation counts can be checked. */
#include "unit.h"

#include "alloc.h"
#include "failalloc.h"
#include "buf.h"
#include "deflate.h"
#include "err.h"

#include <zlib.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

/* ---- data ---- */

static const char *const words[] = {
    "the",    "quick",     "brown",   "fox",      "jumps",    "over",      "lazy",
    "dog",    "websocket", "message", "deflate",  "frame",    "window",    "bits",
    "server", "client",    "context", "takeover", "{\"id\":", "\"name\":", "[1,2,3]",
    "null",   "true",      "false",   "\n",       "é",        "日本",      "😀",
};

/* Text-like data (words and JSON-ish pieces, valid UTF-8 cut at len). */
static void fill_text(uint8_t *p, size_t len, uint32_t seed)
{
	size_t n = 0;

	while (n < len) {
		const char *w = words[unit_rand(&seed) % (sizeof(words) / sizeof(words[0]))];
		for (size_t i = 0; w[i] && n < len; i++)
			p[n++] = (uint8_t)w[i];
		if (n < len)
			p[n++] = ' ';
	}
}

static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(unit_rand(&seed) >> 11);
}

/* ---- negotiation ---- */

static const ws_deflate_config cfg_default = {15, 15, true, true, 8, 6};
static const ws_deflate_config cfg_small = {10, 12, true, true, 8, 6};
static const ws_deflate_config cfg_nct = {15, 15, false, false, 8, 6};
static const ws_deflate_config cfg_8 = {8, 8, true, true, 8, 6};

typedef struct neg_case {
	const char *name;
	const ws_deflate_config *cfg;
	const char *lines[3];
	size_t n;
	int rc;
	const char *resp;
	ws_deflate_params params; /* server bits, client bits, server nct, client nct */
} neg_case;

#define PMD  "permessage-deflate"
#define SNCT "server_no_context_takeover"
#define CNCT "client_no_context_takeover"
#define SMWB "server_max_window_bits"
#define CMWB "client_max_window_bits"
#define NONE(name_, cfg_, line_)                                                                   \
	{                                                                                              \
		name_, cfg_, {line_}, 1, 0, NULL,                                                          \
		{                                                                                          \
			0                                                                                      \
		}                                                                                          \
	}
#define ONE(name_, line_, resp_, sb, cb, snct, cnct)                                               \
	{                                                                                              \
		name_, &cfg_default, {line_}, 1, 1, resp_,                                                 \
		{                                                                                          \
			sb, cb, snct, cnct                                                                     \
		}                                                                                          \
	}

static const neg_case neg_cases[] = {
    /* Each parameter alone. */
    ONE("bare", PMD, PMD, 15, 15, false, false),
    ONE("server_no_context_takeover", PMD "; " SNCT, PMD "; " SNCT, 15, 15, true, false),
    ONE("client_no_context_takeover", PMD "; " CNCT, PMD "; " CNCT, 15, 15, false, true),
    ONE("server_max_window_bits=10", PMD "; " SMWB "=10", PMD "; " SMWB "=10", 10, 15, false,
        false),
    ONE("server_max_window_bits=8", PMD "; " SMWB "=8", PMD "; " SMWB "=8", 8, 15, false, false),
    ONE("server_max_window_bits=15", PMD "; " SMWB "=15", PMD "; " SMWB "=15", 15, 15, false,
        false),
    ONE("client_max_window_bits", PMD "; " CMWB, PMD "; " CMWB "=15", 15, 15, false, false),
    ONE("client_max_window_bits=9", PMD "; " CMWB "=9", PMD "; " CMWB "=9", 15, 9, false, false),
    ONE("client_max_window_bits=8", PMD "; " CMWB "=8", PMD "; " CMWB "=8", 15, 8, false, false),
    /* Combinations, in any order; the response has a fixed order. */
    ONE("all four", PMD "; " SNCT "; " CNCT "; " SMWB "=12; " CMWB "=11",
        PMD "; " SNCT "; " CNCT "; " SMWB "=12; " CMWB "=11", 12, 11, true, true),
    ONE("all four reversed, no spaces", PMD ";" CMWB "=11;" SMWB "=12;" CNCT ";" SNCT,
        PMD "; " SNCT "; " CNCT "; " SMWB "=12; " CMWB "=11", 12, 11, true, true),
    ONE("both windows", PMD "; " CMWB "; " SMWB "=9", PMD "; " SMWB "=9; " CMWB "=15", 9, 15, false,
        false),
    /* Quoted values and whitespace. */
    ONE("quoted server bits", PMD "; " SMWB "=\"10\"", PMD "; " SMWB "=10", 10, 15, false, false),
    ONE("quoted client bits", PMD "; " CMWB "=\"8\"", PMD "; " CMWB "=8", 15, 8, false, false),
    ONE("quoted-pair", PMD "; " SMWB "=\"1\\2\"", PMD "; " SMWB "=12", 12, 15, false, false),
    ONE("whitespace everywhere", "  " PMD " \t;\t " SMWB " = 11 ; " CMWB "  \t",
        PMD "; " SMWB "=11; " CMWB "=15", 11, 15, false, false),
    ONE("whitespace around quoted", PMD ";" SMWB "= \"13\" ;" SNCT, PMD "; " SNCT "; " SMWB "=13",
        13, 15, true, false),
    /* Case-insensitive names. */
    ONE("extension name case", "PerMessage-Deflate", PMD, 15, 15, false, false),
    ONE("parameter name case", PMD "; Server_No_Context_Takeover; CLIENT_MAX_WINDOW_BITS=10",
        PMD "; " SNCT "; " CMWB "=10", 15, 10, true, false),
    /* Lists: empty elements, other extensions, the first valid offer wins. */
    ONE("empty elements", ", ,\t" PMD " ,,", PMD, 15, 15, false, false),
    ONE("x-webkit-deflate-frame first", "x-webkit-deflate-frame, " PMD "; " CMWB,
        PMD "; " CMWB "=15", 15, 15, false, false),
    ONE("first valid wins", PMD "; " SMWB "=10, " PMD, PMD "; " SMWB "=10", 10, 15, false, false),
    ONE("second wins after a decline", PMD "; foo, " PMD "; " SNCT, PMD "; " SNCT, 15, 15, true,
        false),
    ONE("after several declines",
        PMD "; " SMWB "=7, " PMD "; " SMWB "=16, " PMD "; " CNCT "=1, " PMD "; " CMWB "=9",
        PMD "; " CMWB "=9", 15, 9, false, false),
    ONE("quoted comma in another extension", "foo; a=\"x, y\", " PMD "; " CNCT, PMD "; " CNCT, 15,
        15, false, true),
    ONE("other extension with odd params", "foo;;=;\"\", " PMD, PMD, 15, 15, false, false),
    /* Several header lines. */
    {"across lines",
     &cfg_default,
     {PMD "; " SMWB "=7", PMD "; " CMWB "=10"},
     2,
     1,
     PMD "; " CMWB "=10",
     {15, 10, false, false}},
    {"three lines",
     &cfg_default,
     {"foo; bar=baz", "", PMD "; " SNCT},
     3,
     1,
     PMD "; " SNCT,
     {15, 15, true, false}},
    {"first line wins",
     &cfg_default,
     {PMD "; " SMWB "=9", PMD},
     2,
     1,
     PMD "; " SMWB "=9",
     {9, 15, false, false}},
    {"unterminated quote stops at the line",
     &cfg_default,
     {PMD "; " SMWB "=\"10, " PMD, PMD "; " SMWB "=11"},
     2,
     1,
     PMD "; " SMWB "=11",
     {11, 15, false, false}},
    /* Declined. */
    NONE("unknown param", &cfg_default, PMD "; foo"),
    NONE("unknown param with value", &cfg_default, PMD "; foo=1"),
    NONE("duplicate no_context_takeover", &cfg_default, PMD "; " SNCT "; " SNCT),
    NONE("duplicate client bits", &cfg_default, PMD "; " CMWB "; " CMWB "=10"),
    NONE("duplicate server bits, same value", &cfg_default, PMD "; " SMWB "=10; " SMWB "=10"),
    NONE("server bits 7", &cfg_default, PMD "; " SMWB "=7"),
    NONE("server bits 16", &cfg_default, PMD "; " SMWB "=16"),
    NONE("server bits 08", &cfg_default, PMD "; " SMWB "=08"),
    NONE("server bits 010", &cfg_default, PMD "; " SMWB "=010"),
    NONE("server bits -9", &cfg_default, PMD "; " SMWB "=-9"),
    NONE("server bits +9", &cfg_default, PMD "; " SMWB "=+9"),
    NONE("server bits 10x", &cfg_default, PMD "; " SMWB "=10x"),
    NONE("server bits 1 0", &cfg_default, PMD "; " SMWB "=1 0"),
    NONE("server bits empty value", &cfg_default, PMD "; " SMWB "="),
    NONE("server bits empty quoted", &cfg_default, PMD "; " SMWB "=\"\""),
    NONE("server bits space in quotes", &cfg_default, PMD "; " SMWB "=\" 10\""),
    NONE("server bits without value", &cfg_default, PMD "; " SMWB),
    NONE("client bits empty value", &cfg_default, PMD "; " CMWB "="),
    NONE("client bits 16", &cfg_default, PMD "; " CMWB "=16"),
    NONE("client bits 7 quoted", &cfg_default, PMD "; " CMWB "=\"7\""),
    NONE("no_context_takeover with value", &cfg_default, PMD "; " SNCT "=1"),
    NONE("no_context_takeover with empty quoted", &cfg_default, PMD "; " CNCT "=\"\""),
    NONE("x-webkit-deflate-frame only", &cfg_default, "x-webkit-deflate-frame"),
    NONE("deflate-frame with our params", &cfg_default, "deflate-frame; " SNCT),
    NONE("longer name", &cfg_default, PMD "x"),
    NONE("name then garbage", &cfg_default, PMD " x"),
    NONE("name with value", &cfg_default, PMD "=1"),
    NONE("trailing semicolon", &cfg_default, PMD ";"),
    NONE("empty parameter", &cfg_default, PMD " ; ; " SNCT),
    NONE("offer inside a quoted-string", &cfg_default, "foo; a=\"x, " PMD "\""),
    NONE("unterminated quote", &cfg_default, PMD "; " SMWB "=\"10"),
    NONE("control byte in name", &cfg_default, PMD "\x01"),
    NONE("empty header", &cfg_default, ""),
    NONE("only commas and spaces", &cfg_default, " , ,, "),
    /* The configuration's share. */
    {"small config, bare offer",
     &cfg_small,
     {PMD},
     1,
     1,
     PMD "; " SMWB "=10",
     {10, 15, false, false}},
    {"small config, client bits",
     &cfg_small,
     {PMD "; " CMWB},
     1,
     1,
     PMD "; " SMWB "=10; " CMWB "=12",
     {10, 12, false, false}},
    {"small config, both limited",
     &cfg_small,
     {PMD "; " SMWB "=12; " CMWB "=9"},
     1,
     1,
     PMD "; " SMWB "=10; " CMWB "=9",
     {10, 9, false, false}},
    {"small config, offer below",
     &cfg_small,
     {PMD "; " SMWB "=9"},
     1,
     1,
     PMD "; " SMWB "=9",
     {9, 15, false, false}},
    {"no takeover config", &cfg_nct, {PMD}, 1, 1, PMD "; " SNCT "; " CNCT, {15, 15, true, true}},
    {"no takeover config and offer",
     &cfg_nct,
     {PMD "; " CNCT "; " SNCT},
     1,
     1,
     PMD "; " SNCT "; " CNCT,
     {15, 15, true, true}},
    {"8-bit config",
     &cfg_8,
     {PMD "; " CMWB},
     1,
     1,
     PMD "; " SMWB "=8; " CMWB "=8",
     {8, 8, false, false}},
};

static void check_negotiation(const neg_case *c, unit_guard *g)
{
	const char *values[3];
	size_t lens[3];
	char resp[WS_DEFLATE_RESP_MAX];
	size_t resp_len = 99;
	ws_deflate_params p = {0};

	for (size_t i = 0; i < c->n; i++) {
		lens[i] = strlen(c->lines[i]);
		values[i] = (const char *)unit_guard_place(&g[i], c->lines[i], lens[i]);
	}
	int rc = ws_deflate_negotiate(c->cfg, values, lens, c->n, &p, resp, sizeof(resp), &resp_len);
	UNIT_CHECK(rc == c->rc, "%s: rc %d", c->name, rc);
	if (rc != 1 || c->rc != 1) {
		UNIT_CHECK(resp_len == 0, "%s: resp_len %zu", c->name, resp_len);
		return;
	}
	UNIT_CHECK(resp_len == strlen(c->resp) && memcmp(resp, c->resp, resp_len) == 0,
	           "%s: response \"%.*s\"", c->name, (int)resp_len, resp);
	UNIT_CHECK(memcmp(&p, &c->params, sizeof(p)) == 0, "%s: params %u %u %d %d", c->name,
	           p.server_max_window_bits, p.client_max_window_bits, p.server_no_context_takeover,
	           p.client_no_context_takeover);

	/* The exact size fits, one byte less does not. */
	char *exact = (char *)g[3].end - resp_len;
	size_t len2 = 99;
	rc = ws_deflate_negotiate(c->cfg, values, lens, c->n, &p, exact, resp_len, &len2);
	UNIT_CHECK(rc == 1 && len2 == resp_len && memcmp(exact, c->resp, resp_len) == 0,
	           "%s: exact cap", c->name);
	rc = ws_deflate_negotiate(c->cfg, values, lens, c->n, &p, exact, resp_len - 1, &len2);
	UNIT_CHECK(rc == WS_ETOOBIG && len2 == 0, "%s: short cap gave %d", c->name, rc);

	/* The response, read back as an offer by a server that allows everything, is accepted
	 * as it is and gives the same parameters. */
	ws_deflate_params back;
	char again[WS_DEFLATE_RESP_MAX];
	const char *v = resp;
	rc = ws_deflate_negotiate(&cfg_default, &v, &resp_len, 1, &back, again, sizeof(again), &len2);
	UNIT_CHECK(rc == 1 && len2 == resp_len && memcmp(again, resp, resp_len) == 0 &&
	               memcmp(&back, &c->params, sizeof(back)) == 0,
	           "%s: response read back", c->name);
}

static void test_negotiation_table(void)
{
	unit_guard g[4]; /* one per header line, and one for the response */

	UNIT_CHECK(sizeof(neg_cases) / sizeof(neg_cases[0]) >= 40, "cases");
	for (int i = 0; i < 4; i++)
		unit_guard_init(&g[i], 512);
	for (size_t i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++)
		check_negotiation(&neg_cases[i], g);
	for (int i = 0; i < 4; i++)
		unit_guard_release(&g[i]);
}

/* Several lines say the same as those lines joined by commas (RFC 7230 3.2.2). */
static void test_negotiation_lines_join(void)
{
	for (size_t i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
		const neg_case *c = &neg_cases[i];
		char joined[1024] = "";
		const char *values[1] = {joined};
		size_t lens[1];
		char resp[WS_DEFLATE_RESP_MAX];
		size_t resp_len;
		ws_deflate_params p;

		if (c->n < 2 || strstr(c->name, "unterminated"))
			continue;
		for (size_t k = 0; k < c->n; k++) {
			if (k)
				strcat(joined, ", ");
			strcat(joined, c->lines[k]);
		}
		lens[0] = strlen(joined);
		int rc = ws_deflate_negotiate(c->cfg, values, lens, 1, &p, resp, sizeof(resp), &resp_len);
		UNIT_CHECK(rc == c->rc && (rc != 1 || (resp_len == strlen(c->resp) &&
		                                       memcmp(resp, c->resp, resp_len) == 0)),
		           "%s joined: rc %d", c->name, rc);
	}
}

static void test_negotiation_edges(void)
{
	ws_deflate_config bad = cfg_default;
	ws_deflate_params p;
	char resp[WS_DEFLATE_RESP_MAX];
	size_t resp_len;
	const char *v = PMD;
	size_t len = strlen(PMD);

	UNIT_CHECK(
	    ws_deflate_negotiate(&cfg_default, NULL, NULL, 0, &p, resp, sizeof(resp), &resp_len) == 0 &&
	        resp_len == 0,
	    "no header lines");
	bad.server_max_window_bits = 7;
	UNIT_CHECK(ws_deflate_negotiate(&bad, &v, &len, 1, &p, resp, sizeof(resp), &resp_len) ==
	               WS_EINVAL,
	           "config server bits 7");
	bad = cfg_default;
	bad.client_max_window_bits = 16;
	UNIT_CHECK(ws_deflate_negotiate(&bad, &v, &len, 1, &p, resp, sizeof(resp), &resp_len) ==
	               WS_EINVAL,
	           "config client bits 16");

	/* The longest response fits WS_DEFLATE_RESP_MAX. */
	const char *all = PMD "; " SNCT "; " CNCT "; " SMWB "=10; " CMWB "=10";
	size_t all_len = strlen(all);
	UNIT_CHECK(ws_deflate_negotiate(&cfg_default, &all, &all_len, 1, &p, resp, sizeof(resp),
	                                &resp_len) == 1 &&
	               resp_len == all_len && resp_len == WS_DEFLATE_RESP_MAX,
	           "longest response: %zu", resp_len);
}

/* ---- feeding the decompressor ---- */

typedef struct feeder {
	unit_guard in;  /* pieces of compressed input end at its PROT_NONE page */
	unit_guard out; /* output windows end at its PROT_NONE page */
	size_t window;  /* output window size */
	size_t limit;   /* stop once more than this was produced (0: none) */
} feeder;

static void feeder_init(feeder *fd, size_t in_cap, size_t window)
{
	unit_guard_init(&fd->in, in_cap);
	unit_guard_init(&fd->out, window);
	fd->window = window;
	fd->limit = 0;
}

static void feeder_release(feeder *fd)
{
	unit_guard_release(&fd->in);
	unit_guard_release(&fd->out);
}

/* Feeds one message in the pieces `w` gives, appending the output to out. Returns 0, a WS_E*
 * code from the inflater, or WS_ETOOBIG once the output passes fd->limit. */
static int feed_message(feeder *fd, ws_inflater *f, const uint8_t *in, size_t len,
                        const unit_way *w, ws_buf *out)
{
	size_t pos = 0;

	do {
		size_t end = unit_way_piece_end(w, pos, len);
		if (end > len) /* a split point chosen for a longer message of the sequence */
			end = len;
		bool last = end == len;
		const uint8_t *p = unit_guard_place(&fd->in, in + pos, end - pos);
		size_t n = end - pos;
		while (n > 0 || (last && !ws_inflater_done(f))) {
			size_t before = n;
			uint8_t *o = fd->out.end - fd->window;
			ssize_t r = ws_inflater_feed(f, &p, &n, last, o, fd->window);
			if (r < 0)
				return (int)r;
			if ((size_t)r > fd->window || n > before) {
				UNIT_CHECK(false, "feed returned %zd for a window of %zu", r, fd->window);
				return WS_EINVAL;
			}
			if (r == 0 && n == before && !ws_inflater_done(f)) {
				UNIT_CHECK(false, "no progress at %zu of %zu", pos + (end - pos - n), len);
				return WS_EINVAL;
			}
			if (ws_buf_append(out, o, (size_t)r) < 0)
				return WS_ENOMEM;
			if (fd->limit && out->len > fd->limit)
				return WS_ETOOBIG;
		}
		pos = end;
	} while (pos < len);
	return 0;
}

/* The ways to cut a compressed message: all of unit.h's for short inputs; for long ones
 * whole, byte by byte (when `bytes`) and a handful of splits, which keeps 1 MiB messages at
 * seconds. Returns false when done. */
static bool next_way(unit_way *w, size_t len, bool bytes)
{
	if (len <= 2 * UNIT_SPLIT_ALL_MAX) {
		unit_way_next(w, len);
		return w->kind != UNIT_DONE;
	}
	switch (w->kind) {
	case UNIT_WHOLE:
		w->kind = bytes ? UNIT_BYTES : UNIT_SPLIT;
		w->at = 1;
		return true;
	case UNIT_BYTES:
		w->kind = UNIT_SPLIT;
		w->at = 1;
		return true;
	default:
		w->at = w->at * 7 + 3;
		return w->at < len;
	}
}

/* ---- compressor helpers ---- */

static ws_deflate_params params_of(uint8_t server_bits, uint8_t client_bits, bool server_nct,
                                   bool client_nct)
{
	ws_deflate_params p = {server_bits, client_bits, server_nct, client_nct};
	return p;
}

/* Compresses a message into out (cleared first); checks that the result, with the tail put
 * back, is what zlib's sync flush ends with. */
static bool compress_message(ws_deflater *d, const uint8_t *data, size_t len, ws_buf *out)
{
	out->head = out->len = 0;
	ssize_t n = ws_deflater_message(d, data, len, out);
	UNIT_CHECK(n >= 1 && (size_t)n == out->len, "deflater_message gave %zd for %zu bytes", n, len);
	return n >= 1;
}

/* Decodes with plain zlib (a 15-bit window, the tail appended) as an independent check. */
static bool zlib_decodes(z_stream *zs, const uint8_t *in, size_t len, const uint8_t *want,
                         size_t want_len)
{
	static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
	uint8_t *buf = malloc(want_len + 64);
	size_t have = 0;
	bool ok = true;

	for (int part = 0; part < 2 && ok; part++) {
		zs->next_in = (Bytef *)(part ? tail : in);
		zs->avail_in = (uInt)(part ? 4 : len);
		do {
			zs->next_out = buf + have;
			zs->avail_out = (uInt)(want_len + 64 - have);
			int rc = inflate(zs, Z_SYNC_FLUSH);
			have = want_len + 64 - zs->avail_out;
			ok = (rc == Z_OK || rc == Z_BUF_ERROR) && have <= want_len;
		} while (ok && zs->avail_in);
	}
	ok = ok && have == want_len && memcmp(buf, want, want_len) == 0;
	free(buf);
	return ok;
}

/* ---- round trips ---- */

typedef struct trip {
	uint8_t bits;      /* agreed window both ways */
	uint8_t mem_level; /* compressor memLevel */
	int8_t level;
	bool nct;      /* no context takeover, both ways */
	size_t len;    /* message size */
	bool random;   /* incompressible */
	int messages;  /* sequence length */
	bool bytes;    /* feed byte by byte too */
	size_t window; /* output window */
} trip;

/* Compresses a sequence of related messages, checks each with zlib, then decodes the whole
 * sequence with a fresh inflater for every way of cutting the compressed messages. */
static void run_trip(const trip *t)
{
	ws_deflate_params p = params_of(t->bits, t->bits, t->nct, t->nct);
	ws_deflate_config cfg = {t->bits, t->bits, !t->nct, !t->nct, t->mem_level, t->level};
	ws_deflater *d = ws_deflater_new(&p, &cfg);
	ws_buf zipped[4] = {{0}};
	uint8_t *msgs[4];
	size_t max_zipped = 0;
	z_stream zs = {0};
	char ctx[160];

	snprintf(ctx, sizeof(ctx), "%zu %s bytes, bits %u, mem %u, level %d, %s, window %zu", t->len,
	         t->random ? "random" : "text", t->bits, t->mem_level, t->level,
	         t->nct ? "no takeover" : "takeover", t->window);
	UNIT_CHECK(d != NULL, "%s: new", ctx);
	if (!d)
		return;
	inflateInit2(&zs, -15);
	for (int m = 0; m < t->messages; m++) {
		msgs[m] = malloc(t->len ? t->len : 1);
		/* Text messages repeat the first (the second with one byte changed), so the window
		 * helps; random ones differ. */
		if (t->random)
			fill_random(msgs[m], t->len, 1000u + (uint32_t)m + (uint32_t)t->len);
		else
			fill_text(msgs[m], t->len, 77u);
		if (m == 1 && t->len)
			msgs[m][t->len / 2] ^= 1;
		if (!compress_message(d, msgs[m], t->len, &zipped[m]))
			goto out;
		UNIT_CHECK(zlib_decodes(&zs, zipped[m].ptr, zipped[m].len, msgs[m], t->len),
		           "%s: zlib decodes message %d", ctx, m);
		if (t->nct)
			inflateReset(&zs);
		if (zipped[m].len > max_zipped)
			max_zipped = zipped[m].len;
		ws_deflater_idle(d);
	}
	/* Context takeover must pay off for a text message repeated within the window. */
	if (!t->random && !t->nct && t->messages > 2 && t->len >= 1000 && t->level > 0 &&
	    t->len + 262 < (1u << t->bits))
		UNIT_CHECK(zipped[2].len * 2 < zipped[0].len, "%s: takeover %zu vs %zu", ctx, zipped[2].len,
		           zipped[0].len);
	if (t->nct && !t->random && t->messages > 2)
		UNIT_CHECK(zipped[2].len == zipped[0].len, "%s: no takeover %zu vs %zu", ctx, zipped[2].len,
		           zipped[0].len);

	feeder fd;
	feeder_init(&fd, max_zipped, t->window);
	ws_buf plain = {0};
	unit_way w = unit_way_first();
	do {
		ws_inflater *f = ws_inflater_new(&p);
		char way[48];
		unit_way_name(&w, way, sizeof(way));
		for (int m = 0; m < t->messages && f; m++) {
			plain.head = plain.len = 0;
			int rc = feed_message(&fd, f, zipped[m].ptr, zipped[m].len, &w, &plain);
			bool ok = rc == 0 && plain.len == t->len &&
			          (t->len == 0 || memcmp(plain.ptr, msgs[m], t->len) == 0);
			UNIT_CHECK(ok, "%s, %s: message %d gave %d, %zu bytes", ctx, way, m, rc, plain.len);
			if (!ok)
				break;
			ws_inflater_idle(f);
		}
		ws_inflater_free(f);
	} while (next_way(&w, max_zipped, t->bytes));
	ws_buf_release(&plain);
	feeder_release(&fd);
out:
	inflateEnd(&zs);
	for (int m = 0; m < t->messages; m++) {
		free(msgs[m]);
		ws_buf_release(&zipped[m]);
	}
	ws_deflater_free(d);
}

static void test_round_trip_sizes(void)
{
	static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, MiB};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int random = 0; random < 2; random++) {
			for (int nct = 0; nct < 2; nct++) {
				size_t len = sizes[i];
				trip t = {15, 8, 6, nct, len, random, 3, len <= 65536, 64 * KiB};
				run_trip(&t);
				/* Small windows make the inflater stop inside matches and blocks. */
				if (len <= 65536) {
					t.window = len <= 126 ? 1 : 4093;
					t.bytes = len <= 4096;
					run_trip(&t);
				}
			}
		}
	}
}

static void test_round_trip_windows(void)
{
	static const uint8_t mem_levels[] = {1, 4, 8, 9};
	static const int8_t levels[] = {0, 1, 6, 9};

	for (uint8_t bits = 8; bits <= 15; bits++) {
		for (size_t m = 0; m < sizeof(mem_levels); m++) {
			for (int nct = 0; nct < 2; nct++) {
				trip t = {bits, mem_levels[m], levels[(bits + m) % 4], nct, 3000, false, 3, true,
				          7};
				run_trip(&t);
				t.len = 40000;
				t.bytes = false;
				t.window = 1000;
				t.random = bits % 2;
				run_trip(&t);
			}
		}
	}
}

/* ---- RFC 7692 7.2.3 examples ---- */

typedef struct wire_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
} wire_case;

#define W(name_, ...)                                                                              \
	{                                                                                              \
		name_, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})              \
	}

/* Decodes a sequence of messages (with takeover) in every way and window, expecting text. */
static void check_wire_sequence(const wire_case *msgs, size_t n, const char *const *want, bool nct)
{
	static const size_t windows[] = {1, 3, 64};
	ws_deflate_params p = params_of(15, 15, nct, nct);
	feeder fd;
	ws_buf plain = {0};

	for (size_t wi = 0; wi < 3; wi++) {
		feeder_init(&fd, 64, windows[wi]);
		size_t longest = 0;
		for (size_t i = 0; i < n; i++)
			longest = msgs[i].len > longest ? msgs[i].len : longest;
		UNIT_FOR_EACH_WAY(w, longest)
		{
			ws_inflater *f = ws_inflater_new(&p);
			char way[48];
			unit_way_name(&w, way, sizeof(way));
			for (size_t i = 0; i < n; i++) {
				unit_way wm = w;
				if (wm.kind == UNIT_SPLIT && wm.at >= msgs[i].len)
					wm.kind = UNIT_WHOLE;
				plain.head = plain.len = 0;
				int rc = feed_message(&fd, f, msgs[i].bytes, msgs[i].len, &wm, &plain);
				UNIT_CHECK(rc == 0 && plain.len == strlen(want[i]) &&
				               memcmp(plain.ptr ? plain.ptr : (uint8_t *)"", want[i], plain.len) ==
				                   0,
				           "%s, %s, window %zu: rc %d, \"%.*s\"", msgs[i].name, way, windows[wi],
				           rc, (int)plain.len, plain.ptr ? (char *)plain.ptr : "");
			}
			ws_inflater_free(f);
		}
		feeder_release(&fd);
	}
	ws_buf_release(&plain);
}

static void test_rfc_examples(void)
{
	const wire_case hello = W("7.2.3.1 Hello", 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
	const wire_case again = W("7.2.3.2 Hello again", 0xf2, 0x00, 0x11, 0x00, 0x00);
	const wire_case stored =
	    W("7.2.3.3 stored", 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00);
	const wire_case final = W("7.2.3.4 BFINAL", 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00);
	const wire_case two = W("7.2.3.5 two blocks", 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff,
	                        0xca, 0xc9, 0xc9, 0x07, 0x00);
	const wire_case empty = W("7.2.3.6 empty", 0x00);
	const wire_case nothing = {"empty payload", (const uint8_t *)"", 0};
	const char *hellos[] = {"Hello", "Hello", "Hello", "", "Hello", "Hello", ""};

	const wire_case seq[] = {hello, again, stored, empty, final, two, nothing};
	check_wire_sequence(seq, 7, hellos, false);
	/* 7.2.3.2's second message refers to the first: it needs the window. */
	const wire_case pair[] = {hello, again};
	check_wire_sequence(pair, 2, hellos, false);
	/* The BFINAL message, then one that refers back across the end of its stream. */
	const wire_case across[] = {final, again};
	check_wire_sequence(across, 2, hellos, false);
	const wire_case each[] = {stored, two, final, empty, hello};
	const char *each_want[] = {"Hello", "Hello", "Hello", "", "Hello"};
	check_wire_sequence(each, 5, each_want, true);

	/* Our compressor gives the RFC's bytes for the first two. */
	ws_deflate_params p = params_of(15, 15, false, false);
	ws_deflater *d = ws_deflater_new(&p, &cfg_default);
	ws_buf out = {0};
	UNIT_CHECK(compress_message(d, (const uint8_t *)"Hello", 5, &out) && out.len == hello.len &&
	               memcmp(out.ptr, hello.bytes, hello.len) == 0,
	           "Hello compresses as in 7.2.3.1");
	UNIT_CHECK(compress_message(d, (const uint8_t *)"Hello", 5, &out) && out.len == again.len &&
	               memcmp(out.ptr, again.bytes, again.len) == 0,
	           "Hello again compresses as in 7.2.3.2");
	UNIT_CHECK(compress_message(d, (const uint8_t *)"", 0, &out) && out.len == 1 && out.ptr[0] == 0,
	           "empty message is 00");
	ws_buf_release(&out);
	ws_deflater_free(d);
}

/* ---- interop with zlib used directly ---- */

/* Raw zlib compression of data (after an optional preset dictionary) ending with `flush`;
 * a Z_SYNC_FLUSH or Z_FULL_FLUSH tail is stripped. Returns a malloc'd buffer. */
static uint8_t *zlib_compress(const uint8_t *data, size_t len, int bits, int level, int strategy,
                              int flush, const uint8_t *dict, size_t dict_len, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap = len + len / 8 + 256;
	uint8_t *out = malloc(cap);

	deflateInit2(&zs, level, Z_DEFLATED, -bits, 8, strategy);
	if (dict_len)
		deflateSetDictionary(&zs, dict, (uInt)dict_len);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, flush);
	UNIT_CHECK(rc == (flush == Z_FINISH ? Z_STREAM_END : Z_OK) && zs.avail_in == 0, "zlib %d", rc);
	*out_len = cap - zs.avail_out;
	if (flush != Z_FINISH)
		*out_len -= 4;
	deflateEnd(&zs);
	return out;
}

static void check_decodes(ws_inflater *f, feeder *fd, const uint8_t *z, size_t z_len,
                          const uint8_t *want, size_t want_len, const char *what)
{
	ws_buf plain = {0};
	unit_way w = unit_way_first();
	int rc = feed_message(fd, f, z, z_len, &w, &plain);

	UNIT_CHECK(rc == 0 && plain.len == want_len &&
	               (want_len == 0 || memcmp(plain.ptr, want, want_len) == 0),
	           "%s: rc %d, %zu of %zu bytes", what, rc, plain.len, want_len);
	ws_buf_release(&plain);
}

static void test_zlib_interop(void)
{
	size_t len = 20000, z_len;
	uint8_t *text = malloc(len), *next = malloc(len);
	ws_deflate_params p = params_of(15, 15, false, false);
	feeder fd;

	fill_text(text, len, 5);
	memcpy(next, text, len);
	next[100] = '#';
	feeder_init(&fd, 2 * len, 4096);

	/* A final block (Z_FINISH) for every message, each a new zlib stream that takes the
	 * previous message as its dictionary: the window must survive the end of each stream. */
	{
		ws_inflater *f = ws_inflater_new(&p);
		uint8_t *z = zlib_compress(text, len, 15, 6, Z_DEFAULT_STRATEGY, Z_FINISH, NULL, 0, &z_len);
		check_decodes(f, &fd, z, z_len, text, len, "Z_FINISH");
		free(z);
		z = zlib_compress(next, len, 15, 6, Z_DEFAULT_STRATEGY, Z_FINISH, text, len, &z_len);
		UNIT_CHECK(z_len < len / 20, "second message refers back: %zu", z_len);
		check_decodes(f, &fd, z, z_len, next, len, "Z_FINISH with dictionary");
		free(z);
		/* With the extra 00 of RFC 7692 7.2.3.4. */
		z = zlib_compress(text, len, 15, 6, Z_DEFAULT_STRATEGY, Z_FINISH, next, len, &z_len);
		z[z_len] = 0;
		check_decodes(f, &fd, z, z_len + 1, text, len, "Z_FINISH then 00");
		free(z);
		/* Junk after the final block is corrupt data, in whatever pieces it arrives. */
		z = zlib_compress(next, len, 15, 6, Z_DEFAULT_STRATEGY, Z_FINISH, text, len, &z_len);
		memcpy(z + z_len, "junk", 4);
		for (size_t cut = 0; cut <= 4; cut++) {
			ws_inflater *g = ws_inflater_new(&p);
			ws_inflater_set_window(g, text, len);
			ws_buf plain = {0};
			unit_way w = {.kind = cut ? UNIT_SPLIT : UNIT_WHOLE, .at = z_len + cut - 1};
			int rc = feed_message(&fd, g, z, z_len + 4, &w, &plain);
			UNIT_CHECK(rc == WS_EPROTO, "Z_FINISH then junk, cut at %zu: rc %d", w.at, rc);
			ws_buf_release(&plain);
			ws_inflater_free(g);
		}
		free(z);
		ws_inflater_free(f);
	}

	/* Z_FULL_FLUSH and other strategies and levels, as other clients may compress. */
	{
		static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE,
		                                 Z_FIXED};
		ws_inflater *f = ws_inflater_new(&p);
		for (int s = 0; s < 5; s++) {
			for (int level = 0; level <= 9; level += 3) {
				int flush = s % 2 ? Z_FULL_FLUSH : Z_SYNC_FLUSH;
				uint8_t *z =
				    zlib_compress(text, len, 9 + s, level, strategies[s], flush, NULL, 0, &z_len);
				char what[64];
				snprintf(what, sizeof(what), "strategy %d level %d flush %d", s, level, flush);
				check_decodes(f, &fd, z, z_len, text, len, what);
				free(z);
			}
		}
		ws_inflater_free(f);
	}
	feeder_release(&fd);
	free(text);
	free(next);
}

/* An agreed server_max_window_bits of 8: zlib compresses with 9 bits, yet never refers back
 * more than 256 bytes. Checked with zlib's inflate at 8 bits, one output byte per call, so
 * every reference leaves the call's output and is checked against the 256-byte window. */
static void test_window_8_strict(void)
{
	ws_deflate_params p8 = params_of(8, 8, false, false);
	ws_deflate_config cfg = {8, 8, true, true, 9, 9};
	ws_deflater *d = ws_deflater_new(&p8, &cfg);
	ws_buf out = {0};
	z_stream zs = {0};
	uint8_t msg[3000], block[400], got;
	bool ok = d != NULL;
	int rc = Z_OK;

	inflateInit2(&zs, -8);
	for (int m = 0; m < 20 && ok; m++) {
		/* A random block repeated at a period around 256, so matches just inside and just
		 * outside a 256-byte window are both on offer, within and across messages. */
		size_t period = 200 + 10 * (size_t)m;
		fill_random(block, period, (uint32_t)m / 4);
		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = block[i % period];
		ok = compress_message(d, msg, sizeof(msg), &out);
		if (m == 0)
			UNIT_CHECK(out.len < sizeof(msg) / 4, "an 8-bit window compresses: %zu", out.len);
		ws_buf_append(&out, "\x00\x00\xff\xff", 4);
		zs.next_in = out.ptr;
		zs.avail_in = (uInt)out.len;
		for (size_t i = 0; i < sizeof(msg) && ok; i++) {
			zs.next_out = &got;
			zs.avail_out = 1;
			do
				rc = inflate(&zs, Z_SYNC_FLUSH);
			while (rc == Z_OK && zs.avail_out);
			ok = zs.avail_out == 0 && got == msg[i];
			UNIT_CHECK(ok, "message %d byte %zu: rc %d %s", m, i, rc, zs.msg ? zs.msg : "");
		}
		/* The rest of the message (end of block, the tail) yields nothing. */
		zs.next_out = &got;
		zs.avail_out = 1;
		rc = inflate(&zs, Z_SYNC_FLUSH);
		UNIT_CHECK(ok && zs.avail_in == 0 && zs.avail_out == 1, "message %d ends: %d", m, rc);
	}
	inflateEnd(&zs);

	/* The check itself works: 10-bit zlib output does not pass it. */
	size_t z_len;
	fill_random(block, 300, 1);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = block[i % 300];
	uint8_t *z =
	    zlib_compress(msg, sizeof(msg), 10, 9, Z_DEFAULT_STRATEGY, Z_SYNC_FLUSH, NULL, 0, &z_len);
	memset(&zs, 0, sizeof(zs));
	inflateInit2(&zs, -8);
	zs.next_in = z;
	zs.avail_in = (uInt)z_len;
	rc = Z_OK;
	while (rc == Z_OK && zs.total_out < sizeof(msg)) {
		zs.next_out = &got;
		zs.avail_out = 1;
		rc = inflate(&zs, Z_SYNC_FLUSH);
	}
	UNIT_CHECK(rc == Z_DATA_ERROR, "10-bit output through an 8-bit window: %d", rc);
	inflateEnd(&zs);

	/* Our 8-bit inflater on the same data: zlib checks distances against the window only
	 * when they reach before the current call's output, so small output windows reject it
	 * and one that holds the whole message does not (deflate.h; found by fuzz_inflate). */
	ws_inflater *f = ws_inflater_new(&p8);
	feeder fd;
	ws_buf plain = {0};
	unit_way whole = unit_way_first();
	feeder_init(&fd, z_len, 1);
	UNIT_CHECK(feed_message(&fd, f, z, z_len, &whole, &plain) == WS_EPROTO,
	           "beyond the agreed window, 1-byte windows");
	ws_inflater_free(f);
	feeder_release(&fd);
	f = ws_inflater_new(&p8);
	feeder_init(&fd, z_len, sizeof(msg));
	plain.len = 0;
	UNIT_CHECK(feed_message(&fd, f, z, z_len, &whole, &plain) == 0 && plain.len == sizeof(msg),
	           "beyond the agreed window, one big window");
	ws_inflater_free(f);
	feeder_release(&fd);
	ws_buf_release(&plain);
	free(z);
	ws_buf_release(&out);
	ws_deflater_free(d);
}

/* ---- corrupt input ---- */

static void test_corrupt(void)
{
	const wire_case bad[] = {
	    W("reserved block type", 0x06),
	    W("reserved block type, final", 0xff, 0xff, 0xff),
	    W("stored block with bad NLEN", 0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o'),
	    W("Hello cut after 2 bytes", 0xf2, 0x48),
	    W("Hello cut after 4 bytes", 0xf2, 0x48, 0xcd, 0xc9),
	    W("stored block cut short", 0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e'),
	    /* After a final block only the one 00 of RFC 7692 7.2.3.4 may follow. */
	    W("final block, then 00 00", 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00),
	    W("final block, then 01", 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x01),
	    W("final block, then a whole sync flush", 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00,
	      0x00, 0xff, 0xff),
	    W("final block, then more blocks", 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xf2, 0x48,
	      0xcd, 0xc9, 0xc9, 0x07, 0x00),
	    W("final stored block, then junk", 0x01, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o',
	      'X'),
	};
	ws_deflate_params p = params_of(15, 15, false, false);
	feeder fd;

	feeder_init(&fd, 64, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_FOR_EACH_WAY(w, bad[i].len)
		{
			ws_inflater *f = ws_inflater_new(&p);
			ws_buf plain = {0};
			char way[48];
			unit_way_name(&w, way, sizeof(way));
			int rc = feed_message(&fd, f, bad[i].bytes, bad[i].len, &w, &plain);
			UNIT_CHECK(rc == WS_EPROTO, "%s, %s: rc %d", bad[i].name, way, rc);
			/* Sticky, and idle then frees the stream. */
			const uint8_t *in = (const uint8_t *)"\x00";
			size_t n = 1;
			uint8_t o[4];
			UNIT_CHECK(ws_inflater_feed(f, &in, &n, true, o, sizeof(o)) == WS_EPROTO, "%s: sticky",
			           bad[i].name);
			ws_inflater_idle(f);
			ws_inflater_free(f);
			ws_buf_release(&plain);
		}
	}
	feeder_release(&fd);

	/* A reference into a preset dictionary that the inflater never saw. */
	uint8_t dict[300], text[300];
	size_t z_len;
	fill_text(dict, sizeof(dict), 9);
	memcpy(text, dict, sizeof(text));
	uint8_t *z = zlib_compress(text, sizeof(text), 15, 6, Z_DEFAULT_STRATEGY, Z_SYNC_FLUSH, dict,
	                           sizeof(dict), &z_len);
	ws_inflater *f = ws_inflater_new(&p);
	const uint8_t *in = z;
	uint8_t o[1024];
	ssize_t r = 0;
	while (z_len && r >= 0)
		r = ws_inflater_feed(f, &in, &z_len, true, o, sizeof(o));
	UNIT_CHECK(r == WS_EPROTO, "unknown dictionary: %zd", r);
	ws_inflater_free(f);
	free(z);
}

/* ---- bombs, limits and memory ---- */

/* 100 MiB of zeros compressed to about 100 KB, decoded through one 64 KiB window: the
 * inflater allocates its state and window once and nothing more, and a caller can stop. */
static void test_bomb(void)
{
	const size_t total = 100 * MiB;
	uint8_t *zeros = calloc(1, MiB);
	z_stream zs = {0};
	ws_buf bomb = {0};
	ws_deflate_params p = params_of(15, 15, false, false);

	deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
	ws_buf_reserve(&bomb, 256 * KiB);
	for (size_t done = 0; done < total; done += MiB) {
		zs.next_in = zeros;
		zs.avail_in = MiB;
		do {
			ws_buf_reserve(&bomb, 64 * KiB);
			zs.next_out = bomb.ptr + bomb.len;
			zs.avail_out = (uInt)(bomb.cap - bomb.len);
			deflate(&zs, done + MiB == total ? Z_SYNC_FLUSH : Z_NO_FLUSH);
			bomb.len = bomb.cap - zs.avail_out;
		} while (zs.avail_out == 0);
	}
	deflateEnd(&zs);
	bomb.len -= 4;
	UNIT_CHECK(bomb.len < 120 * KiB, "bomb is %zu bytes", bomb.len);

	uint8_t *window = malloc(64 * KiB);
	for (int round = 0; round < 2; round++) {
		size_t live = failalloc.live, calls = failalloc.calls;
		failalloc_mark();
		ws_inflater *f = ws_inflater_new(&p);
		const uint8_t *in = bomb.ptr;
		size_t in_len = bomb.len, produced = 0;
		bool zeros_only = true, stopped = false;
		/* Round 0 drains all of it; round 1 stops at a 1 MiB limit, as conn does. */
		while (in_len || !ws_inflater_done(f)) {
			ssize_t r = ws_inflater_feed(f, &in, &in_len, true, window, 64 * KiB);
			if (r < 0) {
				UNIT_CHECK(false, "bomb: %zd", r);
				break;
			}
			for (ssize_t i = 0; i < r; i += 4099)
				zeros_only = zeros_only && window[i] == 0;
			produced += (size_t)r;
			if (round == 1 && produced > MiB) {
				stopped = true;
				break;
			}
		}
		size_t state = failalloc.peak - live;
		UNIT_CHECK(round == 1 ? stopped && produced <= MiB + 64 * KiB : produced == total,
		           "round %d produced %zu", round, produced);
		UNIT_CHECK(zeros_only, "zeros");
		UNIT_CHECK(failalloc.calls - calls == 3, "round %d: %zu allocations", round,
		           failalloc.calls - calls);
		UNIT_CHECK(state < sizeof(z_stream) + 8 * KiB + 32 * KiB + 512,
		           "round %d: %zu bytes at the peak", round, state);
		ws_inflater_idle(f);
		if (round == 1) {
			/* Abandoned with context takeover: nothing more decodes, nothing is held. */
			const uint8_t *again = bomb.ptr;
			size_t again_len = 1;
			UNIT_CHECK(ws_inflater_feed(f, &again, &again_len, false, window, 64) == WS_EPROTO,
			           "abandoned message");
			UNIT_CHECK(failalloc.live - live < 256, "abandoned: %zu bytes held",
			           failalloc.live - live);
		}
		ws_inflater_free(f);
		UNIT_CHECK(failalloc.live == live, "round %d: %zu bytes leaked", round,
		           failalloc.live - live);
	}

	/* Without context takeover an abandoned message leaves the inflater usable. */
	ws_deflate_params nct = params_of(15, 15, true, true);
	ws_inflater *f = ws_inflater_new(&nct);
	const uint8_t *in = bomb.ptr;
	size_t in_len = bomb.len;
	ssize_t r = ws_inflater_feed(f, &in, &in_len, true, window, 64 * KiB);
	UNIT_CHECK(r == 64 * KiB && !ws_inflater_done(f), "first window: %zd", r);
	ws_inflater_idle(f);
	static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
	in = hello;
	in_len = sizeof(hello);
	r = ws_inflater_feed(f, &in, &in_len, true, window, 64 * KiB);
	UNIT_CHECK(r == 5 && memcmp(window, "Hello", 5) == 0 && ws_inflater_done(f),
	           "after abandon: %zd", r);
	ws_inflater_free(f);

	free(window);
	free(zeros);
	ws_buf_release(&bomb);
}

/* What the streams hold, and that the idle calls give it back without context takeover. */
static void test_memory_idle(void)
{
	static const struct {
		uint8_t bits, mem;
		size_t min, max;
	} sizes[] = {
	    {15, 8, 256 * KiB, 270 * KiB}, {10, 4, 12 * KiB, 20 * KiB}, {9, 1, 2 * KiB, 10 * KiB}};
	uint8_t text[5000];
	ws_buf first = {0}, out = {0}, plain = {0};

	fill_text(text, sizeof(text), 3);
	ws_buf_reserve(&first, 64 * KiB);
	ws_buf_reserve(&out, 64 * KiB);
	ws_buf_reserve(&plain, sizeof(text));
	for (size_t i = 0; i < 3; i++) {
		for (int nct = 0; nct < 2; nct++) {
			ws_deflate_params p = params_of(sizes[i].bits, sizes[i].bits, nct, nct);
			ws_deflate_config cfg = {sizes[i].bits, sizes[i].bits, true, true, sizes[i].mem, 6};
			size_t base = failalloc.live;
			ws_deflater *d = ws_deflater_new(&p, &cfg);
			size_t empty = failalloc.live - base;
			UNIT_CHECK(empty < 256, "deflater alone: %zu", empty);
			compress_message(d, text, sizeof(text), &first);
			size_t held = failalloc.live - base - empty;
			UNIT_CHECK(held >= sizes[i].min && held <= sizes[i].max, "deflate %u/%u holds %zu",
			           sizes[i].bits, sizes[i].mem, held);
			ws_deflater_idle(d);
			UNIT_CHECK(failalloc.live - base == (nct ? empty : empty + held),
			           "deflate %u/%u, nct %d: idle leaves %zu", sizes[i].bits, sizes[i].mem, nct,
			           failalloc.live - base);
			/* It works again after idle (a new stream, or the kept one). */
			compress_message(d, text, sizeof(text), &out);
			/* Only a window larger than the message lets the second refer to the first. */
			UNIT_CHECK(nct ? out.len == first.len : sizes[i].bits < 13 || out.len < first.len / 4,
			           "second message %zu, first %zu", out.len, first.len);

			ws_inflater *f = ws_inflater_new(&p);
			feeder fd;
			unit_way w = unit_way_first();
			feeder_init(&fd, first.len, 4096);
			size_t before = failalloc.live;
			plain.len = 0;
			int rc = feed_message(&fd, f, first.ptr, first.len, &w, &plain);
			size_t fheld = failalloc.live - before;
			UNIT_CHECK(rc == 0 && plain.len == sizeof(text), "decodes: %d", rc);
			UNIT_CHECK(fheld > (1u << sizes[i].bits) && fheld < (1u << sizes[i].bits) + 8 * KiB,
			           "inflate %u holds %zu", sizes[i].bits, fheld);
			ws_inflater_idle(f);
			UNIT_CHECK(failalloc.live - before == (nct ? 0 : fheld), "inflate idle leaves %zu",
			           failalloc.live - before);
			plain.len = 0;
			rc = feed_message(&fd, f, out.ptr, out.len, &w, &plain);
			UNIT_CHECK(rc == 0 && plain.len == sizeof(text) &&
			               memcmp(plain.ptr, text, sizeof(text)) == 0,
			           "second decodes: %d", rc);
			feeder_release(&fd);
			ws_inflater_free(f);
			ws_deflater_free(d);
			UNIT_CHECK(failalloc.live == base, "freed: %zu left", failalloc.live - base);
		}
	}
	ws_buf_release(&plain);
	ws_buf_release(&first);
	ws_buf_release(&out);
}

/* ---- compressor details ---- */

static void test_deflater_appends(void)
{
	ws_deflate_params p = params_of(15, 15, false, false);
	ws_deflater *d = ws_deflater_new(&p, &cfg_default);
	ws_buf out = {0};
	uint8_t text[700];
	z_stream zs = {0};

	fill_text(text, sizeof(text), 11);
	ws_buf_append(&out, "0123456789", 10);
	ws_buf_consume(&out, 4); /* a head that reserve may compact away */
	ssize_t n = ws_deflater_message(d, text, sizeof(text), &out);
	UNIT_CHECK(n > 0 && ws_buf_avail(&out) == 6 + (size_t)n &&
	               memcmp(out.ptr + out.head, "456789", 6) == 0,
	           "appends after what the buffer holds: %zd", n);
	inflateInit2(&zs, -15);
	UNIT_CHECK(zlib_decodes(&zs, out.ptr + out.head + 6, (size_t)n, text, sizeof(text)),
	           "zlib decodes it");
	inflateEnd(&zs);
	/* Empty messages with context: a single 00, which decodes to nothing in any context. */
	size_t at = out.len;
	UNIT_CHECK(ws_deflater_message(d, text, 0, &out) == 1 && out.len == at + 1 && out.ptr[at] == 0,
	           "empty after a message");

	ws_deflate_config bad = cfg_default;
	bad.mem_level = 0;
	UNIT_CHECK(ws_deflater_new(&p, &bad) == NULL, "mem_level 0");
	bad = cfg_default;
	bad.level = 10;
	UNIT_CHECK(ws_deflater_new(&p, &bad) == NULL, "level 10");
	ws_deflate_params bad_p = params_of(16, 7, false, false);
	UNIT_CHECK(ws_deflater_new(&bad_p, &cfg_default) == NULL, "server bits 16");
	UNIT_CHECK(ws_inflater_new(&bad_p) == NULL, "client bits 7");
	ws_deflater_free(NULL);
	ws_inflater_free(NULL);

	/* A zero-sized output window makes no progress but does no harm. */
	ws_inflater *f = ws_inflater_new(&p);
	static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
	const uint8_t *in = hello;
	size_t in_len = sizeof(hello);
	UNIT_CHECK(ws_inflater_feed(f, &in, &in_len, true, NULL, 0) == 0, "zero window");
	uint8_t o[8];
	ssize_t r = 0, got = 0;
	while ((in_len || !ws_inflater_done(f)) && r >= 0)
		got += r = ws_inflater_feed(f, &in, &in_len, true, o + got, sizeof(o) - (size_t)got);
	UNIT_CHECK(got == 5 && memcmp(o, "Hello", 5) == 0, "then decodes: %zd", got);
	ws_inflater_free(f);

	ws_buf_release(&out);
	ws_deflater_free(d);
}

/* A sync flush that fills the output window exactly makes zlib add one more empty stored
 * block on the next call: the message gets 5 bytes longer and still decodes the same. */
static void test_deflater_exact_fill(void)
{
	ws_deflate_params p = params_of(15, 15, true, true);
	ws_deflater *d = ws_deflater_new(&p, &cfg_default);
	uint8_t data[1000];
	ws_buf ref = {0}, out = {0}, plain = {0};
	feeder fd;

	fill_random(data, sizeof(data), 21);
	compress_message(d, data, sizeof(data), &ref);
	/* Leave exactly the compressed size plus the 4-byte tail free at the end of the buffer. */
	ws_buf_reserve(&out, 4096);
	memset(out.ptr, 'x', out.cap);
	out.len = out.cap - (ref.len + 4);
	size_t at = out.len;
	ssize_t n = ws_deflater_message(d, data, sizeof(data), &out);
	UNIT_CHECK(n == (ssize_t)ref.len + 5 && out.len == at + (size_t)n &&
	               memcmp(out.ptr + at, ref.ptr, ref.len) == 0 &&
	               memcmp(out.ptr + at + ref.len, "\x00\x00\xff\xff\x00", 5) == 0,
	           "exact fill: %zd bytes, %zu without it", n, ref.len);
	feeder_init(&fd, (size_t)n, 333);
	ws_inflater *f = ws_inflater_new(&p);
	UNIT_FOR_EACH_WAY(w, (size_t)n)
	{
		plain.len = 0;
		int rc = feed_message(&fd, f, out.ptr + at, (size_t)n, &w, &plain);
		UNIT_CHECK(rc == 0 && plain.len == sizeof(data) &&
		               memcmp(plain.ptr, data, sizeof(data)) == 0,
		           "exact fill decodes: %d", rc);
	}
	ws_inflater_free(f);
	feeder_release(&fd);
	ws_buf_release(&plain);
	ws_buf_release(&out);
	ws_buf_release(&ref);
	ws_deflater_free(d);
}

/* The handoff of a context to another process: the windows read back from a deflater and an
 * inflater that have seen messages, given to fresh ones, let the next message (which refers
 * back) go through; a buffer smaller than the window gets nothing and is not written past. */
static void test_window_handoff(void)
{
	ws_deflate_params p = params_of(15, 15, false, false);
	ws_deflater *d = ws_deflater_new(&p, &cfg_default);
	ws_inflater *f = ws_inflater_new(&p);
	uint8_t text[3000];
	ws_buf z = {0}, plain = {0};
	unit_guard g;
	feeder fd;
	unit_way whole = unit_way_first();

	fill_text(text, sizeof(text), 8);
	unit_guard_init(&g, 1u << 15);
	feeder_init(&fd, sizeof(text) + 64, 4096);
	compress_message(d, text, sizeof(text), &z);
	UNIT_CHECK(feed_message(&fd, f, z.ptr, z.len, &whole, &plain) == 0, "first message");
	uint8_t *small = g.end - 1000;
	UNIT_CHECK(ws_deflater_window(d, small, 1000) == 0 && ws_inflater_window(f, small, 1000) == 0,
	           "a buffer smaller than the window");
	uint8_t *dw = malloc(1u << 15), *iw = g.end - (1u << 15);
	size_t dlen = ws_deflater_window(d, dw, 1u << 15);
	size_t ilen = ws_inflater_window(f, iw, 1u << 15);
	UNIT_CHECK(dlen == sizeof(text) && ilen == sizeof(text) && memcmp(dw, text, dlen) == 0 &&
	               memcmp(iw, text, ilen) == 0,
	           "windows: %zu and %zu bytes", dlen, ilen);
	ws_deflater_free(d);
	ws_inflater_free(f);

	d = ws_deflater_new(&p, &cfg_default);
	f = ws_inflater_new(&p);
	UNIT_CHECK(ws_deflater_set_window(d, dw, dlen) == 0 && ws_inflater_set_window(f, iw, ilen) == 0,
	           "set windows");
	compress_message(d, text, sizeof(text), &z);
	UNIT_CHECK(z.len < 100, "the new deflater refers back: %zu bytes", z.len);
	plain.len = 0;
	UNIT_CHECK(feed_message(&fd, f, z.ptr, z.len, &whole, &plain) == 0 &&
	               plain.len == sizeof(text) && memcmp(plain.ptr, text, sizeof(text)) == 0,
	           "the new inflater decodes it");
	ws_deflater_free(d);
	ws_inflater_free(f);
	free(dw);
	feeder_release(&fd);
	unit_guard_release(&g);
	ws_buf_release(&z);
	ws_buf_release(&plain);
}

/* ---- allocation failures ---- */

/* With allocation n failing (alone or with all that follow), a takeover sequence either works
 * or reports WS_ENOMEM / NULL, leaks nothing, and the deflater recovers: what it makes after
 * a failure still decodes on an inflater that saw every earlier message. */
static unsigned long run_failing(unsigned long n, bool after)
{
	ws_deflate_params p = params_of(12, 12, false, false);
	ws_deflate_config cfg = {12, 12, true, true, 5, 6};
	uint8_t text[3000];
	ws_buf out = {0};
	size_t base = failalloc.live;
	unsigned long made;
	z_stream zs = {0};
	feeder fd;

	failalloc_fail_at(n, after);
	feeder_init(&fd, 4096, 512);
	inflateInit2(&zs, -12);
	ws_deflater *d = ws_deflater_new(&p, &cfg);
	ws_inflater *f = ws_inflater_new(&p);
	bool zlib_ok = true, inflater_ok = f != NULL;
	for (int m = 0; m < 4 && d; m++) {
		fill_text(text, sizeof(text), (uint32_t)m % 2);
		out.head = out.len = 0;
		ssize_t r = ws_deflater_message(d, text, sizeof(text), &out);
		UNIT_CHECK(r > 0 || (r == WS_ENOMEM && out.len == 0), "fail at %lu: message %d: %zd", n, m,
		           r);
		if (r <= 0)
			continue;
		zlib_ok = zlib_ok && zlib_decodes(&zs, out.ptr, out.len, text, sizeof(text));
		if (inflater_ok) {
			ws_buf plain = {0};
			unit_way w = unit_way_first();
			int rc = feed_message(&fd, f, out.ptr, out.len, &w, &plain);
			UNIT_CHECK(rc == 0 || rc == WS_ENOMEM, "fail at %lu: inflate %d", n, rc);
			UNIT_CHECK(
			    rc || (plain.len == sizeof(text) && memcmp(plain.ptr, text, sizeof(text)) == 0),
			    "fail at %lu: message %d differs", n, m);
			inflater_ok = rc == 0;
			ws_buf_release(&plain);
		}
	}
	UNIT_CHECK(zlib_ok, "fail at %lu: zlib decodes everything", n);
	made = failalloc.attempts;
	failalloc.fail_at = 0;
	inflateEnd(&zs);
	ws_inflater_free(f);
	ws_deflater_free(d);
	ws_buf_release(&out);
	feeder_release(&fd);
	UNIT_CHECK(failalloc.live == base, "fail at %lu: %zu bytes leaked", n, failalloc.live - base);
	return made;
}

static void test_alloc_failures(void)
{
	unsigned long total = run_failing(0, false);

	UNIT_CHECK(total >= 10, "only %lu allocations", total);
	for (unsigned long n = 1; n <= total + 1; n++) {
		run_failing(n, false);
		run_failing(n, true);
	}
}

static const CU_TestInfo tests[] = {
    {"negotiation table", test_negotiation_table},
    {"negotiation: lines equal joined lines", test_negotiation_lines_join},
    {"negotiation: edges", test_negotiation_edges},
    {"RFC 7692 7.2.3 examples", test_rfc_examples},
    {"round trips: sizes, text and random, takeover", test_round_trip_sizes},
    {"round trips: windows 8..15, mem levels, levels", test_round_trip_windows},
    {"interop with zlib: final blocks, full flush, strategies", test_zlib_interop},
    {"window bits 8 decoded by an 8-bit zlib", test_window_8_strict},
    {"corrupt input", test_corrupt},
    {"decompression bomb through a 64 KiB window", test_bomb},
    {"memory held and released by idle", test_memory_idle},
    {"deflater appends; argument checks; zero window", test_deflater_appends},
    {"deflater: output window filled exactly by the flush", test_deflater_exact_fill},
    {"window handoff to another process", test_window_handoff},
    {"allocation failures", test_alloc_failures},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	failalloc_install();
	return unit_main("deflate", tests);
}
