/* alloc.c - indirection over libc's allocator (see alloc.h). */
#include "alloc.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const ws_allocator libc_allocator = {malloc, calloc, realloc, free};
static const ws_allocator *current = &libc_allocator;

void ws_alloc_set(const ws_allocator *a)
{
	current = a ? a : &libc_allocator;
}

void *ws_malloc(size_t len)
{
	return current->malloc_fn(len ? len : 1);
}

void *ws_calloc(size_t n, size_t len)
{
	return current->calloc_fn(n ? n : 1, len ? len : 1);
}

void *ws_realloc(void *p, size_t len)
{
	return current->realloc_fn(p, len ? len : 1);
}

void ws_free(void *p)
{
	if (p)
		current->free_fn(p);
}

int ws_err_set(ws_err *err, int code, int sys, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->sys = sys;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
