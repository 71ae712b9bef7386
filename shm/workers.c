/* The worker table.
 *
 * States of an entry: FREE -> STARTING (master, wtab_claim_master, before
 * fork) -> READY (the worker, once it accepts) -> DRAINING (the worker, when
 * told to stop accepting) -> FREE (master, wtab_release_master, after
 * reaping). A worker killed in any state stays in it until the master reaps
 * it; nothing else waits on an entry's state, so a dead worker blocks
 * nobody.
 *
 * Who writes what: the master writes an entry's identity (line 0) only
 * while the entry is FREE or its process has not started using it
 * (claim), plus pid right after fork. The worker writes its state, gauges
 * and counters (lines 1..), single writer. The retired totals are written
 * by the master alone.
 *
 * Invariant: counters only grow; wtab_counter_total() = sum over live
 * entries + retired, and releasing an entry moves its counts into retired
 * before freeing it, so a total never goes down (a reader racing the move
 * may miss or double one entry's counts for that instant: stats tolerate
 * it).
 *
 * Memory order: state changes are release stores read with acquire loads,
 * so whoever sees READY also sees the identity written before it. Counters
 * and gauges are relaxed (single writer, approximate readers). */
#include "shm/workers.h"

#include <errno.h>
#include <string.h>

#define WTAB_MAGIC 0x5754414231ull	/* "WTAB1" */

struct wtab_region_sh {
	uint64_t magic;
	uint32_t n;
	/* Written by the master only; read by anyone summing over workers.
	 * Release/acquire: an id below the high-water mark has its entry
	 * initialised. */
	_Atomic uint32_t high_water;
	uint8_t pad0[48];
	_Atomic uint64_t retired[WTAB_N_COUNTERS];	/* master only */
	uint8_t pad1[64 - (WTAB_N_COUNTERS * 8) % 64];
	struct wtab_entry_sh entries[];
};

_Static_assert(sizeof(struct wtab_entry_sh) % 64 == 0, "entries must be whole cache lines");
_Static_assert(offsetof(struct wtab_entry_sh, gauges) == 64, "worker-written fields start line 1");
_Static_assert(offsetof(struct wtab_region_sh, entries) % 64 == 0, "entries cache aligned");

static const char *const counter_names[WTAB_N_COUNTERS] = {
	[WTAB_ACCEPTED] = "accepted",
	[WTAB_REQUESTS] = "requests",
	[WTAB_RESP_1XX] = "responses_1xx",
	[WTAB_RESP_2XX] = "responses_2xx",
	[WTAB_RESP_3XX] = "responses_3xx",
	[WTAB_RESP_4XX] = "responses_4xx",
	[WTAB_RESP_5XX] = "responses_5xx",
	[WTAB_RATE_LIMITED] = "rate_limited",
	[WTAB_UNAVAILABLE] = "unavailable",
	[WTAB_UPSTREAM_FAILURES] = "upstream_failures",
	[WTAB_RETRIES] = "retries",
	[WTAB_RETRIES_DENIED] = "retries_denied",
	[WTAB_BREAKER_TRIPS] = "breaker_trips",
	[WTAB_BYTES_IN] = "bytes_in",
	[WTAB_BYTES_OUT] = "bytes_out",
	[WTAB_JWT_CACHE_HITS] = "jwt_cache_hits",
	[WTAB_JWT_CACHE_MISSES] = "jwt_cache_misses",
	[WTAB_CONNLIMIT_REFUSED] = "connlimit_refused",
	[WTAB_CLIENT_TIMEOUTS] = "client_timeouts",
};

static const char *const gauge_names[WTAB_N_GAUGES] = {
	[WTAB_CONNECTIONS] = "connections",
	[WTAB_INFLIGHT] = "inflight",
	[WTAB_RETRIES_INFLIGHT] = "retries_inflight",
};

size_t wtab_region_size(unsigned n_entries)
{
	return sizeof(struct wtab_region_sh) + (size_t)n_entries * sizeof(struct wtab_entry_sh);
}

void wtab_format_master(void *mem, unsigned n_entries)
{
	struct wtab_region_sh *sh = mem;

	memset(sh, 0, wtab_region_size(n_entries));
	sh->magic = WTAB_MAGIC;
	sh->n = n_entries;
}

int wtab_attach(struct wtab *t, void *mem, size_t size)
{
	struct wtab_region_sh *sh = mem;

	if (size < sizeof(*sh) || sh->magic != WTAB_MAGIC || wtab_region_size(sh->n) > size)
		return -EINVAL;
	t->sh = sh;
	t->n = sh->n;
	return 0;
}

struct wtab_entry_sh *wtab_entry(const struct wtab *t, unsigned id)
{
	return &t->sh->entries[id];
}

static void entry_zero_counts(struct wtab_entry_sh *e)
{
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++)
		/* Relaxed: the entry is FREE; no process reads its gauges. */
		atomic_store_explicit(&e->gauges[g], 0, memory_order_relaxed);
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++)
		atomic_store_explicit(&e->counters[c], 0, memory_order_relaxed);
}

int wtab_claim_master(struct wtab *t, unsigned slot, int cpu, uint64_t generation)
{
	for (unsigned id = 0; id < t->n; id++) {
		struct wtab_entry_sh *e = &t->sh->entries[id];

		/* Relaxed: only the master moves an entry out of FREE. */
		if (atomic_load_explicit(&e->state, memory_order_relaxed) != WTAB_FREE)
			continue;
		entry_zero_counts(e);
		atomic_store_explicit(&e->pid, 0, memory_order_relaxed);
		e->slot = slot;
		e->cpu = cpu;
		e->generation = generation;
		e->started_wall_us = 0;
		/* Release: readers that see STARTING see the identity above. */
		atomic_store_explicit(&e->state, WTAB_STARTING, memory_order_release);
		if (id + 1 > atomic_load_explicit(&t->sh->high_water, memory_order_relaxed))
			/* Release: pairs with the acquire in wtab_high_water(); a
			 * reader that counts this id sees the entry formatted. */
			atomic_store_explicit(&t->sh->high_water, id + 1, memory_order_release);
		return (int)id;
	}
	return -ENOSPC;
}

void wtab_set_pid_master(struct wtab *t, unsigned id, int pid)
{
	/* Relaxed: pid is for display; nobody orders other data on it. */
	atomic_store_explicit(&t->sh->entries[id].pid, pid, memory_order_relaxed);
}

void wtab_release_master(struct wtab *t, unsigned id)
{
	struct wtab_entry_sh *e = &t->sh->entries[id];

	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++) {
		/* Relaxed: the worker is dead (reaped), so its counters are
		 * final; retired has the master as its only writer. */
		uint64_t v = atomic_load_explicit(&e->counters[c], memory_order_relaxed);
		uint64_t r = atomic_load_explicit(&t->sh->retired[c], memory_order_relaxed);

		atomic_store_explicit(&t->sh->retired[c], r + v, memory_order_relaxed);
	}
	entry_zero_counts(e);
	atomic_store_explicit(&e->pid, 0, memory_order_relaxed);
	/* Release: the zeroed counters are visible before the entry reads
	 * as FREE to whoever acquires the state. */
	atomic_store_explicit(&e->state, WTAB_FREE, memory_order_release);
}

unsigned wtab_high_water(const struct wtab *t)
{
	/* Acquire: pairs with the release in wtab_claim_master(). */
	return atomic_load_explicit(&t->sh->high_water, memory_order_acquire);
}

void wtab_set_state(struct wtab *t, unsigned id, enum wtab_state s)
{
	/* Release: a reader acquiring READY or DRAINING also sees what the
	 * worker did before (its accepts armed, or stopped). */
	atomic_store_explicit(&t->sh->entries[id].state, (uint32_t)s, memory_order_release);
}

enum wtab_state wtab_get_state(const struct wtab *t, unsigned id)
{
	/* Acquire: pairs with the release stores of the state. */
	return (enum wtab_state)atomic_load_explicit(&t->sh->entries[id].state,
						     memory_order_acquire);
}

const char *wtab_state_name(enum wtab_state s)
{
	switch (s) {
	case WTAB_FREE:
		return "free";
	case WTAB_STARTING:
		return "starting";
	case WTAB_READY:
		return "ready";
	case WTAB_DRAINING:
		return "draining";
	}
	return "?";
}

uint64_t wtab_gauge_sum(const struct wtab *t, enum wtab_gauge g)
{
	unsigned hw = wtab_high_water(t);
	uint64_t sum = 0;

	for (unsigned id = 0; id < hw; id++)
		/* Relaxed: an approximate sum is all a budget needs; a free
		 * entry's gauges are zero. */
		sum += atomic_load_explicit(&t->sh->entries[id].gauges[g], memory_order_relaxed);
	return sum;
}

uint64_t wtab_counter_total(const struct wtab *t, enum wtab_counter c)
{
	unsigned hw = wtab_high_water(t);
	/* Relaxed loads throughout: totals for display (see the invariant). */
	uint64_t sum = atomic_load_explicit(&t->sh->retired[c], memory_order_relaxed);

	for (unsigned id = 0; id < hw; id++)
		sum += atomic_load_explicit(&t->sh->entries[id].counters[c], memory_order_relaxed);
	return sum;
}

const char *wtab_counter_name(enum wtab_counter c)
{
	return c < WTAB_N_COUNTERS ? counter_names[c] : "?";
}

const char *wtab_gauge_name(enum wtab_gauge g)
{
	return g < WTAB_N_GAUGES ? gauge_names[g] : "?";
}
