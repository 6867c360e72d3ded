/* failalloc.h - the counting allocator that unit tests and fuzz targets install with
 * ws_alloc_set (src/alloc.h). It counts allocation calls, tracks the bytes allocated and not
 * yet freed (each block carries its size in front), and can fail the Nth call, every call from
 * the Nth on, every call, or only ws_realloc calls.
 * Header-only, one state per program (the `failalloc` struct). Every block it frees must have
 * come from it: install it before creating the objects it is to count and restore libc
 * (ws_alloc_set(NULL)) only after they are freed. */
#ifndef WS_FAILALLOC_H
#define WS_FAILALLOC_H

#include "alloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct {
	unsigned long attempts; /* allocation calls, failed ones included */
	size_t calls;           /* successful allocations (malloc, calloc, realloc) */
	size_t live;            /* bytes allocated and not yet freed */
	size_t peak;            /* highest `live` since the last failalloc_mark() */
	unsigned long fail_at;  /* 0: never; else the attempt number that fails */
	bool fail_after;        /* fail every attempt from fail_at on */
	bool fail_all;          /* every call fails */
	bool fail_realloc;      /* every ws_realloc call fails */
} failalloc;

/* Room in front of each block for its size, keeping the block's alignment. */
#define FAILALLOC_HDR 16

static inline bool failalloc_should_fail(void)
{
	failalloc.attempts++;
	if (failalloc.fail_all)
		return true;
	if (!failalloc.fail_at)
		return false;
	return failalloc.fail_after ? failalloc.attempts >= failalloc.fail_at
	                            : failalloc.attempts == failalloc.fail_at;
}

static inline void failalloc_add(size_t len)
{
	failalloc.calls++;
	failalloc.live += len;
	if (failalloc.live > failalloc.peak)
		failalloc.peak = failalloc.live;
}

static inline void *failalloc_malloc(size_t len)
{
	if (failalloc_should_fail() || len > SIZE_MAX - FAILALLOC_HDR)
		return NULL;
	uint8_t *p = malloc(len + FAILALLOC_HDR);
	if (!p)
		return NULL;
	memcpy(p, &len, sizeof(len));
	failalloc_add(len);
	return p + FAILALLOC_HDR;
}

static inline void *failalloc_calloc(size_t n, size_t len)
{
	if (len && n > SIZE_MAX / len)
		return NULL;
	uint8_t *p = failalloc_malloc(n * len);
	if (p)
		memset(p, 0, n * len);
	return p;
}

static inline void failalloc_free(void *p)
{
	if (!p)
		return;
	uint8_t *base = (uint8_t *)p - FAILALLOC_HDR;
	size_t len;
	memcpy(&len, base, sizeof(len));
	failalloc.live -= len;
	free(base);
}

static inline void *failalloc_realloc(void *p, size_t len)
{
	if (failalloc.fail_realloc) {
		failalloc.attempts++;
		return NULL;
	}
	if (!p)
		return failalloc_malloc(len);
	if (failalloc_should_fail() || len > SIZE_MAX - FAILALLOC_HDR)
		return NULL;
	uint8_t *base = (uint8_t *)p - FAILALLOC_HDR;
	size_t old;
	memcpy(&old, base, sizeof(old));
	uint8_t *q = realloc(base, len + FAILALLOC_HDR);
	if (!q)
		return NULL;
	memcpy(q, &len, sizeof(len));
	failalloc.live -= old;
	failalloc_add(len);
	return q + FAILALLOC_HDR;
}

static const ws_allocator failalloc_allocator = {failalloc_malloc, failalloc_calloc,
                                                 failalloc_realloc, failalloc_free};

/* Clears the counters and the failure settings and installs the allocator. */
static inline void failalloc_install(void)
{
	memset(&failalloc, 0, sizeof(failalloc));
	ws_alloc_set(&failalloc_allocator);
}

/* Restarts the count: attempt n (n > 0) fails, and with `after` every one that follows too;
 * n == 0: none fails. */
static inline void failalloc_fail_at(unsigned long n, bool after)
{
	failalloc.attempts = 0;
	failalloc.fail_at = n;
	failalloc.fail_after = after;
}

/* Starts a measurement: the peak restarts from the current live bytes. */
static inline void failalloc_mark(void)
{
	failalloc.peak = failalloc.live;
}

#endif
