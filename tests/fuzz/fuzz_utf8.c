/* fuzz_utf8.c - libFuzzer target for src/utf8.c.
 * Input: byte 0 picks the piece sizes (low and high nibble, plus one, alternating); the rest
 * is the text. Checks that streaming validation in those pieces, one byte at a time, and
 * ws_utf8_validate on the whole buffer agree with each other and with the independent
 * reference in tests/unit/utf8_ref.h, including the exact byte at which validation fails.
 * Each piece is a separate exact-size allocation, so ASan sees any read past it. */
#include "fuzz.h"
#include "utf8.h"
#include "err.h"
#include "../unit/utf8_ref.h"

#include <stdlib.h>
#include <string.h>

/* Feeds text[0, len) in pieces of the two alternating sizes; returns the index of the piece
 * start at which the failing feed began, the failing piece's end in *fail_end, or len. */
static size_t feed_pieces(const uint8_t *text, size_t len, size_t a, size_t b, size_t *fail_end,
                          bool *complete)
{
	ws_utf8 u = {0};
	size_t pos = 0;

	for (size_t k = 0; pos < len; k++) {
		size_t n = k & 1 ? b : a;
		if (n > len - pos)
			n = len - pos;
		uint8_t *piece = malloc(n ? n : 1);
		memcpy(piece, text + pos, n);
		int rc = ws_utf8_feed(&u, piece, n);
		free(piece);
		REQUIRE(rc == 0 || rc == WS_EUTF8);
		if (rc < 0) {
			*fail_end = pos + n;
			REQUIRE(ws_utf8_feed(&u, (const uint8_t *)"a", 1) == WS_EUTF8);
			return pos;
		}
		pos += n;
	}
	*complete = ws_utf8_complete(&u);
	*fail_end = len;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t a = (data[0] & 15) + 1, b = (data[0] >> 4) + 1;
	size_t len = size - 1;
	uint8_t *text = malloc(len ? len : 1);
	bool ref_complete, complete = false;
	size_t fail_end;

	memcpy(text, data + 1, len);
	size_t bad = utf8_ref_first_bad(text, len, &ref_complete);
	bool ref_valid = bad == len && ref_complete;

	REQUIRE((ws_utf8_validate(text, len) == 0) == ref_valid);

	/* In pieces: the failing piece is the one holding the first bad byte. */
	size_t start = feed_pieces(text, len, a, b, &fail_end, &complete);
	if (bad < len)
		REQUIRE(start <= bad && bad < fail_end);
	else
		REQUIRE(start == len && complete == ref_complete);

	/* One byte at a time: the failure is at the first bad byte exactly. */
	start = feed_pieces(text, len, 1, 1, &fail_end, &complete);
	REQUIRE(start == bad);
	if (bad == len)
		REQUIRE(complete == ref_complete);

	/* Whole buffer through the streaming call. */
	start = feed_pieces(text, len, len ? len : 1, 1, &fail_end, &complete);
	REQUIRE((start == len) == (bad == len));

	free(text);
	return 0;
}
