/* buf.h - a growable byte buffer with a read head: data lives in [head, len) of ptr[0, cap).
 * Writers append at ptr + len after ws_buf_reserve(); readers consume from ptr + head.
 * Zero-initialised is an empty buffer. The buffer owns ptr. */
#ifndef WS_BUF_H
#define WS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ws_buf {
	uint8_t *ptr;
	size_t head; /* first unread byte */
	size_t len;  /* one past the last written byte */
	size_t cap;
} ws_buf;

/* Bytes available to read. */
static inline size_t ws_buf_avail(const ws_buf *b)
{
	return b->len - b->head;
}

/* Makes room for at least `extra` bytes after len, compacting first when that suffices.
 * Returns 0 or WS_ENOMEM (the buffer is unchanged then). */
int ws_buf_reserve(ws_buf *b, size_t extra);

/* Appends a copy of data. Returns 0 or WS_ENOMEM. */
int ws_buf_append(ws_buf *b, const void *data, size_t len);

/* Marks `n` bytes as read; resets to empty when everything was read. */
void ws_buf_consume(ws_buf *b, size_t n);

/* Moves unread bytes to the start. */
void ws_buf_compact(ws_buf *b);

/* Frees the storage and zeroes the buffer. */
void ws_buf_release(ws_buf *b);

/* ---- reference-counted output chunks ----
 * One allocation holds the count, the length and the bytes, so a frame that goes to many
 * connections (a broadcast) is encoded once and each queue holds a reference. A borrowed chunk
 * points at bytes that someone else owns (a PHP string being sent) and gives them back through
 * its release function when the last reference goes. */
typedef void (*ws_chunk_release_fn)(void *arg);

typedef struct ws_chunk {
	uint32_t refs;
	uint16_t spare; /* own bytes allocated after len, free for appending while unshared */
	bool borrowed;
	size_t len;
	uint8_t *data; /* own bytes (right after this header) or borrowed ones */
	uint8_t own[];
} ws_chunk;

/* Allocates a chunk of len bytes with one reference. Returns NULL on failure. */
ws_chunk *ws_chunk_new(size_t len);

/* Same, with room for `spare` more bytes after them. */
ws_chunk *ws_chunk_new_spare(size_t len, uint16_t spare);

/* A chunk with one reference over data[0, len), which must stay unchanged until
 * release(arg) is called, once, with the last reference. Returns NULL on failure (release is
 * not called then). */
ws_chunk *ws_chunk_borrow(const uint8_t *data, size_t len, ws_chunk_release_fn release, void *arg);

static inline ws_chunk *ws_chunk_ref(ws_chunk *c)
{
	c->refs++;
	return c;
}

/* Drops a reference; frees the chunk (or gives its bytes back) with the last one. */
void ws_chunk_unref(ws_chunk *c);
#endif
