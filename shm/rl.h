/* Rate limits: GCRA (generic cell rate algorithm) in a shared-memory table.
 *
 * One 64-bit word per key holds its theoretical arrival time (TAT); every
 * worker decides by CAS on that word, so a limit is exact across processes
 * and the hot path takes no lock. shm/rl.c opens with the table's rules:
 * states, who writes what, why a limit of N admits exactly N, and what a
 * worker killed halfway leaves behind.
 *
 * A rule is T = interval_us (the emission interval, period / count) and
 * B = burst. A request at <now> gives TAT' = max(TAT, now) + T; it is
 * admitted, storing TAT', when TAT' - now <= B*T, and rejected, changing
 * nothing, otherwise. A quiet key therefore gets B requests at once, then one
 * per T. Example: "10/min, burst 10" is { 6000000, 10 }.
 *
 * Keys are 64-bit keyed hashes of (rule identity, client key), computed by
 * the caller (shm_hash). Key 0 is taken internally as RL_KEY_ZERO, so 0 and
 * RL_KEY_ZERO share one state: harmless for a keyed hash, and shm_hash never
 * returns 0 anyway.
 *
 * Times are microseconds of CLOCK_MONOTONIC, read once per loop turn and
 * passed in (STYLE §12). */
#ifndef GW_SHM_RL_H
#define GW_SHM_RL_H

#include <stddef.h>
#include <stdint.h>

/* now_us must stay below this (2^48 - 2^44 µs, about 8.3 years of uptime):
 * a TAT is kept in 48 bits. rl_take() rejects a later now_us. */
#define RL_NOW_MAX_US		((1ull << 48) - (1ull << 44))
/* B*T must not exceed this (2^42 µs, about 50 days). */
#define RL_SPAN_MAX_US		(1ull << 42)
/* The stand-in for key 0. */
#define RL_KEY_ZERO		0x9e3779b97f4a7c15ull
/* Keys one bucket holds; a key lives only in its home bucket. */
#define RL_BUCKET_SLOTS		7u

struct rl_region_sh;
struct rl_bucket_sh;

/* A process's handle on the region: process-local (holds addresses), cheap
 * to copy, never stored in the segment. */
struct rl_table {
	struct rl_region_sh *region;	/* the region's base in this process */
	struct rl_bucket_sh *buckets;
	uint32_t n_buckets;		/* a power of two */
	uint32_t owner;			/* worker id + 1, or 0 for the master and
					 * gatewayctl: recorded in the claims we make */
};

struct rl_rule {
	uint64_t interval_us;		/* T >= 1 */
	uint64_t burst;			/* B >= 1, B*T <= RL_SPAN_MAX_US */
};

enum rl_result {
	RL_ADMIT = 0,
	RL_REJECT,
	RL_BUSY,			/* undecided, nothing changed: retry on the next
					 * loop turn (another process is inserting into
					 * the key's bucket or re-keying its slot) */
};

struct rl_verdict {
	enum rl_result result;
	uint64_t remaining;		/* requests admissible right after this decision */
	uint64_t reset_us;		/* until the bucket is full again */
	uint64_t retry_after_us;	/* REJECT: until one request would be admitted;
					 * else 0 */
};
/* A BUSY verdict has remaining, reset_us and retry_after_us all 0. */

struct rl_stats {
	uint64_t keys;			/* slots holding a live key (TAT > now) */
	uint64_t evictions;		/* live keys dropped for lack of room, since format */
	uint64_t busy;			/* BUSY verdicts returned, since format */
	uint64_t capacity;		/* slots: n_buckets * RL_BUCKET_SLOTS */
};

/* Bytes a region of <n_buckets> needs; 0 unless n_buckets is a power of two
 * no larger than 2^31. */
size_t rl_region_size(uint32_t n_buckets);

/* The largest power of two whose region fits in <bytes>; 0 if none. */
uint32_t rl_buckets_fit(size_t bytes);

/* Format a fresh region at <mem> (64-byte aligned, rl_region_size() bytes)
 * with every key absent. Master only, before any other process attaches.
 * A <n_buckets> that is not a power of two leaves <mem> untouched, and
 * rl_attach() then refuses it. */
void rl_format_master(void *mem, uint32_t n_buckets);

/* Attach <t> to the formatted region at <mem> of <size> bytes, as <owner>
 * (worker id + 1, or 0). A read-only mapping may be attached (gatewayctl):
 * then only rl_peek() and rl_stats_read() may be called. Returns 0, or
 * -EINVAL when <mem> is misaligned, not formatted by this build or smaller
 * than its bucket count needs. */
int rl_attach(struct rl_table *t, void *mem, size_t size, uint32_t owner);

/* 0 when <rule> is usable (T >= 1, B >= 1, B*T <= RL_SPAN_MAX_US), else
 * -EINVAL. conf/ checks rules with this; rl_take() rejects every request
 * under an unusable rule (fails closed). */
int rl_rule_check(const struct rl_rule *rule);

/* Decide one request of <key> under <rule> at <now_us>, and on ADMIT record
 * it. Lock-free when the key is present; inserting a new key claims its
 * bucket for a few instructions, and a contended claim gives BUSY instead
 * of waiting. */
struct rl_verdict rl_take(struct rl_table *t, const struct rl_rule *rule, uint64_t key,
			  uint64_t now_us);

/* Undo one admitted rl_take() of <key> (a later rule of the same request
 * rejected it): TAT -= T, never below <now_us>. Does nothing when the key
 * has since been dropped, so it never gives back more than was taken. */
void rl_refund(struct rl_table *t, const struct rl_rule *rule, uint64_t key, uint64_t now_us);

/* What rl_take() would decide now, without recording anything: plain
 * atomic loads only, so it works on a read-only mapping. Returns 0, or
 * -ENOENT when the key is absent, idle (TAT <= now) or being re-keyed, and
 * then <out> describes a full bucket, or -EINVAL for an unusable rule.
 * <out>->result is ADMIT or REJECT. */
int rl_peek(const struct rl_table *t, const struct rl_rule *rule, uint64_t key,
	    uint64_t now_us, struct rl_verdict *out);

/* Forget <key>: its next request sees a full bucket. Returns 0, -ENOENT when
 * no slot holds it, or -EBUSY when its slot is being re-keyed right now
 * (try again). Lock-free. */
int rl_reset(struct rl_table *t, uint64_t key);

/* Forget every key. Master (gatewayctl limits reset); safe while workers
 * run: a key being inserted or re-keyed meanwhile may survive. Walks the
 * whole table. */
void rl_reset_all_master(struct rl_table *t);

/* Release every bucket claim recorded for <dead_owner> and turn the slot it
 * was re-keying, if any, back into an empty one. Master only, after
 * waitpid() reaped that worker and before its id is reused. Walks the whole
 * table. */
void rl_repair_master(struct rl_table *t, uint32_t dead_owner);

/* Counters and occupancy at <now_us>. Plain loads: works on a read-only
 * mapping; a snapshot, not atomic across buckets. */
void rl_stats_read(const struct rl_table *t, uint64_t now_us, struct rl_stats *out);

/* Test hooks (tests/unit/shm/ only). */

/* The home bucket of <key>, so a test can aim keys at one bucket. */
uint32_t rl__bucket_of(const struct rl_table *t, uint64_t key);

/* Where rl__insert_halt() stops, as if the process were killed there. */
enum rl__halt {
	RL__HALT_NONE = 0,		/* insert completely (rl_take's path) */
	RL__HALT_CLAIMED,		/* holding the bucket claim */
	RL__HALT_RESERVED,		/* and one slot RESERVED, old key still in it */
	RL__HALT_KEYED,			/* and the new key stored, state still RESERVED */
};

/* Run the insert path of rl_take() for <key> and stop at <at>, leaving
 * what a worker killed there leaves. Returns 0, -EEXIST if <key> is present
 * (<at> other than NONE; with NONE it is taken), -EBUSY if the bucket's
 * claim is held or its slots would not settle, or -EINVAL for a bad rule. */
int rl__insert_halt(struct rl_table *t, const struct rl_rule *rule, uint64_t key,
		    uint64_t now_us, enum rl__halt at);

/* A walk of the whole table, meaningful when no other process is running. */
struct rl__audit {
	uint32_t claims;		/* claim words held */
	uint32_t claims_owner;		/* of which by <owner> */
	uint32_t reserved;		/* RESERVED slots */
	uint32_t reserved_unclaimed;	/* of which in a bucket nobody claims */
	uint32_t duplicates;		/* keys present twice in a bucket */
	uint32_t misplaced;		/* keys outside their home bucket */
};
void rl__audit(const struct rl_table *t, uint32_t owner, struct rl__audit *out);

#endif
