/* The worker's view of the service registry: for each configured service,
 * its instances as of the newest registry snapshot, and a balancer over
 * them.
 *
 * At the top of every loop turn services_sync() announces the worker in
 * the registry's epoch slot (reg_enter) and, when the generation moved,
 * copies the new instances and rebuilds the balancers before any request
 * is picked; idle pooled connections to instances that left are closed.
 * Before the loop sleeps in its ring, services_offline() stops holding the
 * snapshot, so an idle worker never holds the master's publisher up. */
#ifndef GW_WORKER_SERVICES_H
#define GW_WORKER_SERVICES_H

#include "worker/core.h"

/* Allocate the per-service table, the per-slot pools and the pick scratch,
 * and take the first snapshot. 0 or -ENOMEM. */
int services_init(struct worker *w);
void services_free(struct worker *w);

void services_sync(struct worker *w);
void services_offline(struct worker *w);

#endif
