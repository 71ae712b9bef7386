/* Starting and ending the master: everything around the supervision loop.
 *
 * Order matters. The segment exists and the registry is published before
 * any fork, so every worker maps it and finds its instances. The listeners
 * are bound before any fork, so a port that is taken fails the start
 * before a worker exists. The loop's signals are blocked before the first
 * fork, so children inherit the mask (worker_run() relies on it) and no
 * SIGCHLD is lost before the signalfd exists. Children close every
 * descriptor of the master's (spawn.c) and never get its ring's mappings
 * (MADV_DONTFORK), so the ring, the control socket and the admin listener
 * can all exist before the first fork. */
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
#include "master/admin.h"
#include "master/control.h"
#include "master/health.h"
#include "master/mreg.h"

/* Polls in flight: the signalfd, the control and admin listeners and their
 * clients, and one per health check; a full ring is submitted and retried. */
#define MASTER_RING_ENTRIES	256

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

static int master_init(struct master *m, const char *conf_path, struct gw_config *cfg)
{
	memset(m, 0, sizeof(*m));
	m->conf_path = conf_path;
	m->cfg = cfg;
	m->generation = 1;
	m->pid = getpid();
	m->started_ms = clock_mono_ms();
	m->pin = cfg->pin_workers;
	m->sfd = -1;
	m->ring_fd = -1;
	m->seg.fd = -1;
	master_cpus_init(m);
	m->n_slots = master_worker_count(cfg->workers, &m->cpus);
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	if (!m->slots) {
		log_error("out of memory for %u worker slots", m->n_slots);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < m->n_slots; i++)
		m->slots[i].id = -1;
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

/* The shared segment and the registry in it, before any fork. */
static int master_state_open(struct master *m)
{
	int ret = shm_create_master(&m->seg, m->cfg->shm_size);

	if (ret < 0)
		return ret;
	if (shm_tables_attach(&m->tables, &m->seg, -1) < 0) {
		log_error("the shared segment's regions do not attach");
		return -EPROTO;
	}
	m->reg = mreg_new();
	m->health = health_new();
	if (!m->reg || !m->health) {
		log_error("out of memory for the registry");
		return -ENOMEM;
	}
	ret = mreg_apply_config(m, m->cfg);
	if (ret < 0)
		log_error("registry: %s", strerror(-ret));
	return ret ?: master_keys_adopt(m, m->cfg, true);
}

static void master_state_close(struct master *m)
{
	/* Only when startup failed before the ring: no check was armed yet. */
	if (m->health)
		health_free(m);
	mreg_free(m->reg);
	m->reg = NULL;
	master_keys_free(m);
	shm_unmap(&m->seg);
}

/* What the master serves besides signals: the control socket, the admin
 * listener. Needs the ring. */
static int master_services_open(struct master *m)
{
	master_io_init();
	if (control_open(m) < 0 || admin_open(m) < 0)
		return -1;
	return 0;
}

/* Before the ring goes: closing a health check or a client cancels its
 * armed poll through the ring. */
static void master_services_close(struct master *m)
{
	admin_close(m);
	control_close(m);
	if (m->health)
		health_free(m);
}

static void master_free(struct master *m)
{
	free(m->slots);
	free(m->retirees);
	conf_free(m->cfg);
}

int master_run(const char *conf_path, struct gw_config *cfg)
{
	struct master m;
	int status = 1;

	if (master_init(&m, conf_path, cfg))
		goto out_free;
	if (master_state_open(&m))
		goto out_state;
	if (master_listen_open(&m.ls, m.cfg->listens, m.cfg->n_listens, m.n_slots))
		goto out_state;
	if (master_block_signals() || master_loop_open(&m))
		goto out_listeners;
	if (master_services_open(&m))
		goto out_services;
	if (master_spawn_all(&m)) {
		master_kill_all_now(&m);
		goto out_services;
	}
	log_info("ready: %u workers", m.n_slots);
	master_supervise(&m);
	status = 0;
out_services:
	master_services_close(&m);
	master_loop_close(&m);
out_listeners:
	master_listen_close(&m.ls);
out_state:
	master_state_close(&m);
out_free:
	master_free(&m);
	return status;
}
