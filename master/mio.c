/* The master's poll dispatch (see mio.h). */
#include "master/mio.h"

#include <errno.h>

#include "lib/log.h"
#include "master/master.h"

static mio_handler handlers[MIO_N_OWNERS];

/* user_data: owner in bits 56..63, index in 32..55, tag in 0..31. */
static uint64_t mio_pack(enum mio_owner owner, uint32_t index, uint32_t tag)
{
	return ((uint64_t)owner << 56) | ((uint64_t)(index & 0xffffffu) << 32) | tag;
}

void mio_set_handler(enum mio_owner owner, mio_handler fn)
{
	handlers[owner] = fn;
}

int mio_poll(struct master *m, enum mio_owner owner, uint32_t index, uint32_t tag, int fd,
	     unsigned events)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);

	if (!sqe) {
		/* Full: push what is queued and try once more. */
		io_uring_submit(&m->ring);
		sqe = io_uring_get_sqe(&m->ring);
		if (!sqe)
			return -EBUSY;
	}
	io_uring_prep_poll_add(sqe, fd, events);
	io_uring_sqe_set_data64(sqe, mio_pack(owner, index, tag));
	return 0;
}

void mio_cancel(struct master *m, enum mio_owner owner, uint32_t index, uint32_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);

	if (!sqe) {
		io_uring_submit(&m->ring);
		sqe = io_uring_get_sqe(&m->ring);
		if (!sqe)
			return;	/* the stale tag still protects the owner */
	}
	io_uring_prep_poll_remove(sqe, mio_pack(owner, index, tag));
	/* The removal's own completion is of no interest. */
	io_uring_sqe_set_data64(sqe, 0);
}

void mio_reap(struct master *m)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&m->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		unsigned owner = (unsigned)(ud >> 56);

		n++;
		if (!ud)
			continue;
		if (owner == 0 || owner >= MIO_N_OWNERS || !handlers[owner]) {
			log_error("master ring: completion for unknown owner %u", owner);
			continue;
		}
		handlers[owner](m, (uint32_t)(ud >> 32) & 0xffffffu, (uint32_t)ud, cqe->res);
	}
	io_uring_cq_advance(&m->ring, n);
}
