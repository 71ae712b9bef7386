/* One gwbench thread: its io_uring, its loop turn, its schedule.
 *
 * A turn, in order:
 *   1. read the clock; stamp the sends prepared last turn with it (they
 *      leave in this turn's submit, so that is their send time);
 *   2. submit everything prepared and wait for a completion, at most until
 *      the next deadline (a due request, the sweep, the end of the run):
 *      the ring's wait timeout is the only timer, no thread sleeps;
 *   3. read the clock once: every response reaped in this turn completed
 *      by then (with DEFER_TASKRUN the kernel ran their receives inside
 *      the wait);
 *   4. reap all completions through one dispatch switch, then give the
 *      provided buffers back in one step;
 *   5. reopen connections closed in step 4, assign due requests (open
 *      loop), sweep deadlines (budgeted: every sweep_ns, not every turn),
 *      publish progress counters, check for the end. */
#include "bench/gwbench/gwbench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/uring_compat.h"

#define LOOP_BUF_SIZE		(16u << 10)	/* bytes per provided buffer */
#define LOOP_MIN_BUFS		64u
#define LOOP_MAX_BUFS		2048u
#define LOOP_SWEEP_MIN		(1 * UINT64_C(1000000))		/* ns */
#define LOOP_SWEEP_MAX		(10 * UINT64_C(1000000))	/* ns */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* An SQE, submitting what is queued if the SQ is full. Never NULL: after a
 * submit the SQ has room again, and losing an op would leak its slot. */
struct io_uring_sqe *gwb_sqe(struct gwb_thread *t)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&t->ring)))
		io_uring_submit(&t->ring);
	return sqe;
}

uint64_t gwb_sched(const struct gwb_thread *t, uint64_t j)
{
	return t->sched_start + (uint64_t)((double)j * t->interval_ns);
}

static int loop_ring_init(struct gwb_thread *t)
{
	uint32_t sq = pow2_at_least(2 * t->n_conns + 16);
	struct io_uring_params p;
	int ret;

	if (sq < 64)
		sq = 64;
	if (sq > 4096)
		sq = 4096;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = 4 * sq;
	ret = io_uring_queue_init_params(sq, &t->ring, &p);
	if (ret == -EINVAL) {
		/* Older kernel: no DEFER_TASKRUN; still correct, a bit slower. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 4 * sq;
		ret = io_uring_queue_init_params(sq, &t->ring, &p);
	}
	if (ret < 0) {
		fprintf(stderr, "gwbench: io_uring_queue_init_params() failed: %s\n",
			strerror(-ret));
		return ret;
	}
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		fprintf(stderr, "gwbench: the kernel's io_uring lacks EXT_ARG (wait timeouts)\n");
		io_uring_queue_exit(&t->ring);
		return -EOPNOTSUPP;
	}
	/* Saves the ring fd lookup on every io_uring_enter(); optional. */
	io_uring_register_ring_fd(&t->ring);
	return 0;
}

static int loop_bufs_init(struct gwb_thread *t)
{
	unsigned entries = pow2_at_least(2 * t->n_conns);
	int err;

	if (entries < LOOP_MIN_BUFS)
		entries = LOOP_MIN_BUFS;
	if (entries > LOOP_MAX_BUFS)
		entries = LOOP_MAX_BUFS;
	err = bufring_init(&t->bufs, &t->ring, entries, LOOP_BUF_SIZE, 0);
	if (err)
		fprintf(stderr, "gwbench: receive buffers: %s\n", strerror(-err));
	return err;
}

static int loop_table_init(struct gwb_thread *t)
{
	uint32_t p = t->plan->args->pipeline;

	t->conns = calloc(t->n_conns, sizeof(*t->conns));
	t->reqs = calloc((size_t)t->n_conns * p, sizeof(*t->reqs));
	t->iovs = calloc((size_t)t->n_conns * p, sizeof(*t->iovs));
	t->stamps = calloc(t->n_conns, sizeof(*t->stamps));
	t->reopen = calloc(t->n_conns, sizeof(*t->reopen));
	if (!t->conns || !t->reqs || !t->iovs || !t->stamps || !t->reopen)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n_conns; i++) {
		struct gwb_conn *c = &t->conns[i];

		c->fd = -1;
		c->idx = i;
		c->q = t->reqs + (size_t)i * p;
		c->snd_iov = t->iovs + (size_t)i * p;
		c->next_j = i;
		gwb_resp_reset(c);
	}
	return 0;
}

static void loop_table_free(struct gwb_thread *t)
{
	for (uint32_t i = 0; t->conns && i < t->n_conns; i++) {
		if (t->conns[i].fd >= 0)
			close(t->conns[i].fd);
		buf_free(&t->conns[i].in);
	}
	free(t->conns);
	free(t->reqs);
	free(t->iovs);
	free(t->stamps);
	free(t->reopen);
	t->conns = NULL;
}

static int loop_setup(struct gwb_thread *t)
{
	int err;

	hist_init(&t->st.latency);
	err = loop_ring_init(t);
	if (err)
		return err;
	err = loop_bufs_init(t);
	if (err)
		goto err_ring;
	err = loop_table_init(t);
	if (err)
		goto err_table;
	return 0;

err_table:
	loop_table_free(t);
	bufring_free(&t->bufs, &t->ring);
err_ring:
	io_uring_queue_exit(&t->ring);
	return err;
}

static void loop_teardown(struct gwb_thread *t)
{
	/* Closes of finished connections may still sit in the SQ. */
	io_uring_submit(&t->ring);
	bufring_free(&t->bufs, &t->ring);
	/* Exiting the ring cancels every op, so the memory they name can go. */
	io_uring_queue_exit(&t->ring);
	loop_table_free(t);
}

/* This thread's share of the work: requests (-n), rate (-R), and the
 * schedule's start, staggered so that threads do not fire together. */
static void loop_plan(struct gwb_thread *t)
{
	const struct gwb_args *a = t->plan->args;
	const struct gwb_run *run = t->run;
	unsigned nt = run->n_threads;
	double rate_t;

	t->measure_ns = run->measure_ns;
	t->end_ns = run->end_ns;
	t->budget = UINT64_MAX;
	if (a->requests)
		t->budget = a->requests / nt + (t->id < a->requests % nt);
	t->sweep_ns = a->timeout_ns / 10;
	if (t->sweep_ns < LOOP_SWEEP_MIN)
		t->sweep_ns = LOOP_SWEEP_MIN;
	if (t->sweep_ns > LOOP_SWEEP_MAX)
		t->sweep_ns = LOOP_SWEEP_MAX;
	t->next_sweep = run->start_ns + t->sweep_ns;
	t->next_target = (uint32_t)(t->id % t->plan->n_targets);
	t->j_end = UINT64_MAX;
	if (!a->rate)
		return;
	t->open_loop = true;
	rate_t = a->rate * t->n_conns / a->connections;
	t->interval_ns = 1e9 / rate_t;
	t->sched_start = run->start_ns + (uint64_t)(t->interval_ns * t->id / nt);
	/* The first request due at or after the end of warmup; the division
	 * gets close, the loops settle double rounding either way. */
	t->j_first = 0;
	if (run->measure_ns > t->sched_start)
		t->j_first = (uint64_t)((double)(run->measure_ns - t->sched_start) / t->interval_ns);
	while (t->j_first && gwb_sched(t, t->j_first - 1) >= run->measure_ns)
		t->j_first--;
	while (gwb_sched(t, t->j_first) < run->measure_ns)
		t->j_first++;
	if (a->requests)
		t->j_end = t->j_first + t->budget;
}

/* Give the sends prepared last turn their real send time: now, just
 * before the submit that carries them. */
static void loop_stamp(struct gwb_thread *t)
{
	uint32_t p = t->plan->args->pipeline;

	for (uint32_t k = 0; k < t->n_stamps; k++) {
		struct gwb_conn *c = &t->conns[t->stamps[k]];
		uint32_t i = c->stamp_first;

		c->stamp_pending = false;
		for (uint32_t n = 0; n < c->stamp_cnt; n++) {
			c->q[i].sent_ns = t->now;
			if (++i == p)
				i = 0;
		}
	}
	t->n_stamps = 0;
}

/* The earliest of: the next due request, the next sweep, the end. */
static uint64_t loop_deadline(const struct gwb_thread *t)
{
	uint64_t d = t->next_sweep;

	if (t->end_ns < d)
		d = t->end_ns;
	if (t->open_loop && t->due_j < t->j_end) {
		uint64_t s = gwb_sched(t, t->due_j);

		if (s < d)
			d = s;
	}
	return d;
}

static void loop_dispatch(struct gwb_thread *t, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = gwb_ud_idx(ud);
	struct gwb_conn *c;

	if (gwb_ud_op(ud) == OP_IGNORE)
		return;
	c = idx < t->n_conns ? &t->conns[idx] : NULL;
	if (!c || c->gen != gwb_ud_gen(ud) || c->fd < 0) {
		/* Cannot happen: a socket lives until its last completion. */
		fprintf(stderr, "gwbench: stray completion op %u slot %u\n", gwb_ud_op(ud), idx);
		return;
	}
	switch (gwb_ud_op(ud)) {
	case OP_CONNECT:
		gwb_conn_on_connect(t, c, cqe->res);
		break;
	case OP_RECV:
		gwb_conn_on_recv(t, c, cqe);
		break;
	case OP_SEND:
		gwb_conn_on_send(t, c, cqe->res);
		break;
	case OP_IGNORE:
		break;
	}
}

/* Open loop: every request due by now goes to its connection, which sends
 * it at once if its pipeline has room, or as soon as a response frees it. */
static void loop_schedule(struct gwb_thread *t)
{
	while (t->due_j < t->j_end && gwb_sched(t, t->due_j) <= t->now) {
		struct gwb_conn *c = &t->conns[t->due_conn];

		gwb_conn_fill(t, c);
		gwb_conn_flush(t, c);
		t->due_j++;
		if (++t->due_conn == t->n_conns)
			t->due_conn = 0;
	}
}

static void loop_reopen(struct gwb_thread *t)
{
	for (uint32_t k = 0; k < t->n_reopen; k++) {
		struct gwb_conn *c = &t->conns[t->reopen[k]];

		c->reopen_pending = false;
		gwb_conn_open(t, c);
	}
	t->n_reopen = 0;
}

static void loop_sweep(struct gwb_thread *t)
{
	for (uint32_t i = 0; i < t->n_conns; i++)
		gwb_conn_sweep(t, &t->conns[i]);
	t->next_sweep = t->now + t->sweep_ns;
}

/* Decide whether this thread is done; sets stop and stop_ns. */
static void loop_check_end(struct gwb_thread *t)
{
	if (atomic_load_explicit(&t->run->stop, memory_order_relaxed)) {
		t->stop_ns = t->now < t->end_ns ? t->now : t->end_ns;
		t->stop = true;
	} else if (t->now >= t->end_ns) {
		t->stop_ns = t->end_ns;
		t->stop = true;
	} else if (!t->budget && !t->outstanding && gwb_measuring(t)) {
		t->stop_ns = t->now;	/* -n: the last outcome is in */
		t->stop = true;
	}
}

static int loop_turn(struct gwb_thread *t)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t deadline, wait;
	unsigned head, n = 0;
	int ret;

	t->now = clock_mono_ns();
	loop_stamp(t);
	deadline = loop_deadline(t);
	wait = deadline > t->now ? deadline - t->now : 0;
	ts.tv_sec = (long long)(wait / 1000000000u);
	ts.tv_nsec = (long long)(wait % 1000000000u);
	ret = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, &ts, NULL);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		fprintf(stderr, "gwbench: io_uring_submit_and_wait_timeout() failed: %s\n",
			strerror(-ret));
		return ret;
	}
	t->now = clock_mono_ns();
	/* Past the end, completions no longer count: stop before reaping. */
	loop_check_end(t);
	if (t->stop)
		return 0;
	io_uring_for_each_cqe(&t->ring, head, cqe) {
		loop_dispatch(t, cqe);
		n++;
	}
	io_uring_cq_advance(&t->ring, n);
	bufring_publish(&t->bufs);
	loop_reopen(t);
	if (t->open_loop)
		loop_schedule(t);
	if (t->now >= t->next_sweep)
		loop_sweep(t);
	if (t->run->progress) {
		atomic_store_explicit(&t->pub_requests, t->st.requests, memory_order_relaxed);
		atomic_store_explicit(&t->pub_errors, gwb_errors(&t->st), memory_order_relaxed);
	}
	loop_check_end(t);
	return 0;
}

/* Thread entry: <arg> is the struct gwb_thread, with id, run, plan and
 * n_conns filled in. Reports setup through run->ready, starts on run->go. */
void *gwb_thread_main(void *arg)
{
	struct gwb_thread *t = arg;
	struct gwb_run *run = t->run;
	int err;

	t->err = loop_setup(t);
	sem_post(&run->ready);
	while (sem_wait(&run->go) < 0 && errno == EINTR)
		;
	if (t->err)
		return NULL;
	if (run->abort)
		goto out;
	loop_plan(t);
	t->now = clock_mono_ns();
	for (uint32_t i = 0; i < t->n_conns; i++)
		gwb_conn_open(t, &t->conns[i]);
	loop_check_end(t);
	while (!t->stop) {
		err = loop_turn(t);
		if (err) {
			t->err = err;
			t->stop_ns = t->now;
			/* The others cannot give a whole result either. */
			atomic_store_explicit(&run->stop, true, memory_order_relaxed);
			break;
		}
	}
out:
	loop_teardown(t);
	return NULL;
}
