/* utf8.h - streaming UTF-8 validation for text messages and close reasons (RFC 6455 8.1).
 * Input may be split anywhere, including inside a code point; state lives in ws_utf8.
 * Rejects overlongs, surrogates and code points above U+10FFFF as soon as the byte arrives
 * (fail fast). Allocates nothing. Knows nothing about frames or compression. */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-initialised is the start state (at a code point boundary). */
typedef struct ws_utf8 {
	uint32_t state;
} ws_utf8;

/* Validates the next `len` bytes. Returns 0 when every byte so far can still belong to valid
 * UTF-8, or WS_EUTF8 at the first byte that cannot; the state is then sticky-invalid. */
int ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t len);

/* True when the bytes fed so far end on a code point boundary (no sequence left open). */
bool ws_utf8_complete(const ws_utf8 *u);

/* Resets to the start state. */
static inline void ws_utf8_reset(ws_utf8 *u)
{
	u->state = 0;
}

/* Whole-buffer check: 0 or WS_EUTF8. */
int ws_utf8_validate(const uint8_t *p, size_t len);

#endif
