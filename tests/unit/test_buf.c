/* test_buf.c - src/buf.c: appending, consuming and compacting a ws_buf, how reserve grows
 * (from 256, doubling, compacting instead when that suffices), every failure leaving the buffer
 * unchanged; and reference-counted chunks: own bytes, spare room, borrowed bytes given back
 * exactly once with the last reference, and allocation failures. */
#include "unit.h"

#include "buf.h"
#include "err.h"
#include "failalloc.h"

static void test_append_consume(void)
{
	failalloc_install();
	ws_buf b = {0};
	UNIT_CHECK(ws_buf_avail(&b) == 0, "zero is empty");
	UNIT_CHECK(ws_buf_append(&b, "hello", 5) == 0 && ws_buf_avail(&b) == 5, "append");
	UNIT_CHECK(b.cap == 256 && memcmp(b.ptr, "hello", 5) == 0, "first cap %zu", b.cap);
	UNIT_CHECK(ws_buf_append(&b, " world", 6) == 0 && ws_buf_avail(&b) == 11, "append more");
	ws_buf_consume(&b, 6);
	UNIT_CHECK(b.head == 6 && ws_buf_avail(&b) == 5 && memcmp(b.ptr + b.head, "world", 5) == 0,
	           "consume");
	ws_buf_compact(&b);
	UNIT_CHECK(b.head == 0 && b.len == 5 && memcmp(b.ptr, "world", 5) == 0, "compact");
	ws_buf_compact(&b);
	UNIT_CHECK(b.head == 0 && b.len == 5, "compact twice");
	ws_buf_consume(&b, 5);
	UNIT_CHECK(b.head == 0 && b.len == 0 && b.cap == 256, "consuming everything resets");
	UNIT_CHECK(ws_buf_append(&b, NULL, 0) == 0 && b.len == 0, "empty append");
	ws_buf_release(&b);
	UNIT_CHECK(b.ptr == NULL && b.cap == 0 && b.len == 0 && b.head == 0, "release zeroes");
	UNIT_CHECK(failalloc.live == 0, "freed");
	ws_alloc_set(NULL);
}

static void test_growth(void)
{
	failalloc_install();
	ws_buf b = {0};
	UNIT_CHECK(ws_buf_reserve(&b, 1) == 0 && b.cap == 256, "256 first");
	UNIT_CHECK(ws_buf_reserve(&b, 256) == 0 && b.cap == 256, "fits exactly");
	UNIT_CHECK(ws_buf_reserve(&b, 257) == 0 && b.cap == 512, "doubles: %zu", b.cap);
	UNIT_CHECK(ws_buf_reserve(&b, 3000) == 0 && b.cap == 4096, "doubles until it fits: %zu", b.cap);
	size_t calls = failalloc.calls;
	uint8_t data[4096];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	UNIT_CHECK(ws_buf_append(&b, data, 4000) == 0 && failalloc.calls == calls, "no growth");
	/* 3000 read, 1000 left: 96 free at the end, 3096 once compacted. Compacting suffices. */
	ws_buf_consume(&b, 3000);
	UNIT_CHECK(ws_buf_reserve(&b, 2000) == 0 && b.cap == 4096 && b.head == 0 && b.len == 1000,
	           "compacted instead of growing: cap %zu head %zu len %zu", b.cap, b.head, b.len);
	UNIT_CHECK(memcmp(b.ptr, data + 3000, 1000) == 0 && failalloc.calls == calls, "bytes moved");
	/* Growing compacts too and keeps the unread bytes. */
	ws_buf_consume(&b, 500);
	UNIT_CHECK(ws_buf_reserve(&b, 8000) == 0 && b.cap == 16384 && b.head == 0 && b.len == 500,
	           "grown: cap %zu", b.cap);
	UNIT_CHECK(memcmp(b.ptr, data + 3500, 500) == 0, "bytes kept");
	ws_buf_release(&b);
	UNIT_CHECK(failalloc.live == 0, "freed");
	ws_alloc_set(NULL);
}

static void test_failures(void)
{
	failalloc_install();
	ws_buf b = {0};
	failalloc.fail_all = true;
	UNIT_CHECK(ws_buf_append(&b, "x", 1) == WS_ENOMEM && b.ptr == NULL && b.cap == 0,
	           "first allocation fails");
	failalloc.fail_all = false;
	UNIT_CHECK(ws_buf_append(&b, "abc", 3) == 0, "then works");
	ws_buf_consume(&b, 1);
	failalloc.fail_realloc = true;
	uint8_t big[1000] = {0};
	UNIT_CHECK(ws_buf_append(&b, big, sizeof(big)) == WS_ENOMEM, "growth fails");
	UNIT_CHECK(b.cap == 256 && ws_buf_avail(&b) == 2 && memcmp(b.ptr + b.head, "bc", 2) == 0,
	           "unread bytes kept: head %zu len %zu", b.head, b.len);
	/* What fits without growing still works while allocation fails. */
	UNIT_CHECK(ws_buf_append(&b, big, 200) == 0, "fits");
	failalloc.fail_realloc = false;
	/* Sizes that cannot be represented fail before any allocation. */
	unsigned long attempts = failalloc.attempts;
	UNIT_CHECK(ws_buf_reserve(&b, SIZE_MAX) == WS_ENOMEM, "SIZE_MAX");
	UNIT_CHECK(ws_buf_reserve(&b, SIZE_MAX / 2 + 2) == WS_ENOMEM, "over half");
	UNIT_CHECK(failalloc.attempts == attempts, "nothing asked of the allocator");
	UNIT_CHECK(ws_buf_avail(&b) == 202, "unchanged");
	ws_buf_release(&b);
	UNIT_CHECK(failalloc.live == 0, "freed");
	ws_alloc_set(NULL);
}

static int released;
static void *released_arg;

static void on_release(void *arg)
{
	released++;
	released_arg = arg;
}

static void test_chunks(void)
{
	failalloc_install();
	ws_chunk *c = ws_chunk_new(10);
	UNIT_CHECK(c && c->refs == 1 && c->len == 10 && c->data == c->own && !c->borrowed &&
	               c->spare == 0,
	           "new");
	memcpy(c->data, "0123456789", 10);
	UNIT_CHECK(ws_chunk_ref(c) == c && c->refs == 2, "ref");
	ws_chunk_unref(c);
	UNIT_CHECK(c->refs == 1 && memcmp(c->data, "0123456789", 10) == 0, "one left");
	ws_chunk_unref(c);
	ws_chunk_unref(NULL);
	UNIT_CHECK(failalloc.live == 0, "last reference frees");

	ws_chunk *s = ws_chunk_new_spare(4, 60);
	UNIT_CHECK(s && s->spare == 60 && s->len == 4 && failalloc.live == sizeof(ws_chunk) + 64,
	           "spare room allocated: %zu", failalloc.live);
	memset(s->data, 'a', 64); /* ASan checks the room is there */
	ws_chunk_unref(s);

	static const uint8_t payload[] = "borrowed bytes";
	int token;
	released = 0;
	ws_chunk *b = ws_chunk_borrow(payload, sizeof(payload), on_release, &token);
	UNIT_CHECK(b && b->borrowed && b->data == payload && b->len == sizeof(payload) && b->refs == 1,
	           "borrow");
	ws_chunk_ref(b);
	ws_chunk_ref(b);
	ws_chunk_unref(b);
	ws_chunk_unref(b);
	UNIT_CHECK(released == 0, "given back only with the last reference");
	ws_chunk_unref(b);
	UNIT_CHECK(released == 1 && released_arg == &token, "given back once");
	UNIT_CHECK(failalloc.live == 0, "freed");

	failalloc.fail_all = true;
	UNIT_CHECK(ws_chunk_new(1) == NULL && ws_chunk_new_spare(1, 8) == NULL, "new fails");
	UNIT_CHECK(ws_chunk_borrow(payload, 1, on_release, NULL) == NULL && released == 1,
	           "borrow fails without calling release");
	failalloc.fail_all = false;
	unsigned long attempts = failalloc.attempts;
	UNIT_CHECK(ws_chunk_new(SIZE_MAX) == NULL && ws_chunk_new_spare(SIZE_MAX - 100, 200) == NULL,
	           "impossible sizes");
	UNIT_CHECK(failalloc.attempts == attempts, "refused before allocating");
	ws_alloc_set(NULL);
}

static const CU_TestInfo tests[] = {
    {"append, consume, compact, release", test_append_consume},
    {"reserve: 256, doubling, compacting instead", test_growth},
    {"failures leave the buffer unchanged", test_failures},
    {"chunks: own, spare, borrowed, failures", test_chunks},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("buf", tests);
}
