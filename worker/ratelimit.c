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
#include <stdio.h>

#include "lib/clock.h"
#include "shm/policy.h"
#include "worker/conn.h"
#include "worker/stages.h"

#define RL_BUSY_RETRY_MS 1u

/* The client bytes rule <rl> keys on. */
static size_t client_key(const struct exchange *ex, const struct gw_rate_limit_conf *rl,
			 const void **out)
{
	const struct sockaddr_storage *peer = &ex->client->client.peer;
	const char *buf;
	int i;

	*out = "";
	switch (rl->by) {
	case GW_RL_BY_IP:
		if (peer->ss_family == AF_INET) {
			*out = &((const struct sockaddr_in *)peer)->sin_addr;
			return 4;
		}
		*out = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		return 16;
	case GW_RL_BY_HEADER:
		buf = buf_head(&ex->client->in);
		i = http_field_find(buf, &ex->req.h, rl->header);
		if (i < 0)
			return 0;	/* absent: one shared key for all such requests */
		*out = buf + ex->req.h.fields[i].value.off;
		return ex->req.h.fields[i].value.len;
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
	uint64_t now_us = clock_mono_ns() / 1000u;

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

int ratelimit_headers(const struct worker *w, const struct exchange *ex, struct buf *out,
		      size_t cap)
{
	const struct gw_route_conf *r;
	const struct gw_rate_limit_conf *rl;
	char name[80];
	int err = 0;

	if (!ex->rl.set || ex->route < 0)
		return 0;
	r = &w->cfg->routes[ex->route];
	rl = &r->rate_limits[ex->rl.rule];
	if (r->n_rate_limits > 1)
		snprintf(name, sizeof(name), "%s-%u", r->name, (unsigned)ex->rl.rule + 1);
	else
		snprintf(name, sizeof(name), "%s", r->name);
	if (ex->status == 429)
		err = buf_printf(out, cap, "Retry-After: %llu\r\n",
				 (unsigned long long)ex->rl.retry_after_s);
	return err ?: buf_printf(out, cap,
		"RateLimit-Policy: \"%s\";q=%llu;w=%llu\r\nRateLimit: \"%s\";r=%llu;t=%llu\r\n",
		name, (unsigned long long)rl->count, (unsigned long long)(rl->period_ms / 1000u),
		name, (unsigned long long)ex->rl.remaining, (unsigned long long)ex->rl.reset_s);
}
