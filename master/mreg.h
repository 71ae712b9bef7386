/* The registry as the master keeps it: every service's instances, from the
 * configuration file plus run-time changes (gatewayctl instance add /
 * remove / drain, self-registration on the admin listener with a TTL),
 * each with its stable instance slot in the segment.
 *
 * Any change marks the registry dirty; mreg_tick() publishes a snapshot
 * (retrying on the next tick while every spare buffer is still held by a
 * worker) and hands the health checker its new target list. Run-time
 * changes last until the next reload or restart, which re-apply the file. */
#ifndef GW_MASTER_MREG_H
#define GW_MASTER_MREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct master;

/* One instance as the master tracks it. */
struct mreg_instance {
	char service[64];		/* service name */
	struct gw_addr addr;
	char host[256];			/* as written or registered */
	unsigned weight;
	unsigned slot;			/* in the segment's instance table */
	bool dynamic;			/* added at run time */
	bool draining;			/* no new requests */
	uint64_t expires_ms;		/* monotonic; 0 = no TTL */
};

struct mreg *mreg_new(void);
void mreg_free(struct mreg *r);

/* Make the registry what <cfg> says (at start and after a reload): run-time
 * changes are dropped, and an instance kept from before (same service
 * name, same address) keeps its slot, so its breaker and health survive.
 * Publishes at once if it can. 0, -ENOSPC (more instances than slots) or
 * -ENOMEM; on failure nothing changed. */
int mreg_apply_config(struct master *m, const struct gw_config *cfg);

/* Run-time changes. <err> receives one line for a failure. Return 0 on
 * success; -ENOENT unknown service or instance, -EEXIST instance already
 * there (add), -EINVAL bad address or weight, -ENOSPC no free slot. */
int mreg_add(struct master *m, const char *service, const char *addr, unsigned weight,
	     char *err, size_t errlen);
int mreg_remove(struct master *m, const char *service, const char *addr, char *err,
		size_t errlen);
int mreg_drain(struct master *m, const char *service, const char *addr, char *err,
	       size_t errlen);

/* Self-registration: add the instance with a TTL of <ttl_ms>, or renew it
 * (and update its weight unless <weight> is 0) if it is there. A new
 * instance with weight 0 gets 1. Returns 1 when created, 0 when
 * renewed, or -errno as above (an instance from the file is -EEXIST). */
int mreg_heartbeat(struct master *m, const char *service, const char *addr, unsigned weight,
		   uint64_t ttl_ms, char *err, size_t errlen);

/* The instances, in service order then insertion order. */
const struct mreg_instance *mreg_instances(const struct master *m, size_t *n);

/* Find by service and address text ("127.0.0.1:9001" after parsing);
 * NULL when absent. */
const struct mreg_instance *mreg_find(const struct master *m, const char *service,
				      const char *addr);

/* The generation of the last snapshot published. */
uint64_t mreg_generation(const struct master *m);

/* Expire lapsed TTLs, publish pending changes. Every master loop turn. */
void mreg_tick(struct master *m, uint64_t now_ms);
uint64_t mreg_next_deadline(const struct master *m);

#endif
