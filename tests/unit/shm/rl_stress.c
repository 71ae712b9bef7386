/* Multi-process stress test for shm/rl.c (STYLE §16): 8 forked processes,
 * pinned round-robin to the CPUs we may use, start on a barrier in shared
 * memory and hammer one table, and every count is checked exactly:
 *
 *  (a) one key, B = 1000, T = 1000 s, 20 rounds: the admits of all
 *      processes sum to exactly 1000, and replay exactly;
 *  (b) 64 keys with B = 100 in 16 buckets, 4 per bucket, while every
 *      process also inserts short-lived keys (inserts, idle-slot reuse,
 *      evictions and CAS races on the same buckets): exactly 100 admits
 *      per key, replaying exactly;
 *  (c) a logical clock in shared memory, set by process 0:
 *      free-running, every recorded decision replays exactly against a
 *      sequential GCRA, admits <= B + floor(elapsed / T), and each key is
 *      drained at the final clock; in phases (takers drain the keys in play
 *      at each clock value), each phase's admits equal a sequential
 *      model's exactly, both with small steps (refill arithmetic) and with
 *      14 keys rotating through 7 slots (slots re-keyed under takers, 0
 *      evictions allowed);
 *  (d) a process inserting keys is SIGKILLed at random moments; after
 *      rl_repair_master() no claim or reserved slot is left and every
 *      bucket still takes inserts.
 *
 * "Replays exactly": every admit reports its new TAT (now + reset_us) and
 * every reject the TAT it saw. Sorted by TAT, admits must satisfy
 * TAT_i = max(TAT_i-1, now_i) + T with TAT_i - now_i <= B*T (so no two
 * admits came from one state, and none exceeded the limit), and each reject
 * must have seen one of those TATs with TAT + T - now > B*T (so no admit
 * was refused). Runs in about a second on 2 CPUs when healthy; every loop
 * is bounded, and alarm() fails the test after STRESS_ALARM_S seconds if
 * anything still hangs. Times printed are information, never asserted. */
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/rl.h"
#include "tests/unit/check.h"
#include "tests/unit/shm/stress.h"

#define NPROC		8u
#define STRESS_ALARM_S	30	/* the whole test, and each child */
#define MAX_ITERS	((uint64_t)20000000)	/* per process and test: "no progress" */
#define REC_CAP		32768u		/* decision records per process */
#define C_MAX_ITERS	((uint64_t)200000000)	/* (c) takes per process before the clock stops */

#define A_BURST		1000u
#define A_ROUNDS	20u
#define A_REJECTS	100u		/* rejects each process sees before stopping */

#define B_KEYS		64u
#define B_BUCKETS	16u
#define B_BURST		100u
#define B_REJECTS	3u		/* per key and process before stopping */

#define C_KEYS		3u
#define C_STEPS		3000u		/* free-running clock steps */
#define C_PHASES	500u
#define C_START		1000000ull	/* logical µs */
#define P_MAX_KEYS	64u
#define R_BUCKETS	4u		/* rotation: buckets played at once */
#define R_PER		14u		/* rotation: keys per bucket, two bucketfuls */
#define R_KEYS		(R_BUCKETS * R_PER)
#define R_PHASES	5000u
#define R_JUMP		4000u		/* > every rotation key's B*T (at most 2970) */

#define D_BUCKETS	8u
#define D_MIN_ROUNDS	100u
#define D_MAX_ROUNDS	1000u
#define D_WANT_CAUGHT	10u		/* kills that landed inside a claim */

#define T_HUGE		1000000000ull	/* 1000 s: no refill during a test */

/* One decision, as the deciding process saw it. */
struct rec {
	uint64_t now;
	uint64_t tat;		/* admit: the TAT stored; reject: the TAT seen */
	uint32_t key;		/* index into the test's key array */
	uint32_t admit;
};

/* Everything the processes share besides the table. Plain fields are
 * written by one process and read by the parent after waitpid(). */
struct shared {
	struct stress_barrier bar;
	_Atomic unsigned abort;		/* a child failed: everyone stops */
	_Atomic uint32_t stop;		/* (c) the clock has stopped */
	_Atomic uint32_t started;	/* (d) the child is inserting */
	_Atomic uint64_t clock;		/* (c) logical now, µs */
	_Atomic uint64_t active;	/* (c) phased: keys in play, a bitmask */
	_Atomic uint64_t phase_admits[P_MAX_KEYS];
	uint64_t phase_total;		/* (c) phased: admits checked, all phases */
	uint64_t admits[NPROC][B_KEYS];
	uint64_t rejects[NPROC][B_KEYS];
	uint32_t n_rec[NPROC];
	struct rec rec[NPROC][REC_CAP];
};

static struct shared *sh;
static struct rl_table tab;
static void *tab_mem;
static uint32_t tab_buckets;
static struct rec gbuf[NPROC * REC_CAP];	/* one key's records, for replay() */

static const struct rl_rule a_rule = { T_HUGE, A_BURST };
static const struct rl_rule b_rule = { T_HUGE, B_BURST };
static const struct rl_rule churn_rule = { 50, 2 };	/* idle within 100 µs */
static const struct rl_rule c_rules[C_KEYS] = { { 100, 5 }, { 37, 50 }, { 1000, 1 } };
static const uint64_t c_keys[C_KEYS] = { 0x1111, 0x2222, 0x3333 };
static uint64_t b_keys[B_KEYS];

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static bool aborted(void)
{
	return stress_stopped(&sh->abort);
}

static void fail_all(void)
{
	stress_stop(&sh->abort);
}

/* Wait until all NPROC processes arrived; -1 if the test was aborted. */
static int barrier_wait(void)
{
	return stress_barrier_wait(&sh->bar, NPROC, &sh->abort) < 0 ? -1 : 0;
}

/* Pin child <id> round-robin in the inherited mask; it must work. */
static void pin(unsigned id)
{
	int err = stress_pin(id);

	if (err < 0) {
		fprintf(stderr, "sched_setaffinity: %s\n", strerror(-err));
		_exit(T_EXIT_FAIL);
	}
}

static void record(unsigned id, uint32_t key, uint64_t now, const struct rl_verdict *v)
{
	uint32_t n = sh->n_rec[id];

	/* Admits must all be kept; rejects fill at most a quarter. */
	if (n >= REC_CAP || (v->result == RL_REJECT && n >= REC_CAP / 4)) {
		if (v->result == RL_ADMIT) {
			fprintf(stderr, "process %u: record buffer full\n", id);
			fail_all();
		}
		return;
	}
	sh->rec[id][n] = (struct rec){ now, now + v->reset_us, key, v->result == RL_ADMIT };
	sh->n_rec[id] = n + 1;
}

/* Fork NPROC children running <fn>(id), pinned; 0 when all exit 0. */
static int run_children(int (*fn)(unsigned id))
{
	pid_t pids[NPROC];
	int failed = 0;

	memset(&sh->bar, 0, sizeof(sh->bar));
	memset(sh->n_rec, 0, sizeof(sh->n_rec));
	fflush(NULL);
	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			exit(T_EXIT_FAIL);
		}
		if (pids[i] == 0) {
			alarm(STRESS_ALARM_S);
			pin(i);
			int rc = fn(i);
			if (rc)
				fail_all();
			_exit(rc ? T_EXIT_FAIL : T_EXIT_PASS);
		}
	}
	for (unsigned i = 0; i < NPROC; i++) {
		int st = 0;

		if (stress_reap(pids[i], &st) < 0) {
			fprintf(stderr, "child %u failed (status 0x%x)\n", i, st);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

static void table_new(uint32_t n_buckets)
{
	if (tab_mem)
		munmap(tab_mem, rl_region_size(tab_buckets));
	tab_buckets = n_buckets;
	tab_mem = mmap(NULL, rl_region_size(n_buckets), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tab_mem == MAP_FAILED) {
		perror("mmap");
		exit(T_EXIT_FAIL);
	}
	rl_format_master(tab_mem, n_buckets);
	if (rl_attach(&tab, tab_mem, rl_region_size(n_buckets), 0) != 0)
		exit(T_EXIT_FAIL);
}

/* A child's own handle: owner id + 1, as a worker would attach. */
static struct rl_table child_table(unsigned id)
{
	struct rl_table t;

	if (rl_attach(&t, tab_mem, rl_region_size(tab_buckets), id + 1) != 0)
		_exit(T_EXIT_FAIL);
	return t;
}

static int cmp_rec(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;

	if (a->admit != b->admit)
		return a->admit ? -1 : 1;	/* admits first */
	return a->tat < b->tat ? -1 : a->tat > b->tat;
}

/* The decisions in <r> (all of one key) against a sequential GCRA; see the
 * top of the file. Returns the number of admits, or -1 after printing the
 * first mismatch. Sorts <r>. */
static long replay(struct rec *r, size_t n, const struct rl_rule *rule, const char *what)
{
	uint64_t T = rule->interval_us, span = T * rule->burst, prev = 0;
	size_t na = 0;

	qsort(r, n, sizeof(*r), cmp_rec);
	while (na < n && r[na].admit)
		na++;
	for (size_t i = 0; i < na; i++) {
		uint64_t want = (prev > r[i].now ? prev : r[i].now) + T;

		if (r[i].tat != want || r[i].tat - r[i].now > span) {
			fprintf(stderr, "%s: admit %zu at now %" PRIu64 ": TAT %" PRIu64
				", sequential GCRA says %" PRIu64 " (limit now + %" PRIu64 ")\n",
				what, i, r[i].now, r[i].tat, want, span);
			return -1;
		}
		prev = r[i].tat;
	}
	for (size_t i = na; i < n; i++) {
		struct rec key = { .tat = r[i].tat, .admit = 1 };
		bool seen = bsearch(&key, r, na, sizeof(*r), cmp_rec) != NULL;

		if (!seen || r[i].tat + T - r[i].now <= span) {
			fprintf(stderr, "%s: reject at now %" PRIu64 " saw TAT %" PRIu64
				" (%s; admissible iff TAT + T - now <= %" PRIu64 ")\n", what,
				r[i].now, r[i].tat, seen ? "a real state" : "never stored", span);
			return -1;
		}
	}
	return (long)na;
}

/* The records of key <key> from every process, copied into <out>. */
static size_t gather(uint32_t key, struct rec *out)
{
	size_t n = 0;

	for (unsigned p = 0; p < NPROC; p++)
		for (uint32_t i = 0; i < sh->n_rec[p]; i++)
			if (sh->rec[p][i].key == key)
				out[n++] = sh->rec[p][i];
	return n;
}

/* (a) ---------------------------------------------------------------- */

static unsigned a_round;	/* set before fork: the round's key */

static int a_child(unsigned id)
{
	struct rl_table t = child_table(id);
	uint64_t admits = 0, rejects = 0;

	if (barrier_wait() < 0)
		return 1;
	for (uint64_t it = 0; it < MAX_ITERS && !aborted(); it++) {
		uint64_t now = mono_us();
		struct rl_verdict v = rl_take(&t, &a_rule, 0xa11ce + a_round, now);

		/* Give up the CPU now and then, so that all processes take
		 * part even when they outnumber the CPUs. */
		if ((it & 15) == 15)
			sched_yield();
		if (v.result == RL_BUSY) {
			sched_yield();
			continue;
		}
		record(id, 0, now, &v);
		if (v.result == RL_ADMIT && ++admits > A_BURST) {
			fprintf(stderr, "(a) process %u: %" PRIu64 " admits, limit %u\n", id,
				admits, A_BURST);
			return 1;
		}
		if (v.result == RL_REJECT && ++rejects == A_REJECTS) {
			sh->admits[id][0] = admits;
			return 0;
		}
	}
	fprintf(stderr, "(a) process %u: no end after %" PRIu64 " iterations\n", id, MAX_ITERS);
	return 1;
}

/* One round; *sharing = how many processes got at least one admit. */
static int a_round_run(unsigned *sharing)
{
	uint64_t sum = 0;
	long replayed;

	if (run_children(a_child) < 0)
		return -1;
	*sharing = 0;
	for (unsigned p = 0; p < NPROC; p++) {
		sum += sh->admits[p][0];
		*sharing += sh->admits[p][0] != 0;
	}
	if (sum != A_BURST) {
		fprintf(stderr, "(a) round %u: admits %" PRIu64 ", want exactly %u\n", a_round, sum,
			A_BURST);
		return -1;
	}
	replayed = replay(gbuf, gather(0, gbuf), &a_rule, "(a)");
	if (replayed != A_BURST) {
		fprintf(stderr, "(a) round %u: replay %ld, want %u\n", a_round, replayed, A_BURST);
		return -1;
	}
	return 0;
}

static int test_one_key(void)
{
	unsigned lo = NPROC, hi = 0;

	table_new(64);
	for (a_round = 0; a_round < A_ROUNDS; a_round++) {
		unsigned sharing;

		if (a_round_run(&sharing) < 0)
			return -1;
		lo = sharing < lo ? sharing : lo;
		hi = sharing > hi ? sharing : hi;
	}
	printf("(a) %u rounds of one key, %u processes: exactly %u admits each, replay exact; "
	       "%u-%u processes shared a round's admits\n", A_ROUNDS, NPROC, A_BURST, lo, hi);
	return 0;
}

/* (b) ---------------------------------------------------------------- */

/* 64 keys, exactly 4 per bucket of 16: with at most 4 live long keys per
 * bucket, an insert always finds a smaller TAT to evict, so a long key is
 * never dropped and its count must be exact. Top bit clear; churn keys
 * have it set, so the two sets never meet. */
static void b_pick_keys(void)
{
	unsigned per[B_BUCKETS] = { 0 }, n = 0;

	for (uint64_t x = 1; n < B_KEYS; x++) {
		uint64_t k = splitmix(x) & ~(1ull << 63);
		uint32_t b = rl__bucket_of(&tab, k);

		if (k && per[b] < B_KEYS / B_BUCKETS) {
			per[b]++;
			b_keys[n++] = k;
		}
	}
}

/* One request of key <ki>; 1 when it is this process's B_REJECTS-th
 * reject of that key, -1 when this process alone exceeded B. */
static int b_take(struct rl_table *t, unsigned id, unsigned ki)
{
	uint64_t now = mono_us();
	struct rl_verdict v = rl_take(t, &b_rule, b_keys[ki], now);

	if (v.result == RL_BUSY) {
		sched_yield();
		return 0;
	}
	record(id, ki, now, &v);
	if (v.result == RL_ADMIT && ++sh->admits[id][ki] > B_BURST) {
		fprintf(stderr, "(b) process %u key %u: %" PRIu64 " admits, limit %u\n", id, ki,
			sh->admits[id][ki], B_BURST);
		return -1;
	}
	return v.result == RL_REJECT && ++sh->rejects[id][ki] == B_REJECTS;
}

static int b_child(unsigned id)
{
	struct rl_table t = child_table(id);
	unsigned done = 0;

	if (barrier_wait() < 0)
		return 1;
	for (uint64_t it = 0; it < MAX_ITERS && !aborted(); it++) {
		uint64_t churn = splitmix((uint64_t)id << 40 | it) | 1ull << 63;
		int r;

		/* A fresh short-lived key: always an insert, never a reject. */
		if (it % 3 == 0 && rl_take(&t, &churn_rule, churn, mono_us()).result == RL_REJECT) {
			fprintf(stderr, "(b) process %u: fresh key rejected\n", id);
			return 1;
		}
		if ((it & 15) == 15)
			sched_yield();	/* as in (a) */
		r = b_take(&t, id, (unsigned)((it * 13 + id * 7) % B_KEYS));
		if (r < 0)
			return 1;
		if (r > 0 && ++done == B_KEYS)
			return 0;
	}
	fprintf(stderr, "(b) process %u: no end after %" PRIu64 " iterations\n", id, MAX_ITERS);
	return 1;
}

static int b_check_key(unsigned ki)
{
	char what[32];
	uint64_t sum = 0;

	for (unsigned p = 0; p < NPROC; p++)
		sum += sh->admits[p][ki];
	snprintf(what, sizeof(what), "(b) key %u", ki);
	if (sum != B_BURST) {
		fprintf(stderr, "%s: admits %" PRIu64 ", want exactly %u\n", what, sum, B_BURST);
		return -1;
	}
	if (replay(gbuf, gather(ki, gbuf), &b_rule, what) != B_BURST)
		return -1;
	return 0;
}

static int test_many_keys(void)
{
	struct rl__audit a;
	struct rl_stats st;

	table_new(B_BUCKETS);
	b_pick_keys();
	memset(sh->admits, 0, sizeof(sh->admits));
	memset(sh->rejects, 0, sizeof(sh->rejects));
	if (run_children(b_child) < 0)
		return -1;
	for (unsigned ki = 0; ki < B_KEYS; ki++)
		if (b_check_key(ki) < 0)
			return -1;
	rl__audit(&tab, 0, &a);
	if (a.claims || a.reserved || a.duplicates || a.misplaced) {
		fprintf(stderr, "(b) audit: claims %u reserved %u duplicates %u misplaced %u\n",
			a.claims, a.reserved, a.duplicates, a.misplaced);
		return -1;
	}
	rl_stats_read(&tab, mono_us(), &st);
	printf("(b) %u keys x %u admits exact, replay exact; %" PRIu64 " evictions, %" PRIu64
	       " busy\n", B_KEYS, B_BURST, st.evictions, st.busy);
	return 0;
}

/* (c) ---------------------------------------------------------------- */

static uint64_t clock_now(void)
{
	/* Acquire: pairs with the release stores of the clock by the
	 * advancer, so a taker that sees stop set reads the final clock. */
	return atomic_load_explicit(&sh->clock, memory_order_acquire);
}

static bool clock_stopped(void)
{
	/* Acquire: pairs with the release store of stop after the last step. */
	return atomic_load_explicit(&sh->stop, memory_order_acquire) != 0;
}

/* Take <key> under <rule> at logical <now> until REJECT, recording the
 * decisions as key index <ki> when <rec>; admits, or -1. */
static long c_drain(struct rl_table *t, unsigned id, const struct rl_rule *rule, uint64_t key,
		    unsigned ki, uint64_t now, bool rec)
{
	long admits = 0;

	for (uint64_t it = 0; it < MAX_ITERS && !aborted(); it++) {
		struct rl_verdict v = rl_take(t, rule, key, now);

		if (v.result == RL_BUSY) {
			sched_yield();
			continue;
		}
		if (rec)
			record(id, ki, now, &v);
		if (v.result == RL_REJECT)
			return admits;
		admits++;
	}
	return -1;
}

static void c_advance(void)
{
	for (unsigned s = 0; s < C_STEPS && !aborted(); s++) {
		uint64_t until = mono_us() + 20;

		while (mono_us() < until)
			;
		/* Release: pairs with clock_now(). Single writer, so a load
		 * and a store make the increment. */
		atomic_store_explicit(&sh->clock, clock_now() + 1 + splitmix(s) % 200,
				      memory_order_release);
	}
	/* Release: pairs with clock_stopped(). */
	atomic_store_explicit(&sh->stop, 1, memory_order_release);
}

/* Process 0 advances the clock in pseudo-random steps, paced by real time;
 * the others take at whatever time they read, then drain at the end. */
static int c_free_child(unsigned id)
{
	struct rl_table t = child_table(id);

	if (barrier_wait() < 0)
		return 1;
	if (id == 0) {
		c_advance();
		return 0;
	}
	for (uint64_t it = 0; !clock_stopped(); it++) {
		unsigned ki = (unsigned)((it + id) % C_KEYS);
		uint64_t now = clock_now();
		struct rl_verdict v = rl_take(&t, &c_rules[ki], c_keys[ki], now);

		if (it == C_MAX_ITERS || aborted()) {
			fprintf(stderr, "(c) process %u: the clock never stopped\n", id);
			return 1;
		}
		if (v.result != RL_BUSY)
			record(id, ki, now, &v);
	}
	for (unsigned ki = 0; ki < C_KEYS; ki++)
		if (c_drain(&t, id, &c_rules[ki], c_keys[ki], ki, clock_now(), true) < 0)
			return 1;
	return 0;
}

static int c_free_check(void)
{
	uint64_t end = clock_now();

	for (unsigned ki = 0; ki < C_KEYS; ki++) {
		const struct rl_rule *r = &c_rules[ki];
		uint64_t bound = r->burst + (end - C_START) / r->interval_us;
		long n = replay(gbuf, gather(ki, gbuf), r, "(c) free-running");
		struct rl_verdict v;

		if (n < 0)
			return -1;
		if ((uint64_t)n > bound) {
			fprintf(stderr, "(c) key %u: %ld admits, bound B + elapsed/T = %" PRIu64 "\n",
				ki, n, bound);
			return -1;
		}
		/* Drained at the final clock: the next request is refused. */
		if (rl_peek(&tab, r, c_keys[ki], end, &v) != 0 || v.result != RL_REJECT) {
			fprintf(stderr, "(c) key %u: not drained at the end\n", ki);
			return -1;
		}
		printf("(c) free-running key %u: %ld admits <= %" PRIu64 ", replay exact\n", ki, n,
		       bound);
	}
	return 0;
}

/* A phased run: the lead (process 0) sets the clock and the keys in play,
 * the takers drain each key in play at that clock, and the lead compares
 * every key's admits in the phase with a sequential model's. */
struct phase_plan {
	const char *name;
	unsigned phases;
	uint32_t n_buckets;
	unsigned n_keys;			/* <= P_MAX_KEYS */
	const uint64_t *keys;
	const struct rl_rule *rules;
	void (*setup)(void);		/* after the table is made: pick keys */
	/* Phase <ph>: advance *now, choose *active (a bitmask of keys), and
	 * fill want[] for the active keys; <tat> is the model's state. */
	void (*next)(unsigned ph, uint64_t *now, uint64_t *active, uint64_t *want, uint64_t *tat);
};

static const struct phase_plan *plan;	/* set before fork */

static int phase_compare(unsigned ph, uint64_t now, uint64_t active, const uint64_t *want)
{
	for (unsigned ki = 0; ki < plan->n_keys; ki++) {
		uint64_t exp = (active >> ki & 1) ? want[ki] : 0;
		/* Relaxed: the barrier ordered every taker's adds before
		 * this, and the lead is the only reader and resetter. */
		uint64_t got = atomic_exchange_explicit(&sh->phase_admits[ki], 0,
							memory_order_relaxed);

		sh->phase_total += got;
		if (got != exp) {
			fprintf(stderr, "%s: phase %u key %u at now %" PRIu64 ": %" PRIu64
				" admits, sequential GCRA says %" PRIu64 "\n", plan->name, ph, ki,
				now, got, exp);
			return -1;
		}
	}
	return 0;
}

static int phase_lead(void)
{
	uint64_t tat[P_MAX_KEYS] = { 0 }, want[P_MAX_KEYS], now = C_START, active;

	for (unsigned ph = 0; ph < plan->phases; ph++) {
		plan->next(ph, &now, &active, want, tat);
		/* Relaxed, both: the barrier below publishes them. */
		atomic_store_explicit(&sh->clock, now, memory_order_relaxed);
		atomic_store_explicit(&sh->active, active, memory_order_relaxed);
		if (barrier_wait() < 0 || barrier_wait() < 0)
			return 1;
		if (phase_compare(ph, now, active, want) < 0)
			return 1;
	}
	return 0;
}

static int phase_child(unsigned id)
{
	struct rl_table t = child_table(id);

	if (barrier_wait() < 0)
		return 1;
	if (id == 0)
		return phase_lead();
	for (unsigned ph = 0; ph < plan->phases; ph++) {
		if (barrier_wait() < 0)
			return 1;
		/* Relaxed: published by the barrier. */
		uint64_t active = atomic_load_explicit(&sh->active, memory_order_relaxed);
		uint64_t now = clock_now();

		for (unsigned k = 0; k < plan->n_keys; k++) {
			unsigned ki = (k + id) % plan->n_keys;
			long n = 0;

			if (active >> ki & 1)
				n = c_drain(&t, id, &plan->rules[ki], plan->keys[ki], ki, now, false);
			if (n < 0)
				return 1;
			/* Relaxed: a sum read after the barrier. */
			atomic_fetch_add_explicit(&sh->phase_admits[ki], (uint64_t)n,
						  memory_order_relaxed);
		}
		if (barrier_wait() < 0)
			return 1;
	}
	return 0;
}

/* Refill: the 3 keys of (c), small steps (0 included), so each phase's
 * count depends on exactly how much refilled since the last one. */
static void refill_next(unsigned ph, uint64_t *now, uint64_t *active, uint64_t *want,
			uint64_t *tat)
{
	*now += splitmix(ph + 77) % 400;
	*active = (1u << C_KEYS) - 1;
	for (unsigned ki = 0; ki < C_KEYS; ki++) {
		uint64_t T = c_rules[ki].interval_us, span = T * c_rules[ki].burst;

		want[ki] = 0;
		while ((tat[ki] > *now ? tat[ki] : *now) + T - *now <= span) {
			tat[ki] = (tat[ki] > *now ? tat[ki] : *now) + T;
			want[ki]++;
		}
	}
}

/* Rotation: in each of R_BUCKETS buckets, 14 keys share the 7 slots. Each
 * phase jumps past every key's span (all idle) and plays, per bucket, a
 * window of 7 keys overlapping the last one by 4. Inserts re-key idle slots
 * while the keys in them are being taken, never a live slot (at most 7 are
 * live), so each key in play gets exactly B and nothing is evicted. */
static uint64_t r_keys[R_KEYS];
static struct rl_rule r_rules[R_KEYS];

static void rotation_next(unsigned ph, uint64_t *now, uint64_t *active, uint64_t *want,
			  uint64_t *tat)
{
	(void)tat;
	*now += R_JUMP + splitmix(ph) % 100;
	*active = 0;
	for (unsigned g = 0; g < R_BUCKETS; g++)
		for (unsigned j = 0; j < RL_BUCKET_SLOTS; j++)
			*active |= 1ull << (g * R_PER + (ph * 3 + g + j) % R_PER);
	for (unsigned ki = 0; ki < R_KEYS; ki++)
		want[ki] = r_rules[ki].burst;
}

/* R_PER keys homed in each of the R_BUCKETS buckets of the current table. */
static void rotation_keys(void)
{
	unsigned per[R_BUCKETS] = { 0 };

	for (uint64_t x = 0x5000, n = 0; n < R_KEYS; x++) {
		uint32_t g = rl__bucket_of(&tab, x);

		if (per[g] == R_PER)
			continue;
		r_keys[g * R_PER + per[g]] = x;
		r_rules[g * R_PER + per[g]] = (struct rl_rule){ 10 + (97 * per[g]) % 500,
							       1 + per[g] % 7 };
		per[g]++;
		n++;
	}
}

static const struct phase_plan refill = { "(c) refill", C_PHASES, 1, C_KEYS, c_keys, c_rules,
					  NULL, refill_next };
static const struct phase_plan rotation = { "(c) rotation", R_PHASES, R_BUCKETS, R_KEYS, r_keys,
					    r_rules, rotation_keys, rotation_next };

static int run_plan(const struct phase_plan *p)
{
	plan = p;
	table_new(p->n_buckets);
	if (p->setup)
		p->setup();
	for (unsigned ki = 0; ki < P_MAX_KEYS; ki++)
		atomic_store_explicit(&sh->phase_admits[ki], 0, memory_order_relaxed);	/* before fork */
	sh->phase_total = 0;
	return run_children(phase_child);
}

static int test_clock(void)
{
	struct rl_stats st;

	table_new(1);	/* 3 keys, one bucket: never evicted */
	atomic_store_explicit(&sh->clock, C_START, memory_order_relaxed);	/* before fork */
	atomic_store_explicit(&sh->stop, 0, memory_order_relaxed);
	if (run_children(c_free_child) < 0 || c_free_check() < 0)
		return -1;
	if (run_plan(&refill) < 0)
		return -1;
	printf("(c) refill: %u phases, %" PRIu64 " admits, every phase's equal to the model's\n",
	       C_PHASES, sh->phase_total);
	if (run_plan(&rotation) < 0)
		return -1;
	rl_stats_read(&tab, 0, &st);
	if (st.evictions != 0) {
		fprintf(stderr, "(c) rotation: %" PRIu64 " evictions, want 0\n", st.evictions);
		return -1;
	}
	printf("(c) rotation: %u phases, %" PRIu64 " admits, every key in play got exactly B, "
	       "0 evictions\n", R_PHASES, sh->phase_total);
	return 0;
}

/* (d) ---------------------------------------------------------------- */

/* Insert fresh live keys until killed. */
__attribute__((noreturn)) static void d_child(uint32_t owner, unsigned round)
{
	static const struct rl_rule live = { T_HUGE, 1 };
	struct rl_table t;

	alarm(STRESS_ALARM_S);
	if (rl_attach(&t, tab_mem, rl_region_size(tab_buckets), owner) != 0)
		_exit(T_EXIT_FAIL);
	for (uint64_t i = 0;; i++) {
		rl_take(&t, &live, splitmix((uint64_t)round << 32 | i), mono_us());
		/* Relaxed: the parent only needs to see it eventually. */
		atomic_store_explicit(&sh->started, 1, memory_order_relaxed);
	}
}

/* Every bucket still takes an insert from the master. */
static int d_buckets_work(unsigned round)
{
	static const struct rl_rule r = { T_HUGE, 1 };
	uint64_t x = (uint64_t)round << 40;

	for (uint32_t b = 0; b < tab_buckets; b++) {
		uint64_t k;

		do
			k = splitmix(++x) | 1ull << 62;
		while (rl__bucket_of(&tab, k) != b);
		if (rl_take(&tab, &r, k, mono_us()).result != RL_ADMIT) {
			fprintf(stderr, "(d) round %u: bucket %u refuses inserts\n", round, b);
			return -1;
		}
	}
	return 0;
}

/* Kill the inserting child at a random moment; return its audit. */
static int d_kill_round(unsigned round, uint32_t owner, struct rl__audit *before)
{
	uint64_t until;
	pid_t pid;
	int st;

	/* Relaxed: set before fork, which orders it. */
	atomic_store_explicit(&sh->started, 0, memory_order_relaxed);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		d_child(owner, round);
	until = mono_us() + 5000000;
	/* Relaxed: see d_child(). */
	while (!atomic_load_explicit(&sh->started, memory_order_relaxed) && mono_us() < until)
		sched_yield();
	until = mono_us() + splitmix(round) % 300;
	while (mono_us() < until)
		;
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		fprintf(stderr, "(d) round %u: child did not die by SIGKILL (0x%x)\n", round, st);
		return -1;
	}
	rl__audit(&tab, owner, before);
	return 0;
}

static int d_round(unsigned round, unsigned *caught, unsigned *caught_reserved)
{
	uint32_t owner = 1 + round % 63;
	struct rl__audit a;

	if (d_kill_round(round, owner, &a) < 0)
		return -1;
	if (a.claims != a.claims_owner || a.claims > 1 || a.reserved > a.claims ||
	    a.reserved_unclaimed) {
		fprintf(stderr, "(d) round %u: before repair: claims %u (dead owner's %u), "
			"reserved %u (unclaimed %u)\n", round, a.claims, a.claims_owner,
			a.reserved, a.reserved_unclaimed);
		return -1;
	}
	*caught += a.claims_owner;
	*caught_reserved += a.reserved;
	rl_repair_master(&tab, owner);
	rl__audit(&tab, owner, &a);
	if (a.claims || a.reserved || a.duplicates || a.misplaced) {
		fprintf(stderr, "(d) round %u: after repair: claims %u reserved %u duplicates %u "
			"misplaced %u\n", round, a.claims, a.reserved, a.duplicates, a.misplaced);
		return -1;
	}
	return d_buckets_work(round);
}

static int test_kill(void)
{
	unsigned caught = 0, caught_reserved = 0, round = 0;

	table_new(D_BUCKETS);
	while (round < D_MAX_ROUNDS && (round < D_MIN_ROUNDS || caught < D_WANT_CAUGHT)) {
		if (d_round(round, &caught, &caught_reserved) < 0)
			return -1;
		round++;
	}
	printf("(d) %u kills, %u inside a claim (%u with a reserved slot): all repaired\n", round,
	       caught, caught_reserved);
	if (caught == 0)
		printf("(d) note: no kill landed inside a claim; the unit test covers it\n");
	return 0;
}

static void cpus_init(void)
{
	int err = stress_mask_init();

	if (err < 0) {
		fprintf(stderr, "sched_getaffinity: %s\n", strerror(-err));
		exit(T_EXIT_FAIL);
	}
}

/* Run <fn> and say how long it took (information only: nothing is
 * asserted on time). */
static int timed(const char *name, int (*fn)(void))
{
	uint64_t t0 = mono_us();
	int ret = fn();

	printf("%s took %" PRIu64 " ms\n", name, (mono_us() - t0) / 1000);
	return ret;
}

int main(void)
{
	uint64_t t0 = mono_us();
	int bad = 0;

	stress_alarm("rl_stress: timed out (alarm)", STRESS_ALARM_S);
	cpus_init();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return T_EXIT_FAIL;
	}
	bad |= timed("(a)", test_one_key) < 0;
	bad |= !bad && timed("(b)", test_many_keys) < 0;
	bad |= !bad && timed("(c)", test_clock) < 0;
	bad |= !bad && timed("(d)", test_kill) < 0;
	printf("%s in %" PRIu64 " ms on %d CPUs\n", bad ? "FAILED" : "passed",
	       (mono_us() - t0) / 1000, stress_cpus());
	check_failures += bad;
	return CHECK_EXIT();
}
