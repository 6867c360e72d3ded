/* unit.h - shared helpers for the plain C unit tests in tests/unit (CUnit).
 * Guarded buffers: inputs are copied so that their last byte sits right before a PROT_NONE
 * page, so a parser that reads one byte too far crashes instead of passing by luck.
 * Feeding ways: every parser case runs whole, one byte at a time, and split in two at every
 * offset (sampled in the middle of long inputs, see unit_way_next).
 * unit_main: registers one suite, runs it silently, prints each failure and then the line
 * "UNIT_RESULT <passed> <failed>" (counted in tests) that run.sh adds up.
 * Include this first in a test file: it selects the POSIX API that mmap needs. */
#ifndef WS_UNIT_H
#define WS_UNIT_H

#define _DEFAULT_SOURCE

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Records a CUnit assertion and, when it fails, prints the context given as printf arguments
 * so that a failing case in a loop says which case and which feeding way. */
#define UNIT_CHECK(cond, ...)                                                                      \
	do {                                                                                           \
		bool unit_ok_ = (cond);                                                                    \
		if (!unit_ok_) {                                                                           \
			fprintf(stderr, "  %s:%d: %s: ", __FILE__, __LINE__, #cond);                           \
			fprintf(stderr, __VA_ARGS__);                                                          \
			fputc('\n', stderr);                                                                   \
		}                                                                                          \
		CU_assertImplementation(unit_ok_ ? CU_TRUE : CU_FALSE, __LINE__, #cond, __FILE__, "",      \
		                        CU_FALSE);                                                         \
	} while (0)

/* A writable region whose end touches a PROT_NONE page. */
typedef struct unit_guard {
	uint8_t *map;
	size_t map_len;
	uint8_t *end; /* first byte of the PROT_NONE page */
} unit_guard;

static inline void unit_guard_init(unit_guard *g, size_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data_pages = (cap + page - 1) / page;

	if (data_pages == 0)
		data_pages = 1;
	g->map_len = (data_pages + 1) * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	g->end = g->map + data_pages * page;
	if (mprotect(g->end, page, PROT_NONE) != 0) {
		perror("mprotect");
		exit(2);
	}
}

/* Copies src[0, len) so that it ends right before the PROT_NONE page; returns the copy.
 * len must not exceed the capacity given to unit_guard_init. */
static inline uint8_t *unit_guard_place(unit_guard *g, const void *src, size_t len)
{
	uint8_t *dst = g->end - len;

	if (len)
		memmove(dst, src, len);
	return dst;
}

static inline void unit_guard_release(unit_guard *g)
{
	munmap(g->map, g->map_len);
	memset(g, 0, sizeof(*g));
}

/* One way of cutting an input of `len` bytes into pieces. */
typedef enum unit_way_kind {
	UNIT_WHOLE, /* one piece */
	UNIT_BYTES, /* len pieces of one byte */
	UNIT_SPLIT, /* two pieces, cut at `at` (1 .. len-1) */
	UNIT_DONE
} unit_way_kind;

typedef struct unit_way {
	unit_way_kind kind;
	size_t at;
} unit_way;

/* Inputs longer than this are split at every offset near their ends and at a stride in the
 * middle, which keeps the 64 KiB frame cases at seconds instead of minutes under ASan. */
#define UNIT_SPLIT_ALL_MAX 4096
#define UNIT_SPLIT_EDGE    64
#define UNIT_SPLIT_STRIDE  509

static inline unit_way unit_way_first(void)
{
	unit_way w = {UNIT_WHOLE, 0};
	return w;
}

static inline void unit_way_next(unit_way *w, size_t len)
{
	switch (w->kind) {
	case UNIT_WHOLE:
		w->kind = UNIT_BYTES;
		return;
	case UNIT_BYTES:
		w->kind = UNIT_SPLIT;
		w->at = 1;
		break;
	case UNIT_SPLIT:
		w->at++;
		if (len > UNIT_SPLIT_ALL_MAX && w->at > UNIT_SPLIT_EDGE && w->at < len - UNIT_SPLIT_EDGE) {
			size_t next = w->at - 1 + UNIT_SPLIT_STRIDE;
			w->at = next < len - UNIT_SPLIT_EDGE ? next : len - UNIT_SPLIT_EDGE;
		}
		break;
	case UNIT_DONE:
		return;
	}
	if (w->at >= len)
		w->kind = UNIT_DONE;
}

#define UNIT_FOR_EACH_WAY(w, len)                                                                  \
	for (unit_way w = unit_way_first(); w.kind != UNIT_DONE; unit_way_next(&w, (len)))

/* The end of the piece that starts at `pos`. */
static inline size_t unit_way_piece_end(const unit_way *w, size_t pos, size_t len)
{
	switch (w->kind) {
	case UNIT_BYTES:
		return pos < len ? pos + 1 : len;
	case UNIT_SPLIT:
		return pos < w->at ? w->at : len;
	default:
		return len;
	}
}

static inline const char *unit_way_name(const unit_way *w, char *buf, size_t cap)
{
	switch (w->kind) {
	case UNIT_WHOLE:
		snprintf(buf, cap, "whole");
		break;
	case UNIT_BYTES:
		snprintf(buf, cap, "byte by byte");
		break;
	default:
		snprintf(buf, cap, "split at %zu", w->at);
		break;
	}
	return buf;
}

/* A small deterministic generator for payloads, so failures reproduce. */
static inline uint32_t unit_rand(uint32_t *state)
{
	uint32_t x = *state ? *state : 0x9E3779B9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static inline int unit_main(const char *suite_name, const CU_TestInfo *tests)
{
	CU_pSuite suite;
	unsigned run, failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		return 2;
	for (const CU_TestInfo *t = tests; t->pName; t++)
		if (!CU_add_test(suite, t->pName, t->pTestFunc))
			return 2;
	CU_basic_set_mode(CU_BRM_SILENT);
	CU_basic_run_tests();
	for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
		fprintf(stderr, "FAIL %s: %s:%u: %s\n", f->pTest ? f->pTest->pName : "?",
		        f->strFileName ? f->strFileName : "?", f->uiLineNumber,
		        f->strCondition ? f->strCondition : "?");
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	printf("UNIT_RESULT %u %u\n", run - failed, failed);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif
