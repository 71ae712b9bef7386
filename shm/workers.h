/* The worker table: one entry per worker process (of every generation that
 * is still alive), so that the master, gatewayctl and the workers
 * themselves see who runs, in which state, and what each has done.
 *
 * Worker ids index this table and every per-worker array in the segment
 * (registry epochs, in-flight rows). The master hands an id out before the
 * fork and takes it back after reaping the process, so an id never names
 * two live processes. */
#ifndef GW_SHM_WORKERS_H
#define GW_SHM_WORKERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum wtab_state {
	WTAB_FREE = 0,			/* no process */
	WTAB_STARTING,			/* forked, not accepting yet */
	WTAB_READY,			/* accepting */
	WTAB_DRAINING,			/* not accepting; finishing in-flight work */
};

/* Counters a worker keeps about itself. Single writer (the worker), so
 * increments are a relaxed load and a relaxed store (wtab_count()). */
enum wtab_counter {
	WTAB_ACCEPTED = 0,		/* client connections accepted */
	WTAB_REQUESTS,			/* request heads parsed */
	WTAB_RESP_1XX,			/* final responses by class; 1xx = none */
	WTAB_RESP_2XX,
	WTAB_RESP_3XX,
	WTAB_RESP_4XX,
	WTAB_RESP_5XX,
	WTAB_RATE_LIMITED,		/* 429s from a rate limit */
	WTAB_UNAVAILABLE,		/* 503s: no usable instance */
	WTAB_UPSTREAM_FAILURES,		/* attempts that failed (connect, timeout, reset, 5xx) */
	WTAB_RETRIES,			/* attempts after the first */
	WTAB_RETRIES_DENIED,		/* retries the budget refused */
	WTAB_BREAKER_TRIPS,		/* closed -> open transitions this worker made */
	WTAB_BYTES_IN,			/* from clients */
	WTAB_BYTES_OUT,			/* to clients */
	WTAB_JWT_CACHE_HITS,		/* bearer tokens found in the verified-token cache */
	WTAB_JWT_CACHE_MISSES,		/* bearer tokens verified (cache on, not found) */
	WTAB_CONNLIMIT_REFUSED,		/* connections over max_conns_per_ip */
	WTAB_CLIENT_TIMEOUTS,		/* clients cut off by header, body or send timeouts */
	WTAB_N_COUNTERS,
};

/* Gauges: current values, same single-writer rule. */
enum wtab_gauge {
	WTAB_CONNECTIONS = 0,		/* open client connections */
	WTAB_INFLIGHT,			/* requests between parse and log */
	WTAB_RETRIES_INFLIGHT,		/* of those, attempts after the first */
	WTAB_N_GAUGES,
};

struct wtab_entry_sh {
	/* Cache line 0: identity, written by the master while claiming;
	 * state is also written by the worker. */
	_Atomic uint32_t state;		/* enum wtab_state */
	_Atomic int32_t pid;		/* 0 until fork returns */
	uint32_t slot;			/* listener slot it serves */
	int32_t cpu;			/* pinned CPU, -1 = not pinned */
	uint64_t generation;		/* config generation it runs */
	uint64_t started_wall_us;
	uint8_t pad0[32];
	/* Cache lines 1..: the worker's own, never written by anyone else
	 * while it lives. */
	_Atomic uint64_t gauges[WTAB_N_GAUGES];
	_Atomic uint64_t counters[WTAB_N_COUNTERS];
	uint8_t pad1[64 - ((WTAB_N_GAUGES + WTAB_N_COUNTERS) * 8) % 64];
} __attribute__((aligned(64)));

/* The process-local handle. */
struct wtab {
	struct wtab_region_sh *sh;
	unsigned n;
};

size_t wtab_region_size(unsigned n_entries);
void wtab_format_master(void *mem, unsigned n_entries);
int wtab_attach(struct wtab *t, void *mem, size_t size);

/* Entry <id> (< t->n). */
struct wtab_entry_sh *wtab_entry(const struct wtab *t, unsigned id);

/* Master: take a free id for a worker of <slot>, <cpu>, <generation>,
 * zeroing its counters. Returns the id or -ENOSPC. */
int wtab_claim_master(struct wtab *t, unsigned slot, int cpu, uint64_t generation);
void wtab_set_pid_master(struct wtab *t, unsigned id, int pid);

/* Master, after reaping the worker (and repairing the other regions):
 * fold its counters into the retired totals and free the id. */
void wtab_release_master(struct wtab *t, unsigned id);

/* Ids ever claimed are below this; loops over workers stop here. */
unsigned wtab_high_water(const struct wtab *t);

void wtab_set_state(struct wtab *t, unsigned id, enum wtab_state s);
enum wtab_state wtab_get_state(const struct wtab *t, unsigned id);
const char *wtab_state_name(enum wtab_state s);

/* The worker's counter and gauge updates. Single writer: no RMW needed. */
static inline void wtab_count(struct wtab_entry_sh *e, enum wtab_counter c, uint64_t n)
{
	/* Relaxed: only this worker writes the counter; readers (stats,
	 * gatewayctl) tolerate a value a few increments old. */
	uint64_t v = atomic_load_explicit(&e->counters[c], memory_order_relaxed);

	atomic_store_explicit(&e->counters[c], v + n, memory_order_relaxed);
}

static inline void wtab_gauge_add(struct wtab_entry_sh *e, enum wtab_gauge g, int64_t delta)
{
	/* Relaxed: single writer, as for counters; the retry budget reads
	 * gauges of every worker and is approximate by nature. */
	uint64_t v = atomic_load_explicit(&e->gauges[g], memory_order_relaxed);

	atomic_store_explicit(&e->gauges[g], v + (uint64_t)delta, memory_order_relaxed);
}

/* Sum of gauge <g> over every live worker. */
uint64_t wtab_gauge_sum(const struct wtab *t, enum wtab_gauge g);

/* Counter <c> summed over every worker that ever ran (live ones plus the
 * retired totals of reaped ones). */
uint64_t wtab_counter_total(const struct wtab *t, enum wtab_counter c);

const char *wtab_counter_name(enum wtab_counter c);
const char *wtab_gauge_name(enum wtab_gauge g);

#endif
