/* Per-address connection counts in shared memory: the rules.
 *
 * Layout. A 64-byte header, then n_buckets (a power of two) buckets of 128
 * bytes: a claim word, an intent word and CL_SLOTS = 14 slot words; then
 * n_workers rows of n_buckets * CL_SLOTS 16-bit counts, row w holding what
 * worker id w holds of each slot. An address's bucket is the low bits of
 * its keyed hash and its 40-bit key the high bits; it lives in no other
 * bucket, and nothing in the region is a pointer.
 *
 * A slot word is key:40 | count:24: 0 when empty, else a key with a count
 * of at least 1. A slot is re-keyed only by passing through empty, which
 * happens when its count drops to 0.
 *
 * Who writes what.
 *   claim   0 when free, else owner << 32 | 1 (owner = worker id + 1, the
 *           master 0). Taken by CAS 0 -> mine; freed by its holder, or by
 *           the master for a dead holder.
 *   intent  the claim holder only (and the master for a dead holder):
 *           valid | slot | count before | row before, written before the
 *           holder changes anything, cleared after.
 *   slot    the claim holder only.
 *   row w   worker w only, under the claim of the slot's bucket; the
 *           master after reaping worker w.
 * So every write in a bucket, its rows' entries included, happens under
 * its claim: a change is a few plain (relaxed) stores between an acquire
 * CAS and a release store, and successive holders see each other's stores
 * through that pair. Readers outside a claim (cl_count, display) load
 * relaxed and may see a value one change old.
 *
 * Why a claim for every change, when shm/rl.c takes its hot path by CAS:
 * a connection count must come back exactly when a worker dies, so the
 * count and the worker's row must change together, and no single CAS can
 * change two words. Under the claim, with the intent written first, the
 * master can tell from a dead holder's intent which of its stores
 * happened. The cost is two atomic operations per accepted and per closed
 * connection, on a line no other address uses (up to 14 addresses share a
 * bucket); a request on a kept-alive connection costs nothing.
 *
 * Invariants (with no holder between its intent and its clear):
 *  I1 A key is in at most one slot, and only in its bucket: a slot takes
 *     a key only under the claim, after a scan of the bucket found it
 *     absent.
 *  I2 A slot's count is the sum of the rows' entries for it, and it never
 *     exceeds the largest limit any acquire was given: the holder checks
 *     count < limit and increments in one critical section.
 *  I3 An empty slot has no row entry: a row entry > 0 keeps its slot's
 *     count > 0 (I2), so the slot cannot be re-keyed under a holder.
 *
 * Ordering: claim acquire CAS / release store, as above; everything else
 * relaxed. The master's reads after waitpid() see a dead worker's stores
 * because exit and wait are full barriers in the kernel (the C model has
 * no words for a dead process).
 *
 * Bounded work (STYLE §11). Workers poll a held claim CLAIM_POLLS times,
 * then yield the CPU CLAIM_YIELDS times (a holder preempted on our CPU
 * gets to finish), then give up (CL_BUSY, -EBUSY); a scan is 14 slots. The master polls
 * with sched_yield() up to MASTER_POLLS times per bucket. Repair walks the
 * whole table once; it is the reap path.
 *
 * A worker killed at any instant:
 *  - outside a claim: its row still counts its connections;
 *    cl_repair_master() subtracts each row entry from its slot (freeing
 *    the slot at 0) and zeroes the row.
 *  - holding a claim: the claim names it, and the bucket is stuck for
 *    other workers (CL_BUSY) until the master repairs. With an intent
 *    {slot, count c, row r} written, the slot holds c or c +- 1 and the
 *    row r or r +- 1; either way the right end state, once the dead
 *    worker's share is gone, is c - r for the slot and 0 for the row, so
 *    the master writes exactly that (an empty slot at 0), then frees the
 *    claim. Without an intent, nothing in the bucket changed: the claim is
 *    freed. Then the rest of its row is released as above. Run the repair
 *    before the worker id is handed out again. */
#include "shm/connlimit.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define CL_MAGIC	0x31304c4e4e4f43ull	/* "CONNL01" */
#define CLAIM_POLLS	4096u
#define CLAIM_YIELDS	16u
#define MASTER_POLLS	100000u

#define KEY_SHIFT	24
#define COUNT_MASK	0xffffffull
#define KEY_MASK	0xffffffffffull		/* 40 bits */

#define INTENT_VALID	(1ull << 63)
#define INTENT_SLOT_SHIFT 56
#define INTENT_ROW_SHIFT 24

struct cl_bucket_sh {
	_Atomic uint64_t claim;
	_Atomic uint64_t intent;
	_Atomic uint64_t slots[CL_SLOTS];
} __attribute__((aligned(64)));

struct cl_region_sh {
	uint64_t magic;
	uint32_t n_buckets;
	uint32_t n_workers;
	uint8_t pad[48];
	struct cl_bucket_sh buckets[];
	/* then: _Atomic uint16_t rows[n_workers][n_buckets * CL_SLOTS] */
};

_Static_assert(sizeof(struct cl_bucket_sh) == 128, "a bucket is two cache lines");
_Static_assert(offsetof(struct cl_region_sh, buckets) == 64, "buckets cache aligned");
_Static_assert(CL_SLOTS < 16, "the intent holds the slot in 4 bits");
_Static_assert(CL_MAX_COUNT <= 0xffff, "rows count in 16 bits");

static inline uint64_t claim_word(uint32_t owner) { return (uint64_t)owner << 32 | 1u; }
static inline uint64_t slot_key(uint64_t s) { return s >> KEY_SHIFT; }
static inline uint32_t slot_count(uint64_t s) { return (uint32_t)(s & COUNT_MASK); }
static inline uint64_t slot_make(uint64_t key, uint32_t count)
{
	return count ? key << KEY_SHIFT | count : 0;
}

static inline uint64_t key_of(uint64_t hash)
{
	uint64_t k = (hash >> KEY_SHIFT) & KEY_MASK;

	return k ? k : 1;
}

static inline bool is_pow2(uint64_t n) { return n && !(n & (n - 1)); }

static size_t n_slots(uint32_t n_buckets) { return (size_t)n_buckets * CL_SLOTS; }

size_t cl_region_size(uint32_t n_buckets, uint32_t n_workers)
{
	size_t rows = (size_t)n_workers * n_slots(n_buckets) * sizeof(uint16_t);

	return sizeof(struct cl_region_sh) + (size_t)n_buckets * sizeof(struct cl_bucket_sh) + rows;
}

void cl_format_master(void *mem, uint32_t n_buckets, uint32_t n_workers)
{
	struct cl_region_sh *sh = mem;

	memset(sh, 0, cl_region_size(n_buckets, n_workers));
	sh->magic = CL_MAGIC;
	sh->n_buckets = n_buckets;
	sh->n_workers = n_workers;
}

int cl_attach(struct cl_table *t, void *mem, size_t size)
{
	struct cl_region_sh *sh = mem;

	if (size < sizeof(*sh) || sh->magic != CL_MAGIC || !is_pow2(sh->n_buckets) ||
	    cl_region_size(sh->n_buckets, sh->n_workers) > size)
		return -EINVAL;
	t->sh = sh;
	t->n_buckets = sh->n_buckets;
	t->n_workers = sh->n_workers;
	return 0;
}

static _Atomic uint16_t *row(const struct cl_table *t, unsigned worker)
{
	_Atomic uint16_t *rows = (_Atomic uint16_t *)(t->sh->buckets + t->n_buckets);

	return rows + (size_t)worker * n_slots(t->n_buckets);
}

static struct cl_bucket_sh *bucket_of(const struct cl_table *t, uint64_t hash)
{
	return &t->sh->buckets[hash & (t->n_buckets - 1)];
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static bool try_claim(struct cl_bucket_sh *b, uint32_t owner)
{
	uint64_t free_word = 0;

	/* Acquire on success: pairs with the release in claim_release(), so
	 * every store of earlier holders (slots, rows, intent) is visible.
	 * Relaxed on failure: we only poll again. */
	return atomic_compare_exchange_strong_explicit(&b->claim, &free_word, claim_word(owner),
						       memory_order_acquire, memory_order_relaxed);
}

static int claim_acquire(struct cl_bucket_sh *b, uint32_t owner)
{
	for (unsigned i = 0; i < CLAIM_POLLS; i++) {
		if (try_claim(b, owner))
			return 0;
		cpu_relax();
	}
	/* The holder may have been preempted on our CPU: let it run. */
	for (unsigned i = 0; i < CLAIM_YIELDS; i++) {
		sched_yield();
		if (try_claim(b, owner))
			return 0;
	}
	return -EBUSY;
}

static void claim_release(struct cl_bucket_sh *b)
{
	/* Release: publishes this critical section's stores to the next
	 * holder's acquire CAS. */
	atomic_store_explicit(&b->claim, 0, memory_order_release);
}

/* Relaxed loads and stores below: every one runs under the bucket's claim
 * (or in the master after the writer's death, or in cl__audit() with no
 * operation running), and the claim's acquire/release pair orders them. */
static uint64_t ld(_Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }
static void st(_Atomic uint64_t *p, uint64_t v) { atomic_store_explicit(p, v, memory_order_relaxed); }
static uint16_t ld16(_Atomic uint16_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }
static void st16(_Atomic uint16_t *p, uint16_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

/* Under the claim: the slot holding <key>, else a free one (*found false),
 * else -1. */
static int slot_find(struct cl_bucket_sh *b, uint64_t key, bool *found)
{
	int free_slot = -1;

	for (unsigned i = 0; i < CL_SLOTS; i++) {
		uint64_t s = ld(&b->slots[i]);

		if (s && slot_key(s) == key) {
			*found = true;
			return (int)i;
		}
		if (!s && free_slot < 0)
			free_slot = (int)i;
	}
	*found = false;
	return free_slot;
}

static uint64_t intent_make(unsigned slot, uint32_t count, uint16_t row_before)
{
	return INTENT_VALID | (uint64_t)slot << INTENT_SLOT_SHIFT |
	       (uint64_t)row_before << INTENT_ROW_SHIFT | count;
}

/* Under the claim: move slot <i> of <b> (key <key>) and worker's row entry
 * <idx> by <delta>, stopping after <halt> steps (0 = all; tests). */
static void change_locked(struct cl_bucket_sh *b, unsigned i, uint64_t key, int delta,
			  _Atomic uint16_t *r, int halt)
{
	uint32_t count = slot_count(ld(&b->slots[i]));
	uint16_t before = ld16(r);

	st(&b->intent, intent_make(i, count, before));
	if (halt == 2)
		return;
	st(&b->slots[i], slot_make(key, (uint32_t)((int64_t)count + delta)));
	if (halt == 3)
		return;
	st16(r, (uint16_t)(before + delta));
	if (halt == 4)
		return;
	st(&b->intent, 0);
}

static enum cl_verdict acquire(struct cl_table *t, unsigned worker, uint64_t hash, unsigned limit,
			       uint32_t *handle, int halt)
{
	struct cl_bucket_sh *b = bucket_of(t, hash);
	uint64_t key = key_of(hash);
	uint32_t bi = (uint32_t)(b - t->sh->buckets);
	enum cl_verdict v = CL_ADMIT;
	bool found;
	int i;

	if (claim_acquire(b, worker + 1) < 0)
		return CL_BUSY;
	if (halt == 1)
		return CL_ADMIT;
	i = slot_find(b, key, &found);
	if (i < 0)
		v = CL_FULL;
	else if (found && slot_count(ld(&b->slots[i])) >= limit)
		v = CL_OVER;
	else if (!limit)
		v = CL_OVER;
	if (v == CL_ADMIT) {
		*handle = bi * CL_SLOTS + (uint32_t)i;
		change_locked(b, (unsigned)i, key, +1, &row(t, worker)[*handle], halt);
		if (halt)
			return v;
	}
	claim_release(b);
	return v;
}

enum cl_verdict cl_acquire(struct cl_table *t, unsigned worker, uint64_t key, unsigned limit,
			   uint32_t *handle)
{
	return acquire(t, worker, key, limit, handle, 0);
}

static int release(struct cl_table *t, unsigned worker, uint32_t handle, int halt)
{
	struct cl_bucket_sh *b = &t->sh->buckets[handle / CL_SLOTS];
	unsigned i = handle % CL_SLOTS;
	_Atomic uint16_t *r = &row(t, worker)[handle];
	uint64_t s;

	if (claim_acquire(b, worker + 1) < 0)
		return -EBUSY;
	if (halt == 1)
		return 0;
	s = ld(&b->slots[i]);
	/* I3: our row entry keeps the slot keyed; a zero row is a caller's
	 * double release, which must not take another worker's count. */
	if (ld16(r) && s) {
		change_locked(b, i, slot_key(s), -1, r, halt);
		if (halt)
			return 0;
	}
	claim_release(b);
	return 0;
}

int cl_release(struct cl_table *t, unsigned worker, uint32_t handle)
{
	return release(t, worker, handle, 0);
}

unsigned cl_count(const struct cl_table *t, uint64_t hash)
{
	struct cl_bucket_sh *b = bucket_of(t, hash);
	uint64_t key = key_of(hash);

	for (unsigned i = 0; i < CL_SLOTS; i++) {
		/* Relaxed: display; a value one change old is fine. */
		uint64_t s = atomic_load_explicit(&b->slots[i], memory_order_relaxed);

		if (s && slot_key(s) == key)
			return slot_count(s);
	}
	return 0;
}

/* Master: a dead holder's claim on <b>. Its intent says which slot it was
 * changing and what slot and row held before; see the rules for why
 * c - r is right whichever of its stores happened. */
static void resolve_dead_claim(struct cl_table *t, struct cl_bucket_sh *b, unsigned worker)
{
	uint64_t in = ld(&b->intent);

	if (in & INTENT_VALID) {
		unsigned i = (unsigned)(in >> INTENT_SLOT_SHIFT) & 0xfu;
		uint32_t count = (uint32_t)(in & COUNT_MASK);
		uint16_t before = (uint16_t)(in >> INTENT_ROW_SHIFT);
		uint64_t s = ld(&b->slots[i]);
		uint32_t idx = (uint32_t)(b - t->sh->buckets) * CL_SLOTS + i;

		/* count > before means the slot had other holders, so it is
		 * still keyed whichever stores happened. */
		st(&b->slots[i], count > before ? slot_make(slot_key(s), count - before) : 0);
		st16(&row(t, worker)[idx], 0);
		st(&b->intent, 0);
	}
	claim_release(b);
}

static int master_claim(struct cl_bucket_sh *b)
{
	for (unsigned i = 0; i < MASTER_POLLS; i++) {
		if (try_claim(b, 0))
			return 0;
		sched_yield();
	}
	return -EBUSY;
}

/* Master: give back worker's row entries in bucket <bi>. */
static int release_row_bucket(struct cl_table *t, unsigned worker, uint32_t bi)
{
	struct cl_bucket_sh *b = &t->sh->buckets[bi];
	_Atomic uint16_t *r = &row(t, worker)[(size_t)bi * CL_SLOTS];
	bool any = false;

	for (unsigned i = 0; i < CL_SLOTS && !any; i++)
		any = ld16(&r[i]) != 0;
	if (!any)
		return 0;
	if (master_claim(b) < 0)
		return -EBUSY;
	for (unsigned i = 0; i < CL_SLOTS; i++) {
		uint16_t n = ld16(&r[i]);
		uint64_t s = ld(&b->slots[i]);

		if (!n)
			continue;
		uint32_t c = slot_count(s);
		st(&b->slots[i], c > n ? slot_make(slot_key(s), c - n) : 0);
		st16(&r[i], 0);
	}
	claim_release(b);
	return 0;
}

int cl_repair_master(struct cl_table *t, unsigned worker)
{
	uint64_t dead = claim_word(worker + 1);
	int ret = 0;

	if (worker >= t->n_workers)
		return -EINVAL;
	for (uint32_t bi = 0; bi < t->n_buckets; bi++) {
		/* Relaxed: the owner is dead, so the word cannot change
		 * from dead to anything but by us. */
		if (atomic_load_explicit(&t->sh->buckets[bi].claim, memory_order_relaxed) == dead)
			resolve_dead_claim(t, &t->sh->buckets[bi], worker);
	}
	for (uint32_t bi = 0; bi < t->n_buckets; bi++) {
		if (release_row_bucket(t, worker, bi) < 0)
			ret = -EBUSY;
	}
	return ret;
}

enum cl_verdict cl__acquire_halt(struct cl_table *t, unsigned worker, uint64_t key,
				 unsigned limit, uint32_t *handle, int step)
{
	return acquire(t, worker, key, limit, handle, step);
}

int cl__release_halt(struct cl_table *t, unsigned worker, uint32_t handle, int step)
{
	return release(t, worker, handle, step);
}

void cl__audit(const struct cl_table *t, struct cl__audit *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t bi = 0; bi < t->n_buckets; bi++) {
		struct cl_bucket_sh *b = &t->sh->buckets[bi];

		out->claims += ld(&b->claim) != 0;
		out->intents += ld(&b->intent) != 0;
		for (unsigned i = 0; i < CL_SLOTS; i++) {
			uint64_t s = ld(&b->slots[i]);
			uint64_t sum = 0;
			size_t idx = (size_t)bi * CL_SLOTS + i;

			for (unsigned w = 0; w < t->n_workers; w++)
				sum += ld16(&row(t, w)[idx]);
			out->counted += slot_count(s);
			out->rows += sum;
			out->mismatched += slot_count(s) != sum;
			out->bad_empty += s && (!slot_count(s) || !slot_key(s));
		}
	}
}
