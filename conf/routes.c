/* [route NAME] sections: which requests go to which service, how their
 * path changes on the way, the route's rate limits and retry policy, and
 * its own access list.
 * Regexes are compiled (and JIT-compiled when the library can) here in the
 * master, so a bad one fails the load with PCRE2's own message, and
 * workers inherit the compiled code across fork. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/config.h"
#include "conf/internal.h"
#include "lib/http1.h"

void conf__route_release(struct gw_route_conf *r)
{
	pcre2_code_free(r->path_re);
	pcre2_code_free(r->rewrite_re);
	for (char **m = r->method_names; m && *m; m++)
		free(*m);
	free(r->method_names);
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	for (size_t i = 0; i < r->n_rate_limits; i++) {
		free(r->rate_limits[i].header);
		free(r->rate_limits[i].spec);
	}
	free(r->rate_limits);
	conf__acl_release(&r->acl);
	for (size_t i = 0; i < r->n_claims; i++) {
		free(r->claims[i].name);
		free(r->claims[i].value);
	}
	free(r->claims);
	free(r->auth_name);
	free(r->scopes);
	free(r->name);
	free(r->path);
	free(r->host);
	free(r->query_name);
	free(r->query_value);
	free(r->service_name);
	free(r->strip_prefix);
	free(r->rewrite_src);
	free(r->rewrite_to);
}

static struct gw_route_conf *route_cur(struct conf_parser *p)
{
	return &p->cfg->routes[p->cur];
}

static void route_begin(struct conf_parser *p, const char *name)
{
	struct gw_config *cfg = p->cfg;
	struct gw_route_conf *r;

	for (size_t i = 0; i < cfg->n_routes; i++) {
		if (cfg->routes[i].name && strcmp(cfg->routes[i].name, name) == 0) {
			conf__error(p, p->line, "duplicate route '%s' (first defined at line %d)",
				    name, cfg->routes[i].line);
			break;
		}
	}
	r = conf__grow(p, (void **)&cfg->routes, &cfg->n_routes, sizeof(*r));
	if (!r || !(r->name = conf__strdup(p, name))) {
		p->skip = true;
		return;
	}
	conf__retry_defaults(&r->retry);	/* line 0: the service's applies */
	r->line = p->line;
	p->cur = cfg->n_routes - 1;
}

/* A path as a request can carry it: '/' first, then no space, control,
 * '?' (queries are matched with "query") or '#'. */
static bool route_is_path(const char *s)
{
	if (*s != '/')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == 0x7f || c == '?' || c == '#')
			return false;
	}
	return true;
}

static char *route_lower(struct conf_parser *p, const char *s, size_t len)
{
	char *d = strndup(s, len);

	if (!d) {
		p->oom = true;
		return NULL;
	}
	for (char *c = d; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return d;
}

/* Compile <src> for <key>; NULL after reporting PCRE2's message. */
static pcre2_code *route_compile(struct conf_parser *p, const char *key, const char *src)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *re;
	int err;

	re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	if (!re) {
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "unknown error");
		conf__error(p, p->line, "bad regex '%s' for '%s': %s at offset %zu", src, key,
			    (const char *)msg, (size_t)off);
		return NULL;
	}
	/* JIT only speeds matching up; without it (no JIT support, or no
	 * executable memory) pcre2_match() interprets the same code. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* "/prefix", "= /exact" or "~ regex" */
static void route_path(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	enum gw_path_kind kind = GW_PATH_PREFIX;
	const char *s = value;

	r->path_line = p->line;		/* even if bad: no "has no path" too */
	if (*s == '=' || *s == '~') {
		kind = *s == '=' ? GW_PATH_EXACT : GW_PATH_REGEX;
		s += 1 + strspn(s + 1, " \t");
	}
	if (kind == GW_PATH_REGEX ? !*s : !route_is_path(s)) {
		conf__error(p, p->line, "bad path '%s' (want /prefix, = /exact or ~ regex)", value);
		return;
	}
	if (kind == GW_PATH_REGEX && !(r->path_re = route_compile(p, key, s)))
		return;
	r->path_kind = kind;
	r->path = conf__strdup(p, s);
}

/* Record one method token in r->methods or, if unknown, r->method_names. */
static int route_add_method(struct conf_parser *p, struct gw_route_conf *r,
			    const char *tok, size_t len)
{
	enum http_method m = http_method_lookup(tok, len);
	size_t n = 0;
	char **names;

	if (m != HTTP_M_OTHER) {
		r->methods |= 1u << m;
		return 0;
	}
	for (; r->method_names && r->method_names[n]; n++) {
		if (strlen(r->method_names[n]) == len && !memcmp(r->method_names[n], tok, len))
			return 0;
	}
	names = realloc(r->method_names, (n + 2) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	r->method_names = names;
	names[n + 1] = NULL;
	names[n] = strndup(tok, len);
	return names[n] ? 0 : -ENOMEM;
}

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is a valid but unknown
 * method, almost certainly a typo, so say so without failing. */
static void route_warn_case(struct conf_parser *p, const char *tok, size_t len)
{
	char upper[16];

	if (len >= sizeof(upper))
		return;
	for (size_t i = 0; i < len; i++)
		upper[i] = (char)toupper((unsigned char)tok[i]);
	if (memcmp(upper, tok, len) != 0 && http_method_lookup(upper, len) != HTTP_M_OTHER)
		conf__warn(p, p->line, "method '%.*s' is not '%.*s': methods are case-sensitive",
			   (int)len, tok, (int)len, upper);
}

static void route_methods(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	const char *s = value + strspn(value, " \t");

	if (!*s) {
		conf__error(p, p->line, "empty value for '%s'", key);
		return;
	}
	while (*s) {
		size_t len = strcspn(s, " \t");

		if (!conf__is_token(s, len)) {
			conf__error(p, p->line, "bad method token '%.*s' for '%s'", (int)len, s, key);
		} else {
			route_warn_case(p, s, len);
			if (route_add_method(p, r, s, len) < 0)
				p->oom = true;
		}
		s += len;
		s += strspn(s, " \t");
	}
}

/* "api.example.com", "*.example.com", "10.0.0.1" or "[::1]"; no port. */
static bool route_is_host(const char *s)
{
	size_t len = strlen(s);

	if (s[0] == '[')
		return len > 2 && s[len - 1] == ']' &&
		       strspn(s + 1, "0123456789abcdefABCDEF:.") == len - 2;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789.-_") == strlen(s);
}

static void route_host(struct conf_parser *p, const char *key, const char *value)
{
	if (!route_is_host(value)) {
		conf__error(p, p->line, "bad host '%s' for '%s' (want a name such as "
			    "api.example.com or *.example.com, without a port)", value, key);
		return;
	}
	route_cur(p)->host = route_lower(p, value, strlen(value));
}

/* "Name: value"; the value may be empty, and is matched exactly. */
static void route_header(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	const char *colon = strchr(value, ':');
	struct gw_header_match *h;
	const char *v;

	if (!colon || !conf__is_token(value, (size_t)(colon - value))) {
		conf__error(p, p->line, "bad header '%s' for '%s' (want 'Name: value')", value, key);
		return;
	}
	v = colon + 1 + strspn(colon + 1, " \t");
	h = conf__grow(p, (void **)&r->headers, &r->n_headers, sizeof(*h));
	if (!h)
		return;
	h->name = route_lower(p, value, (size_t)(colon - value));
	h->value = conf__strdup(p, v);
}

/* "name=value"; either side free of '&', '=' in the name and spaces. */
static void route_query(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	const char *eq = strchr(value, '=');

	if (!eq || eq == value || strcspn(value, "& \t") != strlen(value)) {
		conf__error(p, p->line, "bad query '%s' for '%s' (want name=value)", value, key);
		return;
	}
	r->query_name = strndup(value, (size_t)(eq - value));
	r->query_value = conf__strdup(p, eq + 1);
	if (!r->query_name)
		p->oom = true;
}

static void route_service(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);

	r->service_line = p->line;	/* even if bad: no "has no service" too */
	if (!conf__is_name(value)) {
		conf__error(p, p->line, "bad service name '%s' for '%s'", value, key);
		return;
	}
	r->service_name = conf__strdup(p, value);
}

static void route_strip_prefix(struct conf_parser *p, const char *key, const char *value)
{
	if (!route_is_path(value)) {
		conf__error(p, p->line, "bad %s '%s' (must start with '/')", key, value);
		return;
	}
	route_cur(p)->strip_prefix = conf__strdup(p, value);
}

/* Each $N of the replacement must name a group the regex has. */
static int route_check_groups(struct conf_parser *p, pcre2_code *re, const char *to)
{
	uint32_t groups = 0;

	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
	for (const char *s = strchr(to, '$'); s; s = strchr(s + 1, '$')) {
		if (!isdigit((unsigned char)s[1]))
			continue;
		if (s[1] == '0' || (uint32_t)(s[1] - '0') > groups) {
			conf__error(p, p->line, "rewrite uses $%c but its regex has %u group%s",
				    s[1], groups, groups == 1 ? "" : "s");
			return -EINVAL;
		}
	}
	return 0;
}

/* "REGEX REPLACEMENT": split at the last space, as a replacement is a path
 * and has none while a regex may. */
static void route_rewrite(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	const char *sp = strrchr(value, ' ');
	char *src;
	pcre2_code *re;

	if (!sp || sp == value || !sp[1]) {
		conf__error(p, p->line, "bad %s '%s' (want 'REGEX REPLACEMENT')", key, value);
		return;
	}
	if (!(src = strndup(value, (size_t)(sp - value)))) {
		p->oom = true;
		return;
	}
	re = route_compile(p, key, src);
	if (!re || route_check_groups(p, re, sp + 1) < 0) {
		pcre2_code_free(re);
		free(src);
		return;
	}
	r->rewrite_re = re;
	r->rewrite_src = src;
	r->rewrite_to = conf__strdup(p, sp + 1);
}

/* Repeatable: every rule must admit. The same rule twice is a mistake,
 * and would share one bucket in shared memory anyway. */
static void route_rate_limit(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_route_conf *r = route_cur(p);
	struct gw_rate_limit_conf rl, *slot;

	if (conf__rate_limit(p, key, value, &rl) < 0)
		return;
	for (size_t i = 0; i < r->n_rate_limits; i++) {
		if (strcmp(r->rate_limits[i].spec, rl.spec) == 0) {
			conf__error(p, p->line, "duplicate rate_limit '%s' in route '%s' "
				    "(first at line %d)", rl.spec, r->name, r->rate_limits[i].line);
			goto err_free;
		}
	}
	slot = conf__grow(p, (void **)&r->rate_limits, &r->n_rate_limits, sizeof(*slot));
	if (!slot)
		goto err_free;
	*slot = rl;
	return;
err_free:
	free(rl.header);
	free(rl.spec);
}

/* Replaces the service's policy for this route, retry_non_idempotent
 * included (validate.c fills in a route that only sets the latter). */
static void route_retry(struct conf_parser *p, const char *key, const char *value)
{
	conf__retry(p, key, value, &route_cur(p)->retry);
}

static void route_retry_non_idempotent(struct conf_parser *p, const char *key, const char *value)
{
	conf__retry_non_idempotent(p, key, value, &route_cur(p)->retry);
}

/* Repeatable; checked after the [access] lists (worker/access.c). */
static void route_allow(struct conf_parser *p, const char *key, const char *value)
{
	conf__acl_add(p, key, value, &route_cur(p)->acl, false);
}

static void route_deny(struct conf_parser *p, const char *key, const char *value)
{
	conf__acl_add(p, key, value, &route_cur(p)->acl, true);
}

static void route_auth(struct conf_parser *p, const char *key, const char *value)
{
	conf__route_auth(p, key, value, route_cur(p));
}

static void route_scopes(struct conf_parser *p, const char *key, const char *value)
{
	conf__route_scopes(p, key, value, route_cur(p));
}

static void route_claims(struct conf_parser *p, const char *key, const char *value)
{
	conf__route_claims(p, key, value, route_cur(p));
}

static const struct conf_key route_keys[] = {
	{ "path", route_path, false },
	{ "methods", route_methods, false },
	{ "host", route_host, false },
	{ "header", route_header, true },
	{ "query", route_query, false },
	{ "service", route_service, false },
	{ "strip_prefix", route_strip_prefix, false },
	{ "rewrite", route_rewrite, false },
	{ "rate_limit", route_rate_limit, true },
	{ "retry", route_retry, false },
	{ "retry_non_idempotent", route_retry_non_idempotent, false },
	{ "allow", route_allow, true },
	{ "deny", route_deny, true },
	{ "auth", route_auth, false },
	{ "scopes", route_scopes, false },
	{ "claims", route_claims, true },
};
_Static_assert(CONF_ARRAY_SIZE(route_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__route_section = {
	.word = "route",
	.named = true,
	.begin = route_begin,
	.keys = route_keys,
	.n_keys = CONF_ARRAY_SIZE(route_keys),
};
