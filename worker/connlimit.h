/* max_conns_per_ip at accept: count the new client's address in the
 * shared table (shm/connlimit.h), refuse it when over, give the count back
 * when the connection closes. */
#ifndef GW_WORKER_CONNLIMIT_H
#define GW_WORKER_CONNLIMIT_H

#include <stdbool.h>

#include "worker/core.h"

/* After accept, with c->client.peer_addr set: true when <c> may stay.
 * False: the address already holds max_conns_per_ip connections; the
 * caller closes <c> without a response (counted in connlimit_refused).
 * With the limit off, or an address the table cannot track, true. */
bool connlimit_admit(struct worker *w, struct conn *c);

/* <c> is closing: give its count back (if it holds one). */
void connlimit_release(struct worker *w, struct conn *c);

/* Free what the worker keeps for releases to retry. */
void connlimit_free(struct worker *w);

#endif
