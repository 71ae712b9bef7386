/* shm/inst.c through its public header, in one process: attaching, fresh
 * slots, the health word (every field, streak saturation), the attempt
 * counters, the per-worker rows (in-flight and probe fields independent,
 * including where each field wraps), inst_inflight()'s n_ids bound, the
 * master's repair of a dead worker's row and the reset of a slot. Worker
 * ids stand in for processes here; inst_stress.c forks real ones.
 *
 * The probe field of a row has no reader of its own: the only thing that
 * consumes it is inst_repair_worker_master(), which hands it back to the
 * breaker. probes_recorded() therefore measures it that way: load the
 * breaker with BRK_PROBES_MAX tickets, repair, and see how many came back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/inst.h"
#include "tests/unit/check.h"

#define SLOTS	8u
#define WORKERS	4u
#define T0	5000u		/* segment clock, ms */

static const struct brk_policy many = {
	.mode = BRK_MODE_FAILURES, .failures = 1, .window_ms = 1000,
	.open_ms = 100, .max_open_ms = 100, .probes = BRK_PROBES_MAX,
};

static void *region;

static void table_new(struct inst_table *t)
{
	size_t size = (inst_region_size(SLOTS, WORKERS) + 63) & ~(size_t)63;

	free(region);
	region = aligned_alloc(64, size);
	if (!region)
		abort();
	memset(region, 0x5a, size);	/* format must not rely on zeroed memory */
	inst_format_master(region, SLOTS, WORKERS);
	CHECK_INT(inst_attach(t, region, inst_region_size(SLOTS, WORKERS)), 0);
}

static unsigned brk_probes(const struct inst_table *t, unsigned slot)
{
	struct brk_view v;

	brk_read(inst_breaker(t, slot), &many, &v);
	return v.probes;
}

/* Open the breaker of <slot> and take <n> probe tickets from it. */
static void take_probes(struct inst_table *t, unsigned slot, unsigned n)
{
	struct brk_sh *b = inst_breaker(t, slot);

	brk_init(b);
	brk_force_open(b, T0);
	for (unsigned i = 0; i < n; i++)
		CHECK_INT(brk_allow(b, &many, T0 + many.open_ms), BRK_PROBE);
	CHECK_INT(brk_probes(t, slot), n);
}

/* The probe field of <worker>'s row on <slot>, read the only way there is:
 * by repairing the worker (which zeroes its whole row). The other slots of
 * the row must hold no probes. Values of BRK_PROBES_MAX and above all read
 * as BRK_PROBES_MAX (the breaker never goes below zero). */
static unsigned probes_recorded(struct inst_table *t, unsigned worker, unsigned slot)
{
	unsigned left;

	take_probes(t, slot, BRK_PROBES_MAX);
	inst_repair_worker_master(t, worker);
	left = brk_probes(t, slot);
	brk_init(inst_breaker(t, slot));
	return BRK_PROBES_MAX - left;
}

static void check_fresh(const struct inst_table *t, unsigned slot)
{
	struct inst_health h;
	struct brk_view v;
	uint64_t a, f;

	inst_health_load(t, slot, &h);
	CHECK(h.up);
	CHECK(!h.checked);
	CHECK(!h.last_ok);
	CHECK_INT(h.streak, 0);
	CHECK_INT(h.last_status, 0);
	CHECK_INT(h.last_ms, 0);
	CHECK(inst_is_up(t, slot));
	brk_read(inst_breaker(t, slot), &many, &v);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.probes, 0);
	CHECK_INT(v.failures, 0);
	inst_counts(t, slot, t->n_workers, &a, &f);
	CHECK_INT(a, 0);
	CHECK_INT(f, 0);
}

static void test_attach_fresh(void)
{
	struct inst_table t;

	table_new(&t);
	CHECK_INT(t.n_slots, SLOTS);
	CHECK_INT(t.n_workers, WORKERS);
	CHECK_INT(inst_attach(&t, region, inst_region_size(SLOTS, WORKERS) - 1), -EINVAL);
	CHECK_INT(inst_attach(&t, region, 32), -EINVAL);
	for (unsigned s = 0; s < SLOTS; s++) {
		check_fresh(&t, s);
		CHECK_INT(inst_inflight(&t, s, WORKERS), 0);
		for (unsigned q = 0; q < s; q++)
			CHECK(inst_breaker(&t, s) != inst_breaker(&t, q));
	}
	memset(region, 0, 8);		/* no magic: not formatted */
	CHECK_INT(inst_attach(&t, region, inst_region_size(SLOTS, WORKERS)), -EINVAL);
}

static void health_round_trip(struct inst_table *t, unsigned slot, const struct inst_health *in,
			      unsigned want_streak)
{
	struct inst_health out;

	inst_health_store_master(t, slot, in);
	inst_health_load(t, slot, &out);
	CHECK_INT(out.up, in->up);
	CHECK_INT(out.checked, in->checked);
	CHECK_INT(out.last_ok, in->last_ok);
	CHECK_INT(out.streak, want_streak);
	CHECK_INT(out.last_status, in->last_status);
	CHECK_INT(out.last_ms, in->last_ms);
	CHECK_INT(inst_is_up(t, slot), in->up);
}

static void test_health(void)
{
	static const unsigned streaks[] = { 0, 1, 2, 0x1000, 0x1ffe, 0x1fff };
	static const unsigned statuses[] = { 0, 200, 503, 0x8000, 0xffff };
	static const uint32_t times[] = { 0, 1, 0x80000000u, UINT32_MAX };
	struct inst_table t;
	struct inst_health h, out;

	table_new(&t);
	/* Every combination of the flags, against extreme values of the rest. */
	for (unsigned bits = 0; bits < 8; bits++)
		for (size_t i = 0; i < sizeof(streaks) / sizeof(streaks[0]); i++)
			for (size_t j = 0; j < sizeof(statuses) / sizeof(statuses[0]); j++)
				for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
					h = (struct inst_health){
						.up = bits & 1, .checked = bits & 2,
						.last_ok = bits & 4, .streak = streaks[i],
						.last_status = statuses[j], .last_ms = times[k],
					};
					health_round_trip(&t, 3, &h, streaks[i]);
				}
	/* The streak saturates instead of spilling into the flags. */
	h = (struct inst_health){ .up = false, .checked = true, .last_ok = false,
				  .streak = 0x2000, .last_status = 500, .last_ms = 77 };
	health_round_trip(&t, 3, &h, 0x1fff);
	h.streak = 0x12345;
	health_round_trip(&t, 3, &h, 0x1fff);
	h.streak = UINT32_MAX;
	health_round_trip(&t, 3, &h, 0x1fff);
	/* Neighbour slots keep their fresh health. */
	inst_health_load(&t, 2, &out);
	CHECK(out.up && !out.checked && out.streak == 0 && out.last_ms == 0);
	inst_health_load(&t, 4, &out);
	CHECK(out.up && !out.checked && out.streak == 0 && out.last_ms == 0);
}

static void test_counts(void)
{
	struct inst_table t;
	uint64_t a, f;

	table_new(&t);
	/* Workers 0 and 2 count on slot 6, worker 1 on slot 1. */
	for (unsigned i = 0; i < 5; i++)
		inst_count_attempt(&t, 0, 6, false);
	for (unsigned i = 0; i < 3; i++)
		inst_count_attempt(&t, 2, 6, true);
	inst_count_attempt(&t, 1, 1, true);
	inst_counts(&t, 6, t.n_workers, &a, &f);
	CHECK_INT(a, 8);
	CHECK_INT(f, 3);
	inst_counts(&t, 6, 2, &a, &f);	/* ids 0 and 1 only */
	CHECK_INT(a, 5);
	CHECK_INT(f, 0);
	inst_counts(&t, 1, t.n_workers, &a, &f);
	CHECK_INT(a, 1);
	CHECK_INT(f, 1);
	inst_counts(&t, 5, t.n_workers, &a, &f);
	CHECK_INT(a, 0);
	CHECK_INT(f, 0);
	inst_counts(&t, 7, t.n_workers, &a, &f);
	CHECK_INT(a, 0);
	CHECK_INT(f, 0);

	/* Reaping worker 2 keeps its counts in the totals, and a new worker
	 * with its id starts from zero. */
	inst_repair_worker_master(&t, 2);
	inst_counts(&t, 6, t.n_workers, &a, &f);
	CHECK_INT(a, 8);
	CHECK_INT(f, 3);
	inst_count_attempt(&t, 2, 6, false);
	inst_counts(&t, 6, t.n_workers, &a, &f);
	CHECK_INT(a, 9);
	CHECK_INT(f, 3);

	/* A slot made fresh for a new instance counts from zero. */
	inst_reset_master(&t, 6);
	inst_counts(&t, 6, t.n_workers, &a, &f);
	CHECK_INT(a, 0);
	CHECK_INT(f, 0);
}

/* In-flight at the 24-bit boundary: its wrap never carries into or
 * borrows from the probe field. The probe field is read in the wrapped
 * state itself, since a carry and a later borrow would cancel out. */
static void test_row_inflight_boundary(void)
{
	struct inst_table t;

	table_new(&t);
	inst_probe_add(&t, 1, 2, 3);
	inst_inflight_add(&t, 1, 2, 0xffffff);
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0xffffff);
	inst_inflight_add(&t, 1, 2, 1);			/* wraps within its 24 bits */
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0);
	CHECK_INT(probes_recorded(&t, 1, 2), 3);	/* no carry */

	table_new(&t);
	inst_probe_add(&t, 1, 2, 3);
	inst_inflight_add(&t, 1, 2, -1);		/* from 0: wraps to 2^24 - 1 */
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0xffffff);
	CHECK_INT(probes_recorded(&t, 1, 2), 3);	/* no borrow */

	table_new(&t);
	inst_probe_add(&t, 1, 2, 3);
	inst_inflight_add(&t, 1, 2, 0xffffff);
	inst_inflight_add(&t, 1, 2, 1);
	inst_inflight_add(&t, 1, 2, -1);		/* and back */
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0xffffff);
	inst_inflight_add(&t, 1, 2, -0xffffff);
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0);
	inst_inflight_add(&t, 1, 2, 9);
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 9);
	/* Nothing leaked into other rows or slots. */
	CHECK_INT(inst_inflight(&t, 2, 1), 0);
	CHECK_INT(inst_inflight(&t, 1, WORKERS), 0);
	CHECK_INT(inst_inflight(&t, 3, WORKERS), 0);
	CHECK_INT(probes_recorded(&t, 1, 2), 3);
	CHECK_INT(inst_inflight(&t, 2, WORKERS), 0);	/* repair zeroed the row */
}

/* Probes at the 8-bit boundary: their wrap never touches in-flight. */
static void test_row_probe_boundary(void)
{
	struct inst_table t;

	table_new(&t);
	inst_inflight_add(&t, 3, 0, 7);
	inst_inflight_add(&t, 3, 0, 0xfffff0);		/* in-flight's top bits set too */
	inst_probe_add(&t, 3, 0, 255);
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 0xfffff7);
	inst_probe_add(&t, 3, 0, 1);			/* wraps within its 8 bits */
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 0xfffff7);
	inst_probe_add(&t, 3, 0, -1);
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 0xfffff7);
	inst_probe_add(&t, 3, 0, -250);			/* 255 - 250 = 5 */
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 0xfffff7);
	CHECK_INT(probes_recorded(&t, 3, 0), 5);

	table_new(&t);
	inst_inflight_add(&t, 3, 0, 7);
	inst_probe_add(&t, 3, 0, -1);			/* from 0: wraps to 255 */
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 7);
	inst_probe_add(&t, 3, 0, 1);			/* back to 0 */
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 7);
	CHECK_INT(probes_recorded(&t, 3, 0), 0);

	/* Interleaved steps: each field follows only its own deltas. */
	table_new(&t);
	for (int i = 1; i <= 40; i++) {
		inst_inflight_add(&t, 0, 4, i);
		inst_probe_add(&t, 0, 4, 1);
		CHECK_INT(inst_inflight(&t, 4, WORKERS), i * (i + 1) / 2);
	}
	for (int i = 1; i <= 40; i++)
		inst_inflight_add(&t, 0, 4, -i);
	CHECK_INT(inst_inflight(&t, 4, WORKERS), 0);
	CHECK_INT(probes_recorded(&t, 0, 4), 40);
}

static void test_inflight_n_ids(void)
{
	struct inst_table t;
	unsigned want = 0;

	table_new(&t);
	for (unsigned w = 0; w < WORKERS; w++)
		inst_inflight_add(&t, w, 5, (int)(w + 1) * 10);
	for (unsigned n = 0; n <= WORKERS; n++) {
		CHECK_INT(inst_inflight(&t, 5, n), want);
		if (n < WORKERS)
			want += (n + 1) * 10;
	}
	CHECK_INT(inst_inflight(&t, 5, 1000), 100);	/* capped at the table's rows */
	CHECK_INT(inst_inflight(&t, 4, 1000), 0);
	CHECK_INT(inst_inflight(&t, 6, 1000), 0);
}

static void test_repair(void)
{
	static const struct brk_policy cap3 = {
		.mode = BRK_MODE_FAILURES, .failures = 1, .window_ms = 1000,
		.open_ms = 100, .max_open_ms = 100, .probes = 3,
	};
	struct inst_table t;
	struct brk_view v;

	table_new(&t);
	take_probes(&t, 0, 3);
	take_probes(&t, 1, 4);
	/* Worker 1 holds 2 probes on slot 0; worker 2 holds 1 on slot 0 and
	 * 4 on slot 1; both have requests in flight. */
	inst_probe_add(&t, 1, 0, 2);
	inst_probe_add(&t, 2, 0, 1);
	inst_probe_add(&t, 2, 1, 4);
	inst_inflight_add(&t, 1, 0, 5);
	inst_inflight_add(&t, 1, 7, 6);
	inst_inflight_add(&t, 2, 0, 1);
	inst_inflight_add(&t, 2, 1, 4);
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 6);

	inst_repair_worker_master(&t, 1);
	CHECK_INT(brk_probes(&t, 0), 1);		/* exactly worker 1's 2 returned */
	CHECK_INT(brk_probes(&t, 1), 4);
	CHECK_INT(inst_inflight(&t, 0, WORKERS), 1);
	CHECK_INT(inst_inflight(&t, 7, WORKERS), 0);
	CHECK_INT(inst_inflight(&t, 1, WORKERS), 4);
	/* With a cap of 3, the 2 freed slots are grantable again, no more. */
	CHECK_INT(brk_allow(inst_breaker(&t, 0), &cap3, T0 + 100), BRK_PROBE);
	CHECK_INT(brk_allow(inst_breaker(&t, 0), &cap3, T0 + 100), BRK_PROBE);
	CHECK_INT(brk_allow(inst_breaker(&t, 0), &cap3, T0 + 100), BRK_DENIED);
	brk_cancel(inst_breaker(&t, 0), BRK_PROBE);
	brk_cancel(inst_breaker(&t, 0), BRK_PROBE);

	inst_repair_worker_master(&t, 1);		/* a clean row: nothing changes */
	CHECK_INT(brk_probes(&t, 0), 1);
	CHECK_INT(brk_probes(&t, 1), 4);

	inst_repair_worker_master(&t, 2);
	CHECK_INT(brk_probes(&t, 0), 0);
	CHECK_INT(brk_probes(&t, 1), 0);
	for (unsigned s = 0; s < SLOTS; s++)
		CHECK_INT(inst_inflight(&t, s, WORKERS), 0);
	/* Only probes and rows changed: the breakers stay half-open. */
	brk_read(inst_breaker(&t, 0), &many, &v);
	CHECK_INT(v.state, BRK_HALF_OPEN);
}

static void test_reset(void)
{
	struct inst_table t;
	struct inst_health h = { .up = false, .checked = true, .last_ok = false,
				 .streak = 9, .last_status = 503, .last_ms = 1234 };
	struct brk_view v;
	uint64_t a, f;

	table_new(&t);
	for (unsigned s = 1; s <= 3; s++) {
		inst_health_store_master(&t, s, &h);
		inst_count_attempt(&t, s % 2, s, true);
		brk_force_open(inst_breaker(&t, s), T0);
	}
	inst_reset_master(&t, 2);
	check_fresh(&t, 2);
	CHECK(!inst_is_up(&t, 1));
	CHECK(!inst_is_up(&t, 3));
	brk_read(inst_breaker(&t, 3), &many, &v);
	CHECK_INT(v.state, BRK_OPEN);
	inst_counts(&t, 1, t.n_workers, &a, &f);
	CHECK_INT(a, 1);
	CHECK_INT(f, 1);
}

int main(void)
{
	test_attach_fresh();
	test_health();
	test_counts();
	test_row_inflight_boundary();
	test_row_probe_boundary();
	test_inflight_n_ids();
	test_repair();
	test_reset();
	free(region);
	return CHECK_EXIT();
}
