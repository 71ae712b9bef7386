#include "lib/bufring.h"

#include <errno.h>
#include <stdlib.h>

#include "lib/uring_compat.h"

int bufring_init(struct bufring *r, struct io_uring *ring, unsigned entries, unsigned size,
		 int bgid)
{
	int err;

	r->entries = entries;
	r->size = size;
	r->pending = 0;
	r->held = 0;
	r->bgid = bgid;
	r->mem = malloc((size_t)entries * size);
	if (!r->mem)
		return -ENOMEM;
	r->br = uring_setup_buf_ring(ring, entries, bgid, &err);
	if (!r->br) {
		free(r->mem);
		r->mem = NULL;
		return err;
	}
	for (unsigned bid = 0; bid < entries; bid++)
		bufring_put(r, bid);
	bufring_publish(r);
	return 0;
}

void bufring_free(struct bufring *r, struct io_uring *ring)
{
	if (!r->br)
		return;
	uring_free_buf_ring(ring, r->br, r->entries, r->bgid);
	free(r->mem);
	r->br = NULL;
	r->mem = NULL;
}
