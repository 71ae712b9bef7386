/* Supervision: the master's own small io_uring loop.
 *
 * run.c sets the loop up (signals blocked before the first fork, then the
 * signalfd and the ring) and master_supervise() runs it. The ring carries
 * one poll on the signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1), and
 * each wait is bounded by the nearest deadline: a slot's delayed respawn, or
 * the moment a stop stops being polite. Signals only set flags; one loop
 * turn then acts on them in a fixed order (reap, stop, forward, reload,
 * respawn, deadline), so two signals in one turn never race each other.
 *
 * States: RUNNING respawns whatever dies. SIGTERM moves to DRAINING: workers
 * get SIGTERM and drain_timeout_ms + 1 s to finish before SIGKILL. SIGINT
 * moves to STOPPING (also from DRAINING): workers get SIGINT and 1 s. Nothing
 * is respawned once stopping, and the master exits 0 when no worker is left.
 *
 * The ring is master-only: created after the first forks, and a respawned
 * child closes its fd and never gets its mappings (MADV_DONTFORK). */
#include "master/master.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

/* What each SQE in the master's ring is, in its user_data. */
enum master_op {
	MASTER_OP_SIGNAL = 1,		/* POLLIN on the signalfd */
};

/* What the signalfd delivered in one turn; the turn acts on it in order. */
struct master_signals {
	bool chld, term, intr, hup, usr1;
};

#define MASTER_DRAIN_GRACE_MS	1000u	/* on top of drain_timeout_ms */
#define MASTER_SIGINT_GRACE_MS	1000u
#define MASTER_NO_DEADLINE	UINT64_MAX

static unsigned master_live_workers(const struct master *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->n_slots; i++)
		n += m->slots[i].pid > 0;
	return n;
}

/* Send <signo> to every running worker. */
static void master_forward(const struct master *m, int signo)
{
	for (unsigned i = 0; i < m->n_slots; i++) {
		pid_t pid = m->slots[i].pid;

		/* The pid cannot be reused before we reap it, so this never
		 * hits a stranger; ESRCH cannot happen either but is harmless. */
		if (pid > 0 && kill(pid, signo) < 0 && errno != ESRCH)
			log_error("kill(worker %u, pid %d, signal %d) failed: %s", i, (int)pid,
				  signo, strerror(errno));
	}
}

/* Wait <wait_ms> before the slot's next fork (0 = this turn). */
static void master_schedule_respawn(struct master *m, unsigned slot, uint64_t wait_ms,
				    uint64_t now)
{
	m->slots[slot].respawn_pending = true;
	m->slots[slot].respawn_at_ms = now + wait_ms;
}

static void master_exit_text(int status, char *out, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(out, size, "killed by signal %d%s", WTERMSIG(status),
			 WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
}

static void master_worker_exited(struct master *m, pid_t pid, int status, uint64_t now)
{
	struct master_slot *s;
	uint64_t wait;
	unsigned i;
	char why[64];

	for (i = 0; i < m->n_slots && m->slots[i].pid != pid; i++)
		;
	if (i == m->n_slots) {
		log_debug("reaped pid %d, which is not a worker", (int)pid);
		return;
	}
	s = &m->slots[i];
	s->pid = 0;
	master_exit_text(status, why, sizeof(why));
	if (m->state != MASTER_RUNNING) {
		log_info("worker %u (pid %d) %s", i, (int)pid, why);
		return;
	}
	log_error("worker %u (pid %d) %s", i, (int)pid, why);
	wait = master_backoff_next(&s->backoff_ms, now - s->started_ms);
	if (wait)
		log_warn("worker %u keeps dying; respawning in %llums", i, (unsigned long long)wait);
	master_schedule_respawn(m, i, wait, now);
}

static void master_reap_children(struct master *m, uint64_t now)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_worker_exited(m, pid, status, now);
	if (pid < 0 && errno != ECHILD)
		log_error("waitpid failed: %s", strerror(errno));
}

/* Begin (or hurry) a stop: forward <signo> and set the SIGKILL deadline. */
static void master_stop(struct master *m, int signo, uint64_t now)
{
	bool drain = signo == SIGTERM;
	uint64_t deadline;

	if (m->state == MASTER_STOPPING || (m->state == MASTER_DRAINING && drain))
		return;
	deadline = now + (drain ? m->cfg->drain_timeout_ms + MASTER_DRAIN_GRACE_MS
				: MASTER_SIGINT_GRACE_MS);
	if (m->state == MASTER_RUNNING || deadline < m->stop_deadline_ms)
		m->stop_deadline_ms = deadline;
	m->state = drain ? MASTER_DRAINING : MASTER_STOPPING;
	log_info("%s: %s %u workers", drain ? "SIGTERM" : "SIGINT",
		 drain ? "draining" : "stopping", master_live_workers(m));
	for (unsigned i = 0; i < m->n_slots; i++)
		m->slots[i].respawn_pending = false;
	master_forward(m, signo);
}

static void master_respawn_due(struct master *m, uint64_t now)
{
	if (m->state != MASTER_RUNNING)
		return;
	for (unsigned i = 0; i < m->n_slots; i++) {
		struct master_slot *s = &m->slots[i];
		uint64_t wait;

		if (!s->respawn_pending || now < s->respawn_at_ms)
			continue;
		if (master_spawn(m, i, now) == 0) {
			log_info("worker %u (pid %d) respawned", i, (int)s->pid);
			continue;
		}
		/* fork failed (logged): out of memory or pids; retry later. */
		wait = master_backoff_next(&s->backoff_ms, 0);
		log_warn("worker %u: retrying the fork in %llums", i, (unsigned long long)wait);
		master_schedule_respawn(m, i, wait, now);
	}
}

static void master_enforce_deadline(struct master *m, uint64_t now)
{
	if (m->state == MASTER_RUNNING || m->stop_killed || now < m->stop_deadline_ms)
		return;
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].pid > 0)
			log_warn("worker %u (pid %d) still running at the stop deadline; sending SIGKILL",
				 i, (int)m->slots[i].pid);
	}
	master_forward(m, SIGKILL);
	m->stop_killed = true;
}

static uint64_t master_next_deadline(const struct master *m)
{
	uint64_t next = MASTER_NO_DEADLINE;

	if (m->state != MASTER_RUNNING)
		return m->stop_killed ? MASTER_NO_DEADLINE : m->stop_deadline_ms;
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].respawn_pending && m->slots[i].respawn_at_ms < next)
			next = m->slots[i].respawn_at_ms;
	}
	return next;
}

static void master_note_signal(struct master_signals *sig, uint32_t signo)
{
	switch (signo) {
	case SIGCHLD:
		sig->chld = true;
		break;
	case SIGTERM:
		sig->term = true;
		break;
	case SIGINT:
		sig->intr = true;
		break;
	case SIGHUP:
		sig->hup = true;
		break;
	case SIGUSR1:
		sig->usr1 = true;
		break;
	default:
		break;
	}
}

/* Drain the signalfd. Done every turn, not only after the poll completes,
 * so that a signal is never left behind by a lost or late completion. */
static void master_read_signals(struct master *m, struct master_signals *sig)
{
	struct signalfd_siginfo si[8];
	ssize_t n;

	for (;;) {
		n = read(m->sfd, si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++)
			master_note_signal(sig, si[i].ssi_signo);
	}
	if (n < 0 && errno != EAGAIN)
		log_error("read(signalfd) failed: %s", strerror(errno));
}

static void master_arm_signal(struct master *m)
{
	struct io_uring_sqe *sqe;

	if (m->signal_armed)
		return;
	sqe = io_uring_get_sqe(&m->ring);
	if (!sqe)
		return;	/* cannot happen with one op in flight; retried next turn */
	io_uring_prep_poll_add(sqe, m->sfd, POLLIN);
	io_uring_sqe_set_data64(sqe, MASTER_OP_SIGNAL);
	m->signal_armed = true;
}

/* Submit, then sleep until a completion or <deadline> (monotonic ms). */
static void master_wait(struct master *m, uint64_t deadline, uint64_t now)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t wait_ms;
	int ret;

	ret = io_uring_submit(&m->ring);
	if (ret < 0)
		log_error("io_uring_submit failed: %s", strerror(-ret));
	if (deadline == MASTER_NO_DEADLINE) {
		ret = io_uring_wait_cqe(&m->ring, &cqe);
	} else {
		wait_ms = deadline > now ? deadline - now : 0;
		ts.tv_sec = (long long)(wait_ms / 1000);
		ts.tv_nsec = (long long)(wait_ms % 1000) * 1000000;
		ret = io_uring_wait_cqe_timeout(&m->ring, &cqe, &ts);
	}
	if (ret < 0 && ret != -ETIME && ret != -EINTR) {
		log_error("io_uring_wait_cqe failed: %s", strerror(-ret));
		/* Do not spin on a broken ring: wait on the signalfd directly. */
		poll(&(struct pollfd){ .fd = m->sfd, .events = POLLIN }, 1, 1000);
	}
}

static void master_reap_cqes(struct master *m)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&m->ring, head, cqe) {
		switch ((enum master_op)io_uring_cqe_get_data64(cqe)) {
		case MASTER_OP_SIGNAL:
			/* The read happens every turn; only re-arm. */
			m->signal_armed = false;
			break;
		}
		n++;
	}
	io_uring_cq_advance(&m->ring, n);
}

/* One turn: wait for a signal or the nearest deadline, then the chores. */
static void master_loop_turn(struct master *m)
{
	struct master_signals sig = { 0 };
	uint64_t now;

	master_arm_signal(m);
	master_wait(m, master_next_deadline(m), clock_mono_ms());
	master_reap_cqes(m);
	master_read_signals(m, &sig);
	now = clock_mono_ms();
	if (sig.chld)
		master_reap_children(m, now);
	if (sig.intr)
		master_stop(m, SIGINT, now);
	if (sig.term)
		master_stop(m, SIGTERM, now);
	if (sig.usr1)
		master_forward(m, SIGUSR1);
	if (sig.hup)
		master_reload_check(m->conf_path);
	master_respawn_due(m, now);
	master_enforce_deadline(m, now);
}

void master_supervise(struct master *m)
{
	while (m->state == MASTER_RUNNING || master_live_workers(m) > 0)
		master_loop_turn(m);
	log_info("all workers stopped; exiting");
}
