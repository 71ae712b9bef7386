/* What liburing 2.3 (Debian 12) lacks and the kernel has.
 *
 * Kept in one place so that moving to a newer liburing is deleting this file's
 * contents, not hunting through the tree. See PLATFORM.md. */
#ifndef GW_LIB_URING_COMPAT_H
#define GW_LIB_URING_COMPAT_H

#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/mman.h>

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* Map a provided-buffer ring of <entries> (a power of two) and register it
 * as group <bgid>. Returns the ring or NULL with *err = -errno. The ring is
 * page-aligned as the kernel requires. Free with uring_free_buf_ring(). */
static inline struct io_uring_buf_ring *
uring_setup_buf_ring(struct io_uring *ring, unsigned entries, int bgid, int *err)
{
	struct io_uring_buf_reg reg;
	size_t size = entries * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);

	if (mem == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)mem;
	reg.ring_entries = entries;
	reg.bgid = (unsigned short)bgid;
	int ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret < 0) {
		munmap(mem, size);
		*err = ret;
		return NULL;
	}
	io_uring_buf_ring_init((struct io_uring_buf_ring *)mem);
	*err = 0;
	return (struct io_uring_buf_ring *)mem;
}

/* Unregister and unmap a ring from uring_setup_buf_ring(). */
static inline void uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
				       unsigned entries, int bgid)
{
	io_uring_unregister_buf_ring(ring, bgid);
	munmap(br, entries * sizeof(struct io_uring_buf));
}

#endif
