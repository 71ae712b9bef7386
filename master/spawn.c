/* Forking a worker, and the child's few steps before worker_run().
 *
 * There is no exec: the child inherits the parsed config, the mapped
 * segment, the listening sockets and the blocked signal mask as they are.
 * It must not touch the master's ring, signalfd, control or admin sockets
 * (it closes them all, so a respawned worker holds nothing of the master's
 * loop), and it closes the listeners it does not serve, so that a worker
 * can only ever accept on its own. */
#ifdef GW_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif
#include "master/master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/log.h"
#include "worker/worker.h"

size_t master_slot_fds(const struct master *m, unsigned slot, unsigned n_workers, int *fds)
{
	size_t n = 0;

	for (unsigned s = slot; s < m->ls.n_slots; s += n_workers) {
		const int *slot_fds = master_listen_slot_fds(&m->ls, s);

		for (size_t i = 0; i < m->ls.n_listens; i++)
			fds[n++] = slot_fds[i];
	}
	return n;
}

static int fd_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor but stdio and the listeners the worker serves:
 * the master's ring and signalfd, the segment's fd (the mapping stays),
 * the control and admin sockets, health-check connections, and whatever
 * the master opens in the future, without a list to keep up to date. */
static void spawn_close_master_fds(struct master *m, int *keep, size_t n_keep)
{
	unsigned next = 3;

	qsort(keep, n_keep, sizeof(*keep), fd_cmp);
	for (size_t k = 0; k < n_keep; k++) {
		if ((unsigned)keep[k] > next)
			close_range(next, (unsigned)keep[k] - 1, 0);
		next = (unsigned)keep[k] + 1;
	}
	close_range(next, ~0u, 0);
	m->sfd = m->ring_fd = m->seg.fd = -1;
}

/* A worker that cannot be pinned still serves, only less predictably. */
static void spawn_pin(const struct master *m, int cpu)
{
	cpu_set_t one;

	if (cpu < 0) {
		log_warn("no CPU to pin to; running unpinned");
		return;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0) {
		log_warn("sched_setaffinity(CPU %d) failed: %s; running unpinned", cpu,
			 strerror(errno));
		return;
	}
	log_debug("pinned to CPU %d", cpu);
}

static void __attribute__((noreturn)) spawn_child(struct master *m, struct worker_args *a,
						  int cpu)
{
	char ident[32];
	int *fds = (int *)a->listen_fds;
	int status;

	snprintf(ident, sizeof(ident), "worker %u", a->slot);
	log_set_ident(ident);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		log_error("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		_exit(1);
	}
	/* The master may have died between fork and prctl, in which case the
	 * death signal will never come: we were reparented already. */
	if (getppid() != m->pid)
		_exit(1);
	spawn_close_master_fds(m, fds, a->n_listen_fds);
	if (m->pin)
		spawn_pin(m, cpu);
	status = worker_run(a);
#ifdef GW_SANITIZE
	/* _exit() skips LeakSanitizer's atexit check; a worker's leaks are
	 * the ones worth finding, so check here (it exits non-zero on a leak). */
	__lsan_do_leak_check();
#endif
	_exit(status);
}

int master_fork_worker(struct master *m, const struct gw_config *cfg, uint64_t generation,
		       struct master_slot *s, unsigned slot, unsigned n_workers, uint64_t now_ms)
{
	int cpu = m->pin ? master_cpu_pick(&m->cpus, slot) : -1;
	int *fds = calloc((size_t)m->ls.n_slots * m->ls.n_listens + 1, sizeof(*fds));
	struct worker_args a;
	pid_t pid;
	int id;

	if (!fds)
		return -ENOMEM;
	id = wtab_claim_master(&m->tables.workers, slot, cpu, generation);
	if (id < 0) {
		log_error("no free worker id for worker %u (at most %u workers at once)", slot,
			  SHM_MAX_WORKERS);
		free(fds);
		return id;
	}
	a = (struct worker_args){
		.cfg = cfg, .slot = slot, .id = (unsigned)id, .generation = generation,
		.seg = &m->seg, .listen_fds = fds,
		.n_listen_fds = master_slot_fds(m, slot, n_workers, fds),
	};
	pid = fork();
	if (pid < 0) {
		int err = errno;

		log_error("fork for worker %u failed: %s", slot, strerror(err));
		wtab_release_master(&m->tables.workers, (unsigned)id);
		free(fds);
		return -err;
	}
	if (pid == 0)
		spawn_child(m, &a, cpu);	/* the child keeps fds for good */
	free(fds);
	wtab_set_pid_master(&m->tables.workers, (unsigned)id, pid);
	s->pid = pid;
	s->id = id;
	s->started_ms = now_ms;
	s->respawn_pending = false;
	log_debug("worker %u started (pid %d, id %d, generation %llu)", slot, (int)pid, id,
		  (unsigned long long)generation);
	return 0;
}

int master_spawn(struct master *m, unsigned slot, uint64_t now_ms)
{
	return master_fork_worker(m, m->cfg, m->generation, &m->slots[slot], slot, m->n_slots,
				  now_ms);
}
