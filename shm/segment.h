/* The shared segment: one memfd mapping created by the master before the
 * first fork and inherited by every worker, holding all cross-worker state
 * (DESIGN §4). This header is the segment's public face: create or map it,
 * find a region, read its clock zero and hash key. What lives in each
 * region is the business of that region's module (shm/workers.h,
 * shm/inst.h, shm/registry.h, shm/rl.h); shm/tables.h attaches them all. */
#ifndef GW_SHM_SEGMENT_H
#define GW_SHM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Regions, in segment order. */
enum shm_region {
	SHM_REGION_WORKERS = 0,		/* worker processes: state, gauges, counters */
	SHM_REGION_INSTANCES,		/* per instance slot: breaker, health, in-flight */
	SHM_REGION_REGISTRY,		/* services -> instances snapshots */
	SHM_REGION_TICKETS,		/* TLS session-ticket keys */
	SHM_REGION_APIKEYS,		/* API keys: hash-indexed live records */
	SHM_REGION_JWKS,		/* JWKS documents fetched by the master */
	SHM_REGION_CONNLIMIT,		/* connections per client address */
	SHM_REGION_RATELIMIT,		/* GCRA buckets: whatever is left (last) */
	SHM_REGION_COUNT,
};

/* Capacity limits every region is sized for. */
#define SHM_MAX_WORKERS		64u	/* worker ids, including draining generations */
#define SHM_MAX_INSTANCES	1024u	/* instance slots, all services together */
#define SHM_MAX_SERVICES	256u
#define SHM_MIN_SIZE		(16ull << 20)	/* fixed regions take about 8 MiB; the
						 * rest is rate-limit buckets */
#define SHM_CONNLIMIT_BUCKETS	1024u	/* x 14 addresses (shm/connlimit.h) */

/* A process's mapping of the segment. */
struct shm_segment {
	uint8_t *base;			/* NULL when unmapped */
	size_t size;
	int fd;				/* the memfd (master) or received fd; -1 = none */
	bool writable;
};

/* Create a segment of <size> bytes (>= SHM_MIN_SIZE) as a memfd, map it
 * shared, and format the header and every region. Master only, before the
 * first fork. Returns 0, -EINVAL for a size too small for the fixed
 * regions, or -errno from memfd_create/ftruncate/mmap (logged). */
int shm_create_master(struct shm_segment *seg, uint64_t size);

/* Map an existing segment from <fd> (taken over: closed by shm_unmap),
 * read-only unless <writable>. Checks the magic, layout version and region
 * table; -EPROTO when they do not match this build, -errno otherwise. */
int shm_map_fd(struct shm_segment *seg, int fd, bool writable);

/* Unmap and close. Safe on a zeroed or already unmapped segment. */
void shm_unmap(struct shm_segment *seg);

/* Close the fd but keep the mapping (a worker after fork needs only the
 * mapping). */
void shm_drop_fd(struct shm_segment *seg);

/* Base and size of region <r>. */
void *shm_region(const struct shm_segment *seg, enum shm_region r, size_t *size);
const char *shm_region_name(enum shm_region r);

/* CLOCK_MONOTONIC ms at creation; 32-bit ms times in the segment count
 * from here (so they wrap after ~49 days: see shm/breaker.c). */
uint64_t shm_epoch_ms(const struct shm_segment *seg);

/* <now_ms> (monotonic) as the segment's wrapping 32-bit ms clock. */
static inline uint32_t shm_clock32(const struct shm_segment *seg, uint64_t now_ms)
{
	return (uint32_t)(now_ms - shm_epoch_ms(seg));
}

/* Wall-clock µs at creation, for uptime. */
uint64_t shm_created_wall_us(const struct shm_segment *seg);

/* Keyed 64-bit hash (SipHash-2-4 with the segment's random key) of
 * <n> (at most 8) byte strings taken as one, each prefixed by its length
 * so that ("ab","c") and ("a","bc") differ. Never returns 0. */
struct shm_hash_part {
	const void *data;
	size_t len;
};
uint64_t shm_hash(const struct shm_segment *seg, const struct shm_hash_part *parts, size_t n);

#endif
