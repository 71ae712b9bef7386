/* The ratelimit stage: every rate_limit rule of the route must admit the
 * request, in the GCRA table every worker shares (shm/rl.h), so a budget
 * is exact across workers.
 *
 * A rule that rejects gives 429 with Retry-After and the IETF RateLimit
 * headers (draft-ietf-httpapi-ratelimit-headers), after the rules before
 * it are refunded, so a rejected request costs no rule anything. A BUSY
 * verdict (another worker is inserting into the key's bucket for a few
 * instructions) never waits: the stage refunds what it took and runs again
 * on the next loop turn. The most restrictive admitting rule is remembered
 * for the RateLimit headers of the upstream's response. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "shm/policy.h"
#include "worker/conn.h"
#include "worker/stages.h"

#define RL_BUSY_RETRY_MS 1u

/* The client bytes rule <rl> keys on. */
static size_t client_key(const struct exchange *ex, const struct gw_rate_limit_conf *rl,
			 const void **out)
{
	const char *buf;
	int i;

	*out = "";
	switch (rl->by) {
	case GW_RL_BY_IP:
		/* The resolved client (worker/access.c), IPv4-mapped folded. */
		*out = ex->client_addr.addr;
		return ex->client_addr.family == AF_INET ? 4 : 16;
	case GW_RL_BY_HEADER:
		buf = buf_head(&ex->client->in);
		i = http_field_find(buf, &ex->req.h, rl->header);
		if (i < 0)
			return 0;	/* absent: one shared key for all such requests */
		*out = buf + ex->req.h.fields[i].value.off;
		return ex->req.h.fields[i].value.len;
	case GW_RL_BY_JWT: {
		/* authn ran before us: a route keyed by a claim has auth. */
		const char *v = ex->claims ? jwt_claim_string(ex->claims, rl->header) : NULL;

		if (!v)
			return 0;	/* absent claim: one shared key, like a missing header */
		*out = v;
		return strlen(v);
	}
	case GW_RL_BY_CONSUMER:
		/* The key's consumer (worker/apikey.c); "" when a token, not a
		 * key, authenticated the request: one shared key then. */
		*out = ex->consumer;
		return strlen(ex->consumer);
	case GW_RL_BY_ROUTE:
		break;
	}
	return 0;
}

static uint64_t rule_key(struct worker *w, const struct exchange *ex,
			 const struct gw_route_conf *r, const struct gw_rate_limit_conf *rl)
{
	const void *key;
	size_t len = client_key(ex, rl, &key);

	return policy_rl_key(w->seg, r->name, rl, key, len);
}

static void refund(struct worker *w, const struct exchange *ex, const struct gw_route_conf *r,
		   size_t n, uint64_t now_us)
{
	for (size_t i = 0; i < n; i++) {
		struct rl_rule rule;

		policy_rule(&r->rate_limits[i], &rule);
		rl_refund(&w->shm.rl, &rule, rule_key(w, ex, r, &r->rate_limits[i]), now_us);
	}
}

static void busy_fire(struct timer *t, void *arg)
{
	struct exchange *ex = (struct exchange *)((char *)t - offsetof(struct exchange, wait));

	pipeline_resume(arg, ex);
}

static void note(struct exchange *ex, size_t i, const struct rl_verdict *v)
{
	if (ex->rl.set && ex->rl.remaining <= v->remaining)
		return;
	ex->rl.set = true;
	ex->rl.rule = (uint16_t)i;
	ex->rl.remaining = v->remaining;
	ex->rl.reset_s = (v->reset_us + 999999u) / 1000000u;
}

enum stage_result stage_ratelimit(struct worker *w, struct exchange *ex)
{
	const struct gw_route_conf *r = &w->cfg->routes[ex->route];
	uint64_t now_us = w->now_us;	/* the loop turn's clock (STYLE §12) */

	for (size_t i = 0; i < r->n_rate_limits; i++) {
		struct rl_rule rule;
		struct rl_verdict v;

		policy_rule(&r->rate_limits[i], &rule);
		v = rl_take(&w->shm.rl, &rule, rule_key(w, ex, r, &r->rate_limits[i]), now_us);
		if (v.result == RL_ADMIT) {
			note(ex, i, &v);
			continue;
		}
		refund(w, ex, r, i, now_us);
		ex->rl.set = false;
		if (v.result == RL_BUSY) {
			ex->wait.fire = busy_fire;
			timer_arm(&w->timers, &ex->wait, w->now_ms + RL_BUSY_RETRY_MS);
			return STAGE_SUSPEND;
		}
		note(ex, i, &v);
		ex->rl.retry_after_s = (v.retry_after_us + 999999u) / 1000000u;
		ex->status = 429;
		ex->error = "rate limit exceeded";
		wtab_count(w->stats, WTAB_RATE_LIMITED, 1);
		return STAGE_RESPOND;
	}
	return STAGE_CONTINUE;
}

/* The constant part of each rule's headers, made once per worker: the whole
 * RateLimit-Policy line and "RateLimit: \"NAME\";r=". Formatting them per
 * response was two thirds of what rate limiting cost (bench/compare policy). */
int ratelimit_setup(struct worker *w)
{
	const struct gw_config *cfg = w->cfg;
	size_t total = 0, k = 0;

	for (size_t r = 0; r < cfg->n_routes; r++)
		total += cfg->routes[r].n_rate_limits;
	w->rl_first = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*w->rl_first));
	w->rl_prefix = calloc(total ? total : 1, sizeof(*w->rl_prefix));
	if (!w->rl_first || !w->rl_prefix)
		return -ENOMEM;
	for (size_t r = 0; r < cfg->n_routes; r++) {
		const struct gw_route_conf *route = &cfg->routes[r];

		w->rl_first[r] = k;
		for (size_t i = 0; i < route->n_rate_limits; i++, k++) {
			const struct gw_rate_limit_conf *rl = &route->rate_limits[i];
			char name[80];
			int len;

			if (route->n_rate_limits > 1)
				snprintf(name, sizeof(name), "%s-%zu", route->name, i + 1);
			else
				snprintf(name, sizeof(name), "%s", route->name);
			len = asprintf(&w->rl_prefix[k].text,
				"RateLimit-Policy: \"%s\";q=%llu;w=%llu\r\nRateLimit: \"%s\";r=",
				name, (unsigned long long)rl->count,
				(unsigned long long)(rl->period_ms / 1000u), name);
			if (len < 0) {
				w->rl_prefix[k].text = NULL;
				return -ENOMEM;
			}
			w->rl_prefix[k].len = (uint32_t)len;
		}
	}
	w->rl_n_prefix = total;
	return 0;
}

void ratelimit_free(struct worker *w)
{
	for (size_t k = 0; w->rl_prefix && k < w->rl_n_prefix; k++)
		free(w->rl_prefix[k].text);
	free(w->rl_prefix);
	free(w->rl_first);
	w->rl_prefix = NULL;
	w->rl_first = NULL;
}

int ratelimit_headers(const struct worker *w, const struct exchange *ex, struct buf *out,
		      size_t cap)
{
	const struct rl_prefix *p;
	int err = 0;

	if (!ex->rl.set || ex->route < 0)
		return 0;
	p = &w->rl_prefix[w->rl_first[ex->route] + ex->rl.rule];
	if (ex->status == 429) {
		err = buf_append(out, "Retry-After: ", 13, cap);
		err = err ?: buf_append_u64(out, ex->rl.retry_after_s, cap);
		err = err ?: buf_append(out, "\r\n", 2, cap);
	}
	err = err ?: buf_append(out, p->text, p->len, cap);
	err = err ?: buf_append_u64(out, ex->rl.remaining, cap);
	err = err ?: buf_append(out, ";t=", 3, cap);
	err = err ?: buf_append_u64(out, ex->rl.reset_s, cap);
	return err ?: buf_append(out, "\r\n", 2, cap);
}
