/* gatewayctl's commands about the fleet: services and their instances
 * (list, add, remove, drain), breakers (list, reset, open) and rate-limit
 * buckets (show, reset). The answers are documented in
 * docs/control-protocol.md; the command table is in commands.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/cmd.h"
#include "master/commands.h"
#include "master/master.h"
#include "master/mreg.h"
#include "shm/policy.h"

#define RUNTIME_NOTE "runtime change: it lasts until the next reload or restart, which re-apply the configuration file"

/* The errno of an mreg_*() call as an error code. */
static const char *errno_code(int err)
{
	switch (err) {
	case -ENOENT:
		return "not_found";
	case -EEXIST:
		return "exists";
	case -EINVAL:
		return "invalid";
	default:
		return "failed";
	}
}

/* The breaker policy of the service an instance belongs to. */
static const struct gw_service_conf *service_conf(const struct master *m, const char *name)
{
	for (size_t i = 0; i < m->cfg->n_services; i++) {
		if (strcmp(m->cfg->services[i].name, name) == 0)
			return &m->cfg->services[i];
	}
	return NULL;
}

static json_t *breaker_json(struct master *m, const struct mreg_instance *in)
{
	const struct gw_service_conf *svc = service_conf(m, in->service);
	uint32_t now = shm_clock32(&m->seg, clock_mono_ms());
	struct brk_policy p;
	struct brk_view v;
	uint32_t elapsed, remaining = 0;

	policy_breaker(&svc->breaker, &p);
	brk_read(inst_breaker(&m->tables.inst, in->slot), &p, &v);
	elapsed = now - v.since_ms;
	if (v.state == BRK_OPEN && elapsed < v.open_for_ms)
		remaining = v.open_for_ms - elapsed;
	return json_pack("{s:s, s:i, s:i, s:i, s:I, s:I}", "state",
		p.mode == BRK_MODE_OFF ? "off" : brk_state_name(v.state),
		"failures", (int)v.failures, "requests", (int)v.requests, "probes", (int)v.probes,
		"open_for_ms", (json_int_t)v.open_for_ms, "remaining_ms", (json_int_t)remaining);
}

static json_t *instance_json(struct master *m, const struct mreg_instance *in)
{
	uint64_t now = clock_mono_ms(), attempts, failures;
	struct inst_health h;
	const char *state;

	inst_health_load(&m->tables.inst, in->slot, &h);
	inst_counts(&m->tables.inst, in->slot, wtab_high_water(&m->tables.workers), &attempts,
		    &failures);
	state = in->draining ? "draining" : h.up ? "up" : "down";
	return json_pack("{s:i, s:s, s:s, s:i, s:s, s:b, s:o, s:{s:b, s:b, s:i}, s:o, s:i, s:I, s:I}",
		"slot", (int)in->slot, "address", in->addr.text, "host", in->host,
		"weight", (int)in->weight, "state", state, "dynamic", in->dynamic,
		"ttl_ms", in->expires_ms ? json_integer((json_int_t)(in->expires_ms > now ?
			in->expires_ms - now : 0)) : json_null(),
		"health", "up", h.up, "checked", h.checked, "last_status", (int)h.last_status,
		"breaker", breaker_json(m, in),
		"inflight", (int)inst_inflight(&m->tables.inst, in->slot,
					       wtab_high_water(&m->tables.workers)),
		"attempts", (json_int_t)attempts, "failures", (json_int_t)failures);
}

static const char *balance_name(enum gw_balance b)
{
	static const char *const names[] = {
		[GW_BAL_ROUND_ROBIN] = "round_robin", [GW_BAL_LEAST_CONN] = "least_conn",
		[GW_BAL_P2C] = "p2c", [GW_BAL_RANDOM] = "random",
		[GW_BAL_HASH_IP] = "hash:ip", [GW_BAL_HASH_HEADER] = "hash:header",
	};

	return b <= GW_BAL_HASH_HEADER ? names[b] : "?";
}

json_t *cmd_services(struct master *m)
{
	json_t *services = json_array();
	const struct mreg_instance *inst;
	size_t n;

	inst = mreg_instances(m, &n);
	for (size_t s = 0; s < m->cfg->n_services; s++) {
		const struct gw_service_conf *svc = &m->cfg->services[s];
		json_t *list = json_array();

		for (size_t i = 0; i < n; i++) {
			if (strcmp(inst[i].service, svc->name) == 0)
				json_array_append_new(list, instance_json(m, &inst[i]));
		}
		json_array_append_new(services, json_pack("{s:s, s:s, s:o}", "name", svc->name,
			"balance", balance_name(svc->balance), "instances", list));
	}
	return json_pack("{s:b, s:I, s:o}", "ok", 1, "generation",
			 (json_int_t)mreg_generation(m), "services", services);
}

json_t *cmd__services(struct cmd_ctx *c)
{
	return cmd_services(c->m);
}

/* "weight=N" (optional) */
static int parse_weight(const char *text, unsigned *out)
{
	char *end;
	unsigned long w;

	if (!text) {
		*out = 1;
		return 0;
	}
	if (strncmp(text, "weight=", 7) != 0)
		return -EINVAL;
	errno = 0;
	w = strtoul(text + 7, &end, 10);
	if (errno || *end || end == text + 7 || w < 1 || w > 1000)
		return -EINVAL;
	*out = (unsigned)w;
	return 0;
}

static json_t *instance_answer(struct cmd_ctx *c, int ret, const char *err)
{
	const struct mreg_instance *in;

	if (ret < 0)
		return cmd_error(errno_code(ret), "%s", err);
	in = mreg_find(c->m, c->words[2], c->words[3]);
	return json_pack("{s:b, s:s, s:s, s:o, s:s}", "ok", 1, "service", c->words[2],
		"instance", in ? in->addr.text : c->words[3],
		"slot", in ? json_integer(in->slot) : json_null(), "note", RUNTIME_NOTE);
}

json_t *cmd__instance(struct cmd_ctx *c)
{
	const char *verb = c->words[1];
	char err[256] = "";
	unsigned weight;
	int ret;

	if (strcmp(verb, "add") == 0) {
		if (c->n_words > 5 || parse_weight(c->n_words == 5 ? c->words[4] : NULL, &weight) < 0)
			return cmd_error("usage", "usage: instance add SERVICE HOST:PORT [weight=1..1000]");
		ret = mreg_add(c->m, c->words[2], c->words[3], weight, err, sizeof(err));
	} else if (c->n_words != 4) {
		return cmd_error("usage", "usage: instance %s SERVICE HOST:PORT", verb);
	} else if (strcmp(verb, "remove") == 0) {
		ret = mreg_remove(c->m, c->words[2], c->words[3], err, sizeof(err));
	} else if (strcmp(verb, "drain") == 0) {
		ret = mreg_drain(c->m, c->words[2], c->words[3], err, sizeof(err));
	} else {
		return cmd_error("usage", "unknown instance command '%s' (add, remove, drain)", verb);
	}
	return instance_answer(c, ret, err);
}

static json_t *cmd_breakers_list(struct cmd_ctx *c)
{
	json_t *list = json_array();
	const struct mreg_instance *inst;
	size_t n;

	inst = mreg_instances(c->m, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *b = breaker_json(c->m, &inst[i]);

		json_object_set_new(b, "service", json_string(inst[i].service));
		json_object_set_new(b, "instance", json_string(inst[i].addr.text));
		json_object_set_new(b, "slot", json_integer(inst[i].slot));
		json_array_append_new(list, b);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "breakers", list);
}

/* breakers reset SERVICE [ADDR] | breakers open SERVICE ADDR */
static json_t *cmd_breakers_set(struct cmd_ctx *c, bool open)
{
	const char *svc = c->words[2], *addr = c->n_words > 3 ? c->words[3] : NULL;
	uint32_t now = shm_clock32(&c->m->seg, clock_mono_ms());
	const struct mreg_instance *inst, *one = NULL;
	size_t n, done = 0;

	if (!service_conf(c->m, svc))
		return cmd_error("not_found", "unknown service '%s'", svc);
	if (addr && !(one = mreg_find(c->m, svc, addr)))
		return cmd_error("not_found", "service '%s' has no instance %s", svc, addr);
	inst = mreg_instances(c->m, &n);
	for (size_t i = 0; i < n; i++) {
		struct brk_sh *b = inst_breaker(&c->m->tables.inst, inst[i].slot);

		if (strcmp(inst[i].service, svc) != 0 || (one && one != &inst[i]))
			continue;
		if (open)
			brk_force_open(b, now);
		else
			brk_force_close(b, now);
		done++;
	}
	log_info("gatewayctl: breakers %s %s%s%s: %zu", open ? "open" : "reset", svc,
		 addr ? " " : "", addr ? addr : "", done);
	return json_pack("{s:b, s:I}", "ok", 1, open ? "opened" : "reset", (json_int_t)done);
}

json_t *cmd__breakers(struct cmd_ctx *c)
{
	const char *verb = c->n_words > 1 ? c->words[1] : "list";

	if (strcmp(verb, "list") == 0 && c->n_words <= 2)
		return cmd_breakers_list(c);
	if (strcmp(verb, "reset") == 0 && c->n_words >= 3 && c->n_words <= 4)
		return cmd_breakers_set(c, false);
	if (strcmp(verb, "open") == 0 && c->n_words == 4)
		return cmd_breakers_set(c, true);
	return cmd_error("usage", "usage: breakers [list] | breakers reset SERVICE [HOST:PORT] | "
			 "breakers open SERVICE HOST:PORT");
}

static const struct gw_route_conf *route_conf(const struct master *m, const char *name)
{
	for (size_t i = 0; i < m->cfg->n_routes; i++) {
		if (strcmp(m->cfg->routes[i].name, name) == 0)
			return &m->cfg->routes[i];
	}
	return NULL;
}

/* The key bytes a rule hashes for KEY as typed: an address for by=ip, the
 * header value for by=header, nothing for by=route. */
static size_t client_key(const struct gw_rate_limit_conf *rl, const char *text, uint8_t *buf,
			 const void **out)
{
	if (rl->by == GW_RL_BY_ROUTE) {
		*out = buf;
		return 0;
	}
	if (rl->by == GW_RL_BY_IP) {
		*out = buf;
		if (inet_pton(AF_INET, text, buf) == 1)
			return 4;
		if (inet_pton(AF_INET6, text, buf) == 1)
			return 16;
	}
	*out = text;
	return strlen(text);
}

static json_t *limit_rule_json(struct master *m, const struct gw_route_conf *r,
			       const struct gw_rate_limit_conf *rl, const char *key_text)
{
	uint8_t buf[16];
	const void *key;
	size_t len = client_key(rl, key_text, buf, &key);
	uint64_t key_hash = policy_rl_key(&m->seg, r->name, rl, key, len);
	struct rl_verdict v;
	struct rl_rule rule;
	int present;

	policy_rule(rl, &rule);
	present = rl_peek(&m->tables.rl, &rule, key_hash, clock_mono_ns() / 1000u, &v) == 0;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:b}", "rule", rl->spec,
		"limit", (json_int_t)rl->burst, "remaining", (json_int_t)v.remaining,
		"reset_ms", (json_int_t)(v.reset_us / 1000u),
		"retry_after_ms", (json_int_t)(v.retry_after_us / 1000u), "present", present);
}

static json_t *cmd_limits_show(struct cmd_ctx *c)
{
	const struct gw_route_conf *r = route_conf(c->m, c->words[2]);
	json_t *rules;

	if (!r)
		return cmd_error("not_found", "unknown route '%s'", c->words[2]);
	rules = json_array();
	for (size_t i = 0; i < r->n_rate_limits; i++)
		json_array_append_new(rules, limit_rule_json(c->m, r, &r->rate_limits[i], c->words[3]));
	return json_pack("{s:b, s:s, s:s, s:o}", "ok", 1, "route", r->name, "key", c->words[3],
			 "rules", rules);
}

static json_t *cmd_limits_reset(struct cmd_ctx *c)
{
	const struct gw_route_conf *r;
	size_t done = 0;

	if (c->n_words == 3 && strcmp(c->words[2], "--all") == 0) {
		rl_reset_all_master(&c->m->tables.rl);
		log_info("gatewayctl: every rate-limit bucket reset");
		return json_pack("{s:b, s:s}", "ok", 1, "reset", "all");
	}
	if (c->n_words != 4)
		return cmd_error("usage", "usage: limits reset ROUTE KEY | limits reset --all");
	if (!(r = route_conf(c->m, c->words[2])))
		return cmd_error("not_found", "unknown route '%s'", c->words[2]);
	for (size_t i = 0; i < r->n_rate_limits; i++) {
		const struct gw_rate_limit_conf *rl = &r->rate_limits[i];
		uint8_t buf[16];
		const void *key;
		size_t len = client_key(rl, c->words[3], buf, &key);

		done += rl_reset(&c->m->tables.rl, policy_rl_key(&c->m->seg, r->name, rl, key, len)) == 0;
	}
	return json_pack("{s:b, s:I}", "ok", 1, "reset", (json_int_t)done);
}

json_t *cmd__limits(struct cmd_ctx *c)
{
	if (c->n_words == 4 && strcmp(c->words[1], "show") == 0)
		return cmd_limits_show(c);
	if (c->n_words >= 3 && strcmp(c->words[1], "reset") == 0)
		return cmd_limits_reset(c);
	return cmd_error("usage", "usage: limits show ROUTE KEY | limits reset ROUTE KEY | "
			 "limits reset --all");
}
