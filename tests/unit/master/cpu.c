/* master_cpu_pick() and master_worker_count(): CPUs from an affinity mask. */
#include <errno.h>
#include <limits.h>

#include "master/master.h"
#include "tests/unit/check.h"

static void test_empty_mask(void)
{
	cpu_set_t mask;

	CPU_ZERO(&mask);
	CHECK_INT(master_cpu_pick(&mask, 0), -ENOENT);
	CHECK_INT(master_worker_count(0, &mask), 1);
	CHECK_INT(master_worker_count(3, &mask), 3);
}

/* A sparse mask, as `taskset -c 1,3,4` leaves it: the i-th set CPU, with
 * wrap-around when there are more workers than CPUs. */
static void test_sparse_mask(void)
{
	cpu_set_t mask;

	CPU_ZERO(&mask);
	CPU_SET(1, &mask);
	CPU_SET(3, &mask);
	CPU_SET(4, &mask);
	CHECK_INT(master_cpu_pick(&mask, 0), 1);
	CHECK_INT(master_cpu_pick(&mask, 1), 3);
	CHECK_INT(master_cpu_pick(&mask, 2), 4);
	CHECK_INT(master_cpu_pick(&mask, 3), 1);
	CHECK_INT(master_cpu_pick(&mask, 7), 3);
	CHECK_INT(master_cpu_pick(&mask, UINT_MAX), 1);	/* UINT_MAX % 3 == 0 */
	CHECK_INT(master_worker_count(0, &mask), 3);
	CHECK_INT(master_worker_count(5, &mask), 5);
}

static void test_single_and_highest_cpu(void)
{
	cpu_set_t mask;

	CPU_ZERO(&mask);
	CPU_SET(CPU_SETSIZE - 1, &mask);
	CHECK_INT(master_cpu_pick(&mask, 0), CPU_SETSIZE - 1);
	CHECK_INT(master_cpu_pick(&mask, 5), CPU_SETSIZE - 1);
	CHECK_INT(master_worker_count(0, &mask), 1);
}

/* Whatever this process may run on, every pick is inside its mask. */
static void test_own_mask(void)
{
	cpu_set_t mask;
	unsigned n;

	CHECK_INT(sched_getaffinity(0, sizeof(mask), &mask), 0);
	n = master_worker_count(0, &mask);
	CHECK_INT(n, CPU_COUNT(&mask));
	for (unsigned i = 0; i < 2 * n; i++) {
		int cpu = master_cpu_pick(&mask, i);

		CHECK(cpu >= 0 && CPU_ISSET(cpu, &mask));
		if (i >= n)
			CHECK_INT(cpu, master_cpu_pick(&mask, i - n));
	}
}

int main(void)
{
	test_empty_mask();
	test_sparse_mask();
	test_single_and_highest_cpu();
	test_own_mask();
	return CHECK_EXIT();
}
