/* worker_run(): build a worker's private state after fork, run its loop,
 * and take it all down again in reverse order. */
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "tls/ctx.h"
#include "lib/uring_compat.h"
#include "worker/balance.h"
#include "worker/conn.h"
#include "worker/jwtkeys.h"
#include "worker/connlimit.h"
#include "worker/core.h"
#include "worker/loop.h"
#include "worker/pipeline.h"
#include "worker/privdrop.h"
#include "worker/pool.h"
#include "worker/route.h"
#include "worker/services.h"
#include "worker/stages.h"

#define RING_ENTRIES 4096u
#define CQ_ENTRIES 16384u
#define BUF_ENTRIES 1024u	/* provided buffers, a power of two */
#define BUF_SIZE (16u << 10)
#define MAX_CONNS 16384u	/* under the fd limit of 20000, with room for logs */

static int setup_ring(struct worker *w)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	/* One thread submits and reaps, and task work runs only when we wait:
	 * completions arrive in batches at the top of each loop turn. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = CQ_ENTRIES;
	int err = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
	if (err) {
		log_error("io_uring_queue_init_params: %s", strerror(-err));
		return err;
	}
	/* Registered ring fd: io_uring_enter skips the fd table lookup. A
	 * failure only costs that saving. */
	if (io_uring_register_ring_fd(&w->ring) < 0)
		log_debug("io_uring_register_ring_fd failed; using the plain fd");
	return 0;
}

static int setup_buffers(struct worker *w)
{
	int err = bufring_init(&w->bufs, &w->ring, BUF_ENTRIES, BUF_SIZE, 0);

	if (err)
		log_error("receive buffers: %s", strerror(-err));
	return err;
}

static int setup_conns(struct worker *w)
{
	w->n_conns = MAX_CONNS;
	w->conns = calloc(MAX_CONNS, sizeof(*w->conns));
	w->free_conns = calloc(MAX_CONNS, sizeof(*w->free_conns));
	w->exchanges = calloc(MAX_CONNS, sizeof(*w->exchanges));
	w->accept_armed = calloc(w->n_listen_fds ? w->n_listen_fds : 1, sizeof(*w->accept_armed));
	if (!w->conns || !w->free_conns || !w->exchanges || !w->accept_armed)
		return -ENOMEM;
	/* A stack: low indexes are handed out first and stay warm. */
	for (uint32_t i = 0; i < MAX_CONNS; i++) {
		w->conns[i].index = i;
		w->conns[i].fd = -1;
		w->free_conns[i] = MAX_CONNS - 1 - i;
	}
	w->n_free = MAX_CONNS;
	return 0;
}

static void free_conns(struct worker *w)
{
	for (uint32_t i = 0; w->conns && i < w->n_conns; i++) {
		buf_free(&w->conns[i].in);
		outq_drop(&w->conns[i].out[0], &w->bufs);
		outq_drop(&w->conns[i].out[1], &w->bufs);
		outq_free(&w->conns[i].out[0]);
		outq_free(&w->conns[i].out[1]);
	}
	for (uint32_t i = 0; w->exchanges && i < w->n_conns; i++) {
		if (w->exchanges[i]) {
			buf_free(&w->exchanges[i]->up_head);
			auth_release(w->exchanges[i]);
		}
		free(w->exchanges[i]);
	}
	free(w->conns);
	free(w->free_conns);
	free(w->exchanges);
	free(w->accept_armed);
}

static int setup_signals(struct worker *w)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w->siginfo = calloc(1, sizeof(*w->siginfo));
	if (!w->siginfo)
		return -ENOMEM;
	w->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (w->sigfd < 0) {
		int err = -errno;
		log_error("signalfd: %s", strerror(-err));
		free(w->siginfo);
		return err;
	}
	return 0;
}

static void free_signals(struct worker *w)
{
	close(w->sigfd);
	free(w->siginfo);
}

static void free_routing(struct worker *w)
{
	access_free(w);
	ratelimit_free(w);
	jwtkeys_free(w);
	services_free(w);
	route_matcher_free(w->router);
}

/* Routes, the shared segment, the services as the registry has them, and
 * the access lists. */
static int setup_routing(struct worker *w)
{
	int err;

	w->router = route_matcher_new(w->cfg);
	if (!w->router)
		return -ENOMEM;
	err = shm_tables_attach(&w->shm, w->seg, (int)w->id);
	if (err) {
		log_error("the shared segment does not attach: %s", strerror(-err));
		goto err_free;
	}
	w->stats = wtab_entry(&w->shm.workers, w->id);
	/* Our copy of the TLS contexts (inherited) issues tickets under the
	 * keys every worker shares. */
	if (w->cfg->tls.server)
		tls_server_use_tickets(w->cfg->tls.server, &w->shm.tickets);
	tls_edge_setup(w);
	err = services_init(w);
	err = err ?: ratelimit_setup(w);
	err = err ?: access_setup(w);
	err = err ?: jwtkeys_init(w);
	if (err)
		goto err_free;
	return 0;

err_free:
	free_routing(w);
	return err;
}

static int setup_logs(struct worker *w)
{
	int err = appender_init(&w->error_log, "stderr");

	if (err)
		return err;
	w->access_log.fd = -1;
	if (!w->cfg->access_log)
		return 0;
	err = appender_init(&w->access_log, w->cfg->access_log);
	if (err) {
		log_error("access log %s: %s", w->cfg->access_log, strerror(-err));
		appender_close(&w->error_log);
		return err;
	}
	w->access_log_on = true;
	return 0;
}

static void free_logs(struct worker *w)
{
	appender_close(&w->access_log);
	appender_close(&w->error_log);
}

int worker_run(const struct worker_args *args)
{
	struct worker *w = calloc(1, sizeof(*w));
	int err = -ENOMEM;

	if (!w)
		goto err_out;
	w->cfg = args->cfg;
	w->slot = args->slot;
	w->id = args->id;
	w->generation = args->generation;
	w->seg = args->seg;
	w->listen_fds = args->listen_fds;
	w->n_listen_fds = args->n_listen_fds;
	w->now_us = clock_mono_ns() / 1000u;
	w->now_ms = w->now_us / 1000u;
	w->now_s = (uint64_t)time(NULL);
	timer_wheel_init(&w->timers, w->now_ms);
	if (getrandom(w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || (w->rng[0] | w->rng[1]) == 0) {
		w->rng[0] = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
		w->rng[1] = 0x9e3779b97f4a7c15ull ^ args->slot;
	}
	err = setup_ring(w);
	if (err)
		goto err_free;
	err = setup_buffers(w);
	if (err)
		goto err_ring;
	err = setup_conns(w);
	if (err)
		goto err_conns;
	err = setup_signals(w);
	if (err)
		goto err_conns;
	err = setup_routing(w);
	if (err)
		goto err_signals;
	err = setup_logs(w);
	if (err)
		goto err_routing;
	/* Everything that needs root is open: give it up before the first
	 * accept (worker/privdrop.c). */
	err = privdrop_worker(w->cfg);
	if (err)
		goto err_logs;

	log_info("serving on %zu listening socket%s (generation %llu)", w->n_listen_fds,
		 w->n_listen_fds == 1 ? "" : "s", (unsigned long long)w->generation);
	loop_run(w);
	log_info("stopped");

err_logs:
	free_logs(w);
err_routing:
	free_routing(w);
err_signals:
	free_signals(w);
err_conns:
	free_conns(w);
	connlimit_free(w);
	bufring_free(&w->bufs, &w->ring);
err_ring:
	io_uring_queue_exit(&w->ring);
err_free:
	free(w);
err_out:
	if (err)
		log_error("worker %u could not start: %s", args->slot, strerror(-err));
	return err ? 1 : 0;
}
