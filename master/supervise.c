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
 * Since the segment and reloads, the loop also carries the control socket,
 * the admin listener and health checks (master/mio.h dispatches their
 * polls), and each turn's chores run in this order: reap completions, read
 * signals, reap children (releasing their shared-memory claims), stop,
 * forward, reload, respawn, then the ticks of the reload in progress, the
 * registry, health checks, the control socket, the admin listener and the
 * JWKS fetches (master/jwksfetch.c), and last the SIGKILL deadlines of stops and of draining old generations.
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

#include <jansson.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/admin.h"
#include "master/control.h"
#include "master/health.h"
#include "master/jwksfetch.h"
#include "master/mio.h"
#include "master/mreg.h"

/* What the signalfd delivered in one turn; the turn acts on it in order. */
struct master_signals {
	bool chld, term, intr, hup, usr1;
};

#define MASTER_DRAIN_GRACE_MS	1000u	/* on top of drain_timeout_ms */
#define MASTER_SIGINT_GRACE_MS	1000u
#define MASTER_NO_DEADLINE	UINT64_MAX
#define TICKET_ROTATE_S		43200u	/* see master_rotate_tickets() */
#define TICKET_CHECK_MS		60000u

static unsigned master_live_workers(const struct master *m)
{
	unsigned n = (unsigned)m->n_retirees;

	for (unsigned i = 0; i < m->n_slots; i++)
		n += m->slots[i].pid > 0;
	return n;
}

static void master_kill(pid_t pid, int signo)
{
	/* The pid cannot be reused before we reap it, so this never hits a
	 * stranger; ESRCH cannot happen either but is harmless. */
	if (pid > 0 && kill(pid, signo) < 0 && errno != ESRCH)
		log_error("kill(pid %d, signal %d) failed: %s", (int)pid, signo, strerror(errno));
}

/* Send <signo> to every running worker of every generation. */
static void master_forward(const struct master *m, int signo)
{
	for (unsigned i = 0; i < m->n_slots; i++)
		master_kill(m->slots[i].pid, signo);
	for (size_t i = 0; i < m->n_retirees; i++)
		master_kill(m->retirees[i].pid, signo);
}

void master_add_retiree(struct master *m, struct master_slot *s, uint64_t generation,
			uint64_t kill_at_ms)
{
	struct master_retiree *r = realloc(m->retirees, (m->n_retirees + 1) * sizeof(*r));

	if (!r) {
		/* Cannot track it: make sure it does not outlive its drain. It
		 * is then reaped as a stranger, its id never released. */
		log_error("out of memory tracking a draining worker; killing it");
		kill(s->pid, SIGKILL);
	} else {
		r[m->n_retirees++] = (struct master_retiree){
			.pid = s->pid, .id = s->id, .generation = generation,
			.kill_at_ms = kill_at_ms,
		};
		m->retirees = r;
	}
	s->pid = 0;
	s->id = -1;
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

/* A worker of the current generation died: respawn it (with backoff). */
static void master_slot_exited(struct master *m, unsigned i, const char *why, uint64_t now)
{
	struct master_slot *s = &m->slots[i];
	pid_t pid = s->pid;
	uint64_t wait;

	s->pid = 0;
	s->id = -1;
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

static bool master_retiree_exited(struct master *m, pid_t pid, const char *why)
{
	for (size_t i = 0; i < m->n_retirees; i++) {
		struct master_retiree *r = &m->retirees[i];

		if (r->pid != pid)
			continue;
		log_info("worker (pid %d) of generation %llu %s", (int)pid,
			 (unsigned long long)r->generation, why);
		*r = m->retirees[--m->n_retirees];
		return true;
	}
	return false;
}

/* The worker-table id of <pid>, whichever generation it belongs to. */
static int master_worker_id(const struct master *m, pid_t pid)
{
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].pid == pid)
			return m->slots[i].id;
	}
	for (size_t i = 0; i < m->n_retirees; i++) {
		if (m->retirees[i].pid == pid)
			return m->retirees[i].id;
	}
	return master_reload_worker_id(m, pid);
}

static void master_worker_exited(struct master *m, pid_t pid, int status, uint64_t now)
{
	int id = master_worker_id(m, pid);
	char why[64];

	master_exit_text(status, why, sizeof(why));
	/* Before anything can reuse the id: the dead worker's claims. */
	if (id >= 0)
		shm_release_worker_master(&m->tables, (unsigned)id);
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].pid == pid) {
			master_slot_exited(m, i, why, now);
			return;
		}
	}
	if (master_retiree_exited(m, pid, why))
		return;
	if (master_reload_worker_died(m, pid)) {
		log_error("new worker (pid %d) %s before it was ready", (int)pid, why);
		return;
	}
	log_debug("reaped pid %d, which is not a worker", (int)pid);
}

void master_reap_children(struct master *m, uint64_t now)
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

void master_request_stop(struct master *m, bool drain)
{
	master_stop(m, drain ? SIGTERM : SIGINT, clock_mono_ms());
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

/* Old generations that overstay their drain get SIGKILL, once. */
static void master_enforce_retirees(struct master *m, uint64_t now)
{
	for (size_t i = 0; i < m->n_retirees; i++) {
		struct master_retiree *r = &m->retirees[i];

		if (now < r->kill_at_ms)
			continue;
		log_warn("worker (pid %d) of generation %llu still draining at its deadline; "
			 "sending SIGKILL", (int)r->pid, (unsigned long long)r->generation);
		master_kill(r->pid, SIGKILL);
		r->kill_at_ms = MASTER_NO_DEADLINE;
	}
}

static void master_enforce_deadline(struct master *m, uint64_t now)
{
	master_enforce_retirees(m, now);
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

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t master_next_deadline(const struct master *m)
{
	uint64_t next = MASTER_NO_DEADLINE;

	for (size_t i = 0; i < m->n_retirees; i++)
		next = min_u64(next, m->retirees[i].kill_at_ms);
	next = min_u64(next, master_reload_next_deadline(m));
	next = min_u64(next, mreg_next_deadline(m));
	next = min_u64(next, m->tickets_checked_ms + TICKET_CHECK_MS);
	next = min_u64(next, control_next_deadline(m));
	next = min_u64(next, admin_next_deadline(m));
	next = min_u64(next, mjwks_next_deadline(m));
	if (m->health)
		next = min_u64(next, health_next_deadline(m));
	if (m->state != MASTER_RUNNING)
		return min_u64(next, m->stop_killed ? MASTER_NO_DEADLINE : m->stop_deadline_ms);
	for (unsigned i = 0; i < m->n_slots; i++) {
		if (m->slots[i].respawn_pending)
			next = min_u64(next, m->slots[i].respawn_at_ms);
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

/* The MIO_SIGNAL handler: the read happens every turn; only re-arm. */
static void master_on_signal_poll(struct master *m, uint32_t index, uint32_t tag, int res)
{
	m->signal_armed = false;
}

static void master_arm_signal(struct master *m)
{
	if (m->signal_armed)
		return;
	/* A full ring is retried next turn (a deadline bounds the wait). */
	m->signal_armed = mio_poll(m, MIO_SIGNAL, 0, 0, m->sfd, POLLIN) == 0;
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
	if (!m->signal_armed && deadline > now + 100)
		deadline = now + 100;	/* the signal poll could not be armed */
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

/* TLS session-ticket keys: a fresh one every TICKET_ROTATE_S, so a ticket
 * is good for 12 to 24 hours (issued under the current key, accepted under
 * it and the previous one). Checked each turn; the wall clock is read only
 * when the monotonic one says a check is due. */

static void master_rotate_tickets(struct master *m, uint64_t now)
{
	uint64_t wall_s;

	if (now < m->tickets_checked_ms + TICKET_CHECK_MS)
		return;
	m->tickets_checked_ms = now;
	wall_s = clock_wall_us() / 1000000u;
	if (wall_s >= tickets_current_created(&m->tables.tickets) + TICKET_ROTATE_S) {
		tickets_rotate_master(&m->tables.tickets, wall_s);
		log_info("TLS session-ticket key rotated");
	}
}

void master_io_init(void)
{
	mio_set_handler(MIO_SIGNAL, master_on_signal_poll);
	mio_set_handler(MIO_CONTROL, control_on_poll);
	mio_set_handler(MIO_ADMIN, admin_on_poll);
	mio_set_handler(MIO_HEALTH, health_on_poll);
	mio_set_handler(MIO_JWKS, mjwks_on_poll);
}

/* One turn: wait for a signal, a completion or the nearest deadline, then
 * the chores in their order. */
static void master_loop_turn(struct master *m)
{
	struct master_signals sig = { 0 };
	uint64_t now;

	master_arm_signal(m);
	master_wait(m, master_next_deadline(m), clock_mono_ms());
	mio_reap(m);
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
		json_decref(master_reload_start(m, UINT32_MAX));
	master_respawn_due(m, now);
	master_reload_tick(m, now);
	mreg_tick(m, now);
	master_rotate_tickets(m, now);
	if (m->health)
		health_tick(m, now);
	control_tick(m, now);
	admin_tick(m, now);
	mjwks_tick(m, now);
	master_enforce_deadline(m, now);
}

void master_supervise(struct master *m)
{
	while (m->state == MASTER_RUNNING || master_live_workers(m) > 0 || m->reload)
		master_loop_turn(m);
	log_info("all workers stopped; exiting");
}
