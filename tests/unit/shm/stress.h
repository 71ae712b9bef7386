/* Scaffolding shared by the multi-process stress tests of shm/ (STYLE §16):
 * each forks processes over a MAP_SHARED mapping, pins them round-robin
 * inside the affinity mask the test inherited, starts them on a barrier,
 * and stops them all at the first failure. This header gives:
 *
 *  - stress_mask_init(), stress_cpus(), stress_cpu(i), stress_pin(i): the
 *    inherited mask, captured once at start, and pinning inside it;
 *  - struct stress_barrier and stress_barrier_wait(): an N-process barrier
 *    that lives in the shared mapping and gives up when a stop flag rises;
 *  - stress_stop(), stress_stopped(), stress_fail(): that stop flag, raised
 *    by the first process to fail;
 *  - stress_fork(i), stress_reap(): children that die with the parent, and
 *    whether they exited 0;
 *  - stress_alarm(): the safety net that fails the test if anything hangs;
 *  - stress_rnd(): a small generator for random traffic.
 *
 * Each test is one program, so everything here is static to it. */
#ifndef GW_TESTS_UNIT_SHM_STRESS_H
#define GW_TESTS_UNIT_SHM_STRESS_H

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/check.h"

/* ---- pinning ---- */

/* The affinity mask the test started with, or an empty one if it could not
 * be read (then nothing is pinned). Processes are pinned inside it, so
 * `taskset` confines a test the way it confines gatewayd. */
static cpu_set_t stress_mask __attribute__((unused));

/* Capture the inherited mask; call it in main() before anything is pinned.
 * Returns 0, or -errno from sched_getaffinity() with the mask left empty. */
static inline int stress_mask_init(void)
{
	if (sched_getaffinity(0, sizeof(stress_mask), &stress_mask) < 0) {
		int err = errno;

		CPU_ZERO(&stress_mask);
		return -err;
	}
	return 0;
}

/* How many CPUs the inherited mask holds; 0 when it could not be read. */
static inline int stress_cpus(void)
{
	return CPU_COUNT(&stress_mask);
}

/* The <i>-th CPU of the inherited mask, round-robin; -1 for an empty mask. */
static inline int stress_cpu(unsigned i)
{
	int n = CPU_COUNT(&stress_mask);

	if (n == 0)
		return -1;
	i %= (unsigned)n;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &stress_mask) && i-- == 0)
			return cpu;
	return -1;
}

/* Pin the calling process to stress_cpu(<i>). Returns 0, also when there is
 * no CPU to pin to, or -errno from sched_setaffinity(), the process left
 * unpinned. Silent: the caller decides whether that is worth a word. */
static inline int stress_pin(unsigned i)
{
	int cpu = stress_cpu(i);
	cpu_set_t one;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one) < 0 ? -errno : 0;
}

/* ---- the stop flag ---- */

/* Raise the stop flag <stop> (an _Atomic unsigned in the shared mapping,
 * zero until then): a process failed, the others should give up. */
static inline void stress_stop(_Atomic unsigned *stop)
{
	/* Relaxed: a stop hint polled in loops; nothing is published with
	 * it, and a late view costs only a few more iterations. */
	atomic_store_explicit(stop, 1, memory_order_relaxed);
}

/* Has some process raised <stop>? */
static inline bool stress_stopped(_Atomic unsigned *stop)
{
	/* Relaxed: as in stress_stop(). */
	return atomic_load_explicit(stop, memory_order_relaxed) != 0;
}

/* The first mismatch in a child: print it (the caller's format says what,
 * with both values), make everyone stop, and exit failed. */
__attribute__((noreturn, format(printf, 2, 3)))
static inline void stress_fail(_Atomic unsigned *stop, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	stress_stop(stop);
	_exit(T_EXIT_FAIL);
}

/* ---- the barrier ---- */

/* A barrier for N processes, in the shared mapping (sense by generation).
 * All zero, as an anonymous mapping starts, it is ready; it is back to a
 * zero count each time all N have passed. */
struct stress_barrier {
	_Atomic unsigned count;		/* processes arrived in this generation */
	_Atomic unsigned gen;		/* bumped by the last arriver */
};

/* Wait until <n> processes, this one included, have arrived at <b>.
 * Returns 0 once they all have, or -ECANCELED when <stop> rises first (a
 * process failed and may never arrive). Waiting gives the CPU away after
 * every look at the generation, since the tests run more processes than
 * there are CPUs; the stop flag and the alarm bound how long it lasts. */
static inline int stress_barrier_wait(struct stress_barrier *b, unsigned n,
				      _Atomic unsigned *stop)
{
	/* Acquire: pairs with the release store of gen by the last arriver
	 * of the round before; read before arriving, so the generation
	 * cannot move under us. */
	unsigned gen = atomic_load_explicit(&b->gen, memory_order_acquire);

	/* Acq_rel: each arrival publishes what its process did before it,
	 * and the last arriver sees every earlier arrival's writes (the
	 * count's RMW chain carries them) before it releases them all. */
	if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == n - 1) {
		/* Relaxed: ordered before the release below; nobody arrives
		 * again before seeing the new generation. */
		atomic_store_explicit(&b->count, 0, memory_order_relaxed);
		/* Release: pairs with the waiters' acquire loads of gen, so
		 * everything every process did before arriving is visible
		 * past the barrier. */
		atomic_store_explicit(&b->gen, gen + 1, memory_order_release);
		return 0;
	}
	/* Acquire: pairs with the release store of gen above. */
	while (atomic_load_explicit(&b->gen, memory_order_acquire) == gen) {
		if (stress_stopped(stop))
			return -ECANCELED;
		sched_yield();
	}
	return 0;
}

/* ---- children ---- */

/* Fork the child that runs as process <i>. In the child, returns 0 with the
 * child set to die with the parent (PR_SET_PDEATHSIG), or exited at once if
 * the parent is gone already, and pinned to stress_cpu(<i>) (or warned and
 * running unpinned). In the parent, returns the child's pid; a failed
 * fork() fails the whole test. */
static inline pid_t stress_fork(unsigned i)
{
	pid_t pid = fork();
	int err;

	if (pid < 0) {
		perror("fork() failed");
		exit(T_EXIT_FAIL);
	}
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(T_EXIT_FAIL);	/* the parent died already */
	err = stress_pin(i);
	if (err < 0)
		fprintf(stderr, "sched_setaffinity(CPU %d) failed: %s; running unpinned\n",
			stress_cpu(i), strerror(-err));
	return 0;
}

/* Wait for the child <pid>. Returns 0 when it exited with status 0, else -1.
 * Its wait status goes to *<status> when that is not NULL (left untouched
 * if waitpid() itself failed). */
static inline int stress_reap(pid_t pid, int *status)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (status)
		*status = st;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- the safety net ---- */

/* What the alarm prints: set by stress_alarm(), written by the handler. */
static char stress__alarm_line[128] __attribute__((unused));
static size_t stress__alarm_len __attribute__((unused));

static inline void stress__on_alarm(int sig)
{
	(void)sig;
	(void)!write(STDERR_FILENO, stress__alarm_line, stress__alarm_len);
	_exit(T_EXIT_FAIL);	/* children of stress_fork() follow through PR_SET_PDEATHSIG */
}

/* Fail the test, printing <line> and a newline to stderr, if it still runs
 * in <seconds>. Every loop in a stress test is bounded, so this only
 * catches a hang. The handler is inherited by children, the alarm is not:
 * a child that may outlive the parent arms its own with alarm(). */
static inline void stress_alarm(const char *line, unsigned seconds)
{
	int n = snprintf(stress__alarm_line, sizeof(stress__alarm_line), "%s\n", line);

	if (n < 0)
		n = 0;
	stress__alarm_len = (size_t)n < sizeof(stress__alarm_line) ? (size_t)n :
		sizeof(stress__alarm_line) - 1;
	signal(SIGALRM, stress__on_alarm);
	alarm(seconds);
}

/* ---- random traffic ---- */

/* xorshift64*: the next number from the state <x>, which must not be 0. */
static inline uint64_t stress_rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

#endif
