/* Attempts and retries (see retry.h). */
#include "worker/retry.h"

#include <stddef.h>

#include "lib/log.h"
#include "worker/upstream.h"

static const struct gw_retry_conf *retry_policy(const struct worker *w,
						const struct exchange *ex)
{
	const struct gw_route_conf *r = &w->cfg->routes[ex->route];

	return r->retry.line ? &r->retry : &w->cfg->services[ex->service].retry;
}

static void log_breaker_event(struct worker *w, const struct exchange *ex, enum brk_event ev)
{
	const char *svc = w->cfg->services[ex->service].name;

	switch (ev) {
	case BRK_EV_TRIPPED:
		wtab_count(w->stats, WTAB_BREAKER_TRIPS, 1);
		log_warn("breaker: service %s instance %s opened", svc, ex->inst.text);
		break;
	case BRK_EV_REOPENED:
		log_warn("breaker: service %s instance %s failed its probe; open again", svc,
			 ex->inst.text);
		break;
	case BRK_EV_CLOSED:
		log_info("breaker: service %s instance %s closed (probe succeeded)", svc,
			 ex->inst.text);
		break;
	case BRK_EV_NONE:
		break;
	}
}

void attempt_report(struct worker *w, struct exchange *ex, uint32_t kind, unsigned status)
{
	const struct wservice *svc = &w->services[ex->service];
	const struct gw_breaker_conf *conf = &w->cfg->services[ex->service].breaker;
	bool failed = kind != 0 || status >= 500;
	enum brk_event ev;

	if (!ex->picked)
		return;
	inst_count_attempt(&w->shm.inst, w->id, ex->inst.slot, failed);
	if (failed)
		wtab_count(w->stats, WTAB_UPSTREAM_FAILURES, 1);
	if (ex->ticket == BRK_DENIED)
		return;	/* no breaker, or already reported */
	ev = brk_report(inst_breaker(&w->shm.inst, ex->inst.slot), &svc->brk, ex->ticket,
			gw_fail_set_has(&conf->on, kind, status), shm_clock32(w->seg, w->now_ms));
	if (ex->ticket == BRK_PROBE)
		inst_probe_add(&w->shm.inst, w->id, ex->inst.slot, -1);
	ex->ticket = BRK_DENIED;
	log_breaker_event(w, ex, ev);
}

static bool idempotent(enum http_method m)
{
	return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS || m == HTTP_M_TRACE ||
	       m == HTTP_M_PUT || m == HTTP_M_DELETE;
}

/* Retries in flight stay under budget% of requests in flight, summed over
 * every worker; min_concurrency retries are always allowed, so that a
 * lone request can be retried at all (Envoy's retry budget). */
static bool budget_allows(const struct worker *w, const struct gw_retry_conf *pol)
{
	uint64_t inflight = wtab_gauge_sum(&w->shm.workers, WTAB_INFLIGHT);
	uint64_t retries = wtab_gauge_sum(&w->shm.workers, WTAB_RETRIES_INFLIGHT);
	uint64_t cap = inflight * pol->budget_pct / 100;

	if (cap < pol->min_concurrency)
		cap = pol->min_concurrency;
	return retries < cap;
}

/* rand(0, min(max, min * 2^(n-1))) ms for the n-th retry. */
static uint64_t backoff_ms(struct worker *w, const struct gw_retry_conf *pol, unsigned n)
{
	uint64_t cap = pol->backoff_min_ms;

	for (unsigned i = 1; i < n && cap < pol->backoff_max_ms; i++)
		cap *= 2;
	if (cap > pol->backoff_max_ms)
		cap = pol->backoff_max_ms;
	return wk_random(w) % (cap + 1);
}

static void retry_fire(struct timer *t, void *arg)
{
	struct exchange *ex = (struct exchange *)((char *)t - offsetof(struct exchange, wait));

	pipeline_retry(arg, ex);
}

static bool retry_allowed(struct worker *w, const struct exchange *ex,
			  const struct gw_retry_conf *pol, uint32_t kind, unsigned status)
{
	if (ex->attempts > pol->attempts || !gw_fail_set_has(&pol->on, kind, status))
		return false;
	if (ex->resp_head_sent || ex->req_body.mode != HTTP_BODY_NONE)
		return false;
	if (!idempotent(ex->method) && !pol->non_idempotent)
		return false;
	if (!budget_allows(w, pol)) {
		wtab_count(w->stats, WTAB_RETRIES_DENIED, 1);
		return false;
	}
	return true;
}

bool retry_maybe(struct worker *w, struct exchange *ex, uint32_t kind, unsigned status)
{
	const struct gw_retry_conf *pol = retry_policy(w, ex);
	uint64_t wait;

	if (!pol->attempts || !retry_allowed(w, ex, pol, kind, status))
		return false;
	upstream_abort(w, ex);
	pipeline_release_pick(w, ex);
	ex->resp_head_done = ex->resp_started = false;
	ex->up_retried = false;
	if (!ex->retrying) {
		ex->retrying = true;
		wtab_gauge_add(w->stats, WTAB_RETRIES_INFLIGHT, 1);
	}
	wtab_count(w->stats, WTAB_RETRIES, 1);
	wait = backoff_ms(w, pol, ex->attempts);
	ex->wait.fire = retry_fire;
	timer_arm(&w->timers, &ex->wait, w->now_ms + wait);
	return true;
}

void retry_end(struct worker *w, struct exchange *ex)
{
	timer_cancel(&w->timers, &ex->wait);
	if (ex->retrying) {
		ex->retrying = false;
		wtab_gauge_add(w->stats, WTAB_RETRIES_INFLIGHT, -1);
	}
}
