/* The worker's event loop (worker/loop.c). */
#ifndef GW_WORKER_LOOP_H
#define GW_WORKER_LOOP_H

#include "worker/core.h"

/* Arm the listeners and the signalfd, then run loop turns until the worker
 * is told to stop or finishes draining. */
void loop_run(struct worker *w);

#endif
