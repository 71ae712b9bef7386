/* The worker's copy of the service registry (see services.h).
 *
 * Services are matched by name between the worker's configuration and the
 * snapshot: during a reload the old generation of workers reads snapshots
 * made for the new configuration, where a service may have moved or gone
 * (it then has no instances here, and its requests get 503). A rebuild that
 * runs out of memory keeps the previous instances and tries again at the
 * next generation. */
#include "worker/services.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "shm/policy.h"
#include "tls/client.h"
#include "worker/balance.h"
#include "worker/pool.h"

/* Balancer load: requests in flight on the instance from every worker,
 * from the shared rows (shm/inst.h). */
static unsigned shared_load(void *arg, unsigned instance)
{
	const struct wservice *svc = arg;
	const struct shm_tables *shm = &svc->w->shm;

	return inst_inflight(&shm->inst, svc->inst[instance].slot, wtab_high_water(&shm->workers));
}

static void service_clear(struct wservice *svc)
{
	bal_free(svc->bal);
	free(svc->inst);
	svc->bal = NULL;
	svc->inst = NULL;
	svc->n = 0;
}

static void copy_instance(struct winst *out, const struct reg_instance *in)
{
	memset(out, 0, sizeof(*out));
	out->slot = in->slot;
	out->weight = in->weight;
	out->draining = (in->flags & REG_INST_DRAINING) != 0;
	memcpy(&out->addr, &in->addr, sizeof(out->addr));
	out->addr_len = in->addr_len;
	memcpy(out->text, in->text, sizeof(out->text));
	out->text[sizeof(out->text) - 1] = '\0';
}

/* A balancer over <inst>: bal_new() takes a service config, so lend it one
 * whose instances are the snapshot's. NULL on ENOMEM. */
static struct balancer *balancer_for(struct worker *w, const struct gw_service_conf *conf,
				     const struct winst *inst, uint32_t n)
{
	struct gw_instance_conf *ic = calloc(n, sizeof(*ic));
	struct gw_service_conf tmp = *conf;
	struct balancer *b;

	if (!ic)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&ic[i].addr.ss, &inst[i].addr, sizeof(inst[i].addr));
		ic[i].addr.len = inst[i].addr_len;
		memcpy(ic[i].addr.text, inst[i].text, sizeof(ic[i].addr.text));
		ic[i].weight = inst[i].weight;
	}
	tmp.instances = ic;
	tmp.n_instances = n;
	b = bal_new(&tmp, wk_random(w));
	free(ic);
	return b;
}

/* Does the snapshot's <rs> hold exactly the instances <svc> has? Then the
 * balancer keeps its state (round-robin position, hash ring) instead of
 * being rebuilt because another service changed. */
static bool service_same(const struct wservice *svc, const struct reg_view *v,
			 const struct reg_service *rs)
{
	uint32_t n = rs ? rs->n : 0;

	if (n != svc->n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct winst in;

		copy_instance(&in, &v->instances[rs->first + i]);
		if (memcmp(&in, &svc->inst[i], sizeof(in)) != 0)
			return false;
	}
	return true;
}

static int service_build(struct worker *w, size_t s, const struct reg_view *v)
{
	const struct gw_service_conf *conf = &w->cfg->services[s];
	const struct reg_service *rs = reg_service_find(v, conf->name);
	struct wservice next = { .brk = w->services[s].brk, .w = w };

	if (service_same(&w->services[s], v, rs))
		return 0;
	if (rs && rs->n > 0) {
		next.inst = calloc(rs->n, sizeof(*next.inst));
		if (!next.inst)
			return -1;
		for (uint32_t i = 0; i < rs->n; i++)
			copy_instance(&next.inst[i], &v->instances[rs->first + i]);
		next.n = rs->n;
		next.bal = balancer_for(w, conf, next.inst, next.n);
		if (!next.bal) {
			free(next.inst);
			return -1;
		}
	}
	service_clear(&w->services[s]);
	w->services[s] = next;
	if (next.bal)
		bal_set_load(next.bal, shared_load, &w->services[s]);
	return 0;
}

/* Close pooled connections to slots no service has any more, and forget
 * their TLS sessions. */
static void close_gone_pools(struct worker *w)
{
	bool *present = w->usable;	/* scratch; the pick stage refills it */

	memset(present, 0, SHM_MAX_INSTANCES * sizeof(*present));
	for (size_t s = 0; s < w->cfg->n_services; s++) {
		for (uint32_t i = 0; i < w->services[s].n; i++)
			present[w->services[s].inst[i].slot] = true;
	}
	for (uint32_t slot = 0; slot < SHM_MAX_INSTANCES; slot++) {
		if (!present[slot])
			pool_close_slot(w, slot);
	}
}

void services_sync(struct worker *w)
{
	struct reg_view v;
	uint64_t gen = reg_enter(&w->shm.reg, w->id, &v);
	bool ok = true;

	if (gen == w->reg_gen)
		return;
	for (size_t s = 0; s < w->cfg->n_services; s++)
		ok &= service_build(w, s, &v) == 0;
	if (!ok) {
		log_error("registry generation %llu: out of memory; keeping some old instances",
			  (unsigned long long)gen);
		return;	/* w->reg_gen unchanged: retried next turn */
	}
	w->reg_gen = gen;
	close_gone_pools(w);
}

void services_offline(struct worker *w)
{
	reg_offline(&w->shm.reg, w->id);
}

int services_init(struct worker *w)
{
	size_t n = w->cfg->n_services;

	w->services = calloc(n ? n : 1, sizeof(*w->services));
	w->pools = calloc(SHM_MAX_INSTANCES, sizeof(*w->pools));
	w->usable = calloc(SHM_MAX_INSTANCES, sizeof(*w->usable));
	if (!w->services || !w->pools || !w->usable)
		return -ENOMEM;
	for (size_t s = 0; s < n; s++) {
		w->services[s].w = w;
		policy_breaker(&w->cfg->services[s].breaker, &w->services[s].brk);
	}
	for (uint32_t slot = 0; slot < SHM_MAX_INSTANCES; slot++)
		pool_init(&w->pools[slot]);
	services_sync(w);
	return 0;
}

void services_free(struct worker *w)
{
	for (size_t s = 0; w->services && s < w->cfg->n_services; s++)
		service_clear(&w->services[s]);
	for (uint32_t slot = 0; w->pools && slot < SHM_MAX_INSTANCES; slot++)
		tls_client_forget(&w->pools[slot].tls_session);
	free(w->services);
	free(w->pools);
	free(w->usable);
	w->services = NULL;
	w->pools = NULL;
	w->usable = NULL;
}
