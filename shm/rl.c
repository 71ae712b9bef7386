/* GCRA rate-limit table in shared memory: the rules.
 *
 * Layout. A 64-byte header (magic, version, n_buckets, the busy counter),
 * then n_buckets (a power of two) buckets of 128 bytes: a claim word, an
 * eviction counter and RL_BUCKET_SLOTS = 7 slots {key, state}. Slots 0-2
 * share the first cache line with the claim, slots 3-6 fill the second, so
 * no slot straddles two lines. A key's home bucket is a function of the key
 * and n_buckets alone and a key lives nowhere else: nothing in the region
 * is a pointer, so every process may map it at its own address.
 *
 * A slot's state word is seq:16 | tat:48, tat in µs of CLOCK_MONOTONIC.
 * 2^48 µs is 8.9 years; rl.h caps now_us at RL_NOW_MAX_US and B*T at
 * RL_SPAN_MAX_US so every stored tat stays below TAT_RESERVED (asserted
 * below). A slot is
 *   empty     key 0 (callers' key 0 becomes RL_KEY_ZERO, so no key is 0);
 *   live      key K, tat > now: K's theoretical arrival time;
 *   idle      key K, tat <= now: GCRA treats TAT <= now exactly like no
 *             state, so the slot can be taken for another key at no cost;
 *   reserved  tat == TAT_RESERVED: the bucket's claim holder is re-keying it.
 * seq counts the slot's re-keys: each one adds 1, nothing else changes it.
 *
 * Who writes what.
 *   key       the holder of the bucket's claim (insert); the master in
 *             rl_repair_master() for a dead holder. Never the hot path.
 *   state     anyone, by CAS on a non-reserved value, keeping seq: take,
 *             refund, reset. The claim holder CASes a slot to reserved
 *             (seq + 1) and then stores its new state; the master stores the
 *             state of a dead holder's reserved slot.
 *   claim     0 when free, else owner << 32 | 1. Taken by CAS 0 -> mine,
 *             freed by its holder, or by the master for a dead holder.
 *   evictions the claim holder only: relaxed load + store, no RMW.
 *   busy      any process: relaxed fetch_add.
 *
 * Invariants.
 *  I1 A key is in at most one slot, and only in its home bucket. Keys are
 *     written only under the claim; the holder rescans all 7 slots for K
 *     after its acquire CAS of the claim, which pairs with the release that
 *     freed it, so every key stored by earlier holders is visible, and no
 *     key can change until the holder releases.
 *  I2 A reserved slot exists only in a claimed bucket, reserved by the
 *     claim's owner: only a holder reserves, and it stores the slot's new
 *     state before releasing. So at most one slot per bucket is reserved.
 *  I3 seq changes exactly when a slot's key changes, so a CAS expecting a
 *     state read under an earlier key fails (up to seq wrap, below).
 *
 * Exactness ("a limit of N admits exactly N"). Every decision about K is
 * computed from one state value s of K's slot and committed by CAS from s
 * (or, for the first request of a new key, by the store that ends its
 * insert, made under the claim with K known absent). A reject or BUSY
 * writes nothing. All CASes on one word fall in one modification order, so
 * K's admits are a sequential GCRA run in that order, with each request's
 * own now. Reading s safely is a seqlock with the state as its sequence:
 * find K's slot (key load), load s (acquire), reload the key (acquire).
 * If s is reserved: BUSY. Else s synchronises with the release store that
 * published its key's era, so the reload sees that era's key or a later
 * one; if later, the later era's reserve CAS happens before our CAS, which
 * then fails (I3). So a successful CAS means s was K's state and nothing
 * intervened. A failed CAS returns the current value; with the same seq it
 * is still K's era (I3), so we decide again from it without a reload.
 * rl_peek() has no CAS and loads the state again instead: same seq on both
 * loads, the first not reserved, means both were K's.
 *
 * Where the state of K is lost, and so exactness ends:
 *  - idle slot re-keyed: lossless for every request whose now is at least
 *    the inserter's now. A worker whose clock read lags by d (at most one
 *    loop turn) may afterwards see a full bucket where the lost TAT would
 *    have cost it ceil(d / T) requests: at most one extra admit while d < T.
 *  - eviction: an insert finds all 7 slots live. We drop the one with the
 *    smallest TAT (the key nearest to full again, so the least is lost) and
 *    count it in rl_stats.evictions. The operator sizes shm so it stays 0.
 *    The reserve CAS expects the very state the choice was made on, so a
 *    live key is evicted only if no slot was empty or idle when read under
 *    the claim (at one now a live slot can only stay live; only reset and
 *    refund make one idle).
 *  - seq wrap: a CAS would wrongly succeed only if one slot were re-keyed a
 *    multiple of 65536 times, each under the claim, between one taker's
 *    state load and its CAS. We accept that.
 *
 * Ordering, in one place (each call site names its pairing too):
 *  - claim: acquire CAS to take, release store to free; successive holders'
 *    key, state and eviction writes are ordered through it.
 *  - re-key: reserve CAS (relaxed), key store (release), state store
 *    (release). A taker that sees the new key sees the reservation; one
 *    that sees the new state sees the new key on its reload.
 *  - hot path CAS: relaxed. Its value is all it publishes, and a CAS needs
 *    no order to be atomic; the acquire loads before it do the ordering.
 *    An acquire load that reads such a CAS still synchronises with the
 *    era's release store, since RMWs extend its release sequence.
 *  - counters and stats: relaxed.
 *
 * Where this differs from the first sketch of the design, and why:
 *  - The victim's state is not reloaded before the reserve CAS: a taker
 *    can make the chosen idle slot live in between, and the CAS would then
 *    evict a live key while idle slots remained (the rotation phase of
 *    tests/unit/shm/rl_stress.c caught exactly that).
 *  - An insert stores the state after its first take (now + T) instead of
 *    a fresh state that the caller then CASes: the decision is made under
 *    the claim from "absent", and no other taker can slip in between.
 *  - rl_peek() cannot lean on a CAS to catch a re-key, hence its second
 *    state load; and a reserved first load is never trusted, because the
 *    key reload may still show the previous key of a slot being re-keyed.
 *  - Hot-path CASes are relaxed, not acq_rel: see Ordering.
 *  - Evictions count in the bucket (written under its claim, no shared
 *    hot line); only busy, written by anyone, is in the header.
 *
 * Bounded work (STYLE §11). Nothing waits for another process: a held
 * claim is polled CLAIM_POLLS times, then BUSY; a CAS loop gives up after
 * CAS_TRIES, a re-key after RESERVE_TRIES, a lookup after FIND_TRIES
 * rescans. rl_reset_all_master(), rl_repair_master() and rl_stats_read()
 * walk the whole table; they are operator and reap paths, not per request.
 *
 * A worker killed at any instant leaves:
 *  - in take, refund, reset, peek: nothing. Its only write is one CAS,
 *    which either happened or did not.
 *  - holding a claim: the claim word, naming it. Inserts into that bucket
 *    return BUSY; takes of present keys go on. If it died between its
 *    reserve CAS and its final state store, also one reserved slot (I2)
 *    whose key is the old one or the new one; takes of that key get BUSY.
 *    The request it was inserting never got a verdict, so nothing admitted
 *    is lost, and the old key's state was being dropped anyway.
 * rl_repair_master(owner), run after waitpid() reaped the worker, finds the
 * buckets whose claim names it, turns their reserved slot into an empty
 * one (key 0, tat 0, seq already bumped, so stale CASes still fail) and
 * frees the claim. Another process may be mid-take in those buckets; that
 * is safe because nobody but the claim's owner writes a reserved slot or a
 * held claim, and the owner is dead. The dead worker's last stores are
 * visible to the master because the kernel's exit and wait paths are full
 * barriers (the C memory model has no words for a dead process). Run it
 * before the worker id is handed out again, or a live owner's claim would
 * be freed under it. */
#include "shm/rl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define RL_MAGIC		0x31304152434c5247ull	/* "GRLCRA01" */
#define RL_VERSION		1u
#define RL_HEADER_BYTES		64u

#define TAT_BITS		48
#define TAT_MASK		((1ull << TAT_BITS) - 1)
#define TAT_RESERVED		TAT_MASK
#define SEQ_ONE			(1ull << TAT_BITS)

#define CLAIM_HELD		1ull
#define CLAIM_OWNER_SHIFT	32

#define CLAIM_POLLS		8	/* reads of a held claim before BUSY */
#define CAS_TRIES		64	/* lost CASes on one state before BUSY */
#define RESERVE_TRIES		16	/* lost reserve CASes before BUSY */
#define FIND_TRIES		3	/* rescans after a re-key moved the key */

struct rl_slot_sh {
	_Atomic uint64_t key;		/* 0 = empty */
	_Atomic uint64_t state;		/* seq:16 | tat:48 (µs) */
};

struct rl_bucket_sh {
	_Atomic uint64_t claim;		/* 0 = free, else owner << 32 | 1 */
	_Atomic uint64_t evictions;	/* live keys this bucket dropped */
	struct rl_slot_sh slot[RL_BUCKET_SLOTS];
} __attribute__((aligned(64)));

/* The header is written by rl_format_master() before any other process
 * maps the region and only read afterwards, so it needs no atomics;
 * busy is the exception. */
struct rl_region_sh {
	uint64_t magic;
	uint32_t version;
	uint32_t n_buckets;
	_Atomic uint64_t busy;		/* BUSY verdicts returned */
	uint8_t pad[40];
	struct rl_bucket_sh buckets[];
};

_Static_assert(sizeof(struct rl_bucket_sh) == 128, "a bucket is two cache lines");
_Static_assert(_Alignof(struct rl_bucket_sh) == 64, "buckets are cache aligned");
_Static_assert(offsetof(struct rl_bucket_sh, slot[3]) == 64, "no slot straddles a line");
_Static_assert(offsetof(struct rl_region_sh, buckets) == RL_HEADER_BYTES, "header is one line");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
	       "shared-memory atomics must be lock-free (address-free)");
_Static_assert(RL_NOW_MAX_US + RL_SPAN_MAX_US < TAT_RESERVED, "a stored tat fits 48 bits");

/* One request's operation on a state word. */
enum op_kind { OP_TAKE, OP_REFUND, OP_RESET };

struct op {
	enum op_kind kind;
	const struct rl_rule *rule;	/* TAKE, REFUND; NULL for RESET */
	uint64_t now;			/* µs */
	struct rl_verdict v;		/* TAKE: the decision */
};

/* How an attempt ended. */
enum step {
	STEP_DONE,			/* decided (and written when it had to be) */
	STEP_ABSENT,			/* no slot holds the key */
	STEP_LOST,			/* the slot was re-keyed under us: rescan */
	STEP_BUSY,			/* reserved slot, held claim, or too much contention */
	STEP_EXISTS,			/* rl__insert_halt(): the key is present */
	STEP_HALTED,			/* rl__insert_halt(): stopped as if killed */
};

static inline uint64_t st_tat(uint64_t s) { return s & TAT_MASK; }
static inline bool st_reserved(uint64_t s) { return st_tat(s) == TAT_RESERVED; }
static inline bool st_same_seq(uint64_t a, uint64_t b) { return ((a ^ b) >> TAT_BITS) == 0; }
static inline uint64_t st_with_tat(uint64_t s, uint64_t tat) { return (s & ~TAT_MASK) | tat; }
/* seq + 1 wraps within its 16 bits: the carry leaves the word. */
static inline uint64_t st_reserve(uint64_t s) { return ((s & ~TAT_MASK) + SEQ_ONE) | TAT_RESERVED; }

static inline uint64_t key_norm(uint64_t key) { return key ? key : RL_KEY_ZERO; }

static inline uint64_t claim_word(uint32_t owner)
{
	return ((uint64_t)owner << CLAIM_OWNER_SHIFT) | CLAIM_HELD;
}

/* Fibonacci hashing: the multiply carries every key bit into the high half,
 * so even keys that differ only in their high bits spread over buckets. */
static inline uint32_t bucket_index(const struct rl_table *t, uint64_t k)
{
	return (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 32) & (t->n_buckets - 1);
}

static inline struct rl_bucket_sh *bucket_of(const struct rl_table *t, uint64_t k)
{
	return &t->buckets[bucket_index(t, k)];
}

static inline bool is_pow2(uint64_t n) { return n && !(n & (n - 1)); }

size_t rl_region_size(uint32_t n_buckets)
{
	if (!is_pow2(n_buckets) || n_buckets > (1u << 31))
		return 0;
	return RL_HEADER_BYTES + (size_t)n_buckets * sizeof(struct rl_bucket_sh);
}

uint32_t rl_buckets_fit(size_t bytes)
{
	size_t n;

	if (bytes < RL_HEADER_BYTES + sizeof(struct rl_bucket_sh))
		return 0;
	n = (bytes - RL_HEADER_BYTES) / sizeof(struct rl_bucket_sh);
	if (n > (1u << 31))
		n = 1u << 31;
	return 1u << (63 - __builtin_clzll((unsigned long long)n));
}

void rl_format_master(void *mem, uint32_t n_buckets)
{
	struct rl_region_sh *r = mem;

	if (!rl_region_size(n_buckets))
		return;
	memset(r, 0, rl_region_size(n_buckets));
	/* atomic_init: no other process maps the region yet; fork (or handing
	 * the fd over) orders all of this before any other access. */
	atomic_init(&r->busy, 0);
	for (uint32_t b = 0; b < n_buckets; b++) {
		struct rl_bucket_sh *bk = &r->buckets[b];

		atomic_init(&bk->claim, 0);
		atomic_init(&bk->evictions, 0);
		for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
			atomic_init(&bk->slot[i].key, 0);
			atomic_init(&bk->slot[i].state, 0);
		}
	}
	r->version = RL_VERSION;
	r->n_buckets = n_buckets;
	r->magic = RL_MAGIC;
}

int rl_attach(struct rl_table *t, void *mem, size_t size, uint32_t owner)
{
	struct rl_region_sh *r = mem;

	if (!r || ((uintptr_t)r & 63) || size < RL_HEADER_BYTES)
		return -EINVAL;
	if (r->magic != RL_MAGIC || r->version != RL_VERSION)
		return -EINVAL;
	if (!rl_region_size(r->n_buckets) || rl_region_size(r->n_buckets) > size)
		return -EINVAL;
	t->region = r;
	t->buckets = r->buckets;
	t->n_buckets = r->n_buckets;
	t->owner = owner;
	return 0;
}

int rl_rule_check(const struct rl_rule *rule)
{
	if (!rule || rule->interval_us < 1 || rule->burst < 1 ||
	    rule->burst > RL_SPAN_MAX_US / rule->interval_us)
		return -EINVAL;
	return 0;
}

/* GCRA for one take against <tat>: true, with the TAT to store in *next,
 * on admit; false on reject. Fills <v> either way. */
static bool take_decide(const struct rl_rule *r, uint64_t tat, uint64_t now, uint64_t *next,
			struct rl_verdict *v)
{
	uint64_t T = r->interval_us, span = T * r->burst;
	uint64_t base = tat > now ? tat : now;
	uint64_t n = base + T;

	if (n - now > span) {
		/* A reject implies tat > now, since B >= 1. */
		*v = (struct rl_verdict){ RL_REJECT, 0, base - now, n - now - span };
		return false;
	}
	*v = (struct rl_verdict){ RL_ADMIT, (span - (n - now)) / T, n - now, 0 };
	*next = n;
	return true;
}

/* Decide <op> against a slot whose TAT is <tat>: true, with the TAT to
 * store in *next, when the state must change; false when it is decided
 * without a write (a reject, nothing to refund, already reset). */
static bool op_decide(struct op *op, uint64_t tat, uint64_t *next)
{
	switch (op->kind) {
	case OP_TAKE:
		return take_decide(op->rule, tat, op->now, next, &op->v);
	case OP_REFUND:
		if (tat <= op->now)
			return false;
		*next = tat - op->now > op->rule->interval_us ? tat - op->rule->interval_us : op->now;
		return true;
	case OP_RESET:
		*next = 0;
		return tat != 0;
	}
	return false;
}

/* The slot of <b> holding <k>, or -1. */
static int slot_find(const struct rl_bucket_sh *b, uint64_t k)
{
	for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
		/* Acquire: pairs with the release store of the key in
		 * insert_locked(), so the state we load next is the new key's
		 * (reserved or later), not its predecessor's. The reload in
		 * slot_apply() is what exactness rests on; this saves a CAS
		 * doomed to fail. */
		if (atomic_load_explicit(&b->slot[i].key, memory_order_acquire) == k)
			return (int)i;
	}
	return -1;
}

/* The CAS loop of one op on a state word last seen as <cur>, a
 * non-reserved state whose era is known to belong to the op's key. */
static enum step state_cas_loop(struct rl_slot_sh *s, uint64_t cur, struct op *op)
{
	for (unsigned n = 0; n < CAS_TRIES; n++) {
		uint64_t seen = cur, next;

		if (st_reserved(cur))
			return STEP_BUSY;
		if (!op_decide(op, st_tat(cur), &next))
			return STEP_DONE;
		/* Relaxed, success and failure: all CASes on this word are
		 * totally ordered whatever their order, which is all GCRA
		 * needs; the new tat is the only thing published, and the
		 * acquire loads in slot_apply() did the ordering. */
		if (atomic_compare_exchange_weak_explicit(&s->state, &cur, st_with_tat(cur, next),
							  memory_order_relaxed,
							  memory_order_relaxed))
			return STEP_DONE;
		/* Same seq: the same key's era (I3), so just decide again. */
		if (!st_same_seq(cur, seen))
			return STEP_LOST;
	}
	return STEP_BUSY;
}

/* Apply <op> for key <k> to slot <s>, which held <k> when we scanned it. */
static enum step slot_apply(struct rl_slot_sh *s, uint64_t k, struct op *op)
{
	/* Acquire: pairs with the release store of the state that opened
	 * this era (insert_locked, rl_repair_master), whose release sequence
	 * the hot-path CASes extend; the key reload below then sees this
	 * era's key or a later one. */
	uint64_t cur = atomic_load_explicit(&s->state, memory_order_acquire);

	if (st_reserved(cur))
		return STEP_BUSY;
	/* Acquire: pairs with the release store of the key. If this is a
	 * later era's key, that era's reserve CAS happens before our CAS,
	 * which would fail: rescan instead. (A later era holding <k> again
	 * passes here, and then the CAS fails on seq.) */
	if (atomic_load_explicit(&s->key, memory_order_acquire) != k)
		return STEP_LOST;
	return state_cas_loop(s, cur, op);
}

/* Find <k> in <b> and apply <op>: ABSENT, DONE or BUSY. */
static enum step find_apply(struct rl_bucket_sh *b, uint64_t k, struct op *op)
{
	for (unsigned n = 0; n < FIND_TRIES; n++) {
		int i = slot_find(b, k);
		enum step r;

		if (i < 0)
			return STEP_ABSENT;
		r = slot_apply(&b->slot[i], k, op);
		if (r != STEP_LOST)
			return r;
	}
	return STEP_BUSY;
}

/* Take <b>'s claim for <t>'s owner: 0, or -EBUSY after CLAIM_POLLS reads
 * found it held. Only a few nanoseconds of polling, never a wait: the
 * holder may be descheduled or dead, and BUSY costs the request no more
 * than one loop turn. */
static int claim_acquire(const struct rl_table *t, struct rl_bucket_sh *b)
{
	for (unsigned n = 0; n < CLAIM_POLLS; n++) {
		uint64_t expect = 0;

		/* Relaxed: a peek to avoid bouncing the line with doomed
		 * CASes; the CAS below is what orders. */
		if (atomic_load_explicit(&b->claim, memory_order_relaxed) != 0)
			continue;
		/* Acquire on success: pairs with the release that freed the
		 * claim (claim_release, rl_repair_master), so our rescan sees
		 * every key earlier holders stored (I1). Relaxed on failure:
		 * we learn only that it is held. */
		if (atomic_compare_exchange_strong_explicit(&b->claim, &expect,
							    claim_word(t->owner),
							    memory_order_acquire,
							    memory_order_relaxed))
			return 0;
	}
	return -EBUSY;
}

static void claim_release(struct rl_bucket_sh *b)
{
	/* Release: pairs with the next holder's acquire CAS; our key, state
	 * and eviction writes happen before its rescan. */
	atomic_store_explicit(&b->claim, 0, memory_order_release);
}

static void count_eviction(struct rl_bucket_sh *b)
{
	/* Relaxed load and store, no RMW: only the claim holder writes this,
	 * and the claim's acquire/release orders successive holders; stats
	 * readers tolerate a stale value. */
	uint64_t n = atomic_load_explicit(&b->evictions, memory_order_relaxed);

	atomic_store_explicit(&b->evictions, n + 1, memory_order_relaxed);
}

static void count_busy(const struct rl_table *t)
{
	/* Relaxed: a statistics counter any process bumps; the RMW loses no
	 * increment, and readers tolerate a stale sum. */
	atomic_fetch_add_explicit(&t->region->busy, 1, memory_order_relaxed);
}

/* A slot of claimed bucket <b> as victim_pick() saw it. */
struct victim {
	unsigned i;
	uint64_t key;			/* stable under the claim */
	uint64_t state;			/* the value that made it the choice */
};

/* The slot of claimed bucket <b> to re-key: an empty one, else the one with
 * the smallest TAT (idle if any is; else the live key nearest to full). */
static struct victim victim_pick(const struct rl_bucket_sh *b)
{
	struct victim v = { 0, 0, 0 };
	uint64_t best_rank = UINT64_MAX;

	for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
		/* Relaxed: keys are stable under our claim; the state is the
		 * expected value of victim_reserve()'s CAS, which checks it. */
		uint64_t key = atomic_load_explicit(&b->slot[i].key, memory_order_relaxed);
		uint64_t s = atomic_load_explicit(&b->slot[i].state, memory_order_relaxed);
		uint64_t rank = (key == 0 || st_reserved(s)) ? 0 : st_tat(s) + 1;

		if (rank < best_rank) {
			v = (struct victim){ i, key, s };
			best_rank = rank;
		}
	}
	return v;
}

/* Reserve a victim slot of claimed bucket <b> (seq + 1, tat RESERVED): its
 * old key's takers now get BUSY and their pending CASes fail. The CAS
 * expects the very value the choice was made on: a taker that made an idle
 * victim live since makes it fail and we choose again, rather than evict a
 * live key while idle slots remain. Sets *slot, *reserved (the state
 * written) and *evicted (a live key was dropped). 0, or -EBUSY when takers
 * kept changing our choices. */
static int victim_reserve(struct rl_bucket_sh *b, uint64_t now, struct rl_slot_sh **slot,
			  uint64_t *reserved, bool *evicted)
{
	for (unsigned n = 0; n < RESERVE_TRIES; n++) {
		struct victim v = victim_pick(b);
		struct rl_slot_sh *s = &b->slot[v.i];
		uint64_t expect = v.state;

		/* Relaxed: the CAS needs only atomicity (a taker's CAS from
		 * the old state must fail after it, which the modification
		 * order guarantees); the release store of the key that follows
		 * publishes the reservation. */
		if (atomic_compare_exchange_strong_explicit(&s->state, &expect, st_reserve(v.state),
							    memory_order_relaxed,
							    memory_order_relaxed)) {
			*slot = s;
			*reserved = st_reserve(v.state);
			*evicted = v.key != 0 && !st_reserved(v.state) && st_tat(v.state) > now;
			return 0;
		}
	}
	return -EBUSY;
}

/* Under <b>'s claim: apply <op> to <k> if present, else re-key a slot to
 * <k> with the state of a first request. <halt> stops early (tests). */
static enum step insert_locked(struct rl_bucket_sh *b, uint64_t k, struct op *op,
			       enum rl__halt halt)
{
	struct rl_slot_sh *s;
	uint64_t reserved, next = 0;
	bool evicted;
	int i = slot_find(b, k);

	if (i >= 0)
		return halt ? STEP_EXISTS : slot_apply(&b->slot[i], k, op);
	if (victim_reserve(b, op->now, &s, &reserved, &evicted) < 0)
		return STEP_BUSY;
	if (evicted)
		count_eviction(b);
	if (halt == RL__HALT_RESERVED)
		return STEP_HALTED;
	/* Release: pairs with the acquire key loads of takers (slot_find,
	 * slot_apply): whoever sees <k> also sees the reservation, never the
	 * previous key's state. */
	atomic_store_explicit(&s->key, k, memory_order_release);
	if (halt == RL__HALT_KEYED)
		return STEP_HALTED;
	/* An absent key behaves as TAT 0 <= now; under a checked rule the
	 * first request is always admitted. */
	op_decide(op, 0, &next);
	/* Release: pairs with the acquire state load in slot_apply() and
	 * slot_read(): whoever sees this state sees <k> on its key reload. */
	atomic_store_explicit(&s->state, st_with_tat(reserved, next), memory_order_release);
	return STEP_DONE;
}

/* The insert path: claim <b>, insert or apply, release. */
static enum step insert(struct rl_table *t, struct rl_bucket_sh *b, uint64_t k, struct op *op,
			enum rl__halt halt)
{
	enum step r;

	if (claim_acquire(t, b) < 0)
		return STEP_BUSY;
	if (halt == RL__HALT_CLAIMED)
		return STEP_HALTED;
	r = insert_locked(b, k, op, halt);
	if (r != STEP_HALTED)
		claim_release(b);
	return r;
}

struct rl_verdict rl_take(struct rl_table *t, const struct rl_rule *rule, uint64_t key,
			  uint64_t now_us)
{
	struct op op = { .kind = OP_TAKE, .rule = rule, .now = now_us };
	uint64_t k = key_norm(key);
	struct rl_bucket_sh *b = bucket_of(t, k);
	enum step r;

	if (rl_rule_check(rule) < 0 || now_us >= RL_NOW_MAX_US)
		return (struct rl_verdict){ RL_REJECT, 0, 0, 0 };
	r = find_apply(b, k, &op);
	if (r == STEP_ABSENT)
		r = insert(t, b, k, &op, RL__HALT_NONE);
	if (r == STEP_DONE)
		return op.v;
	count_busy(t);
	return (struct rl_verdict){ RL_BUSY, 0, 0, 0 };
}

void rl_refund(struct rl_table *t, const struct rl_rule *rule, uint64_t key, uint64_t now_us)
{
	struct op op = { .kind = OP_REFUND, .rule = rule, .now = now_us };
	uint64_t k = key_norm(key);

	if (rl_rule_check(rule) < 0)
		return;
	/* Absent or BUSY: the key was dropped or is being dropped, taking the
	 * admit we would give back with it. */
	(void)find_apply(bucket_of(t, k), k, &op);
}

int rl_reset(struct rl_table *t, uint64_t key)
{
	struct op op = { .kind = OP_RESET };
	uint64_t k = key_norm(key);

	switch (find_apply(bucket_of(t, k), k, &op)) {
	case STEP_DONE:
		return 0;
	case STEP_ABSENT:
		return -ENOENT;
	default:
		return -EBUSY;
	}
}

/* <k>'s TAT in <b> by loads alone: 0, or -ENOENT when absent or reserved.
 * A seqlock read with the state word as its sequence (see the rules). */
static int slot_read(const struct rl_bucket_sh *b, uint64_t k, uint64_t *tat)
{
	for (unsigned n = 0; n < FIND_TRIES; n++) {
		int i = slot_find(b, k);
		uint64_t s1, s2, key;

		if (i < 0)
			return -ENOENT;
		/* Acquire, all three: s1 pairs with the release store that
		 * opened its era, so <key> is that era's key or later; <key>
		 * pairs with the release key store, so a later era's
		 * reservation is visible to s2 and changes its seq. */
		s1 = atomic_load_explicit(&b->slot[i].state, memory_order_acquire);
		key = atomic_load_explicit(&b->slot[i].key, memory_order_acquire);
		s2 = atomic_load_explicit(&b->slot[i].state, memory_order_acquire);
		if (st_reserved(s1) || st_reserved(s2))
			return -ENOENT;
		if (key == k && st_same_seq(s1, s2)) {
			*tat = st_tat(s2);
			return 0;
		}
	}
	return -ENOENT;
}

/* The verdict a take would get against <tat>, without taking. */
static void describe(const struct rl_rule *r, uint64_t tat, uint64_t now, struct rl_verdict *v)
{
	uint64_t T = r->interval_us, span = T * r->burst;
	uint64_t used = (tat > now ? tat : now) - now;
	uint64_t remaining = used >= span ? 0 : (span - used) / T;

	v->result = remaining ? RL_ADMIT : RL_REJECT;
	v->remaining = remaining;
	v->reset_us = used;
	v->retry_after_us = remaining ? 0 : used + T - span;
}

int rl_peek(const struct rl_table *t, const struct rl_rule *rule, uint64_t key,
	    uint64_t now_us, struct rl_verdict *out)
{
	uint64_t k = key_norm(key), tat = 0;
	int ret;

	if (rl_rule_check(rule) < 0) {
		*out = (struct rl_verdict){ RL_REJECT, 0, 0, 0 };
		return -EINVAL;
	}
	ret = slot_read(bucket_of(t, k), k, &tat);
	if (ret == 0 && tat <= now_us)
		ret = -ENOENT;
	describe(rule, ret == 0 ? tat : 0, now_us, out);
	return ret;
}

void rl_reset_all_master(struct rl_table *t)
{
	struct op op = { .kind = OP_RESET };

	for (uint32_t b = 0; b < t->n_buckets; b++) {
		for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
			struct rl_slot_sh *s = &t->buckets[b].slot[i];
			/* Relaxed: whatever key holds the slot is to be
			 * forgotten, so the era does not matter; the CAS
			 * checks the value. */
			uint64_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);

			/* Reserved or re-keyed meanwhile: a key inserted now
			 * may survive, as rl.h says. */
			(void)state_cas_loop(s, cur, &op);
		}
	}
}

/* Turn the reserved slot of a dead owner's bucket back into an empty one. */
static void bucket_unreserve(struct rl_bucket_sh *b)
{
	for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
		struct rl_slot_sh *s = &b->slot[i];
		/* Relaxed: nobody but the dead owner writes a reserved state
		 * (I2), and its stores are visible since it was reaped. */
		uint64_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);

		if (!st_reserved(cur))
			continue;
		/* Relaxed: nobody looks for key 0, and the release store of
		 * the state below orders it for those who reload the key. */
		atomic_store_explicit(&s->key, 0, memory_order_relaxed);
		/* Release: pairs with the acquire state loads of takers, who
		 * then see key 0 on their reload and rescan. seq was bumped by
		 * the reservation, so CASes from the old key's state fail. */
		atomic_store_explicit(&s->state, st_with_tat(cur, 0), memory_order_release);
	}
}

void rl_repair_master(struct rl_table *t, uint32_t dead_owner)
{
	uint64_t theirs = claim_word(dead_owner);

	for (uint32_t i = 0; i < t->n_buckets; i++) {
		struct rl_bucket_sh *b = &t->buckets[i];

		/* Acquire: pairs with the dead owner's claim CAS; its later
		 * stores are visible through the reap (see the rules). */
		if (atomic_load_explicit(&b->claim, memory_order_acquire) != theirs)
			continue;
		bucket_unreserve(b);
		claim_release(b);
	}
}

void rl_stats_read(const struct rl_table *t, uint64_t now_us, struct rl_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t b = 0; b < t->n_buckets; b++) {
		const struct rl_bucket_sh *bk = &t->buckets[b];

		/* Relaxed, all loads here: a statistics snapshot, not atomic
		 * across slots, and nothing is read through these values. */
		out->evictions += atomic_load_explicit(&bk->evictions, memory_order_relaxed);
		for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
			uint64_t key = atomic_load_explicit(&bk->slot[i].key, memory_order_relaxed);
			uint64_t s = atomic_load_explicit(&bk->slot[i].state, memory_order_relaxed);

			if (key && !st_reserved(s) && st_tat(s) > now_us)
				out->keys++;
		}
	}
	out->busy = atomic_load_explicit(&t->region->busy, memory_order_relaxed);
	out->capacity = (uint64_t)t->n_buckets * RL_BUCKET_SLOTS;
}

uint32_t rl__bucket_of(const struct rl_table *t, uint64_t key)
{
	return bucket_index(t, key_norm(key));
}

int rl__insert_halt(struct rl_table *t, const struct rl_rule *rule, uint64_t key,
		    uint64_t now_us, enum rl__halt at)
{
	struct op op = { .kind = OP_TAKE, .rule = rule, .now = now_us };
	uint64_t k = key_norm(key);

	if (rl_rule_check(rule) < 0)
		return -EINVAL;
	switch (insert(t, bucket_of(t, k), k, &op, at)) {
	case STEP_DONE:
	case STEP_HALTED:
		return 0;
	case STEP_EXISTS:
		return -EEXIST;
	default:
		return -EBUSY;
	}
}

/* rl__audit() for one bucket. */
static void audit_bucket(const struct rl_table *t, uint32_t bi, uint32_t owner,
			 struct rl__audit *out)
{
	const struct rl_bucket_sh *b = &t->buckets[bi];
	uint64_t keys[RL_BUCKET_SLOTS];
	/* Relaxed, all loads here: the audit runs with no other process
	 * active, so nothing is in flight. */
	uint64_t claim = atomic_load_explicit(&b->claim, memory_order_relaxed);

	out->claims += claim != 0;
	out->claims_owner += claim == claim_word(owner);
	for (unsigned i = 0; i < RL_BUCKET_SLOTS; i++) {
		uint64_t s = atomic_load_explicit(&b->slot[i].state, memory_order_relaxed);

		keys[i] = atomic_load_explicit(&b->slot[i].key, memory_order_relaxed);
		out->reserved += st_reserved(s);
		out->reserved_unclaimed += st_reserved(s) && claim == 0;
		out->misplaced += keys[i] && bucket_index(t, keys[i]) != bi;
		for (unsigned j = 0; j < i; j++)
			out->duplicates += keys[i] && keys[i] == keys[j];
	}
}

void rl__audit(const struct rl_table *t, uint32_t owner, struct rl__audit *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t b = 0; b < t->n_buckets; b++)
		audit_bucket(t, b, owner, out);
}
