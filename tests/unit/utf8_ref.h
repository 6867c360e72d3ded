/* utf8_ref.h - a reference UTF-8 checker for tests/unit/test_utf8.c and
 * tests/fuzz/fuzz_utf8.c. It is written unlike src/utf8.c on purpose (arithmetic on code point
 * intervals, no tables), so that the two agreeing means something. Slow and simple. */
#ifndef WS_UTF8_REF_H
#define WS_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reference: decodes by arithmetic, the way RFC 3629 describes it, without the byte-range
 * tables of the implementation. After each byte of a sequence, the code points it can still
 * become form an interval [lo, hi]; the byte is the failing one when that interval misses
 * U+0080..U+10FFFF (for its length) without surrogates. Returns the index of the first byte
 * that cannot belong to valid UTF-8, or len; *complete tells whether the text ends cleanly. */
static inline size_t utf8_ref_first_bad(const uint8_t *s, size_t len, bool *complete)
{
	size_t i = 0;

	*complete = true;
	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xE0) == 0xC0) {
			n = 2, cp = b & 0x1F, min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			n = 3, cp = b & 0x0F, min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			n = 4, cp = b & 0x07, min = 0x10000;
		} else {
			return i;
		}
		for (size_t k = 0; k < n; k++) {
			if (k > 0) {
				if (i + k == len) {
					*complete = false;
					return len;
				}
				if ((s[i + k] & 0xC0) != 0x80)
					return i + k;
				cp = cp << 6 | (s[i + k] & 0x3F);
			}
			unsigned rest_bits = (unsigned)(6 * (n - 1 - k));
			uint32_t lo = cp << rest_bits;
			uint32_t hi = lo | ((1u << rest_bits) - 1);
			if (hi < min || lo > 0x10FFFF || (lo >= 0xD800 && hi <= 0xDFFF))
				return i + k;
		}
		i += n;
	}
	return len;
}

#endif
