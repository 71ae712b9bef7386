/* The master's registry (see mreg.h).
 *
 * Instances live in one array kept in service order (the order of the
 * running config's services, then insertion order), which is the order a
 * snapshot needs. Slots come from a FIFO of free slot numbers: a freed slot
 * goes to the back, so it is reused as late as possible, and never while a
 * worker still has a request in flight on it (the worker copied the old
 * address; its late breaker report must not land on a new instance). The
 * slot's shared state is reset when it is handed out again. */
#include "master/mreg.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/health.h"
#include "master/master.h"
#include "shm/policy.h"

#define MREG_RETRY_MS 10u	/* publish retry while workers hold every buffer */
#define MREG_BRK_TICK_MS 1000u	/* breaker housekeeping period (see brk_tick()): windows
				 * restart and due breakers turn half-open even when no
				 * request comes to do it, so gatewayctl shows the truth */

struct mreg {
	struct mreg_instance *inst;
	size_t n, cap;
	unsigned free_slots[SHM_MAX_INSTANCES];	/* FIFO ring of free slot numbers */
	unsigned free_head, free_count;
	const struct gw_config *cfg;	/* the configuration it follows (borrowed) */
	struct reg_builder *builder;
	uint64_t generation;		/* last published */
	uint64_t breakers_ticked_ms;	/* last brk_tick() sweep */
	bool dirty;			/* a change is not published yet */
};

struct mreg *mreg_new(void)
{
	struct mreg *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->builder = reg_builder_new();
	if (!r->builder) {
		free(r);
		return NULL;
	}
	for (unsigned i = 0; i < SHM_MAX_INSTANCES; i++)
		r->free_slots[i] = i;
	r->free_count = SHM_MAX_INSTANCES;
	return r;
}

void mreg_free(struct mreg *r)
{
	if (!r)
		return;
	reg_builder_free(r->builder);
	free(r->inst);
	free(r);
}

static void slot_put(struct mreg *r, unsigned slot)
{
	r->free_slots[(r->free_head + r->free_count) % SHM_MAX_INSTANCES] = slot;
	r->free_count++;
}

/* The oldest free slot nothing is in flight on, reset; -ENOSPC if none. */
static int slot_get(struct master *m)
{
	struct mreg *r = m->reg;
	unsigned ids = wtab_high_water(&m->tables.workers);

	for (unsigned tries = r->free_count; tries > 0; tries--) {
		unsigned slot = r->free_slots[r->free_head];

		r->free_head = (r->free_head + 1) % SHM_MAX_INSTANCES;
		r->free_count--;
		if (inst_inflight(&m->tables.inst, slot, ids) == 0) {
			inst_reset_master(&m->tables.inst, slot);
			return (int)slot;
		}
		slot_put(r, slot);
	}
	return -ENOSPC;
}

static int service_index(const struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strcmp(cfg->services[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static struct mreg_instance *find(struct mreg *r, const char *service, const char *text)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->inst[i].service, service) == 0 &&
		    strcmp(r->inst[i].addr.text, text) == 0)
			return &r->inst[i];
	}
	return NULL;
}

const struct mreg_instance *mreg_find(const struct master *m, const char *service,
				      const char *addr)
{
	struct gw_addr a;

	if (conf_parse_addr(addr, false, &a) == 0)
		return find(m->reg, service, a.text);
	return find(m->reg, service, addr);
}

/* Insert <in> after the last instance of its service (services keep the
 * config's order). */
static int insert(struct master *m, const struct mreg_instance *in)
{
	struct mreg *r = m->reg;
	int svc = service_index(m->reg->cfg, in->service);
	size_t at = 0;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct mreg_instance *inst = realloc(r->inst, cap * sizeof(*inst));

		if (!inst)
			return -ENOMEM;
		r->inst = inst;
		r->cap = cap;
	}
	while (at < r->n && service_index(m->reg->cfg, r->inst[at].service) <= svc)
		at++;
	memmove(&r->inst[at + 1], &r->inst[at], (r->n - at) * sizeof(*in));
	r->inst[at] = *in;
	r->n++;
	r->dirty = true;
	return 0;
}

static void erase(struct mreg *r, struct mreg_instance *in)
{
	size_t at = (size_t)(in - r->inst);

	slot_put(r, in->slot);
	memmove(in, in + 1, (r->n - at - 1) * sizeof(*in));
	r->n--;
	r->dirty = true;
}

/* The health checker's targets: instances of services with a health path. */
static int sync_health(struct master *m)
{
	struct mreg *r = m->reg;
	struct health_target *t = calloc(r->n ? r->n : 1, sizeof(*t));
	size_t n = 0;
	int ret;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct mreg_instance *in = &r->inst[i];
		int svc = service_index(m->reg->cfg, in->service);

		if (svc < 0 || !m->reg->cfg->services[svc].health.path)
			continue;
		t[n].slot = in->slot;
		t[n].addr = in->addr.ss;
		t[n].addr_len = in->addr.len;
		snprintf(t[n].text, sizeof(t[n].text), "%s", in->addr.text);
		snprintf(t[n].service, sizeof(t[n].service), "%s", in->service);
		snprintf(t[n].host, sizeof(t[n].host), "%s", in->host);
		t[n].conf = &m->reg->cfg->services[svc].health;
		t[n].tls = m->reg->cfg->services[svc].tls.client;
		t[n].sni = m->reg->cfg->services[svc].tls.sni;
		n++;
	}
	ret = m->health ? health_set_targets(m, t, n) : 0;
	free(t);
	return ret;
}

/* Build the snapshot from the array; 0 or -errno from the builder. */
static int build(struct master *m)
{
	struct mreg *r = m->reg;
	struct reg_builder *b = r->builder;
	size_t i = 0;

	reg_builder_reset(b);
	for (size_t s = 0; s < m->reg->cfg->n_services; s++) {
		int svc = reg_builder_add_service(b, m->reg->cfg->services[s].name);

		if (svc < 0)
			return svc;
		for (; i < r->n && strcmp(r->inst[i].service, m->reg->cfg->services[s].name) == 0; i++) {
			const struct mreg_instance *in = &r->inst[i];
			struct reg_instance ri;
			int ret;

			memset(&ri, 0, sizeof(ri));
			ri.slot = in->slot;
			ri.service = (uint32_t)svc;
			ri.weight = in->weight;
			ri.flags = (in->draining ? REG_INST_DRAINING : 0) |
				   (in->dynamic ? REG_INST_DYNAMIC : 0);
			ri.expires_ms = in->expires_ms;
			ri.addr = in->addr.ss;
			ri.addr_len = in->addr.len;
			snprintf(ri.host, sizeof(ri.host), "%.*s", (int)sizeof(ri.host) - 1, in->host);
			ret = reg_builder_add_instance(b, &ri);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* Publish if dirty; a held buffer leaves it dirty for the next tick. */
static void publish(struct master *m)
{
	struct mreg *r = m->reg;
	int ret;

	if (!r->dirty)
		return;
	ret = build(m);
	if (ret == 0)
		ret = reg_publish_master(&m->tables.reg, r->builder, &r->generation);
	if (ret == -EAGAIN)
		return;
	r->dirty = false;
	if (ret < 0) {
		log_error("registry: publishing a snapshot failed: %s", strerror(-ret));
		return;
	}
	log_debug("registry: generation %llu published (%zu instances)",
		  (unsigned long long)r->generation, r->n);
}

/* Something changed: the health checker follows at once (its targets
 * point into the configuration), workers at the next publish. */
static void changed(struct master *m)
{
	m->reg->dirty = true;
	if (sync_health(m) < 0)
		log_error("health: out of memory for the target list");
	publish(m);
}

static void from_conf(struct mreg_instance *out, const char *service,
		      const struct gw_instance_conf *ic)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->service, sizeof(out->service), "%s", service);
	out->addr = ic->addr;
	snprintf(out->host, sizeof(out->host), "%s", ic->host);
	out->weight = ic->weight ? ic->weight : 1;
}

/* Fill <next> with <cfg>'s instances, each keeping the slot of the same
 * instance from the file if there was one (<kept>[i] marks r->inst[i] as
 * taken over). Returns how many need a new slot. */
static size_t plan_config(struct mreg *r, const struct gw_config *cfg,
			  struct mreg_instance *next, bool *kept)
{
	size_t n = 0, need = 0;

	for (size_t s = 0; s < cfg->n_services; s++) {
		const struct gw_service_conf *svc = &cfg->services[s];

		for (size_t i = 0; i < svc->n_instances; i++, n++) {
			struct mreg_instance *old = find(r, svc->name, svc->instances[i].addr.text);

			from_conf(&next[n], svc->name, &svc->instances[i]);
			next[n].slot = UINT32_MAX;
			if (old && !old->dynamic) {
				next[n].slot = old->slot;
				kept[old - r->inst] = true;
			} else {
				need++;
			}
		}
	}
	return need;
}

int mreg_apply_config(struct master *m, const struct gw_config *cfg)
{
	struct mreg *r = m->reg;
	struct mreg_instance *next;
	size_t total = 0, got = 0, need;
	bool *kept;
	int ret = -ENOMEM;

	for (size_t s = 0; s < cfg->n_services; s++)
		total += cfg->services[s].n_instances;
	if (total > SHM_MAX_INSTANCES)
		return -ENOSPC;
	next = calloc(total ? total : 1, sizeof(*next));
	kept = calloc(r->n ? r->n : 1, sizeof(*kept));
	if (!next || !kept)
		goto out_free;
	need = plan_config(r, cfg, next, kept);
	/* Slots first, so that running out changes nothing. Freed slots of
	 * dropped instances go to the back of the queue, after these. */
	for (size_t i = 0; i < total; i++) {
		int slot;

		if (next[i].slot != UINT32_MAX)
			continue;
		slot = slot_get(m);
		if (slot < 0)
			break;
		next[i].slot = (unsigned)slot;
		next[i].dynamic = true;	/* marks "allocated here" until the end */
		got++;
	}
	if (got < need) {
		/* Give back what this call took: the new ones come last in
		 * allocation order, so scan for slots not kept from before. */
		for (size_t i = 0; i < total; i++) {
			if (next[i].slot != UINT32_MAX && next[i].dynamic)
				slot_put(r, next[i].slot);
		}
		ret = -ENOSPC;
		goto out_free;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (!kept[i])
			slot_put(r, r->inst[i].slot);
	}
	for (size_t i = 0; i < total; i++)
		next[i].dynamic = false;	/* everything here is from the file */
	free(r->inst);
	r->inst = next;
	next = NULL;
	r->n = r->cap = total;
	r->cfg = cfg;
	changed(m);
	ret = 0;
out_free:
	free(kept);
	free(next);
	return ret;
}

static unsigned addr_port(const struct gw_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

/* Parse <addr> and check <service>; fills <a> and returns the service index. */
static int parse_target(struct master *m, const char *service, const char *addr,
			struct gw_addr *a, char *err, size_t errlen)
{
	int svc = service_index(m->reg->cfg, service);

	if (svc < 0) {
		snprintf(err, errlen, "unknown service '%s'", service);
		return -ENOENT;
	}
	if (conf_parse_addr(addr, true, a) < 0 || strncmp(addr, "*:", 2) == 0 ||
	    addr_port(a) == 0) {
		snprintf(err, errlen, "bad instance address '%s' (want HOST:PORT)", addr);
		return -EINVAL;
	}
	return svc;
}

static int add(struct master *m, const char *service, const char *addr, unsigned weight,
	       uint64_t expires_ms, char *err, size_t errlen)
{
	struct mreg_instance in;
	int slot, ret;

	memset(&in, 0, sizeof(in));
	ret = parse_target(m, service, addr, &in.addr, err, errlen);
	if (ret < 0)
		return ret;
	if (find(m->reg, service, in.addr.text)) {
		snprintf(err, errlen, "service '%s' already has instance %s", service, in.addr.text);
		return -EEXIST;
	}
	if (weight < 1 || weight > 1000) {
		snprintf(err, errlen, "bad weight %u (want 1..1000)", weight);
		return -EINVAL;
	}
	slot = slot_get(m);
	if (slot < 0) {
		snprintf(err, errlen, "no free instance slot (at most %u instances)", SHM_MAX_INSTANCES);
		return -ENOSPC;
	}
	snprintf(in.service, sizeof(in.service), "%s", service);
	snprintf(in.host, sizeof(in.host), "%s", addr);
	in.weight = weight;
	in.slot = (unsigned)slot;
	in.dynamic = true;
	in.expires_ms = expires_ms;
	ret = insert(m, &in);
	if (ret < 0) {
		slot_put(m->reg, (unsigned)slot);
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	log_info("registry: service %s: instance %s added (slot %d%s)", service, in.addr.text,
		 slot, expires_ms ? ", with a TTL" : "");
	changed(m);
	return 0;
}

int mreg_add(struct master *m, const char *service, const char *addr, unsigned weight,
	     char *err, size_t errlen)
{
	return add(m, service, addr, weight, 0, err, errlen);
}

/* The instance named by <service> and <addr>, or NULL with <err> filled. */
static struct mreg_instance *lookup(struct master *m, const char *service, const char *addr,
				    char *err, size_t errlen, int *ret)
{
	struct mreg_instance *in;
	struct gw_addr a;

	*ret = parse_target(m, service, addr, &a, err, errlen);
	if (*ret < 0)
		return NULL;
	in = find(m->reg, service, a.text);
	if (!in) {
		snprintf(err, errlen, "service '%s' has no instance %s", service, a.text);
		*ret = -ENOENT;
	}
	return in;
}

int mreg_remove(struct master *m, const char *service, const char *addr, char *err,
		size_t errlen)
{
	int ret;
	struct mreg_instance *in = lookup(m, service, addr, err, errlen, &ret);

	if (!in)
		return ret;
	log_info("registry: service %s: instance %s removed", service, in->addr.text);
	erase(m->reg, in);
	changed(m);
	return 0;
}

int mreg_drain(struct master *m, const char *service, const char *addr, char *err,
	       size_t errlen)
{
	int ret;
	struct mreg_instance *in = lookup(m, service, addr, err, errlen, &ret);

	if (!in)
		return ret;
	if (!in->draining) {
		in->draining = true;
		log_info("registry: service %s: instance %s draining", service, in->addr.text);
		changed(m);
	}
	return 0;
}

int mreg_heartbeat(struct master *m, const char *service, const char *addr, unsigned weight,
		   uint64_t ttl_ms, char *err, size_t errlen)
{
	uint64_t expires = clock_mono_ms() + ttl_ms;
	struct mreg_instance *in;
	struct gw_addr a;
	int ret;

	ret = parse_target(m, service, addr, &a, err, errlen);
	if (ret < 0)
		return ret;
	in = find(m->reg, service, a.text);
	if (!in) {
		ret = add(m, service, addr, weight ? weight : 1, expires, err, errlen);
		return ret < 0 ? ret : 1;
	}
	if (!in->dynamic) {
		snprintf(err, errlen, "instance %s of service '%s' comes from the configuration file",
			 a.text, service);
		return -EEXIST;
	}
	in->expires_ms = expires;
	if (weight && in->weight != weight && weight <= 1000) {
		in->weight = weight;
		changed(m);
	}
	return 0;
}

const struct mreg_instance *mreg_instances(const struct master *m, size_t *n)
{
	*n = m->reg->n;
	return m->reg->inst;
}

uint64_t mreg_generation(const struct master *m)
{
	return m->reg->generation;
}

/* Keep every breaker's 32-bit times recent, so they never wrap. */
static void tick_breakers(struct master *m, uint64_t now_ms)
{
	struct mreg *r = m->reg;
	uint32_t now = shm_clock32(&m->seg, now_ms);

	for (size_t i = 0; i < r->n; i++) {
		int svc = service_index(r->cfg, r->inst[i].service);
		struct brk_policy p;

		if (svc < 0)
			continue;
		policy_breaker(&r->cfg->services[svc].breaker, &p);
		if (p.mode != BRK_MODE_OFF)
			brk_tick(inst_breaker(&m->tables.inst, r->inst[i].slot), &p, now);
	}
}

void mreg_tick(struct master *m, uint64_t now_ms)
{
	struct mreg *r = m->reg;
	bool expired = false;

	for (size_t i = 0; i < r->n;) {
		struct mreg_instance *in = &r->inst[i];

		if (!in->expires_ms || in->expires_ms > now_ms) {
			i++;
			continue;
		}
		log_warn("registry: service %s: instance %s missed its heartbeat; removed",
			 in->service, in->addr.text);
		erase(r, in);
		expired = true;
	}
	if (expired)
		changed(m);
	else
		publish(m);
	if (now_ms - r->breakers_ticked_ms >= MREG_BRK_TICK_MS) {
		r->breakers_ticked_ms = now_ms;
		tick_breakers(m, now_ms);
	}
}

uint64_t mreg_next_deadline(const struct master *m)
{
	const struct mreg *r = m->reg;
	uint64_t next = r->dirty ? clock_mono_ms() + MREG_RETRY_MS : UINT64_MAX;

	if (r->n && r->breakers_ticked_ms + MREG_BRK_TICK_MS < next)
		next = r->breakers_ticked_ms + MREG_BRK_TICK_MS;

	for (size_t i = 0; i < r->n; i++) {
		if (r->inst[i].expires_ms && r->inst[i].expires_ms < next)
			next = r->inst[i].expires_ms;
	}
	return next;
}
