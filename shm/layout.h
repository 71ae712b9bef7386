/* The segment's own layout: header, region table, limits. Included only by
 * the .c files of shm/ and by tests whose subject is the layout (STYLE §3); every other
 * module reaches the segment through shm/segment.h and the typed APIs.
 *
 *   offset 0          struct shm_header_sh (one page)
 *   regions[i].offset each region, 4 KiB aligned, in enum shm_region order
 *
 * Every reference inside the segment is an offset from its base, so the
 * master, the workers and a read-only gatewayctl may map it anywhere.
 * Bump SHM_LAYOUT_VERSION whenever any in-segment struct changes size or
 * meaning: a gatewayctl of another version then refuses the segment instead
 * of misreading it. */
#ifndef GW_SHM_LAYOUT_H
#define GW_SHM_LAYOUT_H

#include <stdint.h>

#include "shm/segment.h"

#define SHM_MAGIC		0x4857534757ull		/* "GWSWH" */
#define SHM_LAYOUT_VERSION	5u	/* 2: the tickets region; 3: apikeys; 4: the jwks
					 * region and the JWT cache counters; 5: connlimit,
					 * two more worker counters */
#define SHM_PAGE		4096u
#define SHM_HASH_KEY_BYTES	16u	/* crypto_shorthash (SipHash-2-4) key */

struct shm_region_sh {
	uint64_t offset;		/* from the segment base; 0 = absent */
	uint64_t size;			/* bytes */
};

/* Written once by the master before the first fork, read-only afterwards:
 * nothing here needs to be atomic, because fork (and, for gatewayctl,
 * receiving the fd over the control socket) orders it before every read. */
struct shm_header_sh {
	uint64_t magic;
	uint32_t version;
	uint32_t n_regions;
	uint64_t size;			/* whole segment, bytes */
	uint64_t epoch_ms;		/* CLOCK_MONOTONIC ms at creation: the zero of
					 * every 32-bit ms time kept in the segment */
	uint64_t created_wall_us;	/* CLOCK_REALTIME, for "up since" */
	int32_t master_pid;
	uint32_t reserved;
	uint8_t hash_key[SHM_HASH_KEY_BYTES];	/* keys rate-limit hashes, so a
						 * client cannot aim at one bucket */
	struct shm_region_sh regions[SHM_REGION_COUNT];
};

_Static_assert(sizeof(struct shm_header_sh) <= SHM_PAGE, "header must fit its page");

#endif
