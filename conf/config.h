/* The configuration model: one immutable struct gw_config per loaded file.
 *
 * conf_load() parses an INI file with inih, validates every value and every
 * cross-reference, resolves instance host names (the master does this once at
 * load, so workers never resolve), compiles route regexes, and sorts routes
 * into match precedence. After it returns the config is read-only and shared
 * by every process forked from the master. */
#ifndef GW_CONF_CONFIG_H
#define GW_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "lib/log.h"

struct pcre2_real_code_8;	/* pcre2_code, kept opaque here */

/* A resolved socket address plus its text form "1.2.3.4:80" / "[::1]:80". */
struct gw_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
};

struct gw_listen_conf {
	struct gw_addr addr;
	int line;			/* config line, for messages */
};

struct gw_instance_conf {
	struct gw_addr addr;
	char *host;			/* name as written ("localhost:9001"), for logs */
	unsigned weight;		/* >= 1, default 1 */
	int line;
};

enum gw_balance {
	GW_BAL_ROUND_ROBIN = 0,		/* smooth weighted round robin */
	GW_BAL_LEAST_CONN,		/* fewest outstanding requests (weighted) */
	GW_BAL_P2C,			/* power of two choices on outstanding */
	GW_BAL_RANDOM,			/* weighted random */
	GW_BAL_HASH_IP,			/* consistent hash of client address */
	GW_BAL_HASH_HEADER,		/* consistent hash of a request header */
};

struct gw_service_conf {
	char *name;
	struct gw_instance_conf *instances;
	size_t n_instances;
	enum gw_balance balance;
	char *hash_header;		/* for GW_BAL_HASH_HEADER, lowercase; else NULL */
	uint64_t connect_timeout_ms;	/* default 1000 */
	uint64_t timeout_ms;		/* response head / between reads; default 30000 */
	unsigned keepalive;		/* idle upstream conns kept per instance per worker; default 32 */
	int line;
};

enum gw_path_kind {
	GW_PATH_EXACT = 0,		/* "= /x" */
	GW_PATH_REGEX,			/* "~ REGEX" */
	GW_PATH_PREFIX,			/* "/x": prefix on a segment boundary */
};

struct gw_header_match {
	char *name;			/* lowercase */
	char *value;			/* exact, case-sensitive */
};

struct gw_route_conf {
	char *name;
	enum gw_path_kind path_kind;
	char *path;			/* the literal prefix/exact path, or the regex source */
	int path_line;			/* line of the path key, for messages; 0 = none */
	struct pcre2_real_code_8 *path_re;	/* GW_PATH_REGEX only */
	uint32_t methods;		/* bit (1 << enum http_method); 0 = any */
	char **method_names;		/* HTTP_M_OTHER methods by name; NULL-terminated or NULL */
	char *host;			/* lowercase; "*.example.com" allowed; NULL = any */
	struct gw_header_match *headers;
	size_t n_headers;
	char *query_name;		/* "version" of "version=1"; NULL = none */
	char *query_value;		/* "1"; "" matches an empty value */
	char *service_name;
	int service_line;		/* line of the service key, for messages */
	size_t service;			/* index into gw_config.services */
	char *strip_prefix;		/* NULL = none */
	struct pcre2_real_code_8 *rewrite_re;	/* NULL = none */
	char *rewrite_src;		/* regex source text */
	char *rewrite_to;		/* replacement with $1..$9 */
	unsigned n_conditions;		/* methods + host + headers + query, for precedence */
	int line;
};

struct gw_config {
	char *path;			/* file it was loaded from */

	/* [gateway] */
	struct gw_listen_conf *listens;
	size_t n_listens;
	unsigned workers;		/* 0 = auto (one per CPU in the affinity mask) */
	bool pin_workers;		/* default true */
	char *access_log;		/* path, "stderr", or NULL for off */
	enum log_level log_level;	/* default info */
	uint64_t drain_timeout_ms;	/* default 30000 */
	uint64_t header_timeout_ms;	/* default 10000 */
	uint64_t idle_timeout_ms;	/* default 60000 */
	uint64_t max_header_bytes;	/* default 16384 */
	uint64_t max_body_bytes;	/* default 8 MiB; 0 = unlimited */

	struct gw_service_conf *services;
	size_t n_services;

	/* Routes in file order. */
	struct gw_route_conf *routes;
	size_t n_routes;
	/* Indexes into routes in match precedence: exact, regex, prefix (longer
	 * first), then more conditions first, then file order. First match wins. */
	size_t *route_order;
};

/* Load and validate <path>. On success returns 0 and *out. On failure
 * returns -EINVAL after writing one line "FILE:LINE: message" per error to
 * <diag>; warnings ("FILE:LINE: warning: ...", e.g. a shadowed route) go to
 * <diag> too and do not fail the load. Other -errno for I/O failures.
 * Master only, one load at a time: it may adjust inih's process-wide line
 * limits for the duration of the call. */
int conf_load(const char *path, FILE *diag, struct gw_config **out);

/* conf_load_stream() flags. */
#define CONF_NO_RESOLVE	0x1u	/* literal addresses only: a host name is an error
				 * and the resolver is never called (fuzzing) */

/* Like conf_load(), but read the INI text from <in> (left open) and use
 * <name> in messages and as cfg->path. <flags> is 0 or CONF_NO_RESOLVE.
 * <diag> may be NULL to discard messages. */
int conf_load_stream(FILE *in, const char *name, unsigned flags, FILE *diag,
		     struct gw_config **out);

/* Free everything conf_load() allocated. NULL is fine. */
void conf_free(struct gw_config *cfg);

/* Parse "250ms", "10s", "5m", "1h" (a bare number is seconds) into ms;
 * 0 or -EINVAL. */
int conf_parse_duration_ms(const char *text, uint64_t *out);

/* Parse "512", "16K", "8M", "1G" (binary multiples) into bytes; 0 or -EINVAL. */
int conf_parse_size(const char *text, uint64_t *out);

/* Parse "127.0.0.1:80", "[::1]:80", "*:80" (listen only) or "host:port"
 * (resolved with getaddrinfo) into <out>; 0 or -EINVAL / -ENOENT.
 * With <resolve_names> false a host name gives -ENOENT at once. */
int conf_parse_addr(const char *text, bool resolve_names, struct gw_addr *out);

#endif
