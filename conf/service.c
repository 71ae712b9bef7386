/* [service NAME] sections: a pool of upstream instances, how requests are
 * spread over them, and the policies guarding them (breaker, retry and
 * health, whose values policy.c and health.c parse). Instance host names
 * are resolved here, once, in the master; workers only ever see addresses. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

#define SERVICE_MAX_WEIGHT 1000
#define SERVICE_MAX_KEEPALIVE 10000

struct gw_service_conf *conf__service_find(struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (cfg->services[i].name && strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	}
	return NULL;
}

void conf__service_release(struct gw_service_conf *svc)
{
	for (size_t i = 0; i < svc->n_instances; i++)
		free(svc->instances[i].host);
	free(svc->instances);
	free(svc->hash_header);
	free(svc->health.path);
	conf__upstream_tls_release(&svc->tls);
	free(svc->name);
}

static struct gw_service_conf *service_cur(struct conf_parser *p)
{
	return &p->cfg->services[p->cur];
}

static void service_begin(struct conf_parser *p, const char *name)
{
	struct gw_config *cfg = p->cfg;
	struct gw_service_conf *svc = conf__service_find(cfg, name);

	if (svc)
		conf__error(p, p->line, "duplicate service '%s' (first defined at line %d)",
			    name, svc->line);
	/* A duplicate is still parsed, so errors in its keys show up now
	 * rather than after the rename. */
	svc = conf__grow(p, (void **)&cfg->services, &cfg->n_services, sizeof(*svc));
	if (!svc || !(svc->name = conf__strdup(p, name))) {
		p->skip = true;
		return;
	}
	svc->balance = GW_BAL_ROUND_ROBIN;
	svc->connect_timeout_ms = 1000;
	svc->timeout_ms = 30000;
	svc->keepalive = 32;
	svc->tls.verify = true;
	conf__breaker_defaults(&svc->breaker);
	conf__retry_defaults(&svc->retry);
	conf__health_defaults(&svc->health);
	svc->line = p->line;
	p->cur = cfg->n_services - 1;
}

/* Parse the options after the address ("weight=3"); 0 or -EINVAL. */
static int service_instance_opts(struct conf_parser *p, char *opts, unsigned *weight)
{
	char *opt, *save = NULL;
	uint64_t w;

	for (opt = strtok_r(opts, " \t", &save); opt; opt = strtok_r(NULL, " \t", &save)) {
		if (strncmp(opt, "weight=", 7) != 0) {
			conf__error(p, p->line, "unknown instance option '%s' (want weight=N)", opt);
			return -EINVAL;
		}
		if (conf__parse_uint(opt + 7, 1, SERVICE_MAX_WEIGHT, &w) < 0) {
			conf__error(p, p->line, "bad weight '%s' (want 1..%d)", opt + 7,
				    SERVICE_MAX_WEIGHT);
			return -EINVAL;
		}
		*weight = (unsigned)w;
	}
	return 0;
}

/* Store a parsed instance unless the service already has its address. */
static void service_add_instance(struct conf_parser *p, const struct gw_addr *a,
				 const char *host, unsigned weight)
{
	struct gw_service_conf *svc = service_cur(p);
	struct gw_instance_conf *inst;

	for (size_t i = 0; i < svc->n_instances; i++) {
		if (strcmp(svc->instances[i].addr.text, a->text) == 0) {
			conf__error(p, p->line, "duplicate instance %s in service '%s' (first at line %d)",
				    a->text, svc->name, svc->instances[i].line);
			return;
		}
	}
	inst = conf__grow(p, (void **)&svc->instances, &svc->n_instances, sizeof(*inst));
	if (!inst)
		return;
	inst->addr = *a;
	inst->weight = weight;
	inst->line = p->line;
	if (!(inst->host = conf__strdup(p, host)))
		svc->n_instances--;
}

/* "ADDRESS [weight=N]" */
static void service_instance(struct conf_parser *p, const char *key, const char *value)
{
	char *copy = conf__strdup(p, value);
	char *addr, *opts;
	unsigned weight = 1;
	struct gw_addr a;

	if (!copy)
		return;
	addr = copy;
	opts = addr + strcspn(addr, " \t");
	if (*opts)
		*opts++ = '\0';
	if (!*addr) {
		conf__error(p, p->line, "empty value for '%s' (want ADDRESS [weight=N])", key);
		goto out_free_copy;
	}
	if (service_instance_opts(p, opts, &weight) < 0)
		goto out_free_copy;
	if (strncmp(addr, "*:", 2) == 0) {
		conf__error(p, p->line, "instance '%s' needs a host, not '*'", addr);
		goto out_free_copy;
	}
	if (conf__addr(p, key, addr, &a) < 0)
		goto out_free_copy;
	if (!conf__addr_port(&a)) {
		conf__error(p, p->line, "instance '%s' needs a port other than 0", addr);
		goto out_free_copy;
	}
	service_add_instance(p, &a, addr, weight);
out_free_copy:
	free(copy);
}

/* "hash:header:NAME": the header name, lowercased, must be a token. */
static void service_hash_header(struct conf_parser *p, const char *value, const char *name)
{
	struct gw_service_conf *svc = service_cur(p);
	char *lower;

	if (!conf__is_token(name, strlen(name))) {
		conf__error(p, p->line, "bad header name in balance '%s'", value);
		return;
	}
	if (!(lower = conf__strdup(p, name)))
		return;
	for (char *c = lower; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	svc->balance = GW_BAL_HASH_HEADER;
	svc->hash_header = lower;
}

static void service_balance(struct conf_parser *p, const char *key, const char *value)
{
	static const struct {
		const char *name;
		enum gw_balance balance;
	} names[] = {
		{ "round_robin", GW_BAL_ROUND_ROBIN },
		{ "least_conn", GW_BAL_LEAST_CONN },
		{ "p2c", GW_BAL_P2C },
		{ "random", GW_BAL_RANDOM },
		{ "hash:ip", GW_BAL_HASH_IP },
	};

	for (size_t i = 0; i < CONF_ARRAY_SIZE(names); i++) {
		if (strcmp(value, names[i].name) == 0) {
			service_cur(p)->balance = names[i].balance;
			return;
		}
	}
	if (strncmp(value, "hash:header:", 12) == 0) {
		service_hash_header(p, value, value + 12);
		return;
	}
	conf__error(p, p->line, "bad balance '%s' for '%s' (want round_robin, least_conn, p2c, "
		    "random, hash:ip or hash:header:NAME)", value, key);
}

static void service_connect_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &service_cur(p)->connect_timeout_ms);
}

static void service_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &service_cur(p)->timeout_ms);
}

static void service_keepalive(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t n;

	if (conf__parse_uint(value, 0, SERVICE_MAX_KEEPALIVE, &n) < 0) {
		conf__error(p, p->line, "bad value '%s' for '%s' (want 0..%d)", value, key,
			    SERVICE_MAX_KEEPALIVE);
		return;
	}
	service_cur(p)->keepalive = (unsigned)n;
}

static void service_breaker(struct conf_parser *p, const char *key, const char *value)
{
	conf__breaker(p, key, value, &service_cur(p)->breaker);
}

/* Whether a breaker uses it is known at the end (validate.c). */
static void service_breaker_on(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_breaker_conf *b = &service_cur(p)->breaker;

	if (conf__fail_set(p, "'breaker_on'", value, &b->on) == 0)
		b->on_line = p->line;
}

static void service_retry(struct conf_parser *p, const char *key, const char *value)
{
	conf__retry(p, key, value, &service_cur(p)->retry);
}

static void service_retry_non_idempotent(struct conf_parser *p, const char *key,
					 const char *value)
{
	conf__retry_non_idempotent(p, key, value, &service_cur(p)->retry);
}

static void service_health(struct conf_parser *p, const char *key, const char *value)
{
	conf__health(p, key, value, &service_cur(p)->health);
}

static void service_tls(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_upstream_tls_conf *t = &service_cur(p)->tls;

	if (conf__parse_bool(value, &t->on) < 0)
		conf__error(p, p->line, "bad value '%s' for '%s' (want yes or no)", value, key);
	t->line = p->line;
}

static void service_tls_verify(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_upstream_tls_conf *t = &service_cur(p)->tls;

	if (conf__parse_bool(value, &t->verify) < 0)
		conf__error(p, p->line, "bad value '%s' for '%s' (want yes or no)", value, key);
	t->verify_line = p->line;
	t->option_line = t->option_line ?: p->line;
}

static void service_tls_sni(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_upstream_tls_conf *t = &service_cur(p)->tls;

	(void)key;
	t->sni = conf__strdup(p, value);
	t->option_line = t->option_line ?: p->line;
}

static void service_tls_ca(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_upstream_tls_conf *t = &service_cur(p)->tls;

	(void)key;
	t->ca = conf__path(p, value);
	t->option_line = t->option_line ?: p->line;
}

static const struct conf_key service_keys[] = {
	{ "instance", service_instance, true },
	{ "balance", service_balance, false },
	{ "connect_timeout", service_connect_timeout, false },
	{ "timeout", service_timeout, false },
	{ "keepalive", service_keepalive, false },
	{ "breaker", service_breaker, false },
	{ "breaker_on", service_breaker_on, false },
	{ "retry", service_retry, false },
	{ "retry_non_idempotent", service_retry_non_idempotent, false },
	{ "health", service_health, false },
	{ "tls", service_tls, false },
	{ "tls_verify", service_tls_verify, false },
	{ "tls_sni", service_tls_sni, false },
	{ "tls_ca", service_tls_ca, false },
};
_Static_assert(CONF_ARRAY_SIZE(service_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__service_section = {
	.word = "service",
	.named = true,
	.begin = service_begin,
	.keys = service_keys,
	.n_keys = CONF_ARRAY_SIZE(service_keys),
};
