/* A connection's bytes waiting to be sent: a list of segments, each either
 * bytes the queue owns (copied in) or a slice of a provided receive buffer
 * held until it is sent (relayed body bytes, never copied in user space).
 *
 * A connection has two queues: one filling, one in flight (the kernel may
 * read it until the send completes). Segments point into the queue's own
 * bytes by offset, and the filling queue's bytes are only ever appended to,
 * so growing them never invalidates a segment. */
#ifndef GW_WORKER_OUTQ_H
#define GW_WORKER_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lib/buf.h"
#include "lib/bufring.h"

#define OUTQ_SEGS 32

struct outseg {
	const char *p;		/* held buffer bytes; NULL for owned bytes */
	uint32_t off;		/* owned bytes: offset into the queue's bytes */
	uint32_t len;
	int32_t bid;		/* held provided buffer, or -1 */
};

struct outq {
	struct buf bytes;		/* owned bytes; off stays 0 */
	struct outseg seg[OUTQ_SEGS];
	uint32_t n;			/* segments in use */
	uint32_t done;			/* segments fully sent */
	uint32_t done_off;		/* bytes of seg[done] already sent */
	size_t total;			/* bytes not yet sent */
};

/* Copy <len> bytes in. 0 or -ENOBUFS past <limit> owned bytes. */
int outq_append(struct outq *q, const void *data, size_t len, size_t limit);

/* Hold provided buffer <bid>'s slice <p>, <len> instead of copying it, if a
 * segment is free (one is always kept for owned bytes). True when taken:
 * the buffer then goes back to the ring from outq_advance() or
 * outq_drop(), not from the caller. */
bool outq_hold(struct outq *q, int bid, const char *p, size_t len);

/* Format in place: outq_bytes() gives the owned bytes to append to, and
 * outq_commit() turns what was appended since <before> (bytes.len then)
 * into queued bytes. */
static inline struct buf *outq_bytes(struct outq *q) { return &q->bytes; }
void outq_commit(struct outq *q, size_t before);

/* Fill <iov> (OUTQ_SEGS entries) with what is still to send; returns the
 * count. */
int outq_iov(const struct outq *q, struct iovec *iov);

/* <n> more bytes were sent: held buffers fully sent go back to <br>.
 * Returns the bytes still to send; at 0 the queue is reset for reuse. */
size_t outq_advance(struct outq *q, size_t n, struct bufring *br);

/* Forget everything, giving held buffers back to <br>. */
void outq_drop(struct outq *q, struct bufring *br);

/* Free the owned bytes' memory (the queue must be dropped first). */
void outq_free(struct outq *q);

#endif
