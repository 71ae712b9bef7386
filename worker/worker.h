/* The data plane: one worker process, one io_uring, one CPU.
 *
 * The master forks a worker per slot after binding every listener, and the
 * worker serves client traffic until told to stop:
 *   SIGTERM  graceful drain: stop accepting, finish in-flight requests, close
 *            idle keep-alives, exit 0 (or when drain_timeout passes);
 *   SIGINT   exit now;
 *   SIGUSR1  reopen the access log.
 * The worker blocks those signals and reads them from a signalfd through its
 * ring; it never installs handlers. */
#ifndef GW_WORKER_WORKER_H
#define GW_WORKER_WORKER_H

#include "conf/config.h"

/* Run worker <slot> over <listen_fds> (one per cfg->listens entry, already
 * listening, nonblocking; owned by the master, the worker must not close
 * them before exiting). Returns the process exit status: 0 after a drain,
 * non-zero when the worker could not start. Call in the child after fork;
 * the caller has blocked SIGTERM, SIGINT, SIGUSR1 and SIGHUP. */
int worker_run(const struct gw_config *cfg, unsigned slot, const int *listen_fds);

#endif
