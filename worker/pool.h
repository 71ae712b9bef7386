/* Idle upstream connections, per worker and per instance (struct pool in
 * core.h): a doubly linked list through connection indexes, most recently
 * parked first. Being per worker, no lock is ever taken. */
#ifndef GW_WORKER_POOL_H
#define GW_WORKER_POOL_H

#include "worker/core.h"

#define POOL_NONE UINT32_MAX

/* Mark <p> empty (at worker start). */
void pool_init(struct pool *p);

/* Park <up> (its slot set) as idle. */
void pool_park(struct worker *w, struct conn *up);

/* Take a parked <up> out of its pool. */
void pool_unpark(struct worker *w, struct conn *up);

/* The most recently parked connection of an instance, unparked and made
 * ACTIVE, or NULL when none is idle. */
struct conn *pool_take(struct worker *w, uint32_t slot);

/* Idle connections of an instance. */
uint32_t pool_idle(const struct worker *w, uint32_t slot);

/* Close the idle connections of instance <slot> (it left the registry). */
void pool_close_slot(struct worker *w, uint32_t slot);

/* Close every idle connection (drain). */
void pool_close_all(struct worker *w);

#endif
