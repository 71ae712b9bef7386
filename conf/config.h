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

#include "lib/cidr.h"
#include "lib/log.h"

struct pcre2_real_code_8;	/* pcre2_code, kept opaque here */
struct jwks;			/* auth/jwks.h, kept opaque here */
struct tls_server;		/* tls/ctx.h, kept opaque here */
struct tls_client;		/* tls/client.h, kept opaque here */
struct keystore;		/* auth/keystore.h, kept opaque here */

/* A resolved socket address plus its text form "1.2.3.4:80" / "[::1]:80". */
struct gw_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
};

struct gw_listen_conf {
	struct gw_addr addr;
	bool tls;			/* a [tls] listen: handshake first */
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

/* Which upstream outcomes a policy reacts to (breaker_on, retry on=). */
#define GW_FAIL_CONNECT	0x1u	/* connect refused, unreachable or timed out */
#define GW_FAIL_TIMEOUT	0x2u	/* no response head (or no body bytes) in time */
#define GW_FAIL_RESET	0x4u	/* connection reset or closed before a response head */
#define GW_FAIL_5XX	0x8u	/* any 500..599 response */

struct gw_fail_set {
	uint32_t kinds;			/* GW_FAIL_* */
	uint64_t status[2];		/* bit (code - 500) for single codes 500..599 */
};

/* True when <set> covers an outcome of <kind> (one GW_FAIL_* bit, or 0 for
 * "a response arrived") with response <status> (0 when none arrived). */
static inline bool gw_fail_set_has(const struct gw_fail_set *set, uint32_t kind,
				   unsigned status)
{
	if (kind)
		return (set->kinds & kind) != 0;
	if (status < 500 || status > 599)
		return false;
	if (set->kinds & GW_FAIL_5XX)
		return true;
	return (set->status[(status - 500) / 64] >> ((status - 500) % 64)) & 1u;
}

enum gw_breaker_mode {
	GW_BRK_OFF = 0,			/* no breaker line */
	GW_BRK_FAILURES,		/* trip on <failures> failures in <window> */
	GW_BRK_RATIO,			/* trip on ratio_pct% failures once min_requests seen */
};

/* Longest breaker window, open and max_open. The breaker word in shared
 * memory keeps 32-bit millisecond times and needs differences below 2^31;
 * shm/breaker.h's BRK_PERIOD_MAX_MS must not be smaller. */
#define GW_BRK_PERIOD_MAX_MS (1u << 30)

/* "breaker = failures=5 window=10s open=30s probes=1 [max_open=5m]"
 * or      "breaker = ratio=50% min_requests=20 window=10s open=30s probes=1" */
struct gw_breaker_conf {
	enum gw_breaker_mode mode;
	unsigned failures;		/* 1..1023; FAILURES mode */
	unsigned ratio_pct;		/* 1..100; RATIO mode */
	unsigned min_requests;		/* 1..1023; RATIO mode, default 20 */
	uint64_t window_ms;		/* default 10000 */
	uint64_t open_ms;		/* first open period; default 30000 */
	uint64_t max_open_ms;		/* doubling cap; default max(300000, open_ms) */
	unsigned probes;		/* concurrent half-open probes, 1..63; default 1 */
	struct gw_fail_set on;		/* breaker_on; default connect,timeout,reset,5xx */
	int on_line;			/* of the breaker_on key; 0 = not given */
	int line;			/* of the breaker key; 0 = none */
};

#define GW_RETRY_MAX 10u		/* most retries after the first try */

/* "retry = 2 on=connect,timeout,502,503,504 backoff=25ms..250ms budget=20%" */
struct gw_retry_conf {
	unsigned attempts;		/* retries after the first try, 0..10; 0 = off */
	struct gw_fail_set on;		/* default connect,reset,timeout,502,503,504 */
	uint64_t backoff_min_ms;	/* full-jitter base; default 25 */
	uint64_t backoff_max_ms;	/* cap; default 250 */
	unsigned budget_pct;		/* retries in flight <= this % of requests in flight; default 20 */
	unsigned min_concurrency;	/* retries always allowed below this many in flight; default 3 */
	bool non_idempotent;		/* retry_non_idempotent = yes */
	int non_idempotent_line;	/* of retry_non_idempotent; 0 = not given here */
	int line;			/* of the retry key; 0 = not set here. On a route
					 * with retry_non_idempotent but no retry, the
					 * loader copies the service's policy here and sets
					 * line to non_idempotent_line. */
};

/* "health = /healthz interval=2s timeout=1s rise=2 fall=3" */
struct gw_health_conf {
	char *path;			/* origin-form path; NULL = no active checks */
	uint64_t interval_ms;		/* default 2000 */
	uint64_t timeout_ms;		/* default 1000, <= interval */
	unsigned rise;			/* successes to mark up, 1..100; default 2 */
	unsigned fall;			/* failures to mark down, 1..100; default 3 */
	int line;
};

/* A service's "tls = yes": upstream connections speak TLS. */
struct gw_upstream_tls_conf {
	bool on;
	bool verify;			/* tls_verify; default yes */
	int verify_line;		/* 0 = not given (then yes) */
	char *sni;			/* tls_sni; default the first instance's host
					 * name as written (none for an address) */
	char *ca;			/* tls_ca; NULL = the system store */
	struct tls_client *client;	/* built at load when on; owned */
	int line;			/* of the tls key; 0 = not given */
	int option_line;		/* first tls_* key, for "needs tls = yes" */
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
	struct gw_breaker_conf breaker;
	struct gw_retry_conf retry;	/* attempts 0 = no retries (the default) */
	struct gw_health_conf health;
	struct gw_upstream_tls_conf tls;
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

enum gw_rl_by {
	GW_RL_BY_IP = 0,		/* the client's address */
	GW_RL_BY_HEADER,		/* a request header's value (absent: one shared key) */
	GW_RL_BY_ROUTE,			/* one bucket for the whole route */
	GW_RL_BY_JWT,			/* a claim of the verified token (absent: one shared key) */
	GW_RL_BY_CONSUMER,		/* the API key's consumer (none: one shared key) */
};

/* Longest time a full bucket takes to refill, burst * (period / count) in
 * µs with the interval rounded down to the µs (about 50 days). The GCRA
 * state in shared memory keeps 48-bit times; shm/rl.h's RL_SPAN_MAX_US
 * must not be smaller. */
#define GW_RL_SPAN_MAX_US (1ull << 42)

/* "rate_limit = 10/min burst=5 by=ip": a bucket of <burst> requests
 * refilled at <count> per <period_ms>, GCRA. */
struct gw_rate_limit_conf {
	uint64_t count;			/* 1..1000000 */
	uint64_t period_ms;		/* 1s..1d; from "s", "min", "h", "d" or a duration */
	uint64_t burst;			/* bucket size, 1..1000000; default count */
	enum gw_rl_by by;
	char *header;			/* BY_HEADER: the header name, lowercase;
					 * BY_JWT: the claim name, as written */
	char *spec;			/* canonical text "10/60000ms burst=5 by=ip"
					 * (by=header:NAME, by=route): the rule's
					 * identity in shm across reloads */
	int line;
};

/* One access-list entry: a prefix of "allow = ..." or "deny = ...". */
struct gw_acl_entry {
	struct cidr prefix;		/* host bits zero; mapped IPv6 folded to IPv4 */
	bool deny;
	int line;
};

/* An access list: the longest prefix covering the client decides; when
 * none does, the client is denied if has_allow, else allowed. An empty
 * list (n == 0) admits everyone. */
struct gw_acl_conf {
	struct gw_acl_entry *entries;	/* in file order, no prefix twice */
	size_t n;
	bool has_allow;			/* some entry allows */
};

/* forward_claims: "sub:X-User-Id" puts the string claim "sub" in the
 * upstream request's X-User-Id header (any client-sent copy is dropped). */
struct gw_forward_claim {
	char *claim;
	char *header;			/* as written, for the upstream head */
	char *header_lower;		/* for matching the client's fields */
};

/* [jwt NAME]: how a route with "auth = jwt:NAME" verifies bearer tokens
 * (auth/jwt.h). The key set is parsed from the file at load, so a reload
 * re-reads it. */
struct gw_jwt_conf {
	char *name;
	char *issuer;			/* exact "iss"; NULL = not checked */
	char *audience;			/* in "aud"; NULL = not checked */
	char *jwks_path;		/* as resolved (relative to the config's directory) */
	struct jwks *keys;		/* owned; NULL with jwks_url (the master fetches) */
	char *jwks_url;			/* https://...; NULL with jwks (exactly one is set) */
	char *jwks_ca;			/* CA file for jwks_url; NULL = the system's CAs */
	uint64_t jwks_refresh_ms;	/* fetch again this long after a good fetch */
	uint64_t jwks_refresh_min_ms;	/* at most one kid-triggered refresh per this */
	uint64_t jwks_timeout_ms;	/* a whole fetch, connect to last byte */
	unsigned jwks_slot;		/* shm/jwks.h slot, set by the master before
					 * forking the workers (master/jwksfetch.c) */
	uint32_t cache;			/* verified tokens kept per worker; 0 = off */
	const char *url_opt;		/* a jwks_url-only key set (for its error), or NULL */
	int url_opt_line;
	uint32_t algs;			/* JWT_ALG_BIT() set (auth/jwt.h) */
	uint32_t leeway_s;		/* clock skew allowed on exp/nbf/iat */
	struct gw_forward_claim *forward;
	size_t n_forward;
	int line;
};

#define GW_JWT_URL_MAX	8u		/* sections with jwks_url (JWKSR_SLOTS) */
#define GW_JWT_CACHE_MAX	(1u << 20)	/* entries (JWTC_CAPACITY_MAX) */

/* A route's "claims = role=admin": claim <name> must equal <value>
 * (jwt_claim_equals()). */
struct gw_claim_match {
	char *name;
	char *value;
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
	struct gw_rate_limit_conf *rate_limits;	/* every one must admit */
	size_t n_rate_limits;
	struct gw_retry_conf retry;	/* line 0: use the service's */
	struct gw_acl_conf acl;		/* allow/deny; applies after cfg->access */
	/* auth = jwt:NAME; scopes; claims. */
	char *auth_name;		/* NAME of "jwt:NAME"; NULL = no token accepted */
	bool auth_apikey;		/* "apikey" in auth: an API key is accepted */
	int auth_line;			/* line of the auth key; 0 = none */
	size_t jwt;			/* index into gw_config.jwts when auth_name */
	char *scopes;			/* required, space-separated; NULL = none */
	int scopes_line;
	struct gw_claim_match *claims;	/* every one must match */
	size_t n_claims;
	int claims_line;		/* first claims key; 0 = none */
	int line;
};

/* [tls]: "cert = CHAIN.pem KEY.pem", repeatable; the first is the default
 * when SNI names none of them. */
struct gw_tls_cert_conf {
	char *cert_path;		/* resolved against the config's directory */
	char *key_path;
	int line;
};

enum gw_client_cert {
	GW_CLIENT_CERT_OFF = 0,		/* no certificate asked for */
	GW_CLIENT_CERT_OPTIONAL,	/* asked for; none is fine, a bad one is not */
	GW_CLIENT_CERT_REQUIRE,		/* a valid one or client_cert_status */
};

struct gw_tls_conf {
	struct gw_tls_cert_conf *certs;
	size_t n_certs;
	bool tls13_only;		/* min_version = TLSv1.3 (else TLSv1.2) */
	char *client_ca;		/* PEM bundle; NULL = no mTLS */
	int client_ca_line;
	enum gw_client_cert client_cert;
	unsigned client_cert_status;	/* 400 (default) or 403 on a failed check */
	char *client_subject_header;	/* default X-Client-Subject */
	char *client_subject_lower;	/* the same, lowercase, for matching */
	bool redirect_http;		/* plain listeners answer 308 to https */
	char *hsts;			/* Strict-Transport-Security value; NULL = none */
	struct tls_server *server;	/* built at load when a TLS listen exists; owned */
	int line;			/* the [tls] header; 0 = no section */
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
	uint64_t shm_size;		/* shared segment bytes; default 64 MiB, 8M..4G */
	char *control_path;		/* gatewayctl's Unix socket; default
					 * /run/gatewayd.sock; NULL = "off" */
	struct gw_addr admin_addr;	/* admin_listen; default 127.0.0.1:9901 */
	bool admin_enabled;		/* false for admin_listen = off */
	char *admin_token;		/* bearer token for registry writes; NULL = none
					 * (registry writes are then refused) */
	/* Hardening (conf/limits.c, docs/http.md "Limits"). */
	unsigned max_headers;		/* header fields per request; default 100 (431) */
	uint64_t max_request_line;	/* request-line bytes; default 8192 (414) */
	uint64_t client_body_timeout_ms;	/* between two reads of a request body;
						 * default 60000 */
	uint64_t client_body_min_rate;	/* bytes/s a body upload must average after its
					 * first client_body_timeout; default 1024, 0 = off */
	uint64_t send_timeout_ms;	/* between two writes to a client that is not
					 * reading; default 60000 */
	unsigned max_conns_per_ip;	/* concurrent client connections per address,
					 * all workers together; 0 = off (default) */
	char *user;			/* workers drop to it when started as root; NULL = none */
	char *group;			/* its group; NULL = the user's primary group */
	int group_line;			/* where group was set; 0 = not set */
	uint32_t user_uid;		/* resolved at load when user is set */
	uint32_t user_gid;		/* group's, or the user's primary group */
	uint32_t *user_groups;		/* the user's supplementary groups (getgrouplist) */
	size_t n_user_groups;

	/* [tls] (its listeners are in listens, flagged) */
	struct gw_tls_conf tls;

	/* [access] */
	struct gw_acl_conf access;	/* allow/deny for every request */
	struct gw_acl_conf trusted_proxies;	/* peers whose X-Forwarded-For is
						 * believed; entries never deny */

	struct gw_service_conf *services;
	size_t n_services;

	/* [jwt NAME] sections, in file order. */
	struct gw_jwt_conf *jwts;
	size_t n_jwts;

	/* [apikeys]: the key store of routes with "auth = apikey". */
	struct gw_apikeys_conf {
		char *file;		/* as resolved (relative to the config's directory) */
		char *header;		/* request header carrying the key; default X-Api-Key */
		char *header_lower;
		struct keystore *store;	/* read at load; the master takes it over */
		bool store_created;	/* the file did not exist: an empty store */
		int line;		/* of the section header; 0 = no [apikeys] */
	} apikeys;

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
