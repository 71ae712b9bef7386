/* Per-instance shared state.
 *
 * Layout: a header line, then n_slots slots of one cache line each (so two
 * instances never share a line), then n_workers rows of n_slots 32-bit
 * words (a worker's row is contiguous: its writes stay on its own lines),
 * then n_workers rows of n_slots attempt/failure counter pairs.
 *
 * Who writes what:
 *   breaker word   any worker, by CAS (shm/breaker.c has its rules); the
 *                  master for operator commands and repair;
 *   health word    the master alone (active checks): a release store read
 *                  with an acquire load, so the fields inside it are
 *                  consistent by being one word;
 *   retired counts the master alone: a reaped worker's attempt counts are
 *                  folded in, so totals never go down;
 *   rows           row w (in-flight/probes, attempt counts) is written by
 *                  worker w alone (relaxed load and store, no RMW), and by
 *                  the master only after reaping worker w, when nobody else
 *                  can write it. Counting attempts per worker keeps every
 *                  per-request write on the worker's own cache lines: a
 *                  shared counter would bounce one line between workers on
 *                  every request to the same instance.
 *
 * A row word packs the worker's requests in flight on the slot (low 24
 * bits) and the half-open probe tickets it holds (high 8 bits). Invariant:
 * the sum of all rows' in-flight for a slot is the number of requests
 * outstanding on that instance; the sum of probes equals the breaker's
 * probe count minus tickets between brk_allow() and inst_probe_add() (a
 * window of a few instructions in one worker).
 *
 * A worker killed at any instant: its row still counts its requests and
 * probes. The master's inst_repair_worker_master() hands the probes back to
 * each breaker (brk_release_probes) and zeroes the row, so balancers stop
 * counting requests that will never finish and a half-open breaker can
 * grant probes again. A kill inside the window above leaks at most the
 * probes of that one instant's ticket; brk_force_close (gatewayctl breakers
 * reset) clears it. */
#include "shm/inst.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define INST_MAGIC 0x494e535431ull	/* "INST1" */

#define ROW_INFLIGHT_MASK	0x00ffffffu
#define ROW_PROBE_SHIFT		24

struct inst_slot_sh {
	struct brk_sh breaker;
	_Atomic uint64_t health;
	_Atomic uint64_t retired_attempts;	/* of reaped workers (master) */
	_Atomic uint64_t retired_failures;
	uint8_t pad[32];
} __attribute__((aligned(64)));

/* One worker's attempts on one slot; single writer. */
struct inst_count_sh {
	_Atomic uint64_t attempts;
	_Atomic uint64_t failures;
};

struct inst_region_sh {
	uint64_t magic;
	uint32_t n_slots;
	uint32_t n_workers;
	uint8_t pad[48];
	struct inst_slot_sh slots[];
	/* then: _Atomic uint32_t rows[n_workers][n_slots] */
};

_Static_assert(sizeof(struct inst_slot_sh) == 64, "one slot per cache line");
_Static_assert(sizeof(struct brk_sh) == 8, "breaker is one word");
_Static_assert(offsetof(struct inst_region_sh, slots) == 64, "slots cache aligned");

/* Health word: up:1 checked:1 last_ok:1 streak:13 status:16 last_ms:32. */
#define H_UP		(1ull << 63)
#define H_CHECKED	(1ull << 62)
#define H_LAST_OK	(1ull << 61)
#define H_STREAK_SHIFT	48
#define H_STREAK_MAX	0x1fffu
#define H_STATUS_SHIFT	32
/* A formatted slot is up and unchecked; 0 would read as down. */
#define H_FRESH		H_UP

/* Bytes of the in-flight rows, rounded up to a cache line so the counter
 * rows after them start on one. */
static size_t rows_bytes(unsigned n_slots, unsigned n_workers)
{
	return ((size_t)n_workers * n_slots * sizeof(uint32_t) + 63) & ~(size_t)63;
}

size_t inst_region_size(unsigned n_slots, unsigned n_workers)
{
	return sizeof(struct inst_region_sh) + (size_t)n_slots * sizeof(struct inst_slot_sh) +
	       rows_bytes(n_slots, n_workers) +
	       (size_t)n_workers * n_slots * sizeof(struct inst_count_sh);
}

static _Atomic uint32_t *row(const struct inst_table *t, unsigned worker)
{
	_Atomic uint32_t *rows = (_Atomic uint32_t *)(t->sh->slots + t->n_slots);

	return rows + (size_t)worker * t->n_slots;
}

static struct inst_count_sh *counts(const struct inst_table *t, unsigned worker)
{
	char *rows_end = (char *)(t->sh->slots + t->n_slots) + rows_bytes(t->n_slots, t->n_workers);

	return (struct inst_count_sh *)rows_end + (size_t)worker * t->n_slots;
}

static void slot_fresh(struct inst_slot_sh *s)
{
	brk_init(&s->breaker);
	/* Relaxed stores: the slot is unused (formatting before fork, or a
	 * reset of a slot no snapshot names); the snapshot that introduces
	 * the instance is published with release after this. */
	atomic_store_explicit(&s->health, H_FRESH, memory_order_relaxed);
	atomic_store_explicit(&s->retired_attempts, 0, memory_order_relaxed);
	atomic_store_explicit(&s->retired_failures, 0, memory_order_relaxed);
}

void inst_format_master(void *mem, unsigned n_slots, unsigned n_workers)
{
	struct inst_region_sh *sh = mem;

	memset(sh, 0, inst_region_size(n_slots, n_workers));
	sh->magic = INST_MAGIC;
	sh->n_slots = n_slots;
	sh->n_workers = n_workers;
	for (unsigned i = 0; i < n_slots; i++)
		slot_fresh(&sh->slots[i]);
}

int inst_attach(struct inst_table *t, void *mem, size_t size)
{
	struct inst_region_sh *sh = mem;

	if (size < sizeof(*sh) || sh->magic != INST_MAGIC ||
	    inst_region_size(sh->n_slots, sh->n_workers) > size)
		return -EINVAL;
	t->sh = sh;
	t->n_slots = sh->n_slots;
	t->n_workers = sh->n_workers;
	return 0;
}

struct brk_sh *inst_breaker(const struct inst_table *t, unsigned slot)
{
	return &t->sh->slots[slot].breaker;
}

void inst_health_store_master(struct inst_table *t, unsigned slot, const struct inst_health *h)
{
	uint64_t w = (uint64_t)h->last_ms | ((uint64_t)(h->last_status & 0xffffu) << H_STATUS_SHIFT);
	unsigned streak = h->streak > H_STREAK_MAX ? H_STREAK_MAX : h->streak;

	w |= (uint64_t)streak << H_STREAK_SHIFT;
	w |= (h->up ? H_UP : 0) | (h->checked ? H_CHECKED : 0) | (h->last_ok ? H_LAST_OK : 0);
	/* Release: pairs with the acquire in inst_health_load(); the master
	 * is the only writer, so a plain store suffices. */
	atomic_store_explicit(&t->sh->slots[slot].health, w, memory_order_release);
}

void inst_health_load(const struct inst_table *t, unsigned slot, struct inst_health *out)
{
	/* Acquire: pairs with the release in inst_health_store_master(). */
	uint64_t w = atomic_load_explicit(&t->sh->slots[slot].health, memory_order_acquire);

	out->up = (w & H_UP) != 0;
	out->checked = (w & H_CHECKED) != 0;
	out->last_ok = (w & H_LAST_OK) != 0;
	out->streak = (unsigned)(w >> H_STREAK_SHIFT) & H_STREAK_MAX;
	out->last_status = (unsigned)(w >> H_STATUS_SHIFT) & 0xffffu;
	out->last_ms = (uint32_t)w;
}

bool inst_is_up(const struct inst_table *t, unsigned slot)
{
	/* Relaxed: one bit, acted on at once; seeing a change a moment late
	 * only sends or withholds one more request. */
	return (atomic_load_explicit(&t->sh->slots[slot].health, memory_order_relaxed) & H_UP) != 0;
}

/* Add <n> to a single-writer counter. */
static void count_add(_Atomic uint64_t *c, uint64_t n)
{
	/* Relaxed load and store: one writer (see the rules); readers sum
	 * approximate values for display. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void inst_count_attempt(struct inst_table *t, unsigned worker, unsigned slot, bool failed)
{
	struct inst_count_sh *c = &counts(t, worker)[slot];

	count_add(&c->attempts, 1);
	if (failed)
		count_add(&c->failures, 1);
}

void inst_counts(const struct inst_table *t, unsigned slot, unsigned n_ids,
		 uint64_t *attempts, uint64_t *failures)
{
	const struct inst_slot_sh *s = &t->sh->slots[slot];

	/* Relaxed throughout: display only. */
	*attempts = atomic_load_explicit(&s->retired_attempts, memory_order_relaxed);
	*failures = atomic_load_explicit(&s->retired_failures, memory_order_relaxed);
	for (unsigned w = 0; w < n_ids && w < t->n_workers; w++) {
		const struct inst_count_sh *c = &counts(t, w)[slot];

		*attempts += atomic_load_explicit(&c->attempts, memory_order_relaxed);
		*failures += atomic_load_explicit(&c->failures, memory_order_relaxed);
	}
}

/* Add <delta> to the field at <shift> of width <mask> in worker's word. */
static void row_add(struct inst_table *t, unsigned worker, unsigned slot, int delta,
		    unsigned shift, uint32_t mask)
{
	_Atomic uint32_t *w = &row(t, worker)[slot];
	/* Relaxed load and store: this worker is the row's only writer while
	 * it lives; readers sum approximate values. */
	uint32_t v = atomic_load_explicit(w, memory_order_relaxed);
	uint32_t field = (v >> shift) & mask;

	field = (uint32_t)((int64_t)field + delta) & mask;
	v = (v & ~(mask << shift)) | (field << shift);
	atomic_store_explicit(w, v, memory_order_relaxed);
}

void inst_inflight_add(struct inst_table *t, unsigned worker, unsigned slot, int delta)
{
	row_add(t, worker, slot, delta, 0, ROW_INFLIGHT_MASK);
}

void inst_probe_add(struct inst_table *t, unsigned worker, unsigned slot, int delta)
{
	row_add(t, worker, slot, delta, ROW_PROBE_SHIFT, 0xffu);
}

unsigned inst_inflight(const struct inst_table *t, unsigned slot, unsigned n_ids)
{
	unsigned sum = 0;

	for (unsigned w = 0; w < n_ids && w < t->n_workers; w++)
		/* Relaxed: see row_add(). */
		sum += atomic_load_explicit(&row(t, w)[slot], memory_order_relaxed) &
		       ROW_INFLIGHT_MASK;
	return sum;
}

/* Move a reaped worker's attempt counts into the slots' retired totals. */
static void retire_counts(struct inst_table *t, unsigned worker)
{
	struct inst_count_sh *c = counts(t, worker);

	for (unsigned slot = 0; slot < t->n_slots; slot++) {
		/* Relaxed: the worker is reaped (its stores are visible through
		 * waitpid), and the retired totals have the master as only writer. */
		uint64_t a = atomic_load_explicit(&c[slot].attempts, memory_order_relaxed);
		uint64_t f = atomic_load_explicit(&c[slot].failures, memory_order_relaxed);

		if (!a && !f)
			continue;
		count_add(&t->sh->slots[slot].retired_attempts, a);
		count_add(&t->sh->slots[slot].retired_failures, f);
		atomic_store_explicit(&c[slot].attempts, 0, memory_order_relaxed);
		atomic_store_explicit(&c[slot].failures, 0, memory_order_relaxed);
	}
}

void inst_repair_worker_master(struct inst_table *t, unsigned worker)
{
	_Atomic uint32_t *r = row(t, worker);

	retire_counts(t, worker);
	for (unsigned slot = 0; slot < t->n_slots; slot++) {
		/* Relaxed: the worker is reaped; its last stores are visible to
		 * us through waitpid's synchronisation with its exit. */
		uint32_t v = atomic_load_explicit(&r[slot], memory_order_relaxed);
		unsigned probes = v >> ROW_PROBE_SHIFT;

		if (!v)
			continue;
		if (probes)
			brk_release_probes(&t->sh->slots[slot].breaker, probes);
		atomic_store_explicit(&r[slot], 0, memory_order_relaxed);
	}
}

void inst_reset_master(struct inst_table *t, unsigned slot)
{
	slot_fresh(&t->sh->slots[slot]);
	for (unsigned w = 0; w < t->n_workers; w++) {
		/* Relaxed: nothing is in flight on the slot (the contract), so
		 * no worker writes these counters now. */
		atomic_store_explicit(&counts(t, w)[slot].attempts, 0, memory_order_relaxed);
		atomic_store_explicit(&counts(t, w)[slot].failures, 0, memory_order_relaxed);
	}
}
