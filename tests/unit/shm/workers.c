/* shm/workers.c through its public header, in one process: claiming and
 * releasing ids (lowest free id first, reuse, -ENOSPC, the high-water
 * mark), states, and the accounting rules: counters of a released entry
 * move into the retired totals so wtab_counter_total() never goes down,
 * and gauges are summed over live entries only. A random claim/count/
 * release sequence is checked against a model after every step. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "shm/workers.h"
#include "tests/unit/check.h"

#define N 8u
#define STEPS 20000u

static void *region_new(unsigned n)
{
	size_t size = (wtab_region_size(n) + 63) & ~(size_t)63;
	void *mem = aligned_alloc(64, size);

	if (!mem)
		abort();
	memset(mem, 0xa5, size);	/* format must not rely on zeroed memory */
	wtab_format_master(mem, n);
	return mem;
}

static void test_attach(void)
{
	void *mem = region_new(N);
	struct wtab t;

	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	CHECK_INT(t.n, N);
	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N) - 1), -EINVAL);
	CHECK_INT(wtab_attach(&t, mem, 16), -EINVAL);
	memset(mem, 0, 8);		/* no magic: not formatted */
	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), -EINVAL);
	free(mem);
}

static void test_fresh(void)
{
	void *mem = region_new(N);
	struct wtab t;

	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	CHECK_INT(wtab_high_water(&t), 0);
	for (unsigned id = 0; id < N; id++)
		CHECK_INT(wtab_get_state(&t, id), WTAB_FREE);
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++)
		CHECK_INT(wtab_counter_total(&t, (enum wtab_counter)c), 0);
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++)
		CHECK_INT(wtab_gauge_sum(&t, (enum wtab_gauge)g), 0);
	free(mem);
}

static void test_claim_release(void)
{
	void *mem = region_new(N);
	struct wtab t;
	struct wtab_entry_sh *e;

	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	for (unsigned id = 0; id < N; id++) {
		CHECK_INT(wtab_claim_master(&t, id % 3, (int)id - 1, 100 + id), id);
		CHECK_INT(wtab_high_water(&t), id + 1);
		CHECK_INT(wtab_get_state(&t, id), WTAB_STARTING);
		e = wtab_entry(&t, id);
		CHECK_INT(e->slot, id % 3);
		CHECK_INT(e->cpu, (int)id - 1);
		CHECK_INT(e->generation, 100 + id);
		CHECK_INT(atomic_load(&e->pid), 0);
	}
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), -ENOSPC);
	CHECK_INT(wtab_high_water(&t), N);

	wtab_set_pid_master(&t, 2, 4242);
	CHECK_INT(atomic_load(&wtab_entry(&t, 2)->pid), 4242);
	wtab_set_state(&t, 2, WTAB_READY);
	CHECK_INT(wtab_get_state(&t, 2), WTAB_READY);
	wtab_set_state(&t, 2, WTAB_DRAINING);
	CHECK_INT(wtab_get_state(&t, 2), WTAB_DRAINING);
	CHECK_INT(wtab_get_state(&t, 1), WTAB_STARTING);	/* neighbours untouched */
	CHECK_INT(wtab_get_state(&t, 3), WTAB_STARTING);

	/* Released ids come back, lowest first; the high-water mark stays. */
	wtab_release_master(&t, 5);
	wtab_release_master(&t, 2);
	CHECK_INT(wtab_get_state(&t, 2), WTAB_FREE);
	CHECK_INT(atomic_load(&wtab_entry(&t, 2)->pid), 0);
	CHECK_INT(wtab_high_water(&t), N);
	CHECK_INT(wtab_claim_master(&t, 1, 3, 200), 2);
	CHECK_INT(wtab_entry(&t, 2)->generation, 200);
	CHECK_INT(wtab_entry(&t, 2)->cpu, 3);
	CHECK_INT(wtab_claim_master(&t, 1, 3, 200), 5);
	CHECK_INT(wtab_claim_master(&t, 1, 3, 200), -ENOSPC);

	/* The mark tracks the highest id ever claimed, not the count. */
	for (unsigned id = 0; id < N; id++)
		wtab_release_master(&t, id);
	CHECK_INT(wtab_high_water(&t), N);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 0);
	CHECK_INT(wtab_high_water(&t), N);
	free(mem);

	mem = region_new(N);
	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 0);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 1);
	wtab_release_master(&t, 0);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 0);
	CHECK_INT(wtab_high_water(&t), 2);
	free(mem);
}

static void test_counters_gauges(void)
{
	void *mem = region_new(N);
	struct wtab t;
	struct wtab_entry_sh *e0, *e1;

	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 0);
	CHECK_INT(wtab_claim_master(&t, 0, -1, 1), 1);
	e0 = wtab_entry(&t, 0);
	e1 = wtab_entry(&t, 1);
	wtab_count(e0, WTAB_REQUESTS, 10);
	wtab_count(e1, WTAB_REQUESTS, 5);
	wtab_count(e1, WTAB_BYTES_OUT, 1ull << 40);
	wtab_gauge_add(e0, WTAB_CONNECTIONS, 3);
	wtab_gauge_add(e1, WTAB_CONNECTIONS, 4);
	wtab_gauge_add(e1, WTAB_CONNECTIONS, -1);
	CHECK_INT(wtab_counter_total(&t, WTAB_REQUESTS), 15);
	CHECK_INT(wtab_counter_total(&t, WTAB_BYTES_OUT), 1ull << 40);
	CHECK_INT(wtab_counter_total(&t, WTAB_ACCEPTED), 0);
	CHECK_INT(wtab_gauge_sum(&t, WTAB_CONNECTIONS), 6);
	CHECK_INT(wtab_gauge_sum(&t, WTAB_INFLIGHT), 0);

	/* Release 1: its counters stay in the totals, its gauges leave. */
	wtab_release_master(&t, 1);
	CHECK_INT(wtab_counter_total(&t, WTAB_REQUESTS), 15);
	CHECK_INT(wtab_counter_total(&t, WTAB_BYTES_OUT), 1ull << 40);
	CHECK_INT(wtab_gauge_sum(&t, WTAB_CONNECTIONS), 3);
	/* Its successor starts from zero and adds on top. */
	CHECK_INT(wtab_claim_master(&t, 0, -1, 2), 1);
	CHECK_INT(atomic_load(&e1->counters[WTAB_REQUESTS]), 0);
	CHECK_INT(atomic_load(&e1->gauges[WTAB_CONNECTIONS]), 0);
	CHECK_INT(wtab_counter_total(&t, WTAB_REQUESTS), 15);
	wtab_count(e1, WTAB_REQUESTS, 1);
	CHECK_INT(wtab_counter_total(&t, WTAB_REQUESTS), 16);
	free(mem);
}

static void test_names(void)
{
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++) {
		CHECK(strcmp(wtab_counter_name((enum wtab_counter)c), "?") != 0);
		for (unsigned d = 0; d < c; d++)
			CHECK(strcmp(wtab_counter_name((enum wtab_counter)c),
				     wtab_counter_name((enum wtab_counter)d)) != 0);
	}
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++) {
		CHECK(strcmp(wtab_gauge_name((enum wtab_gauge)g), "?") != 0);
		for (unsigned d = 0; d < g; d++)
			CHECK(strcmp(wtab_gauge_name((enum wtab_gauge)g),
				     wtab_gauge_name((enum wtab_gauge)d)) != 0);
	}
	CHECK_STR(wtab_counter_name(WTAB_N_COUNTERS), "?");
	CHECK_STR(wtab_gauge_name(WTAB_N_GAUGES), "?");
	CHECK_STR(wtab_state_name(WTAB_FREE), "free");
	CHECK_STR(wtab_state_name(WTAB_STARTING), "starting");
	CHECK_STR(wtab_state_name(WTAB_READY), "ready");
	CHECK_STR(wtab_state_name(WTAB_DRAINING), "draining");
	CHECK_STR(wtab_state_name((enum wtab_state)99), "?");
}

/* The model a random sequence is checked against. */
struct model {
	bool live[N];
	uint64_t counters[N][WTAB_N_COUNTERS];
	uint64_t gauges[N][WTAB_N_GAUGES];
	uint64_t total[WTAB_N_COUNTERS];	/* ever counted */
	unsigned high_water;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

static void model_check(const struct wtab *t, const struct model *m, uint64_t *last_total)
{
	CHECK_INT(wtab_high_water(t), m->high_water);
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++) {
		uint64_t got = wtab_counter_total(t, (enum wtab_counter)c);

		CHECK_INT(got, m->total[c]);
		CHECK(got >= last_total[c]);		/* never decreases */
		last_total[c] = got;
	}
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++) {
		uint64_t want = 0;

		for (unsigned id = 0; id < N; id++)
			if (m->live[id])
				want += m->gauges[id][g];
		CHECK_INT(wtab_gauge_sum(t, (enum wtab_gauge)g), want);
	}
	for (unsigned id = 0; id < N; id++)
		CHECK_INT(wtab_get_state(t, id) != WTAB_FREE, m->live[id]);
}

static int model_lowest_free(const struct model *m)
{
	for (unsigned id = 0; id < N; id++)
		if (!m->live[id])
			return (int)id;
	return -ENOSPC;
}

static void random_step(struct wtab *t, struct model *m, uint64_t *x)
{
	uint64_t r = rnd(x);
	unsigned id = (unsigned)(r % N);
	unsigned op = (unsigned)((r >> 8) % 16);

	if (op == 0) {
		int want = model_lowest_free(m);

		CHECK_INT(wtab_claim_master(t, 0, -1, r), want);
		if (want >= 0) {
			m->live[want] = true;
			memset(m->counters[want], 0, sizeof(m->counters[want]));
			memset(m->gauges[want], 0, sizeof(m->gauges[want]));
			if ((unsigned)want + 1 > m->high_water)
				m->high_water = (unsigned)want + 1;
		}
	} else if (op == 1 && m->live[id]) {
		wtab_release_master(t, id);
		m->live[id] = false;
	} else if (m->live[id] && op < 10) {
		enum wtab_counter c = (enum wtab_counter)((r >> 16) % WTAB_N_COUNTERS);
		uint64_t n = (r >> 24) % 1000;

		wtab_count(wtab_entry(t, id), c, n);
		m->counters[id][c] += n;
		m->total[c] += n;
	} else if (m->live[id]) {
		enum wtab_gauge g = (enum wtab_gauge)((r >> 16) % WTAB_N_GAUGES);
		int64_t d = (int64_t)((r >> 24) % 7) - 3;

		if ((int64_t)m->gauges[id][g] + d < 0)
			d = -d;			/* gauges never go below zero */
		wtab_gauge_add(wtab_entry(t, id), g, d);
		m->gauges[id][g] += (uint64_t)d;
	}
}

static void test_random(void)
{
	void *mem = region_new(N);
	struct wtab t;
	struct model m;
	uint64_t x = 0x1234567887654321ull, last[WTAB_N_COUNTERS] = { 0 };

	memset(&m, 0, sizeof(m));
	CHECK_INT(wtab_attach(&t, mem, wtab_region_size(N)), 0);
	for (unsigned i = 0; i < STEPS && !check_failures; i++) {
		random_step(&t, &m, &x);
		model_check(&t, &m, last);
	}
	free(mem);
}

int main(void)
{
	test_attach();
	test_fresh();
	test_claim_release();
	test_counters_gauges();
	test_names();
	test_random();
	return CHECK_EXIT();
}
