/* Per-instance shared state.
 *
 * Layout: a header line, then n_slots slots of one cache line each (so two
 * instances never share a line), then n_workers rows of n_slots 32-bit
 * words (a worker's row is contiguous: its writes stay on its own lines).
 *
 * Who writes what:
 *   breaker word   any worker, by CAS (shm/breaker.c has its rules); the
 *                  master for operator commands and repair;
 *   health word    the master alone (active checks): a release store read
 *                  with an acquire load, so the fields inside it are
 *                  consistent by being one word;
 *   counters       any worker, relaxed fetch_add (statistics);
 *   rows           row w is written by worker w alone (relaxed load and
 *                  store, no RMW), and by the master only after reaping
 *                  worker w, when nobody else can write it.
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
	_Atomic uint64_t attempts;
	_Atomic uint64_t failures;
	uint8_t pad[32];
} __attribute__((aligned(64)));

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

size_t inst_region_size(unsigned n_slots, unsigned n_workers)
{
	return sizeof(struct inst_region_sh) + (size_t)n_slots * sizeof(struct inst_slot_sh) +
	       (size_t)n_workers * n_slots * sizeof(uint32_t);
}

static _Atomic uint32_t *row(const struct inst_table *t, unsigned worker)
{
	_Atomic uint32_t *rows = (_Atomic uint32_t *)(t->sh->slots + t->n_slots);

	return rows + (size_t)worker * t->n_slots;
}

static void slot_fresh(struct inst_slot_sh *s)
{
	brk_init(&s->breaker);
	/* Relaxed stores: the slot is unused (formatting before fork, or a
	 * reset of a slot no snapshot names); the snapshot that introduces
	 * the instance is published with release after this. */
	atomic_store_explicit(&s->health, H_FRESH, memory_order_relaxed);
	atomic_store_explicit(&s->attempts, 0, memory_order_relaxed);
	atomic_store_explicit(&s->failures, 0, memory_order_relaxed);
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

void inst_count_attempt(struct inst_table *t, unsigned slot, bool failed)
{
	struct inst_slot_sh *s = &t->sh->slots[slot];

	/* Relaxed RMW: statistics from every worker; no order needed. */
	atomic_fetch_add_explicit(&s->attempts, 1, memory_order_relaxed);
	if (failed)
		atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
}

void inst_counts(const struct inst_table *t, unsigned slot, uint64_t *attempts,
		 uint64_t *failures)
{
	/* Relaxed: display only. */
	*attempts = atomic_load_explicit(&t->sh->slots[slot].attempts, memory_order_relaxed);
	*failures = atomic_load_explicit(&t->sh->slots[slot].failures, memory_order_relaxed);
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

void inst_repair_worker_master(struct inst_table *t, unsigned worker)
{
	_Atomic uint32_t *r = row(t, worker);

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
}
