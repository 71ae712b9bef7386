/* A run's threads: start them pinned, release them together, show
 * progress while they work, join them and add up what they counted.
 *
 * Start protocol: each thread sets up its ring and connections' memory,
 * posts run->ready, and waits on run->go. Once every thread is ready the
 * main thread writes start_ns/measure_ns/end_ns (or abort) and posts go
 * once per thread; sem_post/sem_wait order those writes before the
 * threads' reads. A thread that failed setup still waits for go, so a
 * partial start never leaves anyone blocked. */
#include "bench/gwbench/gwbench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"

void gwb_stats_merge(struct gwb_stats *dst, const struct gwb_stats *src)
{
	dst->requests += src->requests;
	dst->bytes += src->bytes;
	dst->err_connect += src->err_connect;
	dst->err_timeout += src->err_timeout;
	dst->err_read += src->err_read;
	dst->err_parse += src->err_parse;
	dst->err_status += src->err_status;
	for (unsigned i = 0; i < GWB_STATUS_CODES; i++)
		dst->status[i] += src->status[i];
	dst->connects += src->connects;
	if (src->connect_err)
		dst->connect_err = src->connect_err;
	hist_merge(&dst->latency, &src->latency);
}

/* The i-th CPU of <mask>, wrapping; -1 when the mask is empty. Pinning
 * inside the inherited mask lets `taskset` confine the whole run. */
static int cpu_pick(const cpu_set_t *mask, unsigned i)
{
	int n = CPU_COUNT(mask);
	unsigned k;

	if (n <= 0)
		return -1;
	k = i % (unsigned)n;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, mask))
			continue;
		if (k-- == 0)
			return cpu;
	}
	return -1;
}

static int thread_start(struct gwb_run *run, unsigned i, const cpu_set_t *mask)
{
	const struct gwb_args *a = run->plan->args;
	struct gwb_thread *t = &run->threads[i];
	pthread_attr_t attr;
	cpu_set_t one;
	int err;

	t->id = i;
	t->run = run;
	t->plan = run->plan;
	t->n_conns = a->connections / run->n_threads + (i < a->connections % run->n_threads);
	t->cpu = mask ? cpu_pick(mask, i) : -1;
	atomic_init(&t->pub_requests, 0);
	atomic_init(&t->pub_errors, 0);
	err = pthread_attr_init(&attr);
	if (err)
		return -err;
	if (t->cpu >= 0) {
		CPU_ZERO(&one);
		CPU_SET(t->cpu, &one);
		pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	}
	err = pthread_create(&t->tid, &attr, gwb_thread_main, t);
	pthread_attr_destroy(&attr);
	return -err;
}

/* Threads 0.. until one fails to start; *started says how many run. */
static int threads_start(struct gwb_run *run, unsigned *started)
{
	cpu_set_t mask;
	bool have_mask = sched_getaffinity(0, sizeof(mask), &mask) == 0;
	sigset_t block, old;
	int err = 0;

	/* Workers inherit a mask without SIGINT/SIGTERM: only the main
	 * thread runs the handler, and io_uring waits see no EINTR. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < run->n_threads && !err; i++) {
		err = thread_start(run, i, have_mask ? &mask : NULL);
		if (err)
			fprintf(stderr, "gwbench: pthread_create() failed: %s\n", strerror(-err));
		else
			(*started)++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/* Join thread 0 with a one-second timeout, printing a progress line on
 * each; it is the thread that ends last or near it. */
static void wait_with_progress(struct gwb_run *run)
{
	uint64_t last = 0, requests, errors;
	struct timespec abs;

	clock_gettime(CLOCK_REALTIME, &abs);
	for (;;) {
		abs.tv_sec++;
		if (pthread_timedjoin_np(run->threads[0].tid, NULL, &abs) != ETIMEDOUT)
			return;
		requests = errors = 0;
		for (unsigned i = 0; i < run->n_threads; i++) {
			struct gwb_thread *t = &run->threads[i];

			requests += atomic_load_explicit(&t->pub_requests, memory_order_relaxed);
			errors += atomic_load_explicit(&t->pub_errors, memory_order_relaxed);
		}
		gwb_report_progress((double)(clock_mono_ns() - run->start_ns) / 1e9, requests,
				    last, 1.0, errors);
		last = requests;
	}
}

/* Add up the threads' counters; the measured window ends when the last
 * thread stopped measuring. */
static void collect(struct gwb_run *run, struct gwb_stats *total, uint64_t *elapsed_ns)
{
	uint64_t stop = run->measure_ns;

	for (unsigned i = 0; i < run->n_threads; i++) {
		const struct gwb_thread *t = &run->threads[i];

		gwb_stats_merge(total, &t->st);
		if (t->stop_ns > stop)
			stop = t->stop_ns;
	}
	*elapsed_ns = stop - run->measure_ns;
}

int gwb_run_all(struct gwb_run *run, struct gwb_stats *total, uint64_t *elapsed_ns)
{
	const struct gwb_args *a = run->plan->args;
	unsigned started = 0;
	bool joined0 = false;
	int err;

	run->n_threads = a->threads;
	run->threads = calloc(run->n_threads, sizeof(*run->threads));
	if (!run->threads)
		return -ENOMEM;
	sem_init(&run->ready, 0, 0);
	sem_init(&run->go, 0, 0);
	err = threads_start(run, &started);
	for (unsigned i = 0; i < started; i++)
		while (sem_wait(&run->ready) < 0 && errno == EINTR)
			;
	for (unsigned i = 0; i < started; i++)
		if (run->threads[i].err && !err)
			err = run->threads[i].err;
	run->abort = err != 0;
	run->start_ns = clock_mono_ns();
	run->measure_ns = run->start_ns + a->warmup_ns;
	run->end_ns = a->requests ? UINT64_MAX : run->measure_ns + a->duration_ns;
	for (unsigned i = 0; i < started; i++)
		sem_post(&run->go);
	if (run->progress && !run->abort) {
		wait_with_progress(run);
		joined0 = true;
	}
	for (unsigned i = joined0 ? 1 : 0; i < started; i++)
		pthread_join(run->threads[i].tid, NULL);
	for (unsigned i = 0; i < started && !err; i++)
		err = run->threads[i].err;
	if (!err)
		collect(run, total, elapsed_ns);
	sem_destroy(&run->ready);
	sem_destroy(&run->go);
	free(run->threads);
	run->threads = NULL;
	return err;
}
