/* Per-instance shared state: one slot per upstream instance, stable for the
 * instance's life across registry snapshots and reloads, so that its
 * breaker, health and counters follow the instance, not the snapshot.
 *
 * A slot holds the breaker word (shm/breaker.h), the health word (written
 * by the master's active checks) and request/failure counters. Beside the
 * slots, one row per worker id records that worker's requests in flight
 * and half-open probes it holds on every slot: single-writer, so the
 * balancers can sum them and the master can undo a dead worker's share. */
#ifndef GW_SHM_INST_H
#define GW_SHM_INST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/breaker.h"

struct inst_region_sh;

/* The process-local handle. */
struct inst_table {
	struct inst_region_sh *sh;
	unsigned n_slots;
	unsigned n_workers;
};

size_t inst_region_size(unsigned n_slots, unsigned n_workers);
void inst_format_master(void *mem, unsigned n_slots, unsigned n_workers);
int inst_attach(struct inst_table *t, void *mem, size_t size);

/* The breaker of <slot>, for the brk_*() calls. */
struct brk_sh *inst_breaker(const struct inst_table *t, unsigned slot);

/* Health as the master's checks see it. A fresh slot is up and unchecked:
 * an instance serves from the start and is taken out by failed checks. */
struct inst_health {
	bool up;
	bool checked;			/* at least one check completed */
	unsigned streak;		/* consecutive results agreeing with the last one */
	bool last_ok;			/* the last check's outcome */
	unsigned last_status;		/* HTTP status of the last check, 0 = none */
	uint32_t last_ms;		/* segment clock (shm_clock32) of the last check */
};

/* Master only (the single writer of health). */
void inst_health_store_master(struct inst_table *t, unsigned slot, const struct inst_health *h);
void inst_health_load(const struct inst_table *t, unsigned slot, struct inst_health *out);
bool inst_is_up(const struct inst_table *t, unsigned slot);

/* Worker <worker> made one attempt on <slot>, failed or not (its own
 * counters: no write shared with another worker). */
void inst_count_attempt(struct inst_table *t, unsigned worker, unsigned slot, bool failed);

/* Attempts and failures on <slot>: reaped workers' plus those of worker
 * ids below <n_ids>. */
void inst_counts(const struct inst_table *t, unsigned slot, unsigned n_ids,
		 uint64_t *attempts, uint64_t *failures);

/* Worker <worker>'s own row: in-flight requests and held probes on <slot>.
 * Only that worker calls these for its row. */
void inst_inflight_add(struct inst_table *t, unsigned worker, unsigned slot, int delta);
void inst_probe_add(struct inst_table *t, unsigned worker, unsigned slot, int delta);

/* Requests in flight on <slot> summed over worker ids below <n_ids>. */
unsigned inst_inflight(const struct inst_table *t, unsigned slot, unsigned n_ids);

/* Master, after reaping worker <worker>: give its half-open probes back
 * to the breakers, fold its attempt counts into the totals, and zero its
 * rows. */
void inst_repair_worker_master(struct inst_table *t, unsigned worker);

/* Master: make <slot> fresh for a new instance (closed breaker, up,
 * counters zero). Only for a slot no snapshot names and with nothing in
 * flight (inst_inflight() == 0). */
void inst_reset_master(struct inst_table *t, unsigned slot);

#endif
