/* shm/inst.c across processes (STYLE §16): forked processes, each one
 * worker id, pinned round-robin inside the inherited affinity mask and
 * started on a barrier, share one instance table in a MAP_SHARED mapping.
 * Every check is exact and stops at the first mismatch, printing both
 * values:
 *
 *  (a) in-flight sums. NPROC workers take and give back requests on random
 *      slots (each keeping its own tally) while a reader process sums
 *      inst_inflight() for every slot without pause. Each worker publishes,
 *      per slot, four monotonic counters around each row update: acquires
 *      begun / ended, releases begun / ended (see take() and the proof at
 *      check_bounds()). Whatever the interleaving, every sum the reader sees
 *      must lie in [sum(acq_end - rel_begin), sum(acq_begin - rel_end)],
 *      read before / after the sum; a lost update, a torn row, or a field
 *      wrapping would leave that interval. At the end of every round the
 *      workers publish their tallies and park on a barrier, and the reader
 *      checks each row (as a difference of prefix sums over n_ids) and each
 *      slot's total equal the tallies exactly; the last round drains to 0.
 *
 *  (b) repair after death. Every round, NPROC workers take half-open probe
 *      tickets (brk_allow, then inst_probe_add, as the breaker contract
 *      says) and requests in flight on random slots; half of them, chosen
 *      at random, are SIGKILLed at random points while the others keep
 *      running; the parent reaps each and runs inst_repair_worker_master()
 *      for its id. With the survivors parked, each breaker's probe count
 *      must equal the tickets the survivors hold plus what a kill inside
 *      the documented window leaked (see check_repaired()), and in-flight
 *      must equal the survivors' requests exactly; after the survivors give
 *      everything back, exactly the leak must remain.
 *
 * Runs in about two seconds on 2 CPUs; every loop is bounded except the
 * victims', which the parent kills, and alarm() fails the test if
 * anything hangs. Nothing is timed. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/inst.h"
#include "tests/unit/check.h"
#include "tests/unit/shm/stress.h"

#define NPROC		8u	/* worker processes, ids 0..NPROC-1 */
#define N_IDS		16u	/* rows in the table: NPROC..N_IDS-1 stay unused */
#define SLOTS		16u
#define ALARM_S		30

#define A_ROUNDS	20u
#define A_ITERS		20000u	/* take/give steps per worker and round */
#define A_SLOT_CAP	200u	/* requests one worker holds on one slot */

#define B_ROUNDS	40u
#define B_CAP		3u	/* probes= of every breaker */
#define B_HOLD_MAX	4u	/* tickets one worker holds at once */
#define B_SLOT_CAP	50u	/* requests one worker holds on one slot */
#define B_SURVIVOR_OPS	5000u
#define B_KILL_MAX_OPS	4000u	/* a victim dies within its first this many ops */
#define B_T0		777000u	/* segment clock when the breakers open, ms */

static const struct brk_policy b_policy = {
	.mode = BRK_MODE_FAILURES, .failures = 1, .window_ms = 1000,
	.open_ms = 100, .max_open_ms = 100, .probes = B_CAP,
};
#define B_NOW		(B_T0 + 100u)	/* open period over: probes only */

/* One worker's bounds counters for (a): single writer, read by the reader
 * with the fences described at take() and check_bounds(). */
struct a_ctr {
	_Atomic uint64_t acq_begin[SLOTS], acq_end[SLOTS];
	_Atomic uint64_t rel_begin[SLOTS], rel_end[SLOTS];
} __attribute__((aligned(64)));

/* One worker in (b). ops and pending are written by the worker and read
 * by the parent (ops while it runs, pending after reaping it); held and
 * inflight are published by a survivor before it parks. */
struct b_proc {
	_Atomic uint64_t ops;
	_Atomic unsigned pending;		/* slot + 1 inside a probe window, else 0 */
	_Atomic unsigned held[SLOTS];		/* probe tickets held */
	_Atomic unsigned inflight[SLOTS];	/* requests held */
} __attribute__((aligned(64)));

struct stress_sh {
	_Alignas(64) struct stress_barrier bar;	/* the processes of a phase */
	_Atomic unsigned failed;			/* set by the first process to fail */
	_Alignas(64) _Atomic unsigned done;		/* (a) workers through this round */
	_Atomic uint64_t sums_checked;			/* (a) reader's bound checks */
	_Alignas(64) _Atomic unsigned parked;		/* (b) survivors holding still */
	_Alignas(64) unsigned tally[NPROC][SLOTS];	/* (a) per round, published */
	struct a_ctr ctr[NPROC];
	struct b_proc bp[NPROC];
};

static struct stress_sh *s;
static struct inst_table tab;

static bool stopped(void)
{
	return stress_stopped(&s->failed);
}

/* First mismatch in a child: say what, with both values, and stop everyone. */
static void fail(const char *who, unsigned me, const char *what, unsigned slot, long long got,
		 long long want)
{
	stress_fail(&s->failed, "%s %u: %s, slot %u: got %lld, want %lld\n", who, me, what, slot,
		    got, want);
}

/* All <parties> processes wait here for each other; a failed one stops us. */
static void barrier_wait(unsigned parties)
{
	if (stress_barrier_wait(&s->bar, parties, &s->failed) < 0)
		_exit(T_EXIT_FAIL);
}

/* A single-writer counter: relaxed load and store, as the rows are. */
static void bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Process <i> running <fn>(<i>), pinned, dying with us. */
static pid_t spawn(unsigned i, void (*fn)(unsigned))
{
	pid_t pid = stress_fork(i);

	if (pid == 0) {
		fn(i);
		_exit(T_EXIT_PASS);
	}
	return pid;
}

/* ---- (a) in-flight sums ---- */

/* One request taken on <slot>. Release fences: the acq_begin bump is
 * ordered before the row store, and the row store before the acq_end bump,
 * for a reader that uses acquire fences (check_bounds()). */
static void take(unsigned me, unsigned slot)
{
	bump(&s->ctr[me].acq_begin[slot]);
	atomic_thread_fence(memory_order_release);
	inst_inflight_add(&tab, me, slot, 1);
	atomic_thread_fence(memory_order_release);
	bump(&s->ctr[me].acq_end[slot]);
}

/* One request given back on <slot>; fences as in take(). */
static void give(unsigned me, unsigned slot)
{
	bump(&s->ctr[me].rel_begin[slot]);
	atomic_thread_fence(memory_order_release);
	inst_inflight_add(&tab, me, slot, -1);
	atomic_thread_fence(memory_order_release);
	bump(&s->ctr[me].rel_end[slot]);
}

/* The reader, while the workers run. Why the interval is exact: the row
 * value a load of worker w's word returns is (acquires stored - releases
 * stored) up to the store it reads, X. The reader's first loads see
 * acq_end = ae and rel_end = re: by fence synchronisation (worker: row
 * store; release fence; bump / reader: load; acquire fence; row load) those
 * ae acquire stores and re release stores happen before the row load, so X
 * is at or after all of them. Its last loads, after an acquire fence, see
 * acq_begin = ab and rel_begin = rb: the bumps before X (worker: bump;
 * release fence; X) are visible there. Hence ae - rb <= value <= ab - re
 * for each row, and the sum of the rows lies between the sums. */
static void check_bounds(unsigned slot)
{
	uint64_t ae[NPROC], re[NPROC];
	long long lo = 0, hi = 0;
	unsigned v;

	for (unsigned w = 0; w < NPROC; w++) {
		/* Relaxed, then the acquire fence below (see above). */
		ae[w] = atomic_load_explicit(&s->ctr[w].acq_end[slot], memory_order_relaxed);
		re[w] = atomic_load_explicit(&s->ctr[w].rel_end[slot], memory_order_relaxed);
	}
	atomic_thread_fence(memory_order_acquire);
	v = inst_inflight(&tab, slot, N_IDS);
	atomic_thread_fence(memory_order_acquire);
	for (unsigned w = 0; w < NPROC; w++) {
		/* Relaxed: after the acquire fence above. */
		uint64_t ab = atomic_load_explicit(&s->ctr[w].acq_begin[slot], memory_order_relaxed);
		uint64_t rb = atomic_load_explicit(&s->ctr[w].rel_begin[slot], memory_order_relaxed);

		lo += (long long)ae[w] - (long long)rb;
		hi += (long long)ab - (long long)re[w];
	}
	if ((long long)v < lo)
		fail("reader", NPROC, "in-flight sum below the acquires ended", slot, v, lo);
	if ((long long)v > hi)
		fail("reader", NPROC, "in-flight sum above the acquires begun", slot, v, hi);
}

/* The reader, with every worker parked on the barrier after publishing. */
static void check_exact(void)
{
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		unsigned sum = 0;

		for (unsigned w = 0; w < NPROC; w++) {
			unsigned row = inst_inflight(&tab, slot, w + 1) - inst_inflight(&tab, slot, w);
			const struct a_ctr *c = &s->ctr[w];
			/* Relaxed: the barrier ordered the worker's stores. */
			uint64_t acq = atomic_load_explicit(&c->acq_end[slot], memory_order_relaxed);
			uint64_t rel = atomic_load_explicit(&c->rel_end[slot], memory_order_relaxed);

			if (row != s->tally[w][slot])
				fail("reader", NPROC, "a worker's row", slot, row, s->tally[w][slot]);
			if (acq - rel != s->tally[w][slot])
				fail("reader", NPROC, "acquires - releases", slot,
				     (long long)(acq - rel), s->tally[w][slot]);
			sum += row;
		}
		if (inst_inflight(&tab, slot, NPROC) != sum)
			fail("reader", NPROC, "in-flight over the workers", slot,
			     inst_inflight(&tab, slot, NPROC), sum);
		if (inst_inflight(&tab, slot, N_IDS) != sum)
			fail("reader", NPROC, "in-flight over every id", slot,
			     inst_inflight(&tab, slot, N_IDS), sum);
	}
}

static void a_worker(unsigned me)
{
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15) * (me + 1);
	unsigned mine[SLOTS] = { 0 };

	for (unsigned r = 0; r < A_ROUNDS; r++) {
		barrier_wait(NPROC + 1);
		for (unsigned i = 0; i < A_ITERS; i++) {
			uint64_t v = stress_rnd(&x);
			unsigned slot = (unsigned)(v % SLOTS);
			/* Lean towards taking early on, towards giving later. */
			bool want_take = (v >> 16) % A_ROUNDS >= r;

			if (want_take && mine[slot] < A_SLOT_CAP) {
				take(me, slot);
				mine[slot]++;
			} else if (mine[slot] > 0) {
				give(me, slot);
				mine[slot]--;
			}
		}
		if (r == A_ROUNDS - 1)
			for (unsigned slot = 0; slot < SLOTS; slot++)
				for (; mine[slot] > 0; mine[slot]--)
					give(me, slot);
		memcpy(s->tally[me], mine, sizeof(mine));
		/* Release: the reader's acquire of done sees the round over. */
		atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
		barrier_wait(NPROC + 1);	/* the reader checks, we hold still */
		barrier_wait(NPROC + 1);
	}
}

static void a_reader(unsigned me)
{
	uint64_t checks = 0;
	unsigned slot = 0;

	(void)me;
	for (unsigned r = 0; r < A_ROUNDS; r++) {
		barrier_wait(NPROC + 1);
		/* Acquire: pairs with the workers' release increments. */
		while (atomic_load_explicit(&s->done, memory_order_acquire) < NPROC) {
			if (stopped())
				_exit(T_EXIT_FAIL);
			check_bounds(slot);
			slot = (slot + 1) % SLOTS;
			checks++;
		}
		barrier_wait(NPROC + 1);
		check_exact();
		/* Relaxed: the next barrier publishes it. */
		atomic_store_explicit(&s->done, 0, memory_order_relaxed);
		barrier_wait(NPROC + 1);
	}
	/* Relaxed: read by the parent after waitpid(). */
	atomic_store_explicit(&s->sums_checked, checks, memory_order_relaxed);
}

static void a_process(unsigned i)
{
	if (i < NPROC)
		a_worker(i);
	else
		a_reader(i);
}

static void phase_sums(void)
{
	pid_t pids[NPROC + 1];
	int rc = 0;

	for (unsigned i = 0; i <= NPROC; i++)
		pids[i] = spawn(i, a_process);
	for (unsigned i = 0; i <= NPROC; i++)
		rc |= stress_reap(pids[i], NULL);
	CHECK_INT(rc, 0);
	if (rc)
		return;
	for (unsigned slot = 0; slot < SLOTS; slot++)
		CHECK_INT(inst_inflight(&tab, slot, N_IDS), 0);
	/* Relaxed: the reader was reaped. */
	printf("(a) %u rounds x %u steps x %u workers; %llu concurrent sums in bounds\n",
	       A_ROUNDS, A_ITERS, NPROC,
	       (unsigned long long)atomic_load_explicit(&s->sums_checked, memory_order_relaxed));
}

/* ---- (b) repair after death ---- */

static unsigned held_total(const unsigned held[SLOTS])
{
	unsigned n = 0;

	for (unsigned slot = 0; slot < SLOTS; slot++)
		n += held[slot];
	return n;
}

/* Take a probe ticket on <slot>, the way a worker must: brk_allow, then
 * record it in our row. <pending> marks the window for the parent. */
static void probe_take(unsigned me, unsigned slot, unsigned held[SLOTS])
{
	struct b_proc *p = &s->bp[me];
	enum brk_ticket t;

	/* Seq_cst: before the granting CAS in any order anyone sees (the
	 * parent reads it only after reaping us, so this is belt and braces). */
	atomic_store_explicit(&p->pending, slot + 1, memory_order_seq_cst);
	t = brk_allow(inst_breaker(&tab, slot), &b_policy, B_NOW);
	if (t == BRK_PROBE) {
		inst_probe_add(&tab, me, slot, 1);
		held[slot]++;
	} else if (t != BRK_DENIED) {
		fail("worker", me, "ticket from a half-open breaker", slot, t, BRK_PROBE);
	}
	/* Release: after the recording store. */
	atomic_store_explicit(&p->pending, 0, memory_order_release);
}

/* Give one back: clear our record, then cancel. */
static void probe_give(unsigned me, unsigned slot, unsigned held[SLOTS])
{
	struct b_proc *p = &s->bp[me];

	/* Seq_cst, release: as in probe_take(). */
	atomic_store_explicit(&p->pending, slot + 1, memory_order_seq_cst);
	inst_probe_add(&tab, me, slot, -1);
	brk_cancel(inst_breaker(&tab, slot), BRK_PROBE);
	held[slot]--;
	atomic_store_explicit(&p->pending, 0, memory_order_release);
}

static void b_step(unsigned me, uint64_t *x, unsigned held[SLOTS], unsigned infl[SLOTS])
{
	uint64_t v = stress_rnd(x);
	unsigned slot = (unsigned)(v % SLOTS);

	switch ((v >> 8) % 4) {
	case 0:
		if (infl[slot] < B_SLOT_CAP) {
			inst_inflight_add(&tab, me, slot, 1);
			infl[slot]++;
		}
		break;
	case 1:
		if (infl[slot] > 0) {
			inst_inflight_add(&tab, me, slot, -1);
			infl[slot]--;
		}
		break;
	case 2:
		if (held_total(held) < B_HOLD_MAX)
			probe_take(me, slot, held);
		break;
	default:
		if (held[slot] > 0)
			probe_give(me, slot, held);
		break;
	}
	bump(&s->bp[me].ops);
}

/* (b) The parent holds the write end of this pipe while it checks the
 * parked survivors and closes it to let them go: they sleep in read()
 * instead of spinning, so the victims and the dying keep the CPUs. */
static int release_pipe[2];

static void wait_release(void)
{
	char c;

	/* The parent's close() happens before our read() sees EOF. */
	while (read(release_pipe[0], &c, 1) != 0)
		if (stopped())
			_exit(T_EXIT_FAIL);
}

/* A survivor: run, publish what it holds, park, then give it all back. */
static void b_survivor(unsigned me, uint64_t *x, unsigned held[SLOTS], unsigned infl[SLOTS])
{
	struct b_proc *p = &s->bp[me];

	for (unsigned i = 0; i < B_SURVIVOR_OPS; i++)
		b_step(me, x, held, infl);
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		/* Relaxed: published by the release increment of parked. */
		atomic_store_explicit(&p->held[slot], held[slot], memory_order_relaxed);
		atomic_store_explicit(&p->inflight[slot], infl[slot], memory_order_relaxed);
	}
	/* Release: pairs with the parent's acquire poll of parked. */
	atomic_fetch_add_explicit(&s->parked, 1, memory_order_release);
	wait_release();
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		while (held[slot] > 0)
			probe_give(me, slot, held);
		inst_inflight_add(&tab, me, slot, -(int)infl[slot]);
	}
}

static uint32_t victim_mask;

static void b_worker(unsigned me)
{
	uint64_t x = UINT64_C(0xD1B54A32D192ED03) * (me + 1) + (uint64_t)getpid();
	unsigned held[SLOTS] = { 0 }, infl[SLOTS] = { 0 };

	close(release_pipe[1]);
	barrier_wait(NPROC);
	if (victim_mask & (1u << me))
		for (;;)
			b_step(me, &x, held, infl);	/* until the parent kills us */
	b_survivor(me, &x, held, infl);
}

/* Wait until victim <v> has done <target> ops (or stopped early), kill it,
 * reap it and repair its row. Returns the slot it died in a probe window
 * on, plus one, or 0. */
static unsigned kill_and_repair(pid_t pid, unsigned v, uint64_t target)
{
	int status;

	/* Relaxed: a progress counter; any recent value will do. */
	while (atomic_load_explicit(&s->bp[v].ops, memory_order_relaxed) < target) {
		if (stopped() || waitpid(pid, &status, WNOHANG) != 0) {
			fprintf(stderr, "victim %u stopped before being killed\n", v);
			exit(T_EXIT_FAIL);
		}
		sched_yield();
	}
	CHECK_INT(kill(pid, SIGKILL), 0);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	inst_repair_worker_master(&tab, v);
	/* Relaxed: waitpid() ordered everything the victim did. */
	return atomic_load_explicit(&s->bp[v].pending, memory_order_relaxed);
}

static unsigned brk_probes(unsigned slot)
{
	struct brk_view v;

	brk_read(inst_breaker(&tab, slot), &b_policy, &v);
	return v.probes;
}

/* With the survivors parked: in-flight is exact; each breaker counts the
 * survivors' tickets plus a leak. The leak: a victim killed between the
 * granting CAS in brk_allow() and its inst_probe_add(), or between its
 * inst_probe_add(-1) and brk_cancel(), holds a ticket its row does not
 * show, which repair cannot return (shm/inst.c and shm/breaker.c document
 * this window). pending says which slot such a victim was in, so the
 * exact bound is 0 <= leak <= victims that died pending on the slot;
 * recording first and allowing after would only turn the leak into an
 * over-release of the same size. Stores <excess> for the final check. */
static void check_repaired(const unsigned window[SLOTS], int excess[SLOTS])
{
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		unsigned live = 0, infl = 0;

		for (unsigned w = 0; w < NPROC; w++) {
			unsigned row = inst_inflight(&tab, slot, w + 1) - inst_inflight(&tab, slot, w);
			/* Relaxed: published by the survivors' release of parked. */
			unsigned held = atomic_load_explicit(&s->bp[w].held[slot], memory_order_relaxed);
			unsigned in = atomic_load_explicit(&s->bp[w].inflight[slot], memory_order_relaxed);

			if (victim_mask & (1u << w)) {
				CHECK_INT(row, 0);	/* repaired: zero */
				continue;
			}
			CHECK_INT(row, in);
			live += held;
			infl += in;
		}
		CHECK_INT(inst_inflight(&tab, slot, N_IDS), infl);
		excess[slot] = (int)brk_probes(slot) - (int)live;
		if (excess[slot] < 0 || excess[slot] > (int)window[slot])
			fprintf(stderr, "slot %u: breaker probes %u, survivors hold %u, %u victims "
				"died in the window\n", slot, brk_probes(slot), live, window[slot]);
		CHECK(excess[slot] >= 0);
		CHECK(excess[slot] <= (int)window[slot]);
	}
}

static void b_round_reset(void)
{
	memset(s->bp, 0, sizeof(s->bp));
	/* Relaxed: no child exists yet; fork() orders these. */
	atomic_store_explicit(&s->parked, 0, memory_order_relaxed);
	if (pipe2(release_pipe, O_CLOEXEC) < 0) {
		perror("pipe2() failed");
		exit(T_EXIT_FAIL);
	}
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		brk_init(inst_breaker(&tab, slot));
		brk_force_open(inst_breaker(&tab, slot), B_T0);
	}
}

/* NPROC / 2 distinct ids, at random. */
static uint32_t pick_victims(uint64_t *x)
{
	uint32_t mask = 0;

	while ((unsigned)__builtin_popcount(mask) < NPROC / 2)
		mask |= 1u << (stress_rnd(x) % NPROC);
	return mask;
}

/* One round; adds to the kill statistics. */
static void b_round(uint64_t *x, unsigned *in_window, unsigned *leaked)
{
	unsigned window[SLOTS] = { 0 }, order[NPROC];
	int excess[SLOTS];
	pid_t pids[NPROC];
	int rc = 0;

	b_round_reset();
	victim_mask = pick_victims(x);
	for (unsigned i = 0; i < NPROC; i++)
		pids[i] = spawn(i, b_worker);
	/* Kill the victims in a random order, each at a random point. */
	for (unsigned i = 0; i < NPROC; i++)
		order[i] = i;
	for (unsigned i = NPROC - 1; i > 0; i--) {
		unsigned j = (unsigned)(stress_rnd(x) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < NPROC; i++) {
		unsigned v = order[i], pend;

		if (!(victim_mask & (1u << v)))
			continue;
		pend = kill_and_repair(pids[v], v, 1 + stress_rnd(x) % B_KILL_MAX_OPS);
		pids[v] = 0;
		if (pend) {
			CHECK(pend <= SLOTS);
			window[(pend - 1) % SLOTS]++;
			(*in_window)++;
		}
	}
	/* Acquire: pairs with each survivor's release increment. */
	while (atomic_load_explicit(&s->parked, memory_order_acquire) < NPROC / 2) {
		if (stopped())
			exit(T_EXIT_FAIL);
		sched_yield();
	}
	check_repaired(window, excess);
	close(release_pipe[1]);			/* the survivors give everything back */
	for (unsigned w = 0; w < NPROC; w++)
		if (pids[w])
			rc |= stress_reap(pids[w], NULL);
	close(release_pipe[0]);
	CHECK_INT(rc, 0);
	/* Everything given back: exactly the leak is left, nothing in flight;
	 * repairing a clean row changes nothing. */
	for (unsigned w = 0; w < NPROC; w++)
		if (!(victim_mask & (1u << w)))
			inst_repair_worker_master(&tab, w);
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		CHECK_INT(brk_probes(slot), excess[slot]);
		CHECK_INT(inst_inflight(&tab, slot, N_IDS), 0);
		*leaked += (unsigned)(excess[slot] > 0 ? excess[slot] : 0);
		/* The documented recovery for a leaked slot. */
		brk_force_close(inst_breaker(&tab, slot), B_NOW);
		CHECK_INT(brk_probes(slot), 0);
	}
}

static void phase_repair(void)
{
	uint64_t x = 0x243F6A8885A308D3ull;
	unsigned in_window = 0, leaked = 0, r;

	for (r = 0; r < B_ROUNDS && !check_failures; r++)
		b_round(&x, &in_window, &leaked);
	printf("(b) %u rounds, %u kills: %u inside a probe window, %u tickets leaked there\n",
	       r, r * (NPROC / 2), in_window, leaked);
}

int main(void)
{
	size_t size = inst_region_size(SLOTS, N_IDS);
	void *mem;

	(void)stress_mask_init();	/* unreadable: the mask is empty, nobody is pinned */
	stress_alarm("inst_stress: timed out", ALARM_S);
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || mem == MAP_FAILED) {
		perror("mmap() failed");
		return T_EXIT_FAIL;
	}
	/* An anonymous mapping starts zeroed: counters and barrier are ready. */
	inst_format_master(mem, SLOTS, N_IDS);
	CHECK_INT(inst_attach(&tab, mem, size), 0);
	setvbuf(stdout, NULL, _IONBF, 0);	/* children never print to stdout */

	phase_sums();
	if (check_failures)
		return CHECK_EXIT();
	phase_repair();
	munmap(mem, size);
	munmap(s, sizeof(*s));
	return CHECK_EXIT();
}
