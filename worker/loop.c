/* The worker: setup, the loop turn, and the one dispatch switch.
 *
 * A loop turn, in order:
 *   1. go offline in the registry (hold no snapshot while asleep), submit
 *      what the last turn queued and wait for a completion or the next
 *      timer tick;
 *   2. read the clocks once (everything below uses w->now_ms, and the
 *      wall clock w->now_s for token expiry);
 *   3. announce the registry epoch and take a new snapshot if one was
 *      published, before any request is picked; likewise JWT key sets
 *      fetched by the master (worker/jwtkeys.c);
 *   4. reap completions, dispatching each by op;
 *   5. expire due timers;
 *   6. drain bookkeeping (stop when the last client is gone);
 *   7. hand queued log lines to the ring. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "worker/balance.h"
#include "worker/client.h"
#include "worker/jwtkeys.h"
#include "worker/conn.h"
#include "worker/pool.h"
#include "worker/route.h"
#include "worker/services.h"
#include "worker/upstream.h"
#include "worker/loop.h"

#define WAIT_CAP_MS 1000u
#ifndef SUBMIT_SLICE
#define SUBMIT_SLICE 8u		/* SQEs queued before an early submit */
#endif	/* longest sleep, so drain deadlines are seen */

enum appender_id { APPENDER_ACCESS = 0, APPENDER_ERROR };

struct io_uring_sqe *wk_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (sqe)
		return sqe;
	int ret = wk_submit(w);
	sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) {
		/* Only a kernel refusing all submissions (-EBUSY on a CQ
		 * overflow we cannot drain from here) gets us here; carrying on
		 * would lose I/O silently. The master respawns the slot. */
		log_error("io_uring_submit: %s; no SQE available, exiting",
			  ret < 0 ? strerror(-ret) : "queue full");
		abort();
	}
	return sqe;
}

int wk_submit(struct worker *w)
{
	bufring_publish(&w->bufs);
	return io_uring_submit(&w->ring);
}

uint64_t wk_random(struct worker *w)
{
	/* xorshift128+: fast, and ids need uniqueness, not secrecy. */
	uint64_t s1 = w->rng[0];
	const uint64_t s0 = w->rng[1];

	w->rng[0] = s0;
	s1 ^= s1 << 23;
	w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return w->rng[1] + s0;
}

static void arm_accept(struct worker *w, unsigned listener)
{
	struct io_uring_sqe *sqe = wk_sqe(w);

	io_uring_prep_multishot_accept(sqe, w->listen_fds[listener], NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_make(OP_ACCEPT, listener, 0));
	w->accept_armed[listener] = true;
}

static void arm_signal_read(struct worker *w)
{
	struct io_uring_sqe *sqe = wk_sqe(w);

	io_uring_prep_read(sqe, w->sigfd, w->siginfo, sizeof(*w->siginfo), 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_SIGNAL, 0, 0));
}

/* Route our own diagnostics through the ring too. */
static void error_log_sink(const char *line, size_t len, void *arg)
{
	struct worker *w = arg;

	appender_push(&w->error_log, line, len);
}

static void start_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	w->drain_deadline_ms = w->now_ms + w->cfg->drain_timeout_ms;
	wtab_set_state(&w->shm.workers, w->id, WTAB_DRAINING);
	log_info("draining: %u client connections", w->n_clients);
	for (size_t i = 0; i < w->n_listen_fds; i++) {
		if (!w->accept_armed[i])
			continue;
		struct io_uring_sqe *sqe = wk_sqe(w);
		io_uring_prep_cancel64(sqe, ud_make(OP_ACCEPT, (uint32_t)i, 0), 0);
		io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0, 0));
		/* accept_armed stays set until the accept's last CQE: the
		 * worker must not exit before then (see drain_accept_queue). */
	}
	for (uint32_t i = 0; i < w->n_conns; i++) {
		struct conn *c = &w->conns[i];
		if (c->kind == CONN_CLIENT && !c->closing)
			client_drain(w, c);
	}
	pool_close_all(w);
}

static void on_signal(struct worker *w, int res)
{
	if (res != sizeof(*w->siginfo)) {
		log_error("signalfd read: %s", res < 0 ? strerror(-res) : "short read");
		w->stop_now = true;
		return;
	}
	switch (w->siginfo->ssi_signo) {
	case SIGTERM:
		start_drain(w);
		break;
	case SIGINT:
		w->stop_now = true;
		break;
	case SIGUSR1: {
		int err = appender_reopen(&w->access_log);
		if (err)
			log_error("reopen access log: %s", strerror(-err));
		break;
	}
	default:
		break;
	}
	arm_signal_read(w);
}

/* The drain's cancel of our multishot accept completed. A connection whose
 * (exclusive) wakeup went to that accept while it was being cancelled is
 * still queued, and no other waiter was woken for it: the next generation's
 * worker on the same socket would not see it until another one arrives.
 * Take what is queued now; nothing is woken for us after this. For the same
 * reason a draining worker exits only after this (accepts_armed()): exiting
 * with the accept armed would drop such a wakeup too. */
static void drain_accept_queue(struct worker *w, uint32_t listener)
{
	int fd;

	while ((fd = accept4(w->listen_fds[listener], NULL, NULL, SOCK_CLOEXEC)) >= 0)
		client_accept(w, fd, listener);
}

static bool accepts_armed(const struct worker *w)
{
	for (size_t i = 0; i < w->n_listen_fds; i++) {
		if (w->accept_armed[i])
			return true;
	}
	return false;
}

static void on_accept(struct worker *w, uint32_t listener, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		w->accept_armed[listener] = false;
		if (!w->draining && cqe->res != -ECANCELED)
			arm_accept(w, listener);
		else if (w->draining)
			drain_accept_queue(w, listener);
		if (w->draining && !accepts_armed(w))
			log_info("stopped accepting");	/* nothing new is served after this */
	}
	/* A connection accepted before the cancel took effect is served
	 * (its response closes it): the client knows nothing of the drain. */
	if (cqe->res >= 0)
		client_accept(w, cqe->res, listener);
	else if (cqe->res != -ECANCELED && cqe->res != -EAGAIN)
		log_warn("accept: %s", strerror(-cqe->res));
}

static void on_conn_cqe(struct worker *w, enum op op, const struct io_uring_cqe *cqe)
{
	struct conn *c = conn_lookup(w, ud_index(cqe->user_data), ud_gen(cqe->user_data));

	if (!c) {
		/* Stale: its slot was recycled. Only a buffer needs returning. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			conn_recycle_buffer(w, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case OP_RECV:
		conn_on_recv(w, c, cqe);
		break;
	case OP_SEND:
		conn_on_send(w, c, cqe->res);
		break;
	case OP_CONNECT:
		conn_on_connect(w, c, cqe->res);
		break;
	default:
		break;
	}
}

static void dispatch(struct worker *w, const struct io_uring_cqe *cqe)
{
	enum op op = ud_op(cqe->user_data);

	switch (op) {
	case OP_ACCEPT:
		on_accept(w, ud_index(cqe->user_data), cqe);
		break;
	case OP_RECV:
	case OP_SEND:
	case OP_CONNECT:
		on_conn_cqe(w, op, cqe);
		break;
	case OP_SIGNAL:
		on_signal(w, cqe->res);
		break;
	case OP_LOG_WRITE:
		appender_complete(ud_index(cqe->user_data) == APPENDER_ACCESS ? &w->access_log
									       : &w->error_log, cqe->res);
		break;
	case OP_CLOSE:
	case OP_CANCEL:
	case OP_NONE:
	case OP__COUNT:
		break;
	}
}

static void on_timer(struct timer *t, void *arg)
{
	struct worker *w = arg;
	struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));

	if (c->kind == CONN_CLIENT)
		client_on_timeout(w, c);
	else if (c->kind == CONN_UPSTREAM)
		upstream_on_timeout(w, c);
}

static void flush_appender(struct worker *w, struct appender *a, enum appender_id id)
{
	if (!appender_want_write(a))
		return;
	struct io_uring_sqe *sqe = wk_sqe(w);
	appender_prep_write(a, sqe);
	io_uring_sqe_set_data64(sqe, ud_make(OP_LOG_WRITE, id, 0));
}

static void loop_turn(struct worker *w)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t wait_ms = timer_next_ms(&w->timers, w->now_ms, WAIT_CAP_MS);
	unsigned head, seen = 0;

	ts.tv_sec = (long long)(wait_ms / 1000u);
	ts.tv_nsec = (long long)(wait_ms % 1000u) * 1000000;
	bufring_publish(&w->bufs);
	services_offline(w);
	int ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		log_error("io_uring_submit_and_wait_timeout: %s", strerror(-ret));
	w->now_us = clock_mono_ns() / 1000u;
	w->now_ms = w->now_us / 1000u;
	w->now_s = (uint64_t)time(NULL);
	services_sync(w);
	jwtkeys_sync(w);
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		dispatch(w, cqe);
		seen++;
		/* Hand sends to the kernel in slices rather than once per turn:
		 * the peers on other CPUs start on the first replies while we
		 * work through the rest. */
		if (io_uring_sq_ready(&w->ring) >= SUBMIT_SLICE)
			wk_submit(w);
	}
	io_uring_cq_advance(&w->ring, seen);
	timer_expire(&w->timers, w->now_ms, on_timer, w);
	if (w->draining && !accepts_armed(w) &&
	    (w->n_clients == 0 || w->now_ms >= w->drain_deadline_ms))
		w->stop_now = true;
	flush_appender(w, &w->access_log, APPENDER_ACCESS);
	flush_appender(w, &w->error_log, APPENDER_ERROR);
}

void loop_run(struct worker *w)
{
	log_set_sink(error_log_sink, w);
	for (size_t i = 0; i < w->n_listen_fds; i++)
		arm_accept(w, (unsigned)i);
	arm_signal_read(w);
	/* Accepting from the first submit on: the master may now retire an
	 * older generation (a reload waits for this). */
	wtab_set_state(&w->shm.workers, w->id, WTAB_READY);
	while (!w->stop_now)
		loop_turn(w);
	log_set_sink(NULL, NULL);
}
