/* The [gateway] section: listeners, worker processes, logging, the limits
 * every connection lives under, shared memory, and the control and admin
 * endpoints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conf/config.h"
#include "conf/internal.h"

#define GATEWAY_MAX_WORKERS 256
#define GATEWAY_SHM_MIN (16ull << 20)	/* shm/segment.h's SHM_MIN_SIZE */
#define GATEWAY_SHM_MAX (4ull << 30)
#define GATEWAY_CONTROL_DEFAULT "/run/gatewayd.sock"
#define GATEWAY_ADMIN_DEFAULT "127.0.0.1:9901"
#define GATEWAY_TOKEN_MIN 16

/* Longest control socket path: sun_path holds it and its NUL, with a byte
 * to spare. */
#define GATEWAY_CONTROL_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 2)

int conf__gateway_defaults(struct gw_config *cfg)
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
	cfg->shm_size = 64ull << 20;
	cfg->admin_enabled = true;
	conf__limits_defaults(cfg);
	if (conf_parse_addr(GATEWAY_ADMIN_DEFAULT, false, &cfg->admin_addr) < 0)
		return -EINVAL;
	cfg->control_path = strdup(GATEWAY_CONTROL_DEFAULT);
	return cfg->control_path ? 0 : -ENOMEM;
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

void conf__listen_add(struct conf_parser *p, const char *key, const char *value, bool tls)
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
	l->tls = tls;
	l->line = p->line;
}

static void gateway_listen(struct conf_parser *p, const char *key, const char *value)
{
	conf__listen_add(p, key, value, false);
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

static void gateway_shm_size(struct conf_parser *p, const char *key, const char *value)
{
	conf__size(p, key, value, GATEWAY_SHM_MIN, GATEWAY_SHM_MAX, &p->cfg->shm_size);
}

/* gatewayctl's Unix socket: a path (absolute, or relative to the working
 * directory) short enough for sun_path, or off. */
static void gateway_control(struct conf_parser *p, const char *key, const char *value)
{
	size_t n = strlen(value);

	if (!n) {
		conf__error(p, p->line, "empty value for '%s' (want a socket path or off)", key);
		return;
	}
	if (n > GATEWAY_CONTROL_MAX) {
		conf__error(p, p->line, "'%s' path is %zu bytes long (max %zu for a Unix socket)",
			    key, n, GATEWAY_CONTROL_MAX);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)value[i] < ' ' || value[i] == 0x7f) {
			conf__error(p, p->line, "control character in '%s' path", key);
			return;
		}
	}
	free(p->cfg->control_path);
	p->cfg->control_path = NULL;
	if (strcmp(value, "off") != 0)
		p->cfg->control_path = conf__strdup(p, value);
}

/* Whether it is safe to expose is checked once the whole file is read,
 * as admin_token may come later (validate.c). */
static void gateway_admin_listen(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_addr a;

	p->admin_line = p->line;
	if (strcmp(value, "off") == 0) {
		p->cfg->admin_enabled = false;
		return;
	}
	if (conf__addr(p, key, value, &a) < 0)
		return;
	p->cfg->admin_addr = a;
	p->cfg->admin_enabled = true;
}

/* A secret: messages never repeat it. */
static void gateway_admin_token(struct conf_parser *p, const char *key, const char *value)
{
	size_t n = strlen(value);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c <= ' ' || c >= 0x7f) {
			conf__error(p, p->line, "'%s' may only hold printable ASCII without spaces",
				    key);
			return;
		}
	}
	if (n < GATEWAY_TOKEN_MIN) {
		conf__error(p, p->line, "'%s' is %zu characters long (want at least %d)", key, n,
			    GATEWAY_TOKEN_MIN);
		return;
	}
	free(p->cfg->admin_token);
	p->cfg->admin_token = conf__strdup(p, value);
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
	{ "shm_size", gateway_shm_size, false },
	{ "control", gateway_control, false },
	{ "admin_listen", gateway_admin_listen, false },
	{ "admin_token", gateway_admin_token, false },
	{ "max_headers", conf__gateway_max_headers, false },
	{ "max_request_line", conf__gateway_max_request_line, false },
	{ "client_body_timeout", conf__gateway_client_body_timeout, false },
	{ "client_body_min_rate", conf__gateway_client_body_min_rate, false },
	{ "send_timeout", conf__gateway_send_timeout, false },
	{ "max_conns_per_ip", conf__gateway_max_conns_per_ip, false },
	{ "user", conf__gateway_user, false },
	{ "group", conf__gateway_group, false },
};
_Static_assert(CONF_ARRAY_SIZE(gateway_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__gateway_section = {
	.word = "gateway",
	.named = false,
	.begin = gateway_begin,
	.keys = gateway_keys,
	.n_keys = CONF_ARRAY_SIZE(gateway_keys),
};
