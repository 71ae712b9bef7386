/* [apikeys]: where the API-key store lives and which header carries a key,
 * and the checks on routes that use it.
 *
 *   [apikeys]
 *   file = /var/lib/gatewayd/apikeys.db	; relative to the config's directory
 *   header = X-Api-Key			; the default
 *
 * The store (auth/keystore.h) is read here, at load, in the master, like a
 * [jwt] section's JWKS: a malformed store fails the load (or the reload,
 * which then keeps the running keys) with one "STORE:LINE: message" per
 * problem, and a store that group or others may read is refused. A
 * missing file is an empty store, which the master creates at start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/keystore.h"
#include "conf/config.h"
#include "conf/internal.h"

#define APIKEYS_DEFAULT_HEADER "X-Api-Key"

void conf__apikeys_release(struct gw_config *cfg)
{
	struct gw_apikeys_conf *a = &cfg->apikeys;

	keystore_free(a->store);
	free(a->file);
	free(a->header);
	free(a->header_lower);
	memset(a, 0, sizeof(*a));
}

static void apikeys_begin(struct conf_parser *p, const char *name)
{
	struct gw_apikeys_conf *a = &p->cfg->apikeys;

	(void)name;
	if (p->apikeys_line) {
		conf__error(p, p->line, "duplicate section [apikeys] (first at line %d)",
			    p->apikeys_line);
		p->skip = true;
		return;
	}
	p->apikeys_line = p->line;
	a->line = p->line;
	a->header = conf__strdup(p, APIKEYS_DEFAULT_HEADER);
	a->header_lower = conf__strdup(p, "x-api-key");
}

/* A problem inside the store, at its own file and line. */
static void apikeys_report(void *arg, int line, const char *msg)
{
	struct conf_parser *p = arg;

	p->n_errors++;
	if (p->diag)
		fprintf(p->diag, "%s:%d: %s\n", p->cfg->apikeys.file, line, msg);
}

static void apikeys_file(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_apikeys_conf *a = &p->cfg->apikeys;
	struct stat st;
	int err;

	if (!*value) {
		conf__error(p, p->line, "empty value for '%s' (want the path of the key store)", key);
		return;
	}
	a->file = conf__path(p, value);
	if (!a->file)
		return;
	err = keystore_load(a->file, apikeys_report, p, &a->store, &a->store_created);
	if (err == -ENOMEM)
		p->oom = true;
	else if (err == -EPERM && stat(a->file, &st) == 0)
		conf__error(p, p->line, "key store '%s' is open to group or others (mode %04o): "
			    "chmod 600 it", a->file, (unsigned)(st.st_mode & 07777));
	else if (err == -EISDIR)
		conf__error(p, p->line, "key store '%s' is not a regular file", a->file);
	else if (err && err != -EINVAL)
		conf__error(p, p->line, "cannot read key store '%s': %s", a->file,
			    err == -EFBIG ? "too large" : strerror(-err));
}

/* Fields the gateway writes itself, that frame the request, or that carry
 * other credentials: the key cannot travel in them. */
static bool apikeys_reserved(const char *lower)
{
	static const char *const reserved[] = {
		"host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"te", "trailer", "upgrade", "proxy-connection", "proxy-authorization",
		"authorization", "cookie", "expect", "x-forwarded-for", "x-forwarded-proto",
		"x-forwarded-host", "x-request-id", "x-consumer",
	};

	for (size_t i = 0; i < CONF_ARRAY_SIZE(reserved); i++) {
		if (strcmp(lower, reserved[i]) == 0)
			return true;
	}
	return false;
}

static void apikeys_header(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_apikeys_conf *a = &p->cfg->apikeys;
	char *lower;

	if (!conf__is_token(value, strlen(value))) {
		conf__error(p, p->line, "bad %s '%s' (want a header name, such as X-Api-Key)", key,
			    value);
		return;
	}
	lower = conf__strdup(p, value);
	if (!lower)
		return;
	for (char *c = lower; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (apikeys_reserved(lower)) {
		conf__error(p, p->line, "%s cannot be '%s': the gateway writes it, it frames the "
			    "request or it carries other credentials", key, value);
		free(lower);
		return;
	}
	free(a->header);
	free(a->header_lower);
	a->header = conf__strdup(p, value);
	a->header_lower = lower;
}

static const struct conf_key apikeys_keys[] = {
	{ "file", apikeys_file, false },
	{ "header", apikeys_header, false },
};
_Static_assert(CONF_ARRAY_SIZE(apikeys_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__apikeys_section = {
	.word = "apikeys",
	.named = false,
	.begin = apikeys_begin,
	.keys = apikeys_keys,
	.n_keys = CONF_ARRAY_SIZE(apikeys_keys),
};

static void validate_route(struct conf_parser *p, const struct gw_route_conf *r)
{
	if (r->auth_apikey && !p->cfg->apikeys.line)
		conf__error(p, r->auth_line, "route '%s': auth = apikey needs an [apikeys] section",
			    r->name);
	if (r->auth_apikey && r->claims_line)
		conf__error(p, r->claims_line, "route '%s': claims are checked on tokens only, and "
			    "this route accepts API keys (use scopes)", r->name);
	for (size_t k = 0; k < r->n_rate_limits; k++) {
		const struct gw_rate_limit_conf *rl = &r->rate_limits[k];

		if (rl->by == GW_RL_BY_CONSUMER && !r->auth_apikey)
			conf__error(p, rl->line, "route '%s': rate_limit by=consumer needs auth = "
				    "apikey", r->name);
		/* conf__validate_jwt() reports a route with no auth at all. */
		if (rl->by == GW_RL_BY_JWT && r->auth_line && !r->auth_name)
			conf__error(p, rl->line, "route '%s': rate_limit by=jwt:%s needs auth = "
				    "jwt:NAME", r->name, rl->header);
	}
}

void conf__validate_apikeys(struct conf_parser *p)
{
	const struct gw_apikeys_conf *a = &p->cfg->apikeys;

	if (a->line && !a->file)
		conf__error(p, a->line, "[apikeys] has no file");
	for (size_t i = 0; i < p->cfg->n_routes; i++)
		validate_route(p, &p->cfg->routes[i]);
}
