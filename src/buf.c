/* buf.c - see buf.h. */
#include "buf.h"
#include "alloc.h"
#include "err.h"

#include <string.h>

void ws_buf_compact(ws_buf *b)
{
	if (b->head == 0)
		return;
	size_t n = b->len - b->head;
	if (n)
		memmove(b->ptr, b->ptr + b->head, n);
	b->head = 0;
	b->len = n;
}

int ws_buf_reserve(ws_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	if (b->head && b->cap - (b->len - b->head) >= extra) {
		ws_buf_compact(b);
		return 0;
	}
	size_t need = b->len - b->head + extra;
	if (need < extra)
		return WS_ENOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return WS_ENOMEM;
		cap *= 2;
	}
	ws_buf_compact(b);
	uint8_t *p = ws_realloc(b->ptr, cap);
	if (!p)
		return WS_ENOMEM;
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int ws_buf_append(ws_buf *b, const void *data, size_t len)
{
	if (ws_buf_reserve(b, len) < 0)
		return WS_ENOMEM;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	return 0;
}

void ws_buf_consume(ws_buf *b, size_t n)
{
	b->head += n;
	if (b->head >= b->len)
		b->head = b->len = 0;
}

void ws_buf_release(ws_buf *b)
{
	ws_free(b->ptr);
	memset(b, 0, sizeof(*b));
}

ws_chunk *ws_chunk_new(size_t len)
{
	return ws_chunk_new_spare(len, 0);
}

ws_chunk *ws_chunk_new_spare(size_t len, uint16_t spare)
{
	if (len > SIZE_MAX - sizeof(ws_chunk) - spare)
		return NULL;
	ws_chunk *c = ws_malloc(sizeof(ws_chunk) + len + spare);
	if (c) {
		c->refs = 1;
		c->spare = spare;
		c->borrowed = false;
		c->len = len;
		c->data = c->own;
	}
	return c;
}

/* Kept where the own bytes would be. */
typedef struct borrow {
	ws_chunk_release_fn release;
	void *arg;
} borrow;

ws_chunk *ws_chunk_borrow(const uint8_t *data, size_t len, ws_chunk_release_fn release, void *arg)
{
	ws_chunk *c = ws_chunk_new(sizeof(borrow));
	if (c) {
		memcpy(c->own, &(borrow){release, arg}, sizeof(borrow));
		c->borrowed = true;
		c->len = len;
		c->data = (uint8_t *)data; /* never written through: output only */
	}
	return c;
}

void ws_chunk_unref(ws_chunk *c)
{
	if (!c || --c->refs)
		return;
	if (c->borrowed) {
		borrow b;
		memcpy(&b, c->own, sizeof(b));
		b.release(b.arg);
	}
	ws_free(c);
}
