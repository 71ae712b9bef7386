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
#define CONF_MAX_KEYS 16

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

/* Set the [gateway] defaults in a fresh config. */
void conf__gateway_defaults(struct gw_config *cfg);

/* The service named <name>, or NULL (first one if duplicated). */
struct gw_service_conf *conf__service_find(struct gw_config *cfg, const char *name);

/* Free what one service or route owns (not the struct itself). */
void conf__service_release(struct gw_service_conf *svc);
void conf__route_release(struct gw_route_conf *r);

/* Check what no single key can: required keys, references, counts. Reports
 * every problem and fills each route's service index. */
void conf__validate(struct conf_parser *p);

/* Fill cfg->route_order and warn about routes that can never match.
 * Needs a config that validated cleanly. 0 or -ENOMEM. */
int conf__routes_order(struct conf_parser *p);

#endif
