/* rate_limit = COUNT/PERIOD [burst=B] [by=ip|route|header:NAME|jwt:CLAIM]: one GCRA
 * rule of a route. COUNT requests per PERIOD refill a bucket of B.
 *
 * Each rule gets a canonical text, its spec, "COUNT/PERIODms burst=B
 * by=KIND[:name]". Shared memory keys a rule's state by its spec, so state
 * survives a reload exactly when the rule means the same thing: "10/min",
 * "10/60s" and "10/1m burst=10 by=ip" all become "10/60000ms burst=10
 * by=ip". */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

#define RL_MAX_COUNT 1000000
#define RL_MIN_PERIOD_MS 1000
#define RL_MAX_PERIOD_MS (24 * 60 * 60 * 1000ull)

/* GCRA's emission interval, PERIOD / COUNT, must be at least 1 µs; these
 * bounds guarantee it, so no rule needs checking. */
_Static_assert(RL_MAX_COUNT <= RL_MIN_PERIOD_MS * 1000, "rate limit interval below 1 microsecond");

enum { RL_BURST, RL_BY };

static const char *const rl_opts[] = { "burst", "by" };

/* The PERIOD of a rate: a unit name, "Nd" (days), or a duration. */
static int rl_period(const char *s, uint64_t *ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {
		{ "s", 1000 }, { "sec", 1000 }, { "second", 1000 },
		{ "m", 60000 }, { "min", 60000 }, { "minute", 60000 },
		{ "h", 3600000 }, { "hour", 3600000 },
		{ "d", RL_MAX_PERIOD_MS }, { "day", RL_MAX_PERIOD_MS },
	};
	size_t n = strspn(s, "0123456789");
	uint64_t days;
	char num[8];

	for (size_t i = 0; i < CONF_ARRAY_SIZE(units); i++) {
		if (strcmp(s, units[i].name) == 0) {
			*ms = units[i].ms;
			return 0;
		}
	}
	if (n && n < sizeof(num) && strcmp(s + n, "d") == 0) {
		memcpy(num, s, n);
		num[n] = '\0';
		if (conf__parse_uint(num, 0, 1000000, &days) < 0)
			return -EINVAL;
		*ms = days * RL_MAX_PERIOD_MS;
		return 0;
	}
	return conf_parse_duration_ms(s, ms);
}

/* The leading "COUNT/PERIOD" word into rl->count and rl->period_ms. */
static void rl_rate(struct conf_parser *p, const char *key, const char *text,
		    struct gw_rate_limit_conf *rl)
{
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : 0;
	char num[16];
	uint64_t ms;

	if (!slash || !n || !slash[1]) {
		conf__error(p, p->line, "bad rate '%s' for '%s' (want COUNT/PERIOD such as 10/min)",
			    text, key);
		return;
	}
	if (n < sizeof(num)) {
		memcpy(num, text, n);
		num[n] = '\0';
	}
	if (n >= sizeof(num) || conf__parse_uint(num, 1, RL_MAX_COUNT, &rl->count) < 0)
		conf__error(p, p->line, "bad count '%.*s' in rate '%s' for '%s' (want 1..%d)",
			    (int)n, text, text, key, RL_MAX_COUNT);
	if (rl_period(slash + 1, &ms) < 0)
		conf__error(p, p->line, "bad period '%s' in rate '%s' for '%s' (want s, min, h, d "
			    "or a duration such as 30s)", slash + 1, text, key);
	else if (ms < RL_MIN_PERIOD_MS || ms > RL_MAX_PERIOD_MS)
		conf__error(p, p->line, "period '%s' in rate '%s' for '%s' must be 1s..1d",
			    slash + 1, text, key);
	else
		rl->period_ms = ms;
}

/* A claim name: printable, no spaces (it sits in the rule's spec). */
static bool rl_claim_name(const char *name)
{
	if (!*name)
		return false;
	for (const char *c = name; *c; c++) {
		if (*c <= ' ' || *c == 0x7f)
			return false;
	}
	return true;
}

/* by=jwt:CLAIM: the claim's value in the verified token is the key. */
static void rl_by_jwt(struct conf_opts *o, const char *name, struct gw_rate_limit_conf *rl)
{
	if (!rl_claim_name(name))
		conf__error(o->p, o->p->line, "bad claim name '%s' for by= in '%s'", name, o->key);
	else if ((rl->header = conf__strdup(o->p, name)))
		rl->by = GW_RL_BY_JWT;
}

/* by=ip, by=route, by=consumer, by=header:NAME (a token, stored
 * lowercase) or by=jwt:CLAIM. */
static void rl_by(struct conf_opts *o, const char *val, struct gw_rate_limit_conf *rl)
{
	const char *name = strchr(val, ':') ? strchr(val, ':') + 1 : "";

	if (strcmp(val, "ip") == 0) {
		rl->by = GW_RL_BY_IP;
	} else if (strcmp(val, "route") == 0) {
		rl->by = GW_RL_BY_ROUTE;
	} else if (strcmp(val, "consumer") == 0) {
		rl->by = GW_RL_BY_CONSUMER;
	} else if (strncmp(val, "jwt:", 4) == 0) {
		rl_by_jwt(o, name, rl);
	} else if (strncmp(val, "header:", 7) != 0) {
		conf__error(o->p, o->p->line, "bad value '%s' for by= in '%s' (want ip, route, "
			    "consumer, header:NAME or jwt:CLAIM)", val, o->key);
	} else if (!conf__is_token(name, strlen(name))) {
		conf__error(o->p, o->p->line, "bad header name '%s' for by= in '%s'", name, o->key);
	} else if ((rl->header = conf__strdup(o->p, name))) {
		for (char *c = rl->header; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		rl->by = GW_RL_BY_HEADER;
	}
}

static void rl_opt(struct conf_opts *o, int i, const char *val, struct gw_rate_limit_conf *rl)
{
	switch (i) {
	case RL_BURST:
		conf__opt_uint(o, val, 1, RL_MAX_COUNT, &rl->burst);
		break;
	case RL_BY:
		rl_by(o, val, rl);
		break;
	default:
		break;		/* reported by conf__opt() */
	}
}

/* A big burst at a slow rate can take longer to refill than shared memory
 * can count (the interval rounded down to the µs, as the GCRA code does). */
static void rl_check_span(struct conf_parser *p, const char *key,
			  const struct gw_rate_limit_conf *rl)
{
	uint64_t interval_us = rl->period_ms * 1000 / rl->count;

	/* No overflow: burst <= 10^6 and the interval <= 8.64 * 10^10. */
	if (rl->burst * interval_us <= GW_RL_SPAN_MAX_US)
		return;
	conf__error(p, p->line, "'%s' burst=%" PRIu64 " at %" PRIu64 " per %" PRIu64 "ms takes "
		    "over 50 days to refill (want burst * period / count <= %" PRIu64 "us)", key,
		    rl->burst, rl->count, rl->period_ms, (uint64_t)GW_RL_SPAN_MAX_US);
}

/* rl->spec from the parsed fields; 0 or -ENOMEM. */
static int rl_spec(struct conf_parser *p, struct gw_rate_limit_conf *rl)
{
	static const char *const kinds[] = {
		[GW_RL_BY_IP] = "ip",
		[GW_RL_BY_HEADER] = "header:",
		[GW_RL_BY_ROUTE] = "route",
		[GW_RL_BY_JWT] = "jwt:",
		[GW_RL_BY_CONSUMER] = "consumer",
	};

	if (asprintf(&rl->spec, "%" PRIu64 "/%" PRIu64 "ms burst=%" PRIu64 " by=%s%s",
		     rl->count, rl->period_ms, rl->burst, kinds[rl->by],
		     rl->header ? rl->header : "") < 0) {
		rl->spec = NULL;
		p->oom = true;
		return -ENOMEM;
	}
	return 0;
}

int conf__rate_limit(struct conf_parser *p, const char *key, const char *value,
		     struct gw_rate_limit_conf *out)
{
	struct conf_opts o = CONF_OPTS(p, key, rl_opts);
	struct gw_rate_limit_conf rl = { .by = GW_RL_BY_IP };
	unsigned errors = p->n_errors;
	char *copy, *tok, *save = NULL;

	if (!(copy = conf__strdup(p, value)))
		return -ENOMEM;
	tok = strtok_r(copy, " \t", &save);
	if (!tok)
		conf__error(p, p->line, "empty value for '%s' (want COUNT/PERIOD and options)", key);
	else
		rl_rate(p, key, tok, &rl);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		const char *val = "";
		int i = conf__opt(&o, tok, &val);

		rl_opt(&o, i, val, &rl);
	}
	free(copy);
	if (!rl.burst)
		rl.burst = rl.count;
	if (p->n_errors == errors)
		rl_check_span(p, key, &rl);
	if (p->n_errors != errors || rl_spec(p, &rl) < 0) {
		free(rl.header);
		return p->n_errors != errors ? -EINVAL : -ENOMEM;
	}
	rl.line = p->line;
	*out = rl;
	return 0;
}
