/* Concurrent client connections per address, counted across all workers
 * (max_conns_per_ip). A table of counts keyed by a keyed hash of the
 * address, plus one row per worker id of the counts that worker holds, so
 * the master can hand a dead worker's connections back exactly. The rules
 * open shm/connlimit.c. */
#ifndef GW_SHM_CONNLIMIT_H
#define GW_SHM_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define CL_SLOTS 14u		/* per 128-byte bucket */
#define CL_MAX_COUNT 65535u	/* a row counts in 16 bits, so no limit above this */

struct cl_region_sh;

/* The process-local handle. */
struct cl_table {
	struct cl_region_sh *sh;
	uint32_t n_buckets;	/* a power of two */
	uint32_t n_workers;	/* rows */
};

enum cl_verdict {
	CL_ADMIT = 0,	/* counted: *handle names the count to release */
	CL_OVER,	/* the address already holds <limit> connections */
	CL_FULL,	/* the address's bucket has no free slot: not counted */
	CL_BUSY,	/* the bucket's claim stayed held (a stalled or dead
			 * process): not counted */
};

size_t cl_region_size(uint32_t n_buckets, uint32_t n_workers);
void cl_format_master(void *mem, uint32_t n_buckets, uint32_t n_workers);
int cl_attach(struct cl_table *t, void *mem, size_t size);

/* Worker <worker> (its id) takes one connection of the address hashed to
 * <key> (shm_hash(), never 0) if fewer than <limit> are held, all workers
 * together. On CL_ADMIT *handle is set; pass it to cl_release(). */
enum cl_verdict cl_acquire(struct cl_table *t, unsigned worker, uint64_t key, unsigned limit,
			   uint32_t *handle);

/* Worker <worker> gives back the connection <handle> from its cl_acquire().
 * 0, or -EBUSY when the bucket's claim stayed held: nothing changed, and
 * the caller tries again later. */
int cl_release(struct cl_table *t, unsigned worker, uint32_t handle);

/* Connections held by the address hashed to <key> (display and tests). */
unsigned cl_count(const struct cl_table *t, uint64_t key);

/* Master, after reaping worker <worker>: finish or undo the change it was
 * making under a claim, then release every connection its row holds.
 * 0, or -EBUSY when some bucket's claim stayed held by another process
 * (then that bucket's share is left in the row; call again). */
int cl_repair_master(struct cl_table *t, unsigned worker);

/* Tests only. */
/* Like cl_acquire() but stop (as if killed) after <step> of: 1 claim
 * taken, 2 intent written, 3 count written, 4 row written. */
enum cl_verdict cl__acquire_halt(struct cl_table *t, unsigned worker, uint64_t key,
				 unsigned limit, uint32_t *handle, int step);
/* Like cl_release() but stop after <step> (as above). */
int cl__release_halt(struct cl_table *t, unsigned worker, uint32_t handle, int step);

struct cl__audit {
	uint64_t counted;	/* sum of all slot counts */
	uint64_t rows;		/* sum of all rows */
	unsigned mismatched;	/* slots whose count != the sum of rows */
	unsigned claims;	/* buckets whose claim is held */
	unsigned intents;	/* buckets with an intent written */
	unsigned bad_empty;	/* count 0 with a key, or a key 0 with a count */
};
/* With no operation running: check every slot against the rows. */
void cl__audit(const struct cl_table *t, struct cl__audit *out);

#endif
