/* health = /PATH [interval=D] [timeout=D] [rise=N] [fall=N]: the active
 * checks of a service's instances. Parsed with the option-list syntax of
 * policy.c; the probe itself is a GET of PATH on each instance, so PATH is
 * checked as an origin-form request target here. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

enum { HC_INTERVAL, HC_TIMEOUT, HC_RISE, HC_FALL };

static const char *const health_opts[] = { "interval", "timeout", "rise", "fall" };

void conf__health_defaults(struct gw_health_conf *h)
{
	*h = (struct gw_health_conf){
		.interval_ms = 2000,
		.timeout_ms = 1000,
		.rise = 2,
		.fall = 3,
	};
}

/* An origin-form request target (RFC 9112 §3.2.1): '/' first, then visible
 * ASCII without '#'; a query is allowed. */
static bool health_is_origin_form(const char *s)
{
	if (*s != '/')
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch <= ' ' || ch >= 0x7f || ch == '#')
			return false;
	}
	return true;
}

static void health_opt(struct conf_opts *o, int i, const char *val, struct gw_health_conf *h)
{
	uint64_t n;

	switch (i) {
	case HC_INTERVAL:
		conf__opt_ms(o, val, 100, UINT32_MAX, &h->interval_ms);
		break;
	case HC_TIMEOUT:
		conf__opt_ms(o, val, 1, UINT32_MAX, &h->timeout_ms);
		break;
	case HC_RISE:
		if (conf__opt_uint(o, val, 1, 100, &n) == 0)
			h->rise = (unsigned)n;
		break;
	case HC_FALL:
		if (conf__opt_uint(o, val, 1, 100, &n) == 0)
			h->fall = (unsigned)n;
		break;
	default:
		break;		/* reported by conf__opt() */
	}
}

/* The leading word of health: a path, or "off" (which must stand alone).
 * True when it is a path and options may follow. */
static bool health_path(struct conf_parser *p, const char *key, const char *tok, char **save)
{
	if (!tok)
		conf__error(p, p->line, "empty value for '%s' (want /PATH and options, or off)", key);
	else if (strcmp(tok, "off") == 0)
		conf__opt_off_alone(p, key, strtok_r(NULL, " \t", save));
	else if (!health_is_origin_form(tok))
		conf__error(p, p->line, "bad path '%s' for '%s' (want an origin-form path such as "
			    "/healthz, or off)", tok, key);
	else
		return true;
	return false;
}

int conf__health(struct conf_parser *p, const char *key, const char *value,
		 struct gw_health_conf *out)
{
	struct conf_opts o = CONF_OPTS(p, key, health_opts);
	struct gw_health_conf h;
	unsigned errors = p->n_errors;
	char *copy, *path, *tok, *save = NULL;
	bool on;

	conf__health_defaults(&h);
	if (!(copy = conf__strdup(p, value)))
		return -ENOMEM;
	path = strtok_r(copy, " \t", &save);
	on = health_path(p, key, path, &save);
	while (on && (tok = strtok_r(NULL, " \t", &save))) {
		const char *val = "";
		int i = conf__opt(&o, tok, &val);

		health_opt(&o, i, val, &h);
	}
	if (p->n_errors == errors && h.timeout_ms > h.interval_ms)
		conf__error(p, p->line, "'%s' timeout (%" PRIu64 "ms) must not be longer than its "
			    "interval (%" PRIu64 "ms)", key, h.timeout_ms, h.interval_ms);
	if (p->n_errors == errors && on)
		h.path = conf__strdup(p, path);
	free(copy);
	if (p->n_errors != errors)
		return -EINVAL;
	if (on && !h.path)
		return -ENOMEM;
	free(out->path);
	h.line = p->line;
	*out = h;
	return 0;
}
