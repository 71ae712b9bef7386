/* shm/connlimit.c across processes (STYLE §16): NPROC forked processes,
 * each one worker id, pinned round-robin inside the inherited affinity
 * mask and started on a barrier, share one table in a MAP_SHARED mapping.
 * Every check is exact and stops at the first mismatch, printing both
 * values:
 *
 *  (a) never over the limit. Each process opens and closes "connections"
 *      of KEYS addresses at random (several share a bucket) under a limit
 *      of LIMIT. Around every admitted connection it keeps a shared
 *      per-address tally: incremented after cl_acquire() admitted it,
 *      decremented before cl_release(). The tally never exceeds the table's
 *      count, so a tally above LIMIT (checked on every increment) would be
 *      the table admitting too many. cl_count() is sampled too. At the end
 *      of every round everything is closed and the table must be empty:
 *      every count 0, every row 0, no claim, no intent.
 *
 *  (b) a limit of N admits exactly N. Every process grabs connections of
 *      one address as fast as it can, never closing: together they get
 *      exactly LIMIT_B, and the table says LIMIT_B.
 *
 *  (c) repair after death. In every round half the processes, chosen at
 *      random, are SIGKILLed at a random point of their traffic, some inside
 *      a claim; the parent reaps each and runs cl_repair_master() for its
 *      id. With the survivors parked on a barrier, every slot's count must
 *      equal the survivors' rows exactly, no claim or intent may be left, and
 *      each survivor's row must equal the connections it knows it holds;
 *      after the survivors close everything the table must be empty.
 *
 * A release or acquire that finds a claim held by a victim not yet
 * repaired gets -EBUSY / CL_BUSY: survivors retry releases after the
 * repair (a busy acquire simply admits nothing). Every loop is bounded
 * except the victims', which the parent kills; alarm() fails the test if
 * anything hangs. Nothing is timed. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/connlimit.h"
#include "tests/unit/check.h"
#include "tests/unit/shm/stress.h"

#define NPROC		8u
#define N_IDS		16u	/* rows: NPROC..N_IDS-1 stay unused */
#define BUCKETS		8u
#define KEYS		24u	/* three addresses per bucket */
#define LIMIT		5u
#define HOLD_MAX	6u	/* connections one process holds per address */
#define ALARM_S		60

#define A_ROUNDS	10u
#define A_ITERS		20000u
#define B_LIMIT		37u
#define B_TRIES		200u	/* per process: more than B_LIMIT in all */
#define C_ROUNDS	40u
#define C_SURVIVOR_OPS	5000u
#define C_KILL_MAX_OPS	3000u

struct shared {
	_Atomic unsigned stop;
	struct stress_barrier bar;
	_Atomic unsigned tally[KEYS];		/* (a): connections admitted, not yet closed */
	_Atomic unsigned b_admitted;		/* (b) */
	_Atomic uint64_t ops[NPROC];		/* (c): progress, for the killer */
	_Atomic unsigned held[NPROC][KEYS];	/* (c): survivors' own counts, when parked */
	uint32_t victims;			/* (c): set by the parent before forking */
};

static struct shared *s;
static struct cl_table tab;
static void *region;

static uint64_t addr_hash(unsigned k)
{
	/* Low bits pick the bucket, high bits tell addresses apart. */
	return (uint64_t)(k / BUCKETS + 1) << 40 | (k % BUCKETS);
}

#define fail(...) stress_fail(&s->stop, __VA_ARGS__)

/* One process's connections: handles per address. */
struct conns {
	uint32_t h[KEYS][HOLD_MAX];
	unsigned n[KEYS];
};

static void close_one(unsigned me, struct conns *c, unsigned k, bool tally)
{
	uint32_t h = c->h[k][--c->n[k]];

	if (tally)
		/* Relaxed: the tally's value is all that matters; the table's
		 * claim orders the release itself. */
		atomic_fetch_sub_explicit(&s->tally[k], 1, memory_order_relaxed);
	for (unsigned tries = 0; cl_release(&tab, me, h) < 0; tries++) {
		if (tries > 1000000u || stress_stopped(&s->stop))
			fail("proc %u: release of address %u busy forever (%u)\n", me, k, tries);
		sched_yield();
	}
}

static void open_one(unsigned me, struct conns *c, unsigned k, bool tally)
{
	uint32_t h;
	unsigned now;

	switch (cl_acquire(&tab, me, addr_hash(k), LIMIT, &h)) {
	case CL_ADMIT:
		c->h[k][c->n[k]++] = h;
		if (!tally)
			return;
		/* Relaxed: see close_one(). */
		now = atomic_fetch_add_explicit(&s->tally[k], 1, memory_order_relaxed) + 1;
		if (now > LIMIT)
			fail("proc %u: address %u holds %u connections, limit %u\n", me, k, now, LIMIT);
		return;
	case CL_OVER:
		if (cl_count(&tab, addr_hash(k)) > LIMIT)
			fail("proc %u: address %u count %u over %u\n", me, k,
			     cl_count(&tab, addr_hash(k)), LIMIT);
		return;
	case CL_FULL:
		fail("proc %u: address %u found its bucket full\n", me, k);
		break;
	case CL_BUSY:
		return;		/* only while a killed process holds a claim */
	}
}

static void step(unsigned me, uint64_t *x, struct conns *c, bool tally)
{
	uint64_t r = stress_rnd(x);
	unsigned k = (unsigned)(r % KEYS);

	if (c->n[k] && (c->n[k] == HOLD_MAX || (r >> 32) & 1))
		close_one(me, c, k, tally);
	else
		open_one(me, c, k, tally);
}

static void close_all(unsigned me, struct conns *c, bool tally)
{
	for (unsigned k = 0; k < KEYS; k++)
		while (c->n[k])
			close_one(me, c, k, tally);
}

static void barrier(unsigned n)
{
	if (stress_barrier_wait(&s->bar, n, &s->stop) < 0)
		_exit(T_EXIT_FAIL);
}

static void audit_empty(const char *when, unsigned round)
{
	struct cl__audit a;

	cl__audit(&tab, &a);
	if (a.counted || a.rows || a.mismatched || a.claims || a.intents || a.bad_empty) {
		fprintf(stderr, "%s %u: counted %llu rows %llu mismatched %u claims %u intents %u "
			"bad %u\n", when, round, (unsigned long long)a.counted,
			(unsigned long long)a.rows, a.mismatched, a.claims, a.intents, a.bad_empty);
		exit(T_EXIT_FAIL);
	}
}

/* ---- (a) ---- */

static void a_proc(unsigned me)
{
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15) * (me + 1);
	struct conns c = { 0 };

	for (unsigned round = 0; round < A_ROUNDS; round++) {
		barrier(NPROC + 1);
		for (unsigned i = 0; i < A_ITERS && !stress_stopped(&s->stop); i++)
			step(me, &x, &c, true);
		close_all(me, &c, true);
		barrier(NPROC + 1);
	}
	_exit(T_EXIT_PASS);
}

static void phase_a(void)
{
	pid_t pids[NPROC];

	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (!pids[i])
			a_proc(i);
	}
	for (unsigned round = 0; round < A_ROUNDS; round++) {
		barrier(NPROC + 1);
		barrier(NPROC + 1);
		audit_empty("phase a, round", round);
	}
	for (unsigned i = 0; i < NPROC; i++)
		CHECK_INT(stress_reap(pids[i], NULL), 0);
}

/* ---- (b) ---- */

static void b_proc(unsigned me)
{
	unsigned got = 0;
	uint32_t h;

	barrier(NPROC);
	for (unsigned i = 0; i < B_TRIES; i++) {
		enum cl_verdict v = cl_acquire(&tab, me, addr_hash(1), B_LIMIT, &h);

		/* Busy: a holder was preempted; nobody dies in this phase. */
		for (unsigned n = 0; v == CL_BUSY && n < 100000u; n++) {
			sched_yield();
			v = cl_acquire(&tab, me, addr_hash(1), B_LIMIT, &h);
		}
		if (v == CL_ADMIT)
			got++;
		else if (v != CL_OVER)
			fail("proc %u: verdict %u at try %u\n", me, v, i);
	}
	/* Relaxed: summed after waitpid(). */
	atomic_fetch_add_explicit(&s->b_admitted, got, memory_order_relaxed);
	_exit(T_EXIT_PASS);
}

static void phase_b(void)
{
	pid_t pids[NPROC];

	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (!pids[i])
			b_proc(i);
	}
	for (unsigned i = 0; i < NPROC; i++)
		CHECK_INT(stress_reap(pids[i], NULL), 0);
	CHECK_INT(atomic_load_explicit(&s->b_admitted, memory_order_relaxed), B_LIMIT);
	CHECK_INT(cl_count(&tab, addr_hash(1)), B_LIMIT);
	/* The processes exited holding them: repair gives them all back. */
	for (unsigned i = 0; i < NPROC; i++)
		CHECK_INT(cl_repair_master(&tab, i), 0);
	audit_empty("phase b", 0);
}

/* ---- (c) ---- */

static void c_proc(unsigned me)
{
	uint64_t x = UINT64_C(0xD1B54A32D192ED03) * (me + 1) + (uint64_t)getpid();
	struct conns c = { 0 };

	barrier(NPROC);
	if (s->victims & (1u << me)) {
		for (;;) {
			step(me, &x, &c, false);
			/* Relaxed: a progress hint for the killer. */
			atomic_fetch_add_explicit(&s->ops[me], 1, memory_order_relaxed);
		}
	}
	for (unsigned i = 0; i < C_SURVIVOR_OPS && !stress_stopped(&s->stop); i++)
		step(me, &x, &c, false);
	/* Park: publish what we hold, let the parent audit. */
	for (unsigned k = 0; k < KEYS; k++)
		/* Relaxed: the barrier's acq_rel publishes it. */
		atomic_store_explicit(&s->held[me][k], c.n[k], memory_order_relaxed);
	barrier(NPROC - __builtin_popcount(s->victims) + 1);
	barrier(NPROC - __builtin_popcount(s->victims) + 1);
	close_all(me, &c, false);
	_exit(T_EXIT_PASS);
}

static void kill_and_repair(pid_t pid, unsigned v, uint64_t target)
{
	int status;

	/* Relaxed: a progress counter. */
	while (atomic_load_explicit(&s->ops[v], memory_order_relaxed) < target) {
		if (stress_stopped(&s->stop) || waitpid(pid, &status, WNOHANG) != 0) {
			fprintf(stderr, "victim %u stopped before being killed\n", v);
			exit(T_EXIT_FAIL);
		}
		sched_yield();
	}
	CHECK_INT(kill(pid, SIGKILL), 0);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_INT(cl_repair_master(&tab, v), 0);
}

/* Survivors parked: each slot's count is their rows', each row what they hold. */
static void check_parked(unsigned round)
{
	struct cl__audit a;
	uint64_t want = 0;

	for (unsigned w = 0; w < NPROC; w++)
		for (unsigned k = 0; k < KEYS; k++)
			want += atomic_load_explicit(&s->held[w][k], memory_order_relaxed);
	cl__audit(&tab, &a);
	if (a.mismatched || a.claims || a.intents || a.bad_empty || a.counted != want ||
	    a.rows != want) {
		fprintf(stderr, "phase c round %u: counted %llu rows %llu want %llu mismatched %u "
			"claims %u intents %u\n", round, (unsigned long long)a.counted,
			(unsigned long long)a.rows, (unsigned long long)want, a.mismatched,
			a.claims, a.intents);
		exit(T_EXIT_FAIL);
	}
	for (unsigned k = 0; k < KEYS; k++) {
		unsigned sum = 0;

		for (unsigned w = 0; w < NPROC; w++)
			sum += atomic_load_explicit(&s->held[w][k], memory_order_relaxed);
		CHECK_INT(cl_count(&tab, addr_hash(k)), sum);
	}
}

static void phase_c(void)
{
	uint64_t x = UINT64_C(0x2545F4914F6CDD1D);

	for (unsigned round = 0; round < C_ROUNDS && !check_failures; round++) {
		pid_t pids[NPROC];

		memset((void *)s->held, 0, sizeof(s->held));
		for (unsigned i = 0; i < NPROC; i++)
			atomic_store_explicit(&s->ops[i], 0, memory_order_relaxed);
		s->victims = 0;
		while (__builtin_popcount(s->victims) != NPROC / 2)
			s->victims |= 1u << (stress_rnd(&x) % NPROC);
		for (unsigned i = 0; i < NPROC; i++) {
			pids[i] = stress_fork(i);
			if (!pids[i])
				c_proc(i);
		}
		for (unsigned i = 0; i < NPROC; i++)
			if (s->victims & (1u << i))
				kill_and_repair(pids[i], i, 1 + stress_rnd(&x) % C_KILL_MAX_OPS);
		barrier(NPROC / 2 + 1);
		check_parked(round);
		barrier(NPROC / 2 + 1);
		for (unsigned i = 0; i < NPROC; i++)
			if (!(s->victims & (1u << i)))
				CHECK_INT(stress_reap(pids[i], NULL), 0);
		audit_empty("phase c, round", round);
	}
}

int main(void)
{
	size_t size = cl_region_size(BUCKETS, N_IDS);

	stress_mask_init();
	stress_alarm("connlimit_stress: timed out", ALARM_S);
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || region == MAP_FAILED) {
		perror("mmap");
		return T_EXIT_FAIL;
	}
	cl_format_master(region, BUCKETS, N_IDS);
	if (cl_attach(&tab, region, size) < 0)
		return T_EXIT_FAIL;
	phase_a();
	if (!check_failures)
		phase_b();
	if (!check_failures)
		phase_c();
	return CHECK_EXIT();
}
