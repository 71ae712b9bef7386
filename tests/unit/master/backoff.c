/* master_backoff_next(): the respawn waits of a slot that keeps dying. */
#include "master/master.h"
#include "tests/unit/check.h"

/* Quick deaths double from 100 ms and stop at 10 s. */
static void test_doubling(void)
{
	static const uint64_t want[] = { 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000 };
	uint64_t level = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_INT(master_backoff_next(&level, 50), want[i]);
	CHECK_INT(level, 10000);
}

/* 999 ms is quick, 1000 ms is not; 9999 ms is not stable, 10000 ms is. */
static void test_boundaries(void)
{
	uint64_t level = 0;

	CHECK_INT(master_backoff_next(&level, 999), 100);
	CHECK_INT(master_backoff_next(&level, 1000), 0);
	CHECK_INT(level, 100);
	CHECK_INT(master_backoff_next(&level, 9999), 0);
	CHECK_INT(level, 100);
	CHECK_INT(master_backoff_next(&level, 10000), 0);
	CHECK_INT(level, 0);
}

/* A medium run respawns at once but does not forgive: the next quick death
 * carries on doubling. Only a stable run starts over at 100 ms. */
static void test_medium_keeps_level(void)
{
	uint64_t level = 0;

	master_backoff_next(&level, 0);
	master_backoff_next(&level, 0);
	CHECK_INT(master_backoff_next(&level, 5000), 0);
	CHECK_INT(master_backoff_next(&level, 0), 400);
	CHECK_INT(master_backoff_next(&level, 60000), 0);
	CHECK_INT(master_backoff_next(&level, 0), 100);
}

/* The first death of a fresh slot after a long run waits nothing. */
static void test_first_death_after_long_run(void)
{
	uint64_t level = 0;

	CHECK_INT(master_backoff_next(&level, 3600000), 0);
	CHECK_INT(level, 0);
}

int main(void)
{
	test_doubling();
	test_boundaries();
	test_medium_keeps_level();
	test_first_death_after_long_run();
	return CHECK_EXIT();
}
