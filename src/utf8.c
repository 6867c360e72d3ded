/* utf8.c - streaming UTF-8 validation for text messages and close reasons (RFC 6455 8.1).
 * Input may be split anywhere, including inside a code point; the state of the automaton lives
 * in ws_utf8, so a call needs nothing from the previous one's buffer.
 * Rejects overlongs, surrogates and code points above U+10FFFF as soon as the byte arrives:
 * the automaton only admits the byte ranges of RFC 3629 section 4, so the first byte that
 * cannot continue any valid sequence moves it to the sticky reject state.
 * Allocates nothing. Knows nothing about frames or compression. */
#include "utf8.h"
#include "err.h"

#include <string.h>

/* States of the automaton. Every state but ACCEPT and REJECT means "inside a code point" and
 * names what the next byte must be. The value is what ws_utf8.state holds. */
enum {
	S_ACCEPT = 0, /* at a code point boundary */
	S_REJECT,     /* a byte was seen that no valid text can contain; sticky */
	S_TAIL1,      /* one more 80..BF */
	S_TAIL2,      /* two more 80..BF */
	S_TAIL3,      /* three more 80..BF */
	S_E0,         /* after E0: A0..BF, anything lower is an overlong 3-byte form */
	S_ED,         /* after ED: 80..9F, anything higher is a UTF-16 surrogate */
	S_F0,         /* after F0: 90..BF, anything lower is an overlong 4-byte form */
	S_F4,         /* after F4: 80..8F, anything higher is above U+10FFFF */
	S_COUNT
};

/* Byte classes: the bytes that the automaton never needs to tell apart share a class. */
enum {
	C_ASCII = 0, /* 00..7F */
	C_80,        /* 80..8F continuation */
	C_90,        /* 90..9F continuation */
	C_A0,        /* A0..BF continuation */
	C_BAD,       /* C0, C1 (overlong 2-byte leads) and F5..FF (leads above U+10FFFF) */
	C_L2,        /* C2..DF: lead of a 2-byte sequence */
	C_E0,        /* E0 */
	C_L3,        /* E1..EC, EE, EF: lead of a 3-byte sequence without a special range */
	C_ED,        /* ED */
	C_F0,        /* F0 */
	C_L4,        /* F1..F3: lead of a 4-byte sequence without a special range */
	C_F4,        /* F4 */
	C_COUNT
};

/* clang-format off */
static const uint8_t byte_class[] = {
	/* 00..7F */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0,
	/* 80..8F */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 90..9F */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	/* A0..BF */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3,
	/* C0, C1 */
	4, 4,
	/* C2..DF */
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	/* E0, E1..EC, ED, EE..EF */
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
	/* F0, F1..F3, F4, F5..FF */
	9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};
/* clang-format on */

/* Leaving out an entry above would silently shift every later class; the size check catches it. */
_Static_assert(sizeof(byte_class) == 256, "byte_class needs one entry per byte value");

/* Rows are states, columns are byte classes in the order of the enum above. The one-letter
 * names exist only to keep the table narrow enough to read as a table. */
#define A  S_ACCEPT
#define R  S_REJECT
#define T1 S_TAIL1
#define T2 S_TAIL2
#define T3 S_TAIL3
/* clang-format off */
static const uint8_t transition[S_COUNT][C_COUNT] = {
	/*            ASCII 80  90  A0  BAD L2  E0    L3  ED    F0    L4  F4 */
	[S_ACCEPT] = {A,    R,  R,  R,  R,  T1, S_E0, T2, S_ED, S_F0, T3, S_F4},
	[S_REJECT] = {R,    R,  R,  R,  R,  R,  R,    R,  R,    R,    R,  R},
	[S_TAIL1]  = {R,    A,  A,  A,  R,  R,  R,    R,  R,    R,    R,  R},
	[S_TAIL2]  = {R,    T1, T1, T1, R,  R,  R,    R,  R,    R,    R,  R},
	[S_TAIL3]  = {R,    T2, T2, T2, R,  R,  R,    R,  R,    R,    R,  R},
	[S_E0]     = {R,    R,  R,  T1, R,  R,  R,    R,  R,    R,    R,  R},
	[S_ED]     = {R,    T1, T1, R,  R,  R,  R,    R,  R,    R,    R,  R},
	[S_F0]     = {R,    R,  T2, T2, R,  R,  R,    R,  R,    R,    R,  R},
	[S_F4]     = {R,    T2, R,  R,  R,  R,  R,    R,  R,    R,    R,  R},
};
/* clang-format on */
#undef A
#undef R
#undef T1
#undef T2
#undef T3

#define HIGH_BITS 0x8080808080808080ull

int ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t len)
{
	uint32_t state = u->state;
	size_t i = 0;

	/* A state value from outside the automaton can only come from a caller that scribbled on
	 * the struct; treating it as invalid keeps the table lookup in bounds. */
	if (state >= S_COUNT)
		state = S_REJECT;
	if (state == S_REJECT)
		return WS_EUTF8;
	while (i < len) {
		/* Chat text is mostly ASCII, so at a boundary test eight bytes with one AND. memcpy
		 * makes the unaligned load well defined and compiles to a single move. */
		if (state == S_ACCEPT) {
			while (len - i >= 8) {
				uint64_t w;
				memcpy(&w, p + i, sizeof(w));
				if (w & HIGH_BITS)
					break;
				i += 8;
			}
			if (i == len)
				break;
		}
		/* Walk the next eight bytes through the automaton one at a time: they hold a
		 * non-ASCII byte or continue an open sequence, and testing the word again after each
		 * of its ASCII bytes would load the same bytes up to eight times. */
		size_t stop = len - i < 8 ? len : i + 8;
		for (; i < stop; i++) {
			state = transition[state][byte_class[p[i]]];
			if (state == S_REJECT) {
				u->state = S_REJECT;
				return WS_EUTF8;
			}
		}
	}
	u->state = state;
	return 0;
}

bool ws_utf8_complete(const ws_utf8 *u)
{
	return u->state == S_ACCEPT;
}

int ws_utf8_validate(const uint8_t *p, size_t len)
{
	ws_utf8 u = {0};

	if (ws_utf8_feed(&u, p, len) < 0 || !ws_utf8_complete(&u))
		return WS_EUTF8;
	return 0;
}
