/* Load balancers: which instance of a service gets the next request.
 *
 * One balancer per service per worker; its state (round-robin position,
 * outstanding counts) is local to the worker. Policies: smooth weighted
 * round robin (nginx's), least outstanding requests (weighted), power of two
 * choices on outstanding requests, weighted random, and consistent hashing
 * (a ring of virtual nodes, 160 per unit of weight, so adding an instance
 * remaps about 1/N of the keys) on the client address or a header. */
#ifndef GW_WORKER_BALANCE_H
#define GW_WORKER_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct balancer;

/* What a hashing policy hashes; other policies ignore it. */
struct bal_key {
	const void *data;	/* client address bytes or header value; NULL = no key */
	size_t len;
};

/* Create the balancer for <svc> (borrowed). <seed> seeds random choices so
 * workers do not move in lock step. NULL on ENOMEM. */
struct balancer *bal_new(const struct gw_service_conf *svc, uint64_t seed);
void bal_free(struct balancer *b);

/* Pick an instance index for a request among those with <usable>[i] true
 * (NULL: all), and count it outstanding. A hashing policy without a key
 * falls back to round robin. Returns UINT32_MAX when none is usable. */
unsigned bal_pick(struct balancer *b, const struct bal_key *key, const bool *usable);

/* Read requests in flight per instance from <load> (the gateway's shared
 * counts) instead of counting picks and releases locally. */
void bal_set_load(struct balancer *b, unsigned (*load)(void *arg, unsigned instance), void *arg);

/* The request sent to <instance> finished (success or not). */
void bal_release(struct balancer *b, unsigned instance);

/* Requests outstanding on <instance> (for tests and stats). */
unsigned bal_outstanding(const struct balancer *b, unsigned instance);

#endif
