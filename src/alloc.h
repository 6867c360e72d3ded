/* alloc.h - the core's allocator. Every allocation in the core goes through these, so
 * unit tests can count allocations and fail the Nth one, and the core never names Zend.
 * ws_malloc/ws_calloc/ws_realloc return NULL on failure; callers check. */
#ifndef WS_ALLOC_H
#define WS_ALLOC_H

#include <stddef.h>

typedef struct ws_allocator {
	void *(*malloc_fn)(size_t len);
	void *(*calloc_fn)(size_t n, size_t len);
	void *(*realloc_fn)(void *p, size_t len);
	void (*free_fn)(void *p);
} ws_allocator;

/* Replaces the allocator (NULL restores libc). Not thread-safe; call before any allocation. */
void ws_alloc_set(const ws_allocator *a);

void *ws_malloc(size_t len);
void *ws_calloc(size_t n, size_t len);
void *ws_realloc(void *p, size_t len);
void ws_free(void *p);

#endif
