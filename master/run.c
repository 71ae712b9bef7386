/* Starting and ending the master: everything around the supervision loop.
 *
 * Order matters. The listeners are bound before any fork, so a port that is
 * taken fails the start before a worker exists. The loop's signals are
 * blocked before the first fork, so children inherit the mask (worker_run()
 * relies on it) and no SIGCHLD is lost before the signalfd exists. The ring
 * and signalfd come after the first forks, so those children never see
 * them; respawned ones close them (spawn.c). */
#include "master/master.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

#define MASTER_RING_ENTRIES	8	/* one poll today; room for the control socket */

static void master_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

/* The signalfd and the ring, after the first forks. */
static int master_loop_open(struct master *m)
{
	sigset_t set;
	int ret;

	master_sigset(&set);
	m->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sfd < 0) {
		ret = -errno;
		log_error("signalfd failed: %s", strerror(-ret));
		return ret;
	}
	ret = io_uring_queue_init(MASTER_RING_ENTRIES, &m->ring, 0);
	if (ret < 0) {
		log_error("io_uring_queue_init failed: %s", strerror(-ret));
		goto err_close_sfd;
	}
	m->ring_fd = m->ring.ring_fd;
	if (io_uring_ring_dontfork(&m->ring) < 0)
		log_debug("io_uring_ring_dontfork failed; children inherit the ring mappings");
	return 0;

err_close_sfd:
	close(m->sfd);
	m->sfd = -1;
	return ret;
}

static void master_loop_close(struct master *m)
{
	io_uring_queue_exit(&m->ring);
	m->ring_fd = -1;
	close(m->sfd);
	m->sfd = -1;
}

/* Startup failed with workers already forked: they must not outlive us. */
static void master_kill_all_now(struct master *m)
{
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].pid <= 0)
			continue;
		kill(m->slots[i].pid, SIGKILL);
		while (waitpid(m->slots[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		m->slots[i].pid = 0;
	}
}

/* Block the signals the loop reads before any fork, so that the children
 * inherit the mask and no signal is lost between fork and signalfd. */
static int master_block_signals(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t set;

	master_sigset(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		int err = errno;

		log_error("sigprocmask failed: %s", strerror(err));
		return -err;
	}
	/* A closed stderr pipe must not kill the master (or, inherited, a
	 * worker); the failed write is enough. */
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, NULL);
	return 0;
}

static void master_cpus_init(struct master *m)
{
	long online;

	if (sched_getaffinity(0, sizeof(m->cpus), &m->cpus) == 0)
		return;
	log_warn("sched_getaffinity failed: %s; workers will not be pinned", strerror(errno));
	m->pin = false;
	online = sysconf(_SC_NPROCESSORS_ONLN);
	CPU_ZERO(&m->cpus);
	for (long cpu = 0; cpu < online && cpu < CPU_SETSIZE; cpu++)
		CPU_SET((int)cpu, &m->cpus);
}

static int master_init(struct master *m, const char *conf_path, const struct gw_config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->conf_path = conf_path;
	m->cfg = cfg;
	m->pid = getpid();
	m->pin = cfg->pin_workers;
	m->sfd = -1;
	m->ring_fd = -1;
	master_cpus_init(m);
	m->n_slots = master_worker_count(cfg->workers, &m->cpus);
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	if (!m->slots) {
		log_error("out of memory for %u worker slots", m->n_slots);
		return -ENOMEM;
	}
	return 0;
}

static int master_spawn_all(struct master *m)
{
	uint64_t now = clock_mono_ms();
	int ret;

	for (unsigned i = 0; i < m->n_slots; i++) {
		ret = master_spawn(m, i, now);
		if (ret)
			return ret;
	}
	return 0;
}

int master_run(const char *conf_path, const struct gw_config *cfg)
{
	struct master m;

	if (master_init(&m, conf_path, cfg))
		return 1;
	if (master_listen_open(&m.ls, cfg->listens, cfg->n_listens, m.n_slots))
		goto err_free;
	if (master_block_signals())
		goto err_close_listeners;
	if (master_spawn_all(&m) || master_loop_open(&m))
		goto err_kill;
	log_info("ready: %u workers", m.n_slots);
	master_supervise(&m);
	master_loop_close(&m);
	master_listen_close(&m.ls);
	free(m.slots);
	return 0;

err_kill:
	master_kill_all_now(&m);
err_close_listeners:
	master_listen_close(&m.ls);
err_free:
	free(m.slots);
	return 1;
}
