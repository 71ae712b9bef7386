/* shm/breaker.c across processes: NPROC forked processes, pinned round-robin
 * inside the inherited affinity mask and started on a barrier, hammer one
 * breaker word in a MAP_SHARED anonymous mapping. Each phase checks an
 * exact invariant and stops at the first mismatch, printing both values:
 *  (a) concurrent failures on a closed breaker trip it exactly once (or
 *      never, when they fall short), and no counted failure is lost;
 *  (b) under random allow/report/cancel traffic with time moving through
 *      many open periods, probe tickets outstanding never exceed the cap,
 *      trips and closes alternate, and no probe slot is left at the end;
 *  (c) children killed by SIGKILL while holding probes: releasing the
 *      counts they recorded (as the master will) frees exactly those slots.
 * alarm() fails the whole test if anything hangs. */
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/breaker.h"
#include "tests/unit/check.h"
#include "tests/unit/shm/stress.h"

#define NPROC		8
#define ALARM_S		20		/* the test takes well under a second */
#define A_ROUNDS	2000
#define A_FAILS		16		/* failures each process reports per round */
#define A_T0		(UINT32_MAX - 1000u)	/* round times cross the wrap */
#define B_ITERS		50000		/* allow calls per process */
#define B_CAP		3
#define B_T0		(UINT32_MAX - 50000u)	/* the shared clock wraps mid-run */
#define C_CAP		4
#define C_T0		123456u

/* Everything the processes share. Fields written by all processes sit on
 * their own cache lines so the stress is on the breaker, not false sharing. */
struct stress_sh {
	_Alignas(64) struct brk_sh brk;
	_Alignas(64) struct stress_barrier bar;	/* all NPROC processes */
	_Atomic unsigned failed;			/* set by the first process to fail */
	_Alignas(64) _Atomic unsigned trips;		/* (a): BRK_EV_TRIPPED this round */
	_Alignas(64) _Atomic uint32_t clock;		/* (b): the shared now, ms */
	_Alignas(64) _Atomic unsigned probes_out;	/* (b): PROBE tickets held */
	_Alignas(64) _Atomic unsigned events[4];	/* (b): brk_report results by event */
	_Atomic unsigned probes_granted, cap_hits;	/* (b) */
	_Alignas(64) _Atomic unsigned ready;		/* (c): children holding what they got */
	_Atomic unsigned held[NPROC];			/* (c): probe tickets per child */
};

/* First mismatch: say what, with both values, and make everyone stop. */
static void fail(struct stress_sh *s, unsigned me, const char *what, long long got, long long want)
{
	stress_fail(&s->failed, "process %u: %s: got %lld, want %lld\n", me, what, got, want);
}

/* All NPROC processes wait here for each other; a failed one stops us. */
static void barrier_wait(struct stress_sh *s)
{
	if (stress_barrier_wait(&s->bar, NPROC, &s->failed) < 0)
		_exit(T_EXIT_FAIL);
}

/* Fork NPROC children running <fn>; 0 when all exited 0. */
static int run_children(struct stress_sh *s, void (*fn)(struct stress_sh *, unsigned))
{
	pid_t pids[NPROC];
	int rc = 0;

	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (pids[i] == 0) {
			fn(s, i);
			_exit(T_EXIT_PASS);
		}
	}
	for (unsigned i = 0; i < NPROC; i++)
		if (stress_reap(pids[i], NULL) < 0)
			rc = -1;
	return rc;
}

/* ---- (a) exactly one trip ---- */

/* Round <r>'s policy: both modes, thresholds on both sides of the
 * NPROC * A_FAILS failures the round reports, including exactly it. */
static struct brk_policy trip_policy(unsigned r)
{
	unsigned n = 1 + r % (NPROC * A_FAILS + 8);
	struct brk_policy p = {
		.window_ms = 10000, .open_ms = 1000, .max_open_ms = 8000, .probes = 1,
	};

	if (r % 2) {
		p.mode = BRK_MODE_RATIO;	/* all failures: trips at min_requests */
		p.ratio_pct = 50;
		p.min_requests = n;
	} else {
		p.mode = BRK_MODE_FAILURES;
		p.failures = n;
	}
	return p;
}

/* Process 0, between rounds, while everyone else waits at the barrier. */
static void check_round(struct stress_sh *s, const struct brk_policy *p, uint32_t now)
{
	unsigned total = NPROC * A_FAILS;
	unsigned n = p->mode == BRK_MODE_RATIO ? p->min_requests : p->failures;
	bool want_trip = total >= n;
	struct brk_view v;

	/* Relaxed: the barrier ordered every increment before this load. */
	unsigned trips = atomic_load_explicit(&s->trips, memory_order_relaxed);

	if (trips != (want_trip ? 1u : 0u))
		fail(s, 0, "trips in one round", trips, want_trip);
	brk_read(&s->brk, p, &v);
	if (v.state != (want_trip ? BRK_OPEN : BRK_CLOSED))
		fail(s, 0, "state after the round", v.state, want_trip ? BRK_OPEN : BRK_CLOSED);
	if (!want_trip && v.failures != total)
		fail(s, 0, "failures counted", v.failures, total);
	if (!want_trip && p->mode == BRK_MODE_RATIO && v.requests != total)
		fail(s, 0, "requests counted", v.requests, total);
	/* Relaxed: the next barrier publishes it. */
	atomic_store_explicit(&s->trips, 0, memory_order_relaxed);
	brk_force_close(&s->brk, now);
}

static void phase_trips(struct stress_sh *s, unsigned me)
{
	for (unsigned r = 0; r < A_ROUNDS; r++) {
		struct brk_policy p = trip_policy(r);
		uint32_t now = A_T0 + r * 7;		/* within the window of the last close */

		barrier_wait(s);
		for (unsigned k = 0; k < A_FAILS; k++) {
			enum brk_event ev = brk_report(&s->brk, &p, BRK_PASS, true, now);

			if (ev == BRK_EV_TRIPPED)
				/* Relaxed: a counter read after a barrier. */
				atomic_fetch_add_explicit(&s->trips, 1, memory_order_relaxed);
			else if (ev != BRK_EV_NONE)
				fail(s, me, "event of a PASS report", ev, BRK_EV_NONE);
		}
		barrier_wait(s);
		if (me == 0)
			check_round(s, &p, now);
	}
}

/* ---- (b) the probe cap ---- */

static const struct brk_policy probe_policy = {
	.mode = BRK_MODE_FAILURES, .failures = 3, .window_ms = 50,
	.open_ms = 20, .max_open_ms = 160, .probes = B_CAP,
};

static void count_event(struct stress_sh *s, enum brk_event ev)
{
	/* Relaxed: counters summed by the parent after waitpid(). */
	atomic_fetch_add_explicit(&s->events[ev], 1, memory_order_relaxed);
}

/* We hold a PROBE ticket: count it out, keep it a while, then report or
 * cancel it. The word's probe count is >= probes_out at every instant: we
 * add to probes_out after the CAS that granted the slot and take away
 * before the CAS that returns it (seq_cst RMWs here, acq_rel in the
 * breaker), so probes_out > B_CAP would mean the breaker broke its cap. */
static void hold_probe(struct stress_sh *s, unsigned me, uint64_t *x)
{
	/* Seq_cst: one total order with the other holders' RMWs. */
	unsigned out = atomic_fetch_add_explicit(&s->probes_out, 1, memory_order_seq_cst) + 1;
	uint64_t r = stress_rnd(x);

	if (out > B_CAP)
		fail(s, me, "probe tickets outstanding", out, B_CAP);
	/* Relaxed: statistics read by the parent after waitpid(). */
	atomic_fetch_add_explicit(&s->probes_granted, 1, memory_order_relaxed);
	if (out == B_CAP)
		/* Relaxed: as above. */
		atomic_fetch_add_explicit(&s->cap_hits, 1, memory_order_relaxed);
	if (r & 1)
		sched_yield();		/* let the others try to take our slot */
	/* Seq_cst: as above; before the report, see the comment. */
	atomic_fetch_sub_explicit(&s->probes_out, 1, memory_order_seq_cst);
	if ((r >> 1) % 8 == 0) {
		brk_cancel(&s->brk, BRK_PROBE);
		return;
	}
	/* Relaxed: any recent time will do. */
	uint32_t now = atomic_load_explicit(&s->clock, memory_order_relaxed);

	count_event(s, brk_report(&s->brk, &probe_policy, BRK_PROBE, (r >> 4) & 1, now));
}

static void phase_probes(struct stress_sh *s, unsigned me)
{
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15) * (me + 1);

	barrier_wait(s);
	for (unsigned i = 0; i < B_ITERS; i++) {
		/* Relaxed: a clock; each process's reads may lag the others'. */
		uint32_t now = atomic_fetch_add_explicit(&s->clock, 1, memory_order_relaxed);
		enum brk_ticket t = brk_allow(&s->brk, &probe_policy, now);

		if (t == BRK_PROBE)
			hold_probe(s, me, &x);
		else if (t == BRK_PASS)
			count_event(s, brk_report(&s->brk, &probe_policy, BRK_PASS,
						  stress_rnd(&x) & 1, now));
	}
}

static void check_probes(struct stress_sh *s)
{
	struct brk_view v;
	unsigned ev[4];

	for (int i = 0; i < 4; i++)
		/* Relaxed: the children were reaped; waitpid() ordered their writes. */
		ev[i] = atomic_load_explicit(&s->events[i], memory_order_relaxed);
	brk_read(&s->brk, &probe_policy, &v);
	CHECK_INT(v.probes, 0);
	/* Relaxed: as above. */
	CHECK_INT(atomic_load_explicit(&s->probes_out, memory_order_relaxed), 0);
	/* Only TRIPPED leaves closed and only CLOSED comes back: they alternate. */
	CHECK_INT(ev[BRK_EV_TRIPPED], ev[BRK_EV_CLOSED] + (v.state != BRK_CLOSED));
	CHECK(ev[BRK_EV_REOPENED] > 0);
	CHECK(ev[BRK_EV_CLOSED] > 0);
	/* Relaxed: as above. */
	unsigned granted = atomic_load_explicit(&s->probes_granted, memory_order_relaxed);
	unsigned hits = atomic_load_explicit(&s->cap_hits, memory_order_relaxed);

	CHECK(granted > 0);
	printf("(b) %u probes granted, %u at the cap of %u; %u trips, %u re-opens, %u closes\n",
	       granted, hits, B_CAP, ev[BRK_EV_TRIPPED], ev[BRK_EV_REOPENED], ev[BRK_EV_CLOSED]);
}

/* ---- (c) killed while holding probes ---- */

static const struct brk_policy kill_policy = {
	.mode = BRK_MODE_FAILURES, .failures = 1, .window_ms = 10000,
	.open_ms = 1000, .max_open_ms = 8000, .probes = C_CAP,
};

/* Take what probes we can (two tries), record them as a worker does, then
 * wait to be killed. NPROC * 2 tries > C_CAP: some children get none. */
static void phase_hold(struct stress_sh *s, unsigned me)
{
	barrier_wait(s);
	for (int i = 0; i < 2; i++)
		if (brk_allow(&s->brk, &kill_policy, C_T0 + 1000) == BRK_PROBE)
			/* Release: the contract's recording store; the parent
			 * reads it after waitpid(), which orders it anyway. */
			atomic_fetch_add_explicit(&s->held[me], 1, memory_order_release);
	/* Release: pairs with the parent's acquire poll of ready. */
	atomic_fetch_add_explicit(&s->ready, 1, memory_order_release);
	for (;;)
		pause();
}

/* Kill child <i>, reap it, and release what it recorded, as the master's
 * reap path will. Returns the number of slots released. */
static unsigned reap_and_release(struct stress_sh *s, pid_t pid, unsigned i)
{
	int status;

	CHECK_INT(kill(pid, SIGKILL), 0);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Acquire: pairs with the child's release; waitpid() also orders it. */
	unsigned n = atomic_load_explicit(&s->held[i], memory_order_acquire);

	brk_release_probes(&s->brk, n);
	return n;
}

/* Freed slots must be grantable again, exactly <n> of them. */
static void check_regrant(struct stress_sh *s, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		CHECK_INT(brk_allow(&s->brk, &kill_policy, C_T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_allow(&s->brk, &kill_policy, C_T0 + 1000), BRK_DENIED);
	for (unsigned k = 0; k < n; k++)
		brk_cancel(&s->brk, BRK_PROBE);
}

static pid_t spawn_holder(struct stress_sh *s, unsigned i)
{
	pid_t pid = stress_fork(i);

	if (pid == 0)
		phase_hold(s, i);
	return pid;
}

static void phase_kill(struct stress_sh *s)
{
	unsigned left = C_CAP;
	pid_t pids[NPROC];
	struct brk_view v;

	brk_init(&s->brk);
	brk_force_open(&s->brk, C_T0);
	for (unsigned i = 0; i < NPROC; i++)
		pids[i] = spawn_holder(s, i);
	/* Acquire: pairs with each child's release increment. */
	while (atomic_load_explicit(&s->ready, memory_order_acquire) < NPROC)
		sched_yield();
	brk_read(&s->brk, &kill_policy, &v);
	CHECK_INT(v.state, BRK_HALF_OPEN);
	CHECK_INT(v.probes, C_CAP);
	CHECK_INT(brk_allow(&s->brk, &kill_policy, C_T0 + 1000), BRK_DENIED);
	for (unsigned i = 0; i < NPROC; i++) {
		unsigned n = reap_and_release(s, pids[i], i);

		CHECK(n <= left);
		left -= n;
		brk_read(&s->brk, &kill_policy, &v);
		CHECK_INT(v.probes, left);
		CHECK_INT(brk_available(&s->brk, &kill_policy, C_T0 + 1000), left < C_CAP);
		check_regrant(s, C_CAP - left);
	}
	CHECK_INT(left, 0);
	CHECK_INT(brk_allow(&s->brk, &kill_policy, C_T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_report(&s->brk, &kill_policy, BRK_PROBE, false, C_T0 + 1001), BRK_EV_CLOSED);
	brk_read(&s->brk, &kill_policy, &v);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.probes, 0);
}

int main(void)
{
	struct stress_sh *s;

	(void)stress_mask_init();	/* unreadable: the mask is empty, nobody is pinned */
	stress_alarm("breaker_stress: timed out", ALARM_S);
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		perror("mmap() failed");
		return T_EXIT_FAIL;
	}
	/* An anonymous mapping starts zeroed: counters and barrier are ready. */
	brk_init(&s->brk);
	brk_force_close(&s->brk, A_T0);
	/* A failed phase leaves the stop flag set: skip the phases after it. */
	CHECK_INT(run_children(s, phase_trips), 0);
	if (check_failures)
		return CHECK_EXIT();

	brk_init(&s->brk);
	/* Relaxed: no child exists yet; fork() orders it. */
	atomic_store_explicit(&s->clock, B_T0, memory_order_relaxed);
	CHECK_INT(run_children(s, phase_probes), 0);
	if (check_failures)
		return CHECK_EXIT();
	check_probes(s);

	phase_kill(s);
	munmap(s, sizeof(*s));
	return CHECK_EXIT();
}
