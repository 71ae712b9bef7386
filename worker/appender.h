/* Log output that never blocks a worker: lines are queued in memory and
 * written through the ring, one write in flight at a time (double buffer).
 *
 * The loop asks appender_want_write() at the end of each turn and, if so,
 * hands a fresh SQE to appender_prep_write(); the completion goes to
 * appender_complete(). If the destination stalls and the queue passes its
 * cap, new lines are dropped and counted rather than growing without bound. */
#ifndef GW_WORKER_APPENDER_H
#define GW_WORKER_APPENDER_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

#define APPENDER_QUEUE_CAP (4u << 20)	/* bytes queued before dropping */

struct appender {
	int fd;			/* -1 = output off */
	char *path;		/* file to (re)open, NULL for stderr */
	struct buf queue;	/* lines not yet handed to the kernel */
	struct buf writing;	/* bytes of the write in flight */
	bool busy;		/* a write is in flight */
	uint64_t dropped;	/* lines dropped because the queue was full */
};

/* Set up an appender on <dest>: "stderr" or a file path (opened with
 * O_APPEND|O_CREAT, 0644). 0 or -errno. Called before the loop starts,
 * where a blocking open is acceptable. */
int appender_init(struct appender *a, const char *dest);

/* Queue one line (with its newline). */
void appender_push(struct appender *a, const char *line, size_t len);

/* True when there is queued output and no write in flight. */
bool appender_want_write(const struct appender *a);

/* Fill <sqe> with the next write; the caller sets user_data. */
void appender_prep_write(struct appender *a, struct io_uring_sqe *sqe);

/* A write completed with <res> (bytes or -errno). */
void appender_complete(struct appender *a, int res);

/* Reopen the file (log rotation, on SIGUSR1). This is the one open(2) a
 * worker makes after start: O_NONBLOCK on a local file, once per rotation,
 * never per request. For stderr it does nothing. 0 or -errno (the old fd
 * stays in use on failure). */
int appender_reopen(struct appender *a);

/* Write out what is queued synchronously (at exit) and free everything. */
void appender_close(struct appender *a);

#endif
