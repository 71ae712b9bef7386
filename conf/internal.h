/* Private to the conf/ sources: the parser state the loader files share.
 *
 * load.c drives inih and owns struct conf_parser; each section type
 * (gateway.c, service.c, routes.c) contributes a struct conf_section with a
 * table of keys; validate.c and order.c run once the whole file is read.
 * Errors never stop the load early: every one is printed and counted, and
 * conf_load_stream() fails at the end if the count is not zero. */
#ifndef GW_CONF_INTERNAL_H
#define GW_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/config.h"

#define CONF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest accepted line, in bytes, without its newline. */
#define CONF_MAX_LINE 16384

/* Most keys one section type may have (size of conf_parser.seen). */
#define CONF_MAX_KEYS 32

struct conf_parser;

/* One key of a section. <parse> reports its own errors through
 * conf__error() at p->line and stores into the section's object. */
struct conf_key {
	const char *name;
	void (*parse)(struct conf_parser *p, const char *key, const char *value);
	bool repeatable;		/* else a second occurrence is an error */
};

/* A section type: "[word]" or "[word NAME]". */
struct conf_section {
	const char *word;
	bool named;
	/* Called at the header line with the validated name ("" if unnamed).
	 * Creates the object keys are stored into and sets p->cur; on failure
	 * it sets p->skip so the section's keys are ignored. */
	void (*begin)(struct conf_parser *p, const char *name);
	const struct conf_key *keys;
	size_t n_keys;
};

struct conf_parser {
	struct gw_config *cfg;
	const char *name;		/* file name used in messages */
	FILE *diag;			/* NULL = discard messages */
	unsigned flags;			/* CONF_NO_RESOLVE */
	unsigned n_errors;
	bool oom;			/* an allocation failed; the load fails with -ENOMEM */
	int read_err;			/* errno of a failed read, 0 if none */

	/* The section being read. sect == NULL && !skip: before any header. */
	const struct conf_section *sect;
	char *sect_name;		/* its name, for messages; NULL if unnamed */
	bool skip;			/* bad header: ignore keys until the next one */
	size_t cur;			/* index of the service or route being filled */
	int seen[CONF_MAX_KEYS];	/* line each single key was set on, 0 = unset */
	int gateway_line;		/* first [gateway] header, 0 if none */
	int access_line;		/* first [access] header, 0 if none */
	int admin_line;			/* last admin_listen key, 0 if none */
	int apikeys_line;		/* first [apikeys] header, 0 if none */

	/* The line reader (load.c). */
	FILE *in;
	int line;			/* physical line being processed, from 1 */
	char *raw;			/* getline() buffer */
	size_t raw_cap;
	const char *text;		/* what inih gets for this line */
	size_t text_len;
	size_t text_pos;		/* bytes of text already handed to inih */
	bool key_line;			/* text is a key line inih must call us for */
	bool handled;			/* ... and it did */
};

extern const struct conf_section conf__gateway_section;
extern const struct conf_section conf__service_section;
extern const struct conf_section conf__route_section;
extern const struct conf_section conf__access_section;
extern const struct conf_section conf__jwt_section;
extern const struct conf_section conf__tls_section;
extern const struct conf_section conf__apikeys_section;

/* Report an error at <line> of the file being loaded (printf format). */
void conf__error(struct conf_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report a warning at <line>; warnings never fail the load. */
void conf__warn(struct conf_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* strdup() that records an allocation failure in <p>; NULL then. */
char *conf__strdup(struct conf_parser *p, const char *s);

/* Append one zeroed element of <size> bytes to the array *<arr> of *<n>
 * elements, growing it geometrically (its capacity is implied by *n: the
 * next power of two). Returns the new element, or NULL after recording an
 * allocation failure in <p>. */
void *conf__grow(struct conf_parser *p, void **arr, size_t *n, size_t size);

/* True when <s> is a non-empty section name: [A-Za-z0-9._-]+. */
bool conf__is_name(const char *s);

/* True when s[0..len) is a non-empty HTTP token (RFC 9110 tchar). */
bool conf__is_token(const char *s, size_t len);

/* Parse a whole decimal string within [min, max]; 0 or -EINVAL. */
int conf__parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Parse yes/no/true/false/on/off/1/0 (any case); 0 or -EINVAL. */
int conf__parse_bool(const char *text, bool *out);

/* Parse duration <value> of <key> into *out (ms), reporting a bad one at
 * p->line; 0 is refused unless <zero_ok>. 0 or -EINVAL. */
int conf__duration(struct conf_parser *p, const char *key, const char *value,
		   bool zero_ok, uint64_t *out);

/* Parse size <value> of <key> into *out (bytes), which must be within
 * [min, max]; reports at p->line. 0 or -EINVAL. */
int conf__size(struct conf_parser *p, const char *key, const char *value,
	       uint64_t min, uint64_t max, uint64_t *out);

/* Port of a parsed address, in host order. */
unsigned conf__addr_port(const struct gw_addr *a);

/* Parse address <text> for <key> with conf_parse_addr() (resolving names
 * unless CONF_NO_RESOLVE) and report a failure at p->line; 0 or -errno. */
int conf__addr(struct conf_parser *p, const char *key, const char *text,
	       struct gw_addr *out);

/* [gateway] hardening keys (conf/limits.c): limits, timeouts, user. */
void conf__gateway_max_headers(struct conf_parser *p, const char *key, const char *value);
void conf__gateway_max_request_line(struct conf_parser *p, const char *key, const char *value);
void conf__gateway_client_body_timeout(struct conf_parser *p, const char *key,
				       const char *value);
void conf__gateway_client_body_min_rate(struct conf_parser *p, const char *key,
					const char *value);
void conf__gateway_send_timeout(struct conf_parser *p, const char *key, const char *value);
void conf__gateway_max_conns_per_ip(struct conf_parser *p, const char *key, const char *value);
void conf__gateway_user(struct conf_parser *p, const char *key, const char *value);
void conf__gateway_group(struct conf_parser *p, const char *key, const char *value);
void conf__limits_defaults(struct gw_config *cfg);

/* Set the [gateway] defaults in a fresh config; 0 or -ENOMEM. */
int conf__gateway_defaults(struct gw_config *cfg);

/* An option list being parsed: the "name=value" words after a policy
 * key's leading word, each name at most once (policy.c). */
struct conf_opts {
	struct conf_parser *p;
	const char *key;		/* the config key, for messages: "breaker" */
	const char *const *names;	/* the options it takes, without '=' */
	size_t n_names;			/* at most 32 */
	unsigned seen;			/* bit i set: names[i] was given */
	const char *opt;		/* name of the option being parsed */
};

#define CONF_OPTS(p, key, names) { (p), (key), (names), CONF_ARRAY_SIZE(names), 0, NULL }
#define CONF_OPT_BIT(i) (1u << (i))

/* Look up the word <tok> "name=value": its index in o->names with *val
 * pointing after the '=', or -1 after reporting an unknown option (listing
 * the valid ones) or a repeated one. */
int conf__opt(struct conf_opts *o, const char *tok, const char **val);

/* Option values of o->opt, each reported at p->line; 0 or -EINVAL. A whole
 * number in [min, max]; a percentage 1..100 with or without '%'; a duration
 * in [min_ms, max_ms], min_ms >= 1. */
int conf__opt_uint(struct conf_opts *o, const char *val, uint64_t min, uint64_t max,
		   uint64_t *out);
int conf__opt_pct(struct conf_opts *o, const char *val, unsigned *out);
int conf__opt_ms(struct conf_opts *o, const char *val, uint64_t min_ms, uint64_t max_ms,
		 uint64_t *out);

/* "KEY = off" takes nothing after it: true when <rest> (the word after
 * "off") is NULL, else false after reporting it. */
bool conf__opt_off_alone(struct conf_parser *p, const char *key, const char *rest);

/* Policy values (policy.c, health.c, rate_limit.c). Each parses the whole
 * <value> of <key>, reports every problem at p->line, and fills *out only
 * when the value is good: 0, -EINVAL, or -ENOMEM (recorded in p->oom). */

/* A comma-separated outcome list: connect, timeout, reset, 5xx, 500..599.
 * <what> names it in messages: "'breaker_on'", "on= in 'retry'". */
int conf__fail_set(struct conf_parser *p, const char *what, const char *text,
		   struct gw_fail_set *out);

void conf__breaker_defaults(struct gw_breaker_conf *b);
/* Keeps out->on and out->on_line (breaker_on is its own key). */
int conf__breaker(struct conf_parser *p, const char *key, const char *value,
		  struct gw_breaker_conf *out);

void conf__retry_defaults(struct gw_retry_conf *r);
/* Keeps out->non_idempotent and its line (retry_non_idempotent). */
int conf__retry(struct conf_parser *p, const char *key, const char *value,
		struct gw_retry_conf *out);
/* retry_non_idempotent: a boolean into out->non_idempotent and its line. */
int conf__retry_non_idempotent(struct conf_parser *p, const char *key, const char *value,
			       struct gw_retry_conf *out);

void conf__health_defaults(struct gw_health_conf *h);
/* Frees out->path when it replaces it. */
int conf__health(struct conf_parser *p, const char *key, const char *value,
		 struct gw_health_conf *out);

/* Fills a whole rule, out->header and out->spec included (the caller's to
 * free); *out is untouched on failure. */
int conf__rate_limit(struct conf_parser *p, const char *key, const char *value,
		     struct gw_rate_limit_conf *out);

/* Add the CIDRs of <value> (space-separated, at least one) to <acl> as
 * allow or <deny> entries, reporting bad ones and a prefix the list holds
 * already (an error with the opposite verdict, a warning with the same
 * one) at p->line (access.c). */
void conf__acl_add(struct conf_parser *p, const char *key, const char *value,
		   struct gw_acl_conf *acl, bool deny);

/* Free what an access list owns. */
void conf__acl_release(struct gw_acl_conf *acl);

/* The service named <name>, or NULL (first one if duplicated). */
struct gw_service_conf *conf__service_find(struct gw_config *cfg, const char *name);

/* Free what one service or route owns (not the struct itself). */
void conf__service_release(struct gw_service_conf *svc);
void conf__route_release(struct gw_route_conf *r);

/* [jwt NAME] sections and the route keys that use them (jwt.c). */
void conf__jwt_release(struct gw_jwt_conf *j);
struct gw_jwt_conf *conf__jwt_find(struct gw_config *cfg, const char *name);
/* auth = jwt:NAME; scopes = A B; claims = NAME=VALUE ... (repeatable). */
void conf__route_auth(struct conf_parser *p, const char *key, const char *value,
		      struct gw_route_conf *r);
void conf__route_scopes(struct conf_parser *p, const char *key, const char *value,
			struct gw_route_conf *r);
void conf__route_claims(struct conf_parser *p, const char *key, const char *value,
			struct gw_route_conf *r);
/* Required [jwt] keys, and each route's auth reference (fills r->jwt). */
void conf__validate_jwt(struct conf_parser *p);

/* <value> as a path: absolute, or relative to the config file's
 * directory. NULL after recording an allocation failure. */
char *conf__path(struct conf_parser *p, const char *value);

/* Add a listen address (gateway.c); <tls> for [tls] listen. */
void conf__listen_add(struct conf_parser *p, const char *key, const char *value, bool tls);

/* [tls] (tls.c): free what it owns; check it and build its contexts once
 * the whole file is read. */
void conf__tls_release(struct gw_tls_conf *t);
void conf__validate_tls(struct conf_parser *p);
/* A service's tls keys (tls.c): free; check and build its client context. */
void conf__upstream_tls_release(struct gw_upstream_tls_conf *t);
void conf__validate_upstream_tls(struct conf_parser *p, struct gw_service_conf *svc);
/* [apikeys] (apikeys.c): free what it owns; check it and the routes that
 * use it (auth = apikey, by=consumer). */
void conf__apikeys_release(struct gw_config *cfg);
void conf__validate_apikeys(struct conf_parser *p);

/* Check what no single key can: required keys, references, counts. Reports
 * every problem and fills each route's service index. */
void conf__validate(struct conf_parser *p);

/* Fill cfg->route_order and warn about routes that can never match.
 * Needs a config that validated cleanly. 0 or -ENOMEM. */
int conf__routes_order(struct conf_parser *p);

#endif
