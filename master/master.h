/* The master process: binds the listeners, forks and pins one worker per
 * slot, and supervises them. It never touches client bytes.
 *
 * Everything declared here runs in the master only, except that the child
 * side of master_spawn() runs between fork and worker_run(). The pieces:
 *   backoff.c    how long a slot that keeps dying waits before a respawn;
 *   cpu.c        how many workers, and which CPU each one is pinned to;
 *   listen.c     one SO_REUSEPORT socket per listen address per slot;
 *   spawn.c      fork, the child's setup, then worker_run();
 *   run.c        start (bind, block signals, fork all, ring) and end;
 *   supervise.c  the master's ring: signals, reaping, respawns, stopping;
 *   confload.c   conf_load() with its messages captured;
 *   reload.c     SIGHUP: check the file again and report. */
#ifndef GW_MASTER_MASTER_H
#define GW_MASTER_MASTER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>

#include "conf/config.h"

/* backoff.c */

#define MASTER_BACKOFF_MIN_MS	100u	/* first wait after a quick death */
#define MASTER_BACKOFF_MAX_MS	10000u	/* the doubling stops here */
#define MASTER_QUICK_DEATH_MS	1000u	/* dying sooner than this counts as quick */
#define MASTER_STABLE_MS	10000u	/* running this long forgives the past */

/* Decide how long to wait before respawning a slot whose worker ran for
 * <ran_ms>. <level_ms> is the slot's backoff state (0 for a fresh slot) and
 * is updated. A quick death waits MASTER_BACKOFF_MIN_MS, then twice the last
 * wait per further quick death, up to MASTER_BACKOFF_MAX_MS; a run of at
 * least MASTER_STABLE_MS resets the state. Returns the wait in ms, 0 for
 * "respawn now". Pure: time is passed in. */
uint64_t master_backoff_next(uint64_t *level_ms, uint64_t ran_ms);

/* cpu.c */

/* The number of workers to run: <configured>, or when it is 0 one per CPU
 * in <mask> (at least one). */
unsigned master_worker_count(unsigned configured, const cpu_set_t *mask);

/* The CPU worker <i> is pinned to: the (i mod n)-th of the n CPUs set in
 * <mask>, counting from the lowest. Returns the CPU number, or -ENOENT when
 * <mask> is empty. */
int master_cpu_pick(const cpu_set_t *mask, unsigned i);

/* listen.c */

/* Every listening socket, slot-major: fds[slot * n_listens + listen]. */
struct master_listeners {
	int *fds;		/* NULL when closed; entries are -1 until bound */
	unsigned n_slots;
	size_t n_listens;
};

/* Open one listening socket per (slot, address) of <listens>: nonblocking,
 * close-on-exec, SO_REUSEADDR + SO_REUSEPORT, IPV6_V6ONLY for IPv6,
 * TCP_NODELAY (inherited by accepted sockets). Every slot of one address
 * shares its port; port 0 picks one for the first slot and reuses it.
 * Logs "listening on ADDR" once per address. Returns 0 or -errno after
 * logging "CALL ADDR: reason" and closing whatever it opened. */
int master_listen_open(struct master_listeners *ls, const struct gw_listen_conf *listens,
		       size_t n_listens, unsigned n_slots);

/* The n_listens fds of <slot>, in the order of the config's listens. */
static inline const int *master_listen_slot_fds(const struct master_listeners *ls,
						unsigned slot)
{
	return ls->fds + (size_t)slot * ls->n_listens;
}

/* Close every socket and free the table. Safe on a zeroed or closed table. */
void master_listen_close(struct master_listeners *ls);

/* spawn.c, run.c, supervise.c */

/* One worker slot. pid and respawn_pending are never both set. */
struct master_slot {
	pid_t pid;			/* 0 while no worker runs in the slot */
	uint64_t started_ms;		/* monotonic ms of the last fork */
	uint64_t backoff_ms;		/* master_backoff_next() state */
	uint64_t respawn_at_ms;		/* monotonic ms; valid if respawn_pending */
	bool respawn_pending;
};

enum master_state {
	MASTER_RUNNING = 0,
	MASTER_DRAINING,		/* SIGTERM forwarded; waiting for drains */
	MASTER_STOPPING,		/* SIGINT forwarded; waiting briefly */
};

struct master {
	const char *conf_path;		/* for reload checks */
	const struct gw_config *cfg;	/* borrowed; outlives the master */
	pid_t pid;			/* our own, for the children's getppid() check */

	cpu_set_t cpus;			/* the affinity mask we inherited */
	bool pin;			/* pin worker i to master_cpu_pick(cpus, i) */

	struct master_listeners ls;
	struct master_slot *slots;
	unsigned n_slots;

	/* Master-only descriptors a child closes right after fork; -1 = none. */
	int sfd;			/* signalfd */
	int ring_fd;			/* the master's io_uring */
	struct io_uring ring;
	bool signal_armed;		/* a poll on sfd is in the ring */

	enum master_state state;
	uint64_t stop_deadline_ms;	/* monotonic; SIGKILL what still runs after it */
	bool stop_killed;		/* the SIGKILLs went out */
};

/* Fork the worker for <slot> and record it in m->slots[slot] with <now_ms>
 * as its start. The child closes the master's private fds and other slots'
 * listeners, dies with the master (PR_SET_PDEATHSIG), pins itself when
 * m->pin, and exits with worker_run()'s return value; it never returns
 * here. Returns 0 in the master, or -errno when fork fails (logged). */
int master_spawn(struct master *m, unsigned slot, uint64_t now_ms);

/* Supervise until stopped: the loop over m->ring and m->sfd, which must be
 * open, with every slot forked. Returns once a stop (SIGTERM or SIGINT) has
 * seen every worker exit; never respawns after a stop began. */
void master_supervise(struct master *m);

/* Run the master over <cfg> (loaded from <conf_path>, borrowed) until it is
 * told to stop: bind, fork every worker, print "ready: N workers", then
 * supervise. Returns the process exit status: 0 after SIGTERM or SIGINT
 * stopped every worker, 1 when startup failed (logged). Blocks SIGTERM,
 * SIGINT, SIGHUP, SIGUSR1 and SIGCHLD for good and ignores SIGPIPE. */
int master_run(const char *conf_path, const struct gw_config *cfg);

/* confload.c */

/* conf_load(<path>) with its warnings and errors collected in *<diag_text>
 * ("FILE:LINE: message\n" lines, possibly ""; free() it). It is NULL only
 * when memory ran out before anything could be captured; the messages then
 * went to stderr.
 * Returns conf_load()'s result; a failure it did not explain gets a
 * "FILE: reason" line of our own. */
int master_conf_load(const char *path, struct gw_config **out, char **diag_text);

/* reload.c */

/* Load <path> again and log the outcome: its warnings and errors as
 * "reload: FILE:LINE: message", then either "reload: FILE: configuration
 * ok; ..." or "reload: FILE: configuration invalid; ...". The running
 * configuration is kept either way. Blocks while names resolve. */
void master_reload_check(const char *path);

#endif
