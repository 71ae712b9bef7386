/* Connections: the worker's fixed table of sockets and the I/O every
 * socket shares (multishot recv into provided buffers, double-buffered
 * sends, backpressure, teardown).
 *
 * A connection's memory is reused only after every SQE that names it has
 * completed (inflight == 0): the kernel may read the queue in flight (and
 * the receive buffers it holds) until its send
 * completes. Completions carry the slot's generation, so one arriving for a
 * recycled slot is dropped by the loop. */
#ifndef GW_WORKER_CONN_H
#define GW_WORKER_CONN_H

#include <stddef.h>

#include "worker/core.h"

/* Take a free slot for <fd> of <kind>; NULL when the table is full (the
 * caller closes fd). */
struct conn *conn_alloc(struct worker *w, enum conn_kind kind, int fd);

/* The connection for a completion's index and generation, or NULL if the
 * slot was recycled since. */
struct conn *conn_lookup(struct worker *w, uint32_t index, uint32_t gen);

/* Start a multishot recv unless one is active, reading is paused, or the
 * connection is closing. */
void conn_arm_recv(struct worker *w, struct conn *c);

/* Stop reading for backpressure (the recv is cancelled) / start again. */
void conn_pause_recv(struct worker *w, struct conn *c);
void conn_resume_recv(struct worker *w, struct conn *c);

/* Queue bytes for sending (copied); 0 or -ENOBUFS past the output cap. */
int conn_queue(struct conn *c, const void *data, size_t len);

/* Queue the slice <p>, <len> of provided receive buffer <bid> without
 * copying it. True when taken: the buffer then returns to the ring once
 * sent (or when the connection closes), not from the caller. False when
 * the ring cannot spare it or the queue has no segment left: copy instead. */
bool conn_queue_held(struct worker *w, struct conn *c, unsigned bid, const char *p, size_t len);

/* Format output in place: append to conn_out_begin()'s buffer, then
 * conn_out_end(c, the buffer's len before) queues what was appended. */
struct buf *conn_out_begin(struct conn *c);
void conn_out_end(struct conn *c, size_t before);

/* Fresh bytes of one recv, offered to a fast path before being copied into
 * ->in: a taker may hold the provided buffer (conn_queue_held()) and says
 * so in *held. */
struct rx {
	unsigned bid;
	const char *data;
	size_t len;
	bool *held;
};

/* Submit a send of queued bytes unless one is in flight. */
void conn_flush(struct worker *w, struct conn *c);

/* Bytes queued or in flight towards the peer. */
static inline size_t conn_pending_out(const struct conn *c)
{
	return c->out[0].total + c->out[1].total;
}

/* Shut the write side (after the final response was sent). */
void conn_shutdown_write(struct worker *w, struct conn *c);

/* Abort: cancel everything in flight on the socket, then close it and free
 * the slot once the last completion is in. The kind-specific state must be
 * detached before calling. Idempotent. */
void conn_close(struct worker *w, struct conn *c);

/* Completion handlers, called by the loop's dispatch switch. */
void conn_on_recv(struct worker *w, struct conn *c, const struct io_uring_cqe *cqe);
void conn_on_send(struct worker *w, struct conn *c, int res);
void conn_on_connect(struct worker *w, struct conn *c, int res);

/* Return a provided buffer to the ring (also for completions whose conn is
 * gone). */
void conn_recycle_buffer(struct worker *w, unsigned bid);

/* Above this many bytes pending towards a peer, the side feeding it stops
 * reading; below the low mark it reads again. */
#define CONN_OUT_HIGH (256u << 10)
#define CONN_OUT_LOW (64u << 10)
/* Hard cap on a connection's queued output and unconsumed input. */
#define CONN_OUT_CAP (8u << 20)
#define CONN_IN_CAP (8u << 20)

#endif
