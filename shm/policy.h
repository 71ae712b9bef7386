/* From the configuration's policies to the shared structures' own terms:
 * a breaker policy, a GCRA rule, a rate-limit key. The master (gatewayctl
 * limits show) and the workers (the ratelimit stage) must compute keys the
 * same way, so both use these. */
#ifndef GW_SHM_POLICY_H
#define GW_SHM_POLICY_H

#include <string.h>

#include "conf/config.h"
#include "shm/breaker.h"
#include "shm/rl.h"
#include "shm/segment.h"

static inline void policy_breaker(const struct gw_breaker_conf *c, struct brk_policy *p)
{
	p->mode = c->mode == GW_BRK_FAILURES ? BRK_MODE_FAILURES :
		  c->mode == GW_BRK_RATIO ? BRK_MODE_RATIO : BRK_MODE_OFF;
	p->failures = c->failures;
	p->ratio_pct = c->ratio_pct;
	p->min_requests = c->min_requests;
	p->window_ms = (uint32_t)c->window_ms;
	p->open_ms = (uint32_t)c->open_ms;
	p->max_open_ms = (uint32_t)c->max_open_ms;
	p->probes = c->probes;
}

/* "N per period" as an emission interval: period / N, rounded down to the
 * microsecond (so "3/s" admits one request in 3 million more than it
 * should, never fewer). */
static inline void policy_rule(const struct gw_rate_limit_conf *c, struct rl_rule *r)
{
	r->interval_us = c->period_ms * 1000u / c->count;
	r->burst = c->burst;
}

/* The key of <client> (address bytes, header value, or nothing for
 * by=route) under rule <c> of route <route>: the route's name and the
 * rule's canonical text make it survive reloads that keep both. */
static inline uint64_t policy_rl_key(const struct shm_segment *seg, const char *route,
				     const struct gw_rate_limit_conf *c, const void *client,
				     size_t client_len)
{
	struct shm_hash_part parts[3] = {
		{ route, strlen(route) },
		{ c->spec, strlen(c->spec) },
		{ client, client_len },
	};

	return shm_hash(seg, parts, 3);
}

#endif
