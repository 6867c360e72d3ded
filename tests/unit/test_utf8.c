/* test_utf8.c - unit tests for src/utf8.c: valid text in the style of Autobahn section 6, each
 * class of invalid sequence with the exact byte at which validation must fail, the 8-byte
 * ASCII path at every alignment, and an exhaustive comparison with a reference decoder. */
#include "unit.h"

#include "err.h"
#include "utf8.h"
#include "utf8_ref.h"

#define NO_FAIL ((size_t)-1)

typedef struct utf8_case {
	const char *name;
	const char *bytes;
	size_t len;
	size_t fail_at; /* index of the first byte that must be rejected, or NO_FAIL */
	bool complete;  /* when it does not fail: ends on a code point boundary */
} utf8_case;

#define S(lit) lit, sizeof(lit) - 1

static const utf8_case cases[] = {
    /* Valid text. */
    {"empty", S(""), NO_FAIL, true},
    {"ascii", S("Hello, world"), NO_FAIL, true},
    {"kosme", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), NO_FAIL, true},
    {"mixed", S("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"), NO_FAIL,
     true},
    {"U+0000", S("\x00"), NO_FAIL, true},
    {"U+007F", S("\x7f"), NO_FAIL, true},
    {"U+0080", S("\xc2\x80"), NO_FAIL, true},
    {"U+07FF", S("\xdf\xbf"), NO_FAIL, true},
    {"U+0800", S("\xe0\xa0\x80"), NO_FAIL, true},
    {"U+D7FF", S("\xed\x9f\xbf"), NO_FAIL, true},
    {"U+E000", S("\xee\x80\x80"), NO_FAIL, true},
    {"U+FFFD", S("\xef\xbf\xbd"), NO_FAIL, true},
    {"U+FFFE noncharacter", S("\xef\xbf\xbe"), NO_FAIL, true},
    {"U+FFFF", S("\xef\xbf\xbf"), NO_FAIL, true},
    {"U+10000", S("\xf0\x90\x80\x80"), NO_FAIL, true},
    {"U+10FFFF", S("\xf4\x8f\xbf\xbf"), NO_FAIL, true},
    {"emoji in text", S("hi \xf0\x9f\x98\x80 there, 0123456789abcdef"), NO_FAIL, true},
    /* Valid so far but cut inside a code point: no failure, not complete. */
    {"cut 2-byte", S("abc\xc2"), NO_FAIL, false},
    {"cut 3-byte", S("abc\xe2\x82"), NO_FAIL, false},
    {"cut 4-byte", S("\xf4\x8f\xbf"), NO_FAIL, false},
    {"kosme cut", S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce"), NO_FAIL, false},
    /* Continuation bytes without a lead. */
    {"lone 80", S("\x80"), 0, false},
    {"lone BF", S("ab\xbf"), 2, false},
    {"two continuations", S("\xc2\x80\x80"), 2, false},
    /* Overlong forms: C0 and C1 can only start overlongs, so they fail at once. */
    {"overlong / 2-byte", S("\xc0\xaf"), 0, false},
    {"overlong C1", S("\xc1\xbf"), 0, false},
    {"overlong / 3-byte", S("\xe0\x80\xaf"), 1, false},
    {"overlong U+07FF 3-byte", S("\xe0\x9f\xbf"), 1, false},
    {"overlong / 4-byte", S("\xf0\x80\x80\xaf"), 1, false},
    {"overlong U+FFFF 4-byte", S("\xf0\x8f\xbf\xbf"), 1, false},
    /* UTF-16 surrogates. */
    {"U+D800", S("\xed\xa0\x80"), 1, false},
    {"U+DBFF", S("\xed\xaf\xbf"), 1, false},
    {"U+DC00", S("\xed\xb0\x80"), 1, false},
    {"U+DFFF", S("\xed\xbf\xbf"), 1, false},
    {"surrogate pair", S("\xed\xa0\x80\xed\xb0\x80"), 1, false},
    /* Above U+10FFFF. */
    {"U+110000", S("\xf4\x90\x80\x80"), 1, false},
    {"F5 lead", S("\xf5\x80\x80\x80"), 0, false},
    {"F7 lead", S("\xf7\xbf\xbf\xbf"), 0, false},
    {"5-byte form", S("\xf8\x88\x80\x80\x80"), 0, false},
    {"6-byte form", S("\xfc\x84\x80\x80\x80\x80"), 0, false},
    {"FE", S("\xfe"), 0, false},
    {"FF", S("a\xff"), 1, false},
    /* Sequences cut short by a byte that is not a continuation. */
    {"2-byte then ASCII", S("\xc2\x41"), 1, false},
    {"3-byte then ASCII", S("\xe1\x80\x41"), 2, false},
    {"4-byte then ASCII", S("\xf1\x80\x80\x41"), 3, false},
    {"3-byte then lead", S("\xe1\x80\xc2\x80"), 2, false},
    /* Autobahn 6.3.1 / 6.4.x: the failure must be reported at the bad byte, not at the end. */
    {"kosme + surrogate + edited",
     S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
       "edited"),
     12, false},
    {"kosme + F4 90 + edited",
     S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"
       "edited"),
     12, false},
    {"kosme + C0 + edited",
     S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xc0\xaf"
       "edited"),
     11, false},
    /* The ASCII path must stop at the first non-ASCII byte inside an 8-byte word. */
    {"ascii word then bad", S("0123456789abcdef\x80zzzzzzzzzzzzzzzz"), 16, false},
    {"bad inside second word",
     S("01234567890\xff"
       "23456789abcdef"),
     11, false},
    {"multi-byte across words",
     S("0123456\xe2\x82\xac"
       "0123456789abcdef\xf0\x9f\x98"),
     NO_FAIL, false},
};

/* Feeds `c` in the pieces given by `w`, each piece placed against a guard page, and checks
 * that exactly the piece holding the first bad byte fails and that failure is sticky. */
static void run_case(const utf8_case *c, const unit_way *w, unit_guard *g)
{
	ws_utf8 u = {0};
	size_t pos = 0;
	bool failed = false;
	char way[48];

	unit_way_name(w, way, sizeof(way));
	while (pos < c->len) {
		size_t end = unit_way_piece_end(w, pos, c->len);
		const uint8_t *p = unit_guard_place(g, c->bytes + pos, end - pos);
		int rc = ws_utf8_feed(&u, p, end - pos);
		bool should_fail = c->fail_at != NO_FAIL && c->fail_at < end;
		UNIT_CHECK(rc == (should_fail ? WS_EUTF8 : 0), "%s, %s, piece [%zu, %zu) gave %d", c->name,
		           way, pos, end, rc);
		if (rc < 0) {
			failed = true;
			break;
		}
		pos = end;
	}
	if (failed) {
		const uint8_t ok = 'a';
		UNIT_CHECK(ws_utf8_feed(&u, &ok, 1) == WS_EUTF8, "%s, %s: failure not sticky", c->name,
		           way);
		UNIT_CHECK(!ws_utf8_complete(&u), "%s, %s", c->name, way);
	} else {
		UNIT_CHECK(c->fail_at == NO_FAIL, "%s, %s: never failed", c->name, way);
		UNIT_CHECK(ws_utf8_complete(&u) == c->complete, "%s, %s: complete", c->name, way);
	}
}

static void test_cases_three_ways(void)
{
	unit_guard g;

	unit_guard_init(&g, 256);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const utf8_case *c = &cases[i];
		UNIT_FOR_EACH_WAY(w, c->len)
		{
			run_case(c, &w, &g);
		}
	}
	unit_guard_release(&g);
}

static void test_validate_whole(void)
{
	unit_guard g;

	unit_guard_init(&g, 256);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const utf8_case *c = &cases[i];
		const uint8_t *p = unit_guard_place(&g, c->bytes, c->len);
		int want = c->fail_at == NO_FAIL && c->complete ? 0 : WS_EUTF8;
		UNIT_CHECK(ws_utf8_validate(p, c->len) == want, "%s", c->name);
	}
	unit_guard_release(&g);
}

/* The feed that fails must be the one that delivers the bad byte: every proper prefix that
 * stops before it is accepted, the prefix that includes it is not. */
static void test_fail_fast_prefixes(void)
{
	unit_guard g;

	unit_guard_init(&g, 256);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const utf8_case *c = &cases[i];
		if (c->fail_at == NO_FAIL)
			continue;
		for (size_t n = 0; n <= c->len; n++) {
			ws_utf8 u = {0};
			const uint8_t *p = unit_guard_place(&g, c->bytes, n);
			int want = n > c->fail_at ? WS_EUTF8 : 0;
			UNIT_CHECK(ws_utf8_feed(&u, p, n) == want, "%s, prefix %zu", c->name, n);
		}
	}
	unit_guard_release(&g);
}

/* A bad byte at every position of a long ASCII run, at every alignment of the run, so each
 * lane of the 8-byte check and the byte loop after it are exercised. */
static void test_ascii_fast_path(void)
{
	uint8_t text[80];
	unit_guard g;

	unit_guard_init(&g, sizeof(text));
	for (size_t len = 0; len <= 72; len++) {
		for (size_t bad = 0; bad <= len; bad++) {
			for (size_t k = 0; k < len; k++)
				text[k] = (uint8_t)('a' + k % 26);
			if (bad < len)
				text[bad] = 0x80;
			for (size_t skew = 0; skew < 8 && skew <= len; skew++) {
				ws_utf8 u = {0};
				const uint8_t *p = unit_guard_place(&g, text, len);
				int rc = ws_utf8_feed(&u, p, skew);
				if (rc == 0)
					rc = ws_utf8_feed(&u, p + skew, len - skew);
				UNIT_CHECK(rc == (bad < len ? WS_EUTF8 : 0), "len %zu bad %zu skew %zu", len, bad,
				           skew);
			}
		}
	}
	unit_guard_release(&g);
}

/* After a multi-byte character completes inside a feed, the word-at-a-time path resumes;
 * a bad byte later in the same feed must still be found. */
static void test_resume_after_multibyte(void)
{
	static const char good[] = "\xc3\xa9"
	                           "abcdefghijklmnopqrstuvwxyz\xe2\x82\xac"
	                           "0123456789abcdefghij";
	char bad[sizeof(good)];
	ws_utf8 u = {0};

	UNIT_CHECK(ws_utf8_feed(&u, (const uint8_t *)good, sizeof(good) - 1) == 0, "good");
	UNIT_CHECK(ws_utf8_complete(&u), "good complete");
	memcpy(bad, good, sizeof(good));
	bad[sizeof(good) - 4] = '\xbf';
	ws_utf8_reset(&u);
	UNIT_CHECK(ws_utf8_feed(&u, (const uint8_t *)bad, sizeof(good) - 1) == WS_EUTF8, "bad");
	ws_utf8_reset(&u);
	UNIT_CHECK(ws_utf8_complete(&u), "reset");
	UNIT_CHECK(ws_utf8_feed(&u, (const uint8_t *)"ok", 2) == 0, "after reset");
}

/* Every lead byte times every second byte times representative third and fourth bytes,
 * streamed one byte at a time so the failing position is exact. */
static void test_against_reference(void)
{
	static const uint8_t tails[] = {0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc2};
	size_t mismatches = 0;

	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			for (size_t c = 0; c < sizeof(tails); c++) {
				for (size_t d = 0; d < sizeof(tails); d++) {
					uint8_t s[4] = {(uint8_t)a, (uint8_t)b, tails[c], tails[d]};
					bool ref_complete;
					size_t ref = utf8_ref_first_bad(s, 4, &ref_complete);
					ws_utf8 u = {0};
					size_t got = 4;
					for (size_t k = 0; k < 4; k++) {
						if (ws_utf8_feed(&u, s + k, 1) < 0) {
							got = k;
							break;
						}
					}
					bool ok = got == ref && (got < 4 || ws_utf8_complete(&u) == ref_complete);
					ok = ok && (ws_utf8_validate(s, 4) == 0) == (ref == 4 && ref_complete);
					if (!ok && mismatches++ < 10)
						UNIT_CHECK(ok, "%02x %02x %02x %02x: got %zu, reference %zu", s[0], s[1],
						           s[2], s[3], got, ref);
				}
			}
		}
	}
	UNIT_CHECK(mismatches == 0, "%zu mismatches", mismatches);
}

static const CU_TestInfo tests[] = {
    {"cases three ways", test_cases_three_ways},
    {"validate whole", test_validate_whole},
    {"fail fast on every prefix", test_fail_fast_prefixes},
    {"ascii fast path", test_ascii_fast_path},
    {"resume after multibyte", test_resume_after_multibyte},
    {"against reference decoder", test_against_reference},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("utf8", tests);
}
