/* A provided-buffer ring and the memory behind it: what every io_uring
 * program here (worker, gw-echo, gwbench) reads into with multishot recv.
 *
 * The kernel takes a buffer per completion; the owner gives it back with
 * bufring_put() once the bytes are copied out, and bufring_publish() makes
 * every buffer put since the last publish visible in one tail update (once
 * per loop turn is enough, and before re-arming a recv that failed with
 * ENOBUFS). */
#ifndef GW_LIB_BUFRING_H
#define GW_LIB_BUFRING_H

#include <liburing.h>
#include <stdbool.h>

struct bufring {
	struct io_uring_buf_ring *br;
	char *mem;		/* entries * size bytes */
	unsigned entries;	/* a power of two */
	unsigned size;		/* bytes per buffer */
	unsigned pending;	/* put since the last publish */
	unsigned held;		/* out of the ring on purpose (bufring_hold()) */
	int bgid;		/* buffer group id for IOSQE_BUFFER_SELECT */
};

/* Allocate <entries> (a power of two) buffers of <size> bytes, register them
 * as group <bgid> of <ring> and hand them all to the kernel. 0 or -errno;
 * nothing is left allocated on failure. */
int bufring_init(struct bufring *r, struct io_uring *ring, unsigned entries, unsigned size,
		 int bgid);

/* Unregister and free. */
void bufring_free(struct bufring *r, struct io_uring *ring);

/* The bytes of buffer <bid>. */
static inline char *bufring_data(const struct bufring *r, unsigned bid)
{
	return r->mem + (size_t)bid * r->size;
}

/* Give buffer <bid> back (visible to the kernel after bufring_publish()). */
static inline void bufring_put(struct bufring *r, unsigned bid)
{
	io_uring_buf_ring_add(r->br, bufring_data(r, bid), r->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(r->entries), (int)r->pending++);
}

/* May one more buffer stay out of the ring after its recv (its bytes to
 * be sent straight from it)? Yes while at most half the ring is held, so
 * receives never starve. Counts it when yes. */
static inline bool bufring_hold(struct bufring *r)
{
	if (r->held >= r->entries / 2)
		return false;
	r->held++;
	return true;
}

/* Give back a buffer that bufring_hold() kept. */
static inline void bufring_put_held(struct bufring *r, unsigned bid)
{
	r->held--;
	bufring_put(r, bid);
}

/* Publish the buffers put since the last call. */
static inline void bufring_publish(struct bufring *r)
{
	if (r->pending) {
		io_uring_buf_ring_advance(r->br, (int)r->pending);
		r->pending = 0;
	}
}

#endif
