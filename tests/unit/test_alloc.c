/* test_alloc.c - the allocator switch of src/alloc.c: an installed allocator receives every
 * call (zero sizes raised to one byte), ws_free ignores NULL, NULL restores libc; and
 * ws_err_set fills an error and returns its code. */
#include "unit.h"

#include "alloc.h"
#include "err.h"
#include "failalloc.h"

static void test_installed_receives_calls(void)
{
	failalloc_install();
	void *a = ws_malloc(10);
	void *b = ws_calloc(3, 4);
	UNIT_CHECK(a && b && failalloc.calls == 2 && failalloc.live == 22, "calls %zu live %zu",
	           failalloc.calls, failalloc.live);
	static const uint8_t zero[12];
	UNIT_CHECK(memcmp(b, zero, sizeof(zero)) == 0, "calloc zeroes");
	memset(a, 'x', 10);
	a = ws_realloc(a, 100);
	UNIT_CHECK(a && failalloc.live == 112 && ((uint8_t *)a)[9] == 'x', "realloc keeps bytes");
	ws_free(a);
	ws_free(b);
	ws_free(NULL);
	UNIT_CHECK(failalloc.live == 0, "all freed: %zu live", failalloc.live);
	ws_alloc_set(NULL);
}

static void test_zero_sizes_become_one(void)
{
	failalloc_install();
	void *a = ws_malloc(0);
	UNIT_CHECK(a && failalloc.live == 1, "malloc(0) asks for 1: %zu", failalloc.live);
	void *b = ws_calloc(0, 0);
	UNIT_CHECK(b && failalloc.live == 2, "calloc(0, 0) asks for 1: %zu", failalloc.live);
	a = ws_realloc(a, 0);
	UNIT_CHECK(a && failalloc.live == 2, "realloc(p, 0) keeps a block: %zu", failalloc.live);
	ws_free(a);
	ws_free(b);
	UNIT_CHECK(failalloc.live == 0, "freed");
	ws_alloc_set(NULL);
}

static void test_failures_reach_callers(void)
{
	failalloc_install();
	failalloc_fail_at(2, false);
	void *a = ws_malloc(8);
	UNIT_CHECK(a != NULL, "first succeeds");
	UNIT_CHECK(ws_calloc(1, 8) == NULL, "second fails");
	void *b = ws_realloc(a, 64);
	UNIT_CHECK(b != NULL, "third succeeds");
	failalloc.fail_realloc = true;
	UNIT_CHECK(ws_realloc(b, 128) == NULL, "realloc refused");
	UNIT_CHECK(ws_realloc(NULL, 16) == NULL, "realloc of NULL refused too");
	failalloc.fail_realloc = false;
	failalloc.fail_all = true;
	UNIT_CHECK(ws_malloc(1) == NULL && ws_calloc(1, 1) == NULL, "every call fails");
	failalloc.fail_all = false;
	ws_free(b);
	UNIT_CHECK(failalloc.live == 0, "freed");
	ws_alloc_set(NULL);
}

/* After ws_alloc_set(NULL), blocks come from libc: free(3) takes them (ASan checks that). */
static void test_null_restores_libc(void)
{
	failalloc_install();
	ws_alloc_set(NULL);
	void *a = ws_malloc(32);
	void *b = ws_calloc(2, 16);
	a = ws_realloc(a, 64);
	UNIT_CHECK(a && b && failalloc.attempts == 0, "the counting allocator saw %lu calls",
	           failalloc.attempts);
	free(a);
	ws_free(b);
}

static void test_err_set(void)
{
	ws_err err = {0};
	int rc = ws_err_set(&err, WS_ESYS, 13, "open %s: %d", "x", 7);
	UNIT_CHECK(rc == WS_ESYS && err.code == WS_ESYS && err.sys == 13, "code %d sys %d", err.code,
	           err.sys);
	UNIT_CHECK(strcmp(err.msg, "open x: 7") == 0, "msg '%s'", err.msg);
	UNIT_CHECK(ws_err_set(NULL, WS_EINVAL, 0, "ignored") == WS_EINVAL, "NULL err");
	char longer[sizeof(err.msg) * 2];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ws_err_set(&err, WS_EINVAL, 0, "%s", longer);
	UNIT_CHECK(strlen(err.msg) == sizeof(err.msg) - 1, "truncated to %zu", strlen(err.msg));
}

static const CU_TestInfo tests[] = {
    {"an installed allocator receives every call", test_installed_receives_calls},
    {"zero sizes ask for one byte", test_zero_sizes_become_one},
    {"failures reach the caller", test_failures_reach_callers},
    {"NULL restores libc", test_null_restores_libc},
    {"ws_err_set", test_err_set},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("alloc", tests);
}
