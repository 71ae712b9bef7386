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
 *   keys.c       the API-key store and its table in the segment;
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
#include "shm/segment.h"
#include "shm/tables.h"

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

/* "127.0.0.1:8080" or "[::1]:8080" from the address itself, so that a port
 * the kernel picked shows up as the real number. */
void master_addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out,
		      size_t size);

/* Add sockets for slots up to <n_slots> (a reload that runs more workers),
 * on the ports the first slot's sockets have. Returns 0 or -errno (logged);
 * on failure the slots bound before stay and ls->n_slots says how many. */
int master_listen_grow(struct master_listeners *ls, unsigned n_slots);

/* The n_listens fds of <slot>, in the order of the config's listens. */
static inline const int *master_listen_slot_fds(const struct master_listeners *ls,
						unsigned slot)
{
	return ls->fds + (size_t)slot * ls->n_listens;
}

/* Close every socket and free the table. Safe on a zeroed or closed table. */
void master_listen_close(struct master_listeners *ls);

/* spawn.c, run.c, supervise.c */

/* One worker slot of the current generation. pid and respawn_pending are
 * never both set. */
struct master_slot {
	pid_t pid;			/* 0 while no worker runs in the slot */
	int id;				/* its worker-table id; -1 when none */
	uint64_t started_ms;		/* monotonic ms of the last fork */
	uint64_t backoff_ms;		/* master_backoff_next() state */
	uint64_t respawn_at_ms;		/* monotonic ms; valid if respawn_pending */
	bool respawn_pending;
};

/* A worker of an earlier generation, draining after a reload. */
struct master_retiree {
	pid_t pid;
	int id;
	uint64_t generation;
	uint64_t kill_at_ms;		/* SIGKILL if still alive then */
};

enum master_state {
	MASTER_RUNNING = 0,
	MASTER_DRAINING,		/* SIGTERM forwarded; waiting for drains */
	MASTER_STOPPING,		/* SIGINT forwarded; waiting briefly */
};

struct health_checker;
struct mreg;
struct control;
struct admin;
struct reload_job;
struct keystore;
struct keystore_entry;

struct master {
	const char *conf_path;		/* reloads read this file again */
	struct gw_config *cfg;		/* the running configuration; owned */
	uint64_t generation;		/* of cfg: 1 at start, +1 per applied reload */
	pid_t pid;			/* our own, for the children's getppid() check */
	uint64_t started_ms;		/* monotonic, for uptime */

	cpu_set_t cpus;			/* the affinity mask we inherited */
	bool pin;			/* pin worker i to master_cpu_pick(cpus, i) */

	struct shm_segment seg;		/* created before the first fork */
	struct shm_tables tables;

	struct master_listeners ls;
	struct master_slot *slots;	/* the current generation */
	unsigned n_slots;
	struct master_retiree *retirees;	/* earlier generations, draining */
	size_t n_retirees;

	/* Master-only descriptors a child closes right after fork; -1 = none. */
	int sfd;			/* signalfd */
	int ring_fd;			/* the master's io_uring */
	struct io_uring ring;
	bool signal_armed;		/* a poll on sfd is in the ring */

	struct mreg *reg;		/* services and instances (mreg.c) */
	struct health_checker *health;	/* active checks (health.c) */
	struct control *control;	/* gatewayctl's socket (control.c) */
	struct admin *admin;		/* admin HTTP listener (admin.c) */
	struct reload_job *reload;	/* a reload in progress; NULL = none */
	uint64_t tickets_checked_ms;	/* last look at the ticket key's age */
	struct keystore *keys;		/* the API-key store; NULL = no [apikeys] */
	char *keys_path;		/* its file; NULL = no [apikeys] */

	enum master_state state;
	uint64_t stop_deadline_ms;	/* monotonic; SIGKILL what still runs after it */
	bool stop_killed;		/* the SIGKILLs went out */
};

/* Fork a worker of the current generation for <slot> and record it in
 * m->slots[slot] with <now_ms> as its start: claim its worker-table id,
 * fork; the child closes the master's private fds, dies with the master
 * (PR_SET_PDEATHSIG), pins itself when m->pin, and exits with worker_run()'s
 * status; it never returns here. Returns 0 in the master, or -errno when
 * no id is free or fork fails (logged). */
int master_spawn(struct master *m, unsigned slot, uint64_t now_ms);

/* The same for any generation: fork worker <slot> of <n_workers> running
 * <cfg> (borrowed; must outlive the child's fork) as <generation>, and
 * record it in <s>. */
int master_fork_worker(struct master *m, const struct gw_config *cfg, uint64_t generation,
		       struct master_slot *s, unsigned slot, unsigned n_workers, uint64_t now_ms);

/* The listening sockets worker <slot> of a generation of <n_workers>
 * serves: every listener slot s with s % n_workers == slot. Fills <fds>
 * (room for ls->n_slots * ls->n_listens) and returns how many. */
size_t master_slot_fds(const struct master *m, unsigned slot, unsigned n_workers, int *fds);

/* Supervise until stopped: the loop over m->ring and m->sfd, which must be
 * open, with every slot forked. Returns once a stop (SIGTERM, SIGINT,
 * gatewayctl stop or drain) has seen every worker exit; never respawns
 * after a stop began. */
void master_supervise(struct master *m);

/* Begin a stop as SIGTERM (<drain>) or SIGINT would. */
void master_request_stop(struct master *m, bool drain);

/* Reap every exited child: a slot's worker is respawned (with backoff), a
 * retiree is forgotten, and either way its shared-memory claims are
 * released (shm_release_worker_master). */
void master_reap_children(struct master *m, uint64_t now);

/* Run the master over <cfg> (loaded from <conf_path>; ownership passes to
 * the master, which frees it and any replacement) until it is told to
 * stop: create the segment, bind, fork every worker, print "ready: N
 * workers", then supervise. Returns the process exit status: 0 after a
 * stop saw every worker exit, 1 when startup failed (logged). Blocks
 * SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGCHLD for good and ignores
 * SIGPIPE. */
int master_run(const char *conf_path, struct gw_config *cfg);

/* confload.c */

/* conf_load(<path>) with its warnings and errors collected in *<diag_text>
 * ("FILE:LINE: message\n" lines, possibly ""; free() it). It is NULL only
 * when memory ran out before anything could be captured; the messages then
 * went to stderr.
 * Returns conf_load()'s result; a failure it did not explain gets a
 * "FILE: reason" line of our own. */
int master_conf_load(const char *path, struct gw_config **out, char **diag_text);

/* keys.c */

/* Take the API-key store <cfg> read (cfg->apikeys.store, then NULL) as the
 * master's, creating its file when it did not exist (a failure to create
 * it fails a start; on a reload it is logged and the next change retries),
 * and make the segment's key table hold exactly its live keys. 0 or
 * -errno (logged). */
int master_keys_adopt(struct master *m, struct gw_config *cfg, bool starting);
void master_keys_free(struct master *m);
/* Publish one store record (added) or withdraw it (revoked): 0 or -errno
 * from apikeys_put_master() / apikeys_remove_master(). */
int master_keys_put(struct master *m, const struct keystore_entry *e);
int master_keys_remove(struct master *m, const struct keystore_entry *e);

/* reload.c */

/* Start applying m->conf_path again (SIGHUP, gatewayctl reload). Returns
 * the answer at once when there is nothing to wait for (the file is
 * invalid: the running configuration stays; or a reload is already in
 * progress), else NULL: the new generation is starting, and the answer
 * goes to control client <client> (UINT32_MAX = nobody, for SIGHUP) once
 * it is accepting and the old generation was told to drain, or once the
 * new generation failed to start (then it is stopped and the old one keeps
 * serving). */
struct json_t *master_reload_start(struct master *m, uint32_t client);
void master_reload_tick(struct master *m, uint64_t now_ms);
uint64_t master_reload_next_deadline(const struct master *m);

/* The worker-table id of <pid> if it is a worker of the reload in
 * progress, else -1. */
int master_reload_worker_id(const struct master *m, pid_t pid);

/* supervise.c: register the master ring's poll handlers (once). */
void master_io_init(void);

/* Reaped <pid>: if it is a worker of the reload in progress, the reload
 * fails at its next tick; returns whether it was one. */
bool master_reload_worker_died(struct master *m, pid_t pid);

/* supervise.c: keep <s>'s worker as a retiree of <generation>, to be
 * SIGKILLed at <kill_at_ms> if it still runs; <s> is cleared. */
void master_add_retiree(struct master *m, struct master_slot *s, uint64_t generation,
			uint64_t kill_at_ms);

#endif
