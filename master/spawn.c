/* Forking a worker, and the child's few steps before worker_run().
 *
 * There is no exec: the child inherits the parsed config, the listening
 * sockets and the blocked signal mask as they are. It must not touch the
 * master's ring or signalfd (it closes both, so a respawned worker holds
 * nothing of the master's loop), and it closes the other slots' listeners
 * so that a worker can only ever accept on its own. */
#ifdef GW_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif
#include "master/master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/log.h"
#include "worker/worker.h"

static void spawn_close_master_fds(const struct master *m, unsigned slot)
{
	if (m->sfd >= 0)
		close(m->sfd);
	if (m->ring_fd >= 0)
		close(m->ring_fd);
	for (unsigned s = 0; s < m->ls.n_slots; s++) {
		const int *fds = master_listen_slot_fds(&m->ls, s);

		if (s == slot)
			continue;
		for (size_t i = 0; i < m->ls.n_listens; i++)
			close(fds[i]);
	}
}

/* A worker that cannot be pinned still serves, only less predictably. */
static void spawn_pin(const struct master *m, unsigned slot)
{
	int cpu = master_cpu_pick(&m->cpus, slot);
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

static void __attribute__((noreturn)) spawn_child(const struct master *m, unsigned slot)
{
	char ident[32];

	snprintf(ident, sizeof(ident), "worker %u", slot);
	log_set_ident(ident);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		log_error("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		_exit(1);
	}
	/* The master may have died between fork and prctl, in which case the
	 * death signal will never come: we were reparented already. */
	if (getppid() != m->pid)
		_exit(1);
	spawn_close_master_fds(m, slot);
	if (m->pin)
		spawn_pin(m, slot);
	int status = worker_run(m->cfg, slot, master_listen_slot_fds(&m->ls, slot));
#ifdef GW_SANITIZE
	/* _exit() skips LeakSanitizer's atexit check; a worker's leaks are
	 * the ones worth finding, so check here (it exits non-zero on a leak). */
	__lsan_do_leak_check();
#endif
	_exit(status);
}

int master_spawn(struct master *m, unsigned slot, uint64_t now_ms)
{
	struct master_slot *s = &m->slots[slot];
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		int err = errno;

		log_error("fork for worker %u failed: %s", slot, strerror(err));
		return -err;
	}
	if (pid == 0)
		spawn_child(m, slot);
	s->pid = pid;
	s->started_ms = now_ms;
	s->respawn_pending = false;
	log_debug("worker %u started (pid %d)", slot, (int)pid);
	return 0;
}
