/* The [gateway] section: listeners, worker processes, logging, and the
 * limits every connection lives under. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

#define GATEWAY_MAX_WORKERS 256

void conf__gateway_defaults(struct gw_config *cfg)
{
	cfg->workers = 0;		/* auto */
	cfg->pin_workers = true;
	cfg->access_log = NULL;		/* off */
	cfg->log_level = LOG_INFO;
	cfg->drain_timeout_ms = 30000;
	cfg->header_timeout_ms = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->max_header_bytes = 16384;
	cfg->max_body_bytes = 8 << 20;
}

static void gateway_begin(struct conf_parser *p, const char *name)
{
	(void)name;
	if (p->gateway_line) {
		conf__error(p, p->line, "duplicate section [gateway] (first at line %d)",
			    p->gateway_line);
		return;		/* its keys still apply, and are still checked */
	}
	p->gateway_line = p->line;
}

static void gateway_listen(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_config *cfg = p->cfg;
	struct gw_listen_conf *l;
	struct gw_addr a;

	if (conf__addr(p, key, value, &a) < 0)
		return;
	/* Port 0 twice is two ephemeral ports, not a clash. */
	for (size_t i = 0; conf__addr_port(&a) && i < cfg->n_listens; i++) {
		if (strcmp(cfg->listens[i].addr.text, a.text) == 0) {
			conf__error(p, p->line, "duplicate listen address %s (first at line %d)",
				    a.text, cfg->listens[i].line);
			return;
		}
	}
	l = conf__grow(p, (void **)&cfg->listens, &cfg->n_listens, sizeof(*l));
	if (!l)
		return;
	l->addr = a;
	l->line = p->line;
}

static void gateway_workers(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t n;

	if (strcmp(value, "auto") == 0) {
		p->cfg->workers = 0;
		return;
	}
	if (conf__parse_uint(value, 1, GATEWAY_MAX_WORKERS, &n) < 0) {
		conf__error(p, p->line, "bad value '%s' for '%s' (want auto or 1..%d)",
			    value, key, GATEWAY_MAX_WORKERS);
		return;
	}
	p->cfg->workers = (unsigned)n;
}

static void gateway_pin_workers(struct conf_parser *p, const char *key, const char *value)
{
	if (conf__parse_bool(value, &p->cfg->pin_workers) < 0)
		conf__error(p, p->line, "bad value '%s' for '%s' (want yes or no)", value, key);
}

static void gateway_access_log(struct conf_parser *p, const char *key, const char *value)
{
	if (!*value) {
		conf__error(p, p->line, "empty value for '%s' (want a path, stderr or off)", key);
		return;
	}
	/* A second [gateway] (an error) may set it again. */
	free(p->cfg->access_log);
	p->cfg->access_log = NULL;
	if (strcmp(value, "off") != 0)
		p->cfg->access_log = conf__strdup(p, value);
}

static void gateway_log_level(struct conf_parser *p, const char *key, const char *value)
{
	if (log_level_parse(value, &p->cfg->log_level) < 0)
		conf__error(p, p->line, "bad log level '%s' for '%s' (want error, warn, info or debug)",
			    value, key);
}

static void gateway_drain_timeout(struct conf_parser *p, const char *key, const char *value)
{
	/* 0 is meaningful: close idle connections at once on shutdown. */
	conf__duration(p, key, value, true, &p->cfg->drain_timeout_ms);
}

static void gateway_header_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &p->cfg->header_timeout_ms);
}

static void gateway_idle_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &p->cfg->idle_timeout_ms);
}

static void gateway_max_header_bytes(struct conf_parser *p, const char *key, const char *value)
{
	/* The HTTP parser counts head bytes in 32 bits. */
	conf__size(p, key, value, 1, UINT32_MAX, &p->cfg->max_header_bytes);
}

static void gateway_max_body_bytes(struct conf_parser *p, const char *key, const char *value)
{
	conf__size(p, key, value, 0, UINT64_MAX, &p->cfg->max_body_bytes);
}

static const struct conf_key gateway_keys[] = {
	{ "listen", gateway_listen, true },
	{ "workers", gateway_workers, false },
	{ "pin_workers", gateway_pin_workers, false },
	{ "access_log", gateway_access_log, false },
	{ "log_level", gateway_log_level, false },
	{ "drain_timeout", gateway_drain_timeout, false },
	{ "header_timeout", gateway_header_timeout, false },
	{ "idle_timeout", gateway_idle_timeout, false },
	{ "max_header_bytes", gateway_max_header_bytes, false },
	{ "max_body_bytes", gateway_max_body_bytes, false },
};
_Static_assert(CONF_ARRAY_SIZE(gateway_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__gateway_section = {
	.word = "gateway",
	.named = false,
	.begin = gateway_begin,
	.keys = gateway_keys,
	.n_keys = CONF_ARRAY_SIZE(gateway_keys),
};
