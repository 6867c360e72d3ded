/* test_stats.c - the shared counters and per-worker room tables of src/stats.c: sizes summed
 * over other workers, slots reused and tables rebuilt as rooms come and go, a full table, a
 * reset, and a record written by a forked child read by its parent. */
#include "unit.h"

#include "../../src/stats.h"

#include <sys/wait.h>

static void test_room_sizes_over_workers(void)
{
	ws_stats *st = ws_stats_new(3, 100, false);
	CU_ASSERT_FATAL(st != NULL);
	ws_stats_room_set(st, 0, 42, 2);
	ws_stats_room_set(st, 1, 42, 5);
	ws_stats_room_set(st, 2, 7, 1);
	UNIT_CHECK(ws_stats_room_others(st, 0, 42) == 5, "others of 0");
	UNIT_CHECK(ws_stats_room_others(st, 1, 42) == 2, "others of 1");
	UNIT_CHECK(ws_stats_room_others(st, 2, 42) == 7, "others of 2");
	UNIT_CHECK(ws_stats_room_others(st, 0, 7) == 1, "room 7");
	UNIT_CHECK(ws_stats_room_others(st, 0, 99) == 0, "unknown room");
	ws_stats_room_set(st, 1, 42, 0);
	UNIT_CHECK(ws_stats_room_others(st, 0, 42) == 0, "emptied room");
	/* hash 0 is folded onto 1 both ways */
	ws_stats_room_set(st, 1, 0, 3);
	UNIT_CHECK(ws_stats_room_others(st, 0, 0) == 3, "hash 0");
	ws_stats_free(st);
}

/* Far more rooms come and go than the table has slots: emptied slots are reclaimed. */
static void test_churn_rebuilds(void)
{
	ws_stats *st = ws_stats_new(2, 1, false);
	CU_ASSERT_FATAL(st != NULL);
	size_t slots = st->room_slots;
	for (uint64_t h = 1; h <= slots * 4; h++) {
		ws_stats_room_set(st, 1, h * 0x9E3779B97F4A7C15ull, 1);
		if (h > 10)
			ws_stats_room_set(st, 1, (h - 10) * 0x9E3779B97F4A7C15ull, 0);
	}
	UNIT_CHECK(st->w[1].rooms_full == 0, "table reported full after churn");
	uint64_t live = 0;
	for (uint64_t h = 1; h <= slots * 4; h++)
		live += ws_stats_room_others(st, 0, h * 0x9E3779B97F4A7C15ull);
	UNIT_CHECK(live == 10, "%llu rooms counted, 10 expected", (unsigned long long)live);
	ws_stats_free(st);
}

static void test_full_table(void)
{
	ws_stats *st = ws_stats_new(2, 1, false);
	CU_ASSERT_FATAL(st != NULL);
	size_t slots = st->room_slots;
	for (uint64_t h = 1; h <= slots; h++)
		ws_stats_room_set(st, 0, h, 1);
	UNIT_CHECK(st->w[0].rooms_full == 1, "a table past three quarters says so");
	UNIT_CHECK(ws_stats_room_others(st, 1, 1) == 1, "rooms that fit are still counted");
	ws_stats_reset(st, 0);
	UNIT_CHECK(st->w[0].rooms_full == 0 && st->w[0].rooms_used == 0, "reset");
	UNIT_CHECK(ws_stats_room_others(st, 1, 1) == 0, "reset clears sizes");
	ws_stats_free(st);
}

static void test_reset_keeps_sequence_and_master_fields(void)
{
	ws_stats *st = ws_stats_new(1, 1, false);
	CU_ASSERT_FATAL(st != NULL);
	ws_worker_stats *w = &st->w[0];
	ws_stat_set(&w->next_seq, 77);
	ws_stat_set(&w->restarts, 2);
	ws_stat_set(&w->master_dropped, 5);
	ws_stat_add(&w->messages_in, 9);
	ws_stats_reset(st, 0);
	UNIT_CHECK(w->next_seq == 77, "next_seq kept");
	UNIT_CHECK(w->restarts == 2 && w->master_dropped == 5, "master's fields kept");
	UNIT_CHECK(w->messages_in == 0, "worker's counters cleared");
	ws_stats_free(st);
}

static void test_shared_across_fork(void)
{
	ws_stats *st = ws_stats_new(2, 1, true);
	CU_ASSERT_FATAL(st != NULL);
	pid_t pid = fork();
	if (pid == 0) {
		ws_stat_add(&st->w[1].messages_out, 123);
		ws_stats_room_set(st, 1, 555, 4);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	UNIT_CHECK(ws_stat_get(&st->w[1].messages_out) == 123, "child's counter");
	UNIT_CHECK(ws_stats_room_others(st, 0, 555) == 4, "child's room size");
	ws_stats_free(st);
}

static const CU_TestInfo tests[] = {
    {"room sizes over workers", test_room_sizes_over_workers},
    {"churn rebuilds", test_churn_rebuilds},
    {"full table", test_full_table},
    {"reset keeps sequence and master fields", test_reset_keeps_sequence_and_master_fields},
    {"shared across fork", test_shared_across_fork},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	return unit_main("stats", tests);
}
