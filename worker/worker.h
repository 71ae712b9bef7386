/* The data plane: one worker process, one io_uring, one CPU.
 *
 * The master forks a worker per slot after binding every listener and
 * creating the shared segment, and the worker serves client traffic until
 * told to stop:
 *   SIGTERM  graceful drain: stop accepting, finish in-flight requests, close
 *            keep-alive connections after their next response (or when idle
 *            at the deadline), exit 0 (or when drain_timeout passes);
 *   SIGINT   exit now;
 *   SIGUSR1  reopen the access log.
 * The worker blocks those signals and reads them from a signalfd through its
 * ring; it never installs handlers. */
#ifndef GW_WORKER_WORKER_H
#define GW_WORKER_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "shm/segment.h"

/* What the master hands a worker at fork. */
struct worker_args {
	const struct gw_config *cfg;	/* the worker's generation's config */
	unsigned slot;			/* listener slot (for logs and pinning) */
	unsigned id;			/* worker-table id in the segment */
	uint64_t generation;		/* config generation */
	const struct shm_segment *seg;	/* mapped before fork */
	const int *listen_fds;		/* listening, nonblocking; owned by the master:
					 * the worker must not close them before exiting */
	size_t n_listen_fds;
};

/* Run a worker. Returns the process exit status: 0 after a drain,
 * non-zero when the worker could not start. Call in the child after fork;
 * the caller has blocked SIGTERM, SIGINT, SIGUSR1 and SIGHUP. */
int worker_run(const struct worker_args *args);

#endif
