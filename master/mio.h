/* The master's I/O: readiness polls on its io_uring, dispatched by owner.
 *
 * The master handles a handful of slow, small connections (gatewayctl, the
 * admin listener, health checks), never client traffic. Each owner module
 * keeps its own table of descriptors and arms one-shot polls here; when a
 * poll completes, the owner's handler runs with the poll's result and then
 * does plain nonblocking read()/write()/accept() itself. user_data packs
 * (owner, index, tag) so a completion for a descriptor that has since been
 * closed and reused is recognised by its stale tag and dropped.
 *
 * Deadlines are the owners' business too: each exposes a next-deadline
 * function that the loop folds into its wait, and a tick that the loop
 * calls every turn (master/supervise.c lists them in order). */
#ifndef GW_MASTER_MIO_H
#define GW_MASTER_MIO_H

#include <stdint.h>

struct master;

enum mio_owner {
	MIO_SIGNAL = 1,			/* the signalfd (supervise.c) */
	MIO_CONTROL,			/* gatewayctl's socket and its clients (control.c) */
	MIO_ADMIN,			/* the admin HTTP listener and its clients (admin.c) */
	MIO_HEALTH,			/* active health checks (health.c) */
	MIO_JWKS,			/* key-set fetchers' pipes (jwksfetch.c) */
	MIO_N_OWNERS,
};

/* Called with the poll's result: the revents mask (>= 0) or -errno
 * (-ECANCELED after mio_cancel()). <index> and <tag> are what the owner
 * passed to mio_poll(); the owner compares the tag with its current one. */
typedef void (*mio_handler)(struct master *m, uint32_t index, uint32_t tag, int res);

/* Arm a one-shot poll for <events> (POLLIN, POLLOUT) on <fd>. <index> must
 * fit in 24 bits. Returns 0, or -EBUSY when the ring has no free SQE (the
 * owner retries on its next tick). */
int mio_poll(struct master *m, enum mio_owner owner, uint32_t index, uint32_t tag, int fd,
	     unsigned events);

/* Ask the kernel to cancel the poll armed with these values; its handler
 * then runs with -ECANCELED (or with its real result if it won the race).
 * Owners usually just bump their tag and close the fd instead. */
void mio_cancel(struct master *m, enum mio_owner owner, uint32_t index, uint32_t tag);

/* The handler table, filled by master_io_init() in supervise.c. */
void mio_set_handler(enum mio_owner owner, mio_handler fn);

/* Reap completions from the master's ring and dispatch them. */
void mio_reap(struct master *m);

#endif
