/* shm/connlimit.c through its public header, in one process: the limit is
 * exact per address, addresses are independent, a bucket holds 14, a
 * count going to 0 frees its slot, a double release takes nothing, and the
 * master's repair of a dead worker is exact from every point of an acquire
 * and a release (cl__*_halt stop an operation as a SIGKILL would).
 * Worker ids stand in for processes; connlimit_stress.c forks real ones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/connlimit.h"
#include "tests/unit/check.h"

#define BUCKETS 4u
#define WORKERS 3u

static void *region;

static void table_new(struct cl_table *t)
{
	size_t size = (cl_region_size(BUCKETS, WORKERS) + 63) & ~(size_t)63;

	free(region);
	region = aligned_alloc(64, size);
	if (!region)
		abort();
	memset(region, 0x5a, size);	/* format must not rely on zeroed memory */
	cl_format_master(region, BUCKETS, WORKERS);
	CHECK_INT(cl_attach(t, region, cl_region_size(BUCKETS, WORKERS)), 0);
}

/* Keys: bucket b (low bits), identity n (high bits). */
static uint64_t key(unsigned b, unsigned n)
{
	return (uint64_t)(n + 1) << 32 | b;
}

/* The table is quiet and consistent, holding <counted> in all. */
static void audit_is(int line, const struct cl_table *t, uint64_t counted)
{
	struct cl__audit a;

	cl__audit(t, &a);
	if (a.counted != counted || a.rows != counted || a.mismatched || a.claims || a.intents ||
	    a.bad_empty) {
		fprintf(stderr, "line %d: audit counted %llu rows %llu (want %llu) mismatched %u "
			"claims %u intents %u bad_empty %u\n", line, (unsigned long long)a.counted,
			(unsigned long long)a.rows, (unsigned long long)counted, a.mismatched,
			a.claims, a.intents, a.bad_empty);
		check_failures++;
	}
}

static void test_attach(void)
{
	struct cl_table t;
	_Alignas(64) char junk[256] = { 0 };

	table_new(&t);
	CHECK_INT(t.n_buckets, BUCKETS);
	CHECK_INT(t.n_workers, WORKERS);
	CHECK_INT(cl_attach(&t, junk, sizeof(junk)), -EINVAL);
	CHECK_INT(cl_attach(&t, region, 64), -EINVAL);
	audit_is(__LINE__, &t, 0);
}

static void test_limit(void)
{
	struct cl_table t;
	uint32_t h[8], h2;

	table_new(&t);
	for (unsigned i = 0; i < 5; i++)
		CHECK_INT(cl_acquire(&t, i % WORKERS, key(1, 0), 5, &h[i]), CL_ADMIT);
	CHECK_INT(cl_acquire(&t, 0, key(1, 0), 5, &h2), CL_OVER);
	CHECK_INT(cl_acquire(&t, 2, key(1, 0), 5, &h2), CL_OVER);
	CHECK_INT(cl_count(&t, key(1, 0)), 5);
	/* A larger limit (a reloaded config) admits more; a smaller one none. */
	CHECK_INT(cl_acquire(&t, 1, key(1, 0), 3, &h2), CL_OVER);
	CHECK_INT(cl_acquire(&t, 5 % WORKERS, key(1, 0), 6, &h[5]), CL_ADMIT);
	CHECK_INT(cl_count(&t, key(1, 0)), 6);
	/* Another address in the same bucket and one in another are apart. */
	CHECK_INT(cl_acquire(&t, 0, key(1, 1), 1, &h[6]), CL_ADMIT);
	CHECK_INT(cl_acquire(&t, 0, key(1, 1), 1, &h2), CL_OVER);
	CHECK_INT(cl_acquire(&t, 0, key(2, 0), 1, &h[7]), CL_ADMIT);
	audit_is(__LINE__, &t, 8);
	/* Closing one lets one in. */
	CHECK_INT(cl_release(&t, 1, h[1]), 0);
	CHECK_INT(cl_count(&t, key(1, 0)), 5);
	CHECK_INT(cl_acquire(&t, 1, key(1, 0), 6, &h[1]), CL_ADMIT);
	for (unsigned i = 0; i < 6; i++)
		CHECK_INT(cl_release(&t, i % WORKERS, h[i]), 0);
	CHECK_INT(cl_release(&t, 0, h[6]), 0);
	CHECK_INT(cl_release(&t, 0, h[7]), 0);
	CHECK_INT(cl_count(&t, key(1, 0)), 0);
	audit_is(__LINE__, &t, 0);
	/* A double release takes nothing from another holder. */
	CHECK_INT(cl_acquire(&t, 0, key(3, 0), 9, &h[0]), CL_ADMIT);
	CHECK_INT(cl_acquire(&t, 1, key(3, 0), 9, &h[1]), CL_ADMIT);
	CHECK_INT(cl_release(&t, 0, h[0]), 0);
	CHECK_INT(cl_release(&t, 0, h[0]), 0);
	CHECK_INT(cl_count(&t, key(3, 0)), 1);
	audit_is(__LINE__, &t, 1);
}

static void test_full(void)
{
	struct cl_table t;
	uint32_t h[CL_SLOTS + 1];

	table_new(&t);
	for (unsigned n = 0; n < CL_SLOTS; n++)
		CHECK_INT(cl_acquire(&t, 0, key(0, n), 2, &h[n]), CL_ADMIT);
	CHECK_INT(cl_acquire(&t, 0, key(0, CL_SLOTS), 2, &h[CL_SLOTS]), CL_FULL);
	/* Known addresses still count; a freed slot takes a new address. */
	CHECK_INT(cl_acquire(&t, 1, key(0, 3), 2, &h[CL_SLOTS]), CL_ADMIT);
	CHECK_INT(cl_release(&t, 0, h[5]), 0);
	CHECK_INT(cl_acquire(&t, 2, key(0, CL_SLOTS), 2, &h[5]), CL_ADMIT);
	CHECK_INT(cl_count(&t, key(0, CL_SLOTS)), 1);
	CHECK_INT(cl_count(&t, key(0, 5)), 0);
	audit_is(__LINE__, &t, CL_SLOTS + 1);
}

/* Worker <worker> takes <n> connections of key(2, 0); *handle is the
 * handle of them all (one address, one slot). */
static void hold(struct cl_table *t, unsigned worker, unsigned n, uint32_t *handle)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_INT(cl_acquire(t, worker, key(2, 0), 10, handle), CL_ADMIT);
}

/* Worker 1 dies after <step> of an acquire of key(2, 0), which workers 0
 * and 1 already hold <held0> and <held1> of; the repair must leave exactly
 * worker 0's share and a usable bucket. */
static void repair_acquire(unsigned step, unsigned held0, unsigned held1)
{
	struct cl_table t;
	uint32_t h, x;

	table_new(&t);
	hold(&t, 0, held0, &h);
	hold(&t, 1, held1, &x);
	CHECK_INT(cl__acquire_halt(&t, 1, key(2, 0), 10, &x, (int)step), CL_ADMIT);
	/* The dead claim holds the bucket for everyone else. */
	CHECK_INT(cl_acquire(&t, 0, key(2, 1), 10, &x), CL_BUSY);
	if (held0)
		CHECK_INT(cl_release(&t, 0, h), -EBUSY);
	CHECK_INT(cl_repair_master(&t, 1), 0);
	CHECK_INT(cl_count(&t, key(2, 0)), held0);
	audit_is(__LINE__ + (int)step * 1000, &t, held0);
	CHECK_INT(cl_acquire(&t, 0, key(2, 1), 10, &x), CL_ADMIT);
	CHECK_INT(cl_release(&t, 0, x), 0);
	for (unsigned i = 0; i < held0; i++)
		CHECK_INT(cl_release(&t, 0, h), 0);
	audit_is(__LINE__ + (int)step * 1000, &t, 0);
}

static void repair_release(unsigned step, unsigned held0, unsigned held1)
{
	struct cl_table t;
	uint32_t h, x;

	table_new(&t);
	hold(&t, 0, held0, &h);
	hold(&t, 1, held1, &x);
	CHECK_INT(cl__release_halt(&t, 1, x, (int)step), 0);
	CHECK_INT(cl_repair_master(&t, 1), 0);
	CHECK_INT(cl_count(&t, key(2, 0)), held0);
	audit_is(__LINE__ + (int)step * 1000, &t, held0);
	for (unsigned i = 0; i < held0; i++)
		CHECK_INT(cl_release(&t, 0, h), 0);
	audit_is(__LINE__ + (int)step * 1000, &t, 0);
}

static void test_repair(void)
{
	struct cl_table t;
	uint32_t h;

	for (unsigned step = 1; step <= 4; step++) {
		repair_acquire(step, 0, 0);	/* inserting a new address */
		repair_acquire(step, 2, 0);
		repair_acquire(step, 2, 3);
		repair_acquire(step, 0, 2);
		repair_release(step, 0, 1);	/* its last: the slot empties */
		repair_release(step, 2, 1);
		repair_release(step, 1, 4);
	}
	/* Plain holdings across buckets, no claim held. */
	table_new(&t);
	for (unsigned b = 0; b < BUCKETS; b++) {
		for (unsigned i = 0; i < 3; i++)
			CHECK_INT(cl_acquire(&t, 2, key(b, i), 5, &h), CL_ADMIT);
		CHECK_INT(cl_acquire(&t, 0, key(b, 0), 5, &h), CL_ADMIT);
	}
	CHECK_INT(cl_repair_master(&t, 2), 0);
	audit_is(__LINE__, &t, BUCKETS);
	CHECK_INT(cl_repair_master(&t, 2), 0);	/* idempotent */
	CHECK_INT(cl_repair_master(&t, WORKERS), -EINVAL);
	audit_is(__LINE__, &t, BUCKETS);
}

int main(void)
{
	test_attach();
	test_limit();
	test_full();
	test_repair();
	free(region);
	return CHECK_EXIT();
}
