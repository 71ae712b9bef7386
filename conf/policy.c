/* Upstream failure policies, and the option-list syntax every policy key
 * shares.
 *
 * An option list is words separated by spaces: an optional leading word
 * (retry's count, health's path, rate_limit's rate), then "name=value"
 * options in any order, each at most once. A policy parser reports every
 * bad word at p->line and stores into its output only when the whole value
 * was good, so a bad line leaves the defaults in place. Shared memory
 * counts milliseconds in 32 bits, so every policy duration is under 2^32
 * ms (about 49.7 days), and a breaker's under GW_BRK_PERIOD_MAX_MS.
 *
 * Outcome lists (breaker_on, retry's on=) are comma-separated names
 * (connect, timeout, reset, 5xx) and single status codes 500..599. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "conf/internal.h"

/* Report <tok> as unknown, listing the options <o> takes. */
static void policy_unknown(struct conf_opts *o, const char *tok)
{
	char want[160];
	size_t n = 0;

	want[0] = '\0';
	for (size_t i = 0; i < o->n_names && n < sizeof(want); i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s=", i ? ", " : "",
				      o->names[i]);
	conf__error(o->p, o->p->line, "unknown option '%s' for '%s' (want %s)", tok, o->key, want);
}

int conf__opt(struct conf_opts *o, const char *tok, const char **val)
{
	const char *eq = strchr(tok, '=');
	size_t len = eq ? (size_t)(eq - tok) : 0;

	for (size_t i = 0; eq && i < o->n_names; i++) {
		if (strlen(o->names[i]) != len || memcmp(o->names[i], tok, len) != 0)
			continue;
		if (o->seen & CONF_OPT_BIT(i)) {
			conf__error(o->p, o->p->line, "option %s= given twice in '%s'", o->names[i],
				    o->key);
			return -1;
		}
		o->seen |= CONF_OPT_BIT(i);
		o->opt = o->names[i];
		*val = eq + 1;
		return (int)i;
	}
	policy_unknown(o, tok);
	return -1;
}

int conf__opt_uint(struct conf_opts *o, const char *val, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	if (conf__parse_uint(val, min, max, out) < 0) {
		conf__error(o->p, o->p->line, "bad value '%s' for %s= in '%s' (want %" PRIu64 "..%"
			    PRIu64 ")", val, o->opt, o->key, min, max);
		return -EINVAL;
	}
	return 0;
}

int conf__opt_pct(struct conf_opts *o, const char *val, unsigned *out)
{
	size_t n = strlen(val);
	uint64_t pct;
	char num[8];

	if (n && val[n - 1] == '%')
		n--;
	if (n < sizeof(num)) {
		memcpy(num, val, n);
		num[n] = '\0';
		if (conf__parse_uint(num, 1, 100, &pct) == 0) {
			*out = (unsigned)pct;
			return 0;
		}
	}
	conf__error(o->p, o->p->line, "bad value '%s' for %s= in '%s' (want 1%%..100%%)",
		    val, o->opt, o->key);
	return -EINVAL;
}

int conf__opt_ms(struct conf_opts *o, const char *val, uint64_t min_ms, uint64_t max_ms,
		 uint64_t *out)
{
	uint64_t ms;

	if (conf_parse_duration_ms(val, &ms) < 0) {
		conf__error(o->p, o->p->line, "bad duration '%s' for %s= in '%s'", val, o->opt, o->key);
		return -EINVAL;
	}
	if (ms < min_ms) {
		if (min_ms == 1)
			conf__error(o->p, o->p->line, "%s= in '%s' must be more than 0", o->opt, o->key);
		else
			conf__error(o->p, o->p->line, "%s= in '%s' must be at least %" PRIu64 "ms",
				    o->opt, o->key, min_ms);
		return -EINVAL;
	}
	if (ms > max_ms) {
		conf__error(o->p, o->p->line, "%s= in '%s' must be at most %" PRIu64 "ms (about %"
			    PRIu64 " days)", o->opt, o->key, max_ms, max_ms / (24 * 3600 * 1000));
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

bool conf__opt_off_alone(struct conf_parser *p, const char *key, const char *rest)
{
	if (!rest)
		return true;
	conf__error(p, p->line, "'%s = off' takes no options", key);
	return false;
}

/* Outcome names of breaker_on and on=, besides single codes 500..599. */
static const struct {
	const char *name;
	uint32_t kind;
} policy_kinds[] = {
	{ "connect", GW_FAIL_CONNECT },
	{ "timeout", GW_FAIL_TIMEOUT },
	{ "reset", GW_FAIL_RESET },
	{ "5xx", GW_FAIL_5XX },
};

/* Add the outcome s[0..len) to <set>; -EINVAL if it is none. */
static int policy_fail_item(const char *s, size_t len, struct gw_fail_set *set)
{
	char code[4];
	uint64_t n;

	for (size_t i = 0; i < CONF_ARRAY_SIZE(policy_kinds); i++) {
		const char *name = policy_kinds[i].name;

		if (strlen(name) == len && strncasecmp(name, s, len) == 0) {
			set->kinds |= policy_kinds[i].kind;
			return 0;
		}
	}
	if (len != 3)
		return -EINVAL;
	memcpy(code, s, 3);
	code[3] = '\0';
	if (conf__parse_uint(code, 500, 599, &n) < 0)
		return -EINVAL;
	set->status[(n - 500) / 64] |= 1ull << ((n - 500) % 64);
	return 0;
}

int conf__fail_set(struct conf_parser *p, const char *what, const char *text,
		   struct gw_fail_set *out)
{
	struct gw_fail_set set = { 0 };
	const char *s = text;

	for (;;) {
		size_t len = strcspn(s, ",");
		size_t lead = strspn(s, " \t");
		size_t n = len > lead ? len - lead : 0;

		while (n && (s[lead + n - 1] == ' ' || s[lead + n - 1] == '\t'))
			n--;
		if (!n) {
			conf__error(p, p->line, "empty outcome in '%s' for %s", text, what);
			return -EINVAL;
		}
		if (policy_fail_item(s + lead, n, &set) < 0) {
			conf__error(p, p->line, "bad outcome '%.*s' for %s (want connect, timeout, "
				    "reset, 5xx or a status 500..599)", (int)n, s + lead, what);
			return -EINVAL;
		}
		if (!s[len])
			break;
		s += len + 1;
	}
	*out = set;
	return 0;
}

enum { BRK_FAILURES, BRK_RATIO, BRK_MIN_REQUESTS, BRK_WINDOW, BRK_OPEN, BRK_MAX_OPEN, BRK_PROBES };

static const char *const policy_breaker_opts[] = {
	"failures", "ratio", "min_requests", "window", "open", "max_open", "probes",
};

void conf__breaker_defaults(struct gw_breaker_conf *b)
{
	*b = (struct gw_breaker_conf){
		.mode = GW_BRK_OFF,
		.min_requests = 20,
		.window_ms = 10000,
		.open_ms = 30000,
		.max_open_ms = 300000,
		.probes = 1,
		.on = { .kinds = GW_FAIL_CONNECT | GW_FAIL_TIMEOUT | GW_FAIL_RESET | GW_FAIL_5XX },
	};
}

/* One breaker option; errors are counted in p->n_errors. */
static void policy_breaker_opt(struct conf_opts *o, int i, const char *val,
			       struct gw_breaker_conf *b)
{
	uint64_t n;

	switch (i) {
	case BRK_FAILURES:
		if (conf__opt_uint(o, val, 1, 1023, &n) == 0)
			b->failures = (unsigned)n;
		break;
	case BRK_RATIO:
		conf__opt_pct(o, val, &b->ratio_pct);
		break;
	case BRK_MIN_REQUESTS:
		if (conf__opt_uint(o, val, 1, 1023, &n) == 0)
			b->min_requests = (unsigned)n;
		break;
	case BRK_WINDOW:
		conf__opt_ms(o, val, 1, GW_BRK_PERIOD_MAX_MS, &b->window_ms);
		break;
	case BRK_OPEN:
		conf__opt_ms(o, val, 1, GW_BRK_PERIOD_MAX_MS, &b->open_ms);
		break;
	case BRK_MAX_OPEN:
		conf__opt_ms(o, val, 1, GW_BRK_PERIOD_MAX_MS, &b->max_open_ms);
		break;
	case BRK_PROBES:
		if (conf__opt_uint(o, val, 1, 63, &n) == 0)
			b->probes = (unsigned)n;
		break;
	default:
		break;		/* reported by conf__opt() */
	}
}

/* What no single breaker option can check. */
static void policy_breaker_check(struct conf_opts *o, struct gw_breaker_conf *b, bool values_ok)
{
	bool f = o->seen & CONF_OPT_BIT(BRK_FAILURES), r = o->seen & CONF_OPT_BIT(BRK_RATIO);

	if (!f && !r)
		conf__error(o->p, o->p->line, "'%s' needs failures=N or ratio=P%%", o->key);
	else if (f && r)
		conf__error(o->p, o->p->line, "'%s' takes failures= or ratio=, not both", o->key);
	else if (f && (o->seen & CONF_OPT_BIT(BRK_MIN_REQUESTS)))
		conf__error(o->p, o->p->line, "min_requests= in '%s' needs ratio=, not failures=",
			    o->key);
	b->mode = f ? GW_BRK_FAILURES : GW_BRK_RATIO;
	if (!(o->seen & CONF_OPT_BIT(BRK_MAX_OPEN)))
		b->max_open_ms = b->open_ms > 300000 ? b->open_ms : 300000;
	else if (values_ok && b->max_open_ms < b->open_ms)
		conf__error(o->p, o->p->line, "max_open= in '%s' (%" PRIu64 "ms) is shorter than "
			    "open= (%" PRIu64 "ms)", o->key, b->max_open_ms, b->open_ms);
}

int conf__breaker(struct conf_parser *p, const char *key, const char *value,
		  struct gw_breaker_conf *out)
{
	struct conf_opts o = CONF_OPTS(p, key, policy_breaker_opts);
	struct gw_breaker_conf b;
	unsigned errors = p->n_errors;
	char *copy, *tok, *save = NULL;

	conf__breaker_defaults(&b);
	b.on = out->on;
	b.on_line = out->on_line;
	if (!(copy = conf__strdup(p, value)))
		return -ENOMEM;
	tok = strtok_r(copy, " \t", &save);
	if (tok && strcmp(tok, "off") == 0) {
		conf__opt_off_alone(p, key, strtok_r(NULL, " \t", &save));
	} else {
		for (; tok; tok = strtok_r(NULL, " \t", &save)) {
			const char *val = "";
			int i = conf__opt(&o, tok, &val);

			policy_breaker_opt(&o, i, val, &b);
		}
		policy_breaker_check(&o, &b, p->n_errors == errors);
	}
	free(copy);
	if (p->n_errors != errors)
		return -EINVAL;
	b.line = p->line;
	*out = b;
	return 0;
}

enum { RTY_ON, RTY_BACKOFF, RTY_BUDGET, RTY_MIN_CONCURRENCY };

static const char *const policy_retry_opts[] = { "on", "backoff", "budget", "min_concurrency" };

void conf__retry_defaults(struct gw_retry_conf *r)
{
	*r = (struct gw_retry_conf){
		/* connect, reset, timeout, 502, 503, 504 */
		.on = {
			.kinds = GW_FAIL_CONNECT | GW_FAIL_RESET | GW_FAIL_TIMEOUT,
			.status = { 1ull << 2 | 1ull << 3 | 1ull << 4, 0 },
		},
		.backoff_min_ms = 25,
		.backoff_max_ms = 250,
		.budget_pct = 20,
		.min_concurrency = 3,
	};
}

/* "MIN..MAX", or one duration for both. */
static void policy_backoff(struct conf_opts *o, const char *val, struct gw_retry_conf *r)
{
	const char *dots = strstr(val, "..");
	uint64_t lo, hi;
	char *min;
	int rc;

	if (!dots) {
		if (conf__opt_ms(o, val, 1, UINT32_MAX, &lo) == 0)
			r->backoff_min_ms = r->backoff_max_ms = lo;
		return;
	}
	if (!(min = strndup(val, (size_t)(dots - val)))) {
		o->p->oom = true;
		return;
	}
	rc = conf__opt_ms(o, min, 1, UINT32_MAX, &lo);
	rc |= conf__opt_ms(o, dots + 2, 1, UINT32_MAX, &hi);
	free(min);
	if (rc)
		return;
	if (hi < lo) {
		conf__error(o->p, o->p->line, "bad value '%s' for backoff= in '%s' (want MIN..MAX "
			    "with MAX >= MIN)", val, o->key);
		return;
	}
	r->backoff_min_ms = lo;
	r->backoff_max_ms = hi;
}

static void policy_retry_opt(struct conf_opts *o, int i, const char *val, struct gw_retry_conf *r)
{
	char what[64];
	uint64_t n;

	switch (i) {
	case RTY_ON:
		snprintf(what, sizeof(what), "on= in '%s'", o->key);
		conf__fail_set(o->p, what, val, &r->on);
		break;
	case RTY_BACKOFF:
		policy_backoff(o, val, r);
		break;
	case RTY_BUDGET:
		conf__opt_pct(o, val, &r->budget_pct);
		break;
	case RTY_MIN_CONCURRENCY:
		if (conf__opt_uint(o, val, 0, 1000, &n) == 0)
			r->min_concurrency = (unsigned)n;
		break;
	default:
		break;		/* reported by conf__opt() */
	}
}

/* The leading word of retry: a count or "off" (which must stand alone). */
static void policy_retry_count(struct conf_parser *p, const char *key, const char *tok,
			       char **save, struct gw_retry_conf *r)
{
	uint64_t n;

	if (!tok)
		conf__error(p, p->line, "empty value for '%s' (want a count 0..10 and options, or off)",
			    key);
	else if (strcmp(tok, "off") == 0)
		conf__opt_off_alone(p, key, strtok_r(NULL, " \t", save));
	else if (conf__parse_uint(tok, 0, 10, &n) < 0)
		conf__error(p, p->line, "bad retry count '%s' for '%s' (want 0..10 or off)", tok, key);
	else
		r->attempts = (unsigned)n;
}

int conf__retry(struct conf_parser *p, const char *key, const char *value,
		struct gw_retry_conf *out)
{
	struct conf_opts o = CONF_OPTS(p, key, policy_retry_opts);
	struct gw_retry_conf r;
	unsigned errors = p->n_errors;
	char *copy, *tok, *save = NULL;

	conf__retry_defaults(&r);
	r.non_idempotent = out->non_idempotent;
	r.non_idempotent_line = out->non_idempotent_line;
	if (!(copy = conf__strdup(p, value)))
		return -ENOMEM;
	policy_retry_count(p, key, strtok_r(copy, " \t", &save), &save, &r);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		const char *val = "";
		int i = conf__opt(&o, tok, &val);

		policy_retry_opt(&o, i, val, &r);
	}
	free(copy);
	if (p->n_errors != errors)
		return -EINVAL;
	r.line = p->line;
	*out = r;
	return 0;
}

int conf__retry_non_idempotent(struct conf_parser *p, const char *key, const char *value,
			       struct gw_retry_conf *out)
{
	if (conf__parse_bool(value, &out->non_idempotent) < 0) {
		conf__error(p, p->line, "bad value '%s' for '%s' (want yes or no)", value, key);
		return -EINVAL;
	}
	out->non_idempotent_line = p->line;
	return 0;
}
