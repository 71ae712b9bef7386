/* The decision stages: which route serves the request, and which instance
 * of its service gets it. */
#include <netinet/in.h>
#include <string.h>

#include "worker/balance.h"
#include "worker/conn.h"
#include "worker/route.h"
#include "worker/stages.h"
#include "worker/pipeline.h"

/* The header a hash:header balancer hashes, copied now: the pick stage
 * runs after the head left the client buffer. */
static void keep_hash_key(struct worker *w, struct exchange *ex)
{
	const struct gw_service_conf *svc = &w->cfg->services[ex->service];
	const char *buf = buf_head(&ex->client->in);
	int i;

	ex->hash_key_len = 0;
	if (svc->balance != GW_BAL_HASH_HEADER)
		return;
	i = http_field_find(buf, &ex->req.h, svc->hash_header);
	if (i < 0)
		return;
	ex->hash_key_len = ex->req.h.fields[i].value.len < sizeof(ex->hash_key)
				   ? (uint16_t)ex->req.h.fields[i].value.len
				   : (uint16_t)sizeof(ex->hash_key);
	memcpy(ex->hash_key, buf + ex->req.h.fields[i].value.off, ex->hash_key_len);
}

enum stage_result stage_route(struct worker *w, struct exchange *ex)
{
	int route = route_match(w->router, buf_head(&ex->client->in), &ex->req);

	if (route < 0) {
		ex->status = 404;
		ex->error = "no route matches the request";
		return STAGE_RESPOND;
	}
	ex->route = route;
	ex->service = (uint32_t)w->cfg->routes[route].service;
	keep_hash_key(w, ex);
	return STAGE_CONTINUE;
}

/* The bytes a hashing balancer hashes for this request, if any. */
static struct bal_key balance_key(struct worker *w, struct exchange *ex)
{
	const struct gw_service_conf *svc = &w->cfg->services[ex->service];
	const struct cidr *client = &ex->client_addr;	/* resolved: worker/access.c */
	struct bal_key key = { NULL, 0 };

	if (svc->balance == GW_BAL_HASH_IP) {
		if (client->family == AF_INET || client->family == AF_INET6) {
			key.data = client->addr;
			key.len = client->family == AF_INET ? 4 : 16;
		}
	} else if (svc->balance == GW_BAL_HASH_HEADER && ex->hash_key_len) {
		key.data = ex->hash_key;
		key.len = ex->hash_key_len;
	}
	return key;
}

static bool tried(const struct exchange *ex, uint32_t slot)
{
	for (unsigned i = 0; i < ex->attempts; i++) {
		if (ex->tried[i] == slot)
			return true;
	}
	return false;
}

/* Mark in w->usable the instances a request may go to now: up, not
 * draining, breaker not open, and (while another one is left) not tried
 * by this request yet. Returns how many. */
static unsigned mark_usable(struct worker *w, const struct exchange *ex,
			    const struct wservice *svc, uint32_t now32)
{
	unsigned n = 0, fresh = 0;

	for (uint32_t i = 0; i < svc->n; i++) {
		const struct winst *in = &svc->inst[i];
		bool ok = !in->draining && inst_is_up(&w->shm.inst, in->slot) &&
			  (svc->brk.mode == BRK_MODE_OFF ||
			   brk_available(inst_breaker(&w->shm.inst, in->slot), &svc->brk, now32));

		w->usable[i] = ok;
		n += ok;
		fresh += ok && !tried(ex, in->slot);
	}
	if (fresh == 0 || fresh == n)
		return n;
	for (uint32_t i = 0; i < svc->n; i++)
		w->usable[i] = w->usable[i] && !tried(ex, svc->inst[i].slot);
	return fresh;
}

/* <in> takes the request: count it in flight there (and its probe). */
static void take(struct worker *w, struct exchange *ex, const struct winst *in,
		 enum brk_ticket ticket)
{
	ex->inst = *in;
	ex->ticket = ticket;
	ex->picked = true;
	if (ex->attempts <= GW_RETRY_MAX)
		ex->tried[ex->attempts] = in->slot;
	ex->attempts++;
	inst_inflight_add(&w->shm.inst, w->id, in->slot, 1);
	if (ticket == BRK_PROBE)
		inst_probe_add(&w->shm.inst, w->id, in->slot, 1);
}

static enum stage_result unavailable(struct worker *w, struct exchange *ex)
{
	wtab_count(w->stats, WTAB_UNAVAILABLE, 1);
	ex->status = 503;
	ex->error = "no healthy instance of the service is available";
	return STAGE_RESPOND;
}

enum stage_result stage_pick(struct worker *w, struct exchange *ex)
{
	const struct wservice *svc = &w->services[ex->service];
	uint32_t now32 = shm_clock32(w->seg, w->now_ms);
	struct bal_key key = balance_key(w, ex);

	if (!svc->n || !mark_usable(w, ex, svc, now32))
		return unavailable(w, ex);
	/* A breaker may refuse what brk_available() allowed (the last probe
	 * slot went to another worker): drop that instance and pick again. */
	for (uint32_t tries = 0; tries < svc->n; tries++) {
		unsigned i = bal_pick(svc->bal, &key, w->usable);
		enum brk_ticket t = BRK_PASS;

		if (i == UINT32_MAX)
			break;
		if (svc->brk.mode != BRK_MODE_OFF)
			t = brk_allow(inst_breaker(&w->shm.inst, svc->inst[i].slot), &svc->brk, now32);
		if (t != BRK_DENIED) {
			take(w, ex, &svc->inst[i], t);
			return STAGE_CONTINUE;
		}
		w->usable[i] = false;
	}
	return unavailable(w, ex);
}
