/* [jwt NAME] sections: how routes with "auth = jwt:NAME" verify bearer
 * tokens, and the route keys that use them.
 *
 *   [jwt corp]
 *   issuer = https://id.example.com/
 *   audience = api
 *   jwks = jwks.json		; relative to the config file's directory
 *   ; or: jwks_url = https://id.example.com/jwks.json, fetched by the master
 *   ;     jwks_refresh = 10m  jwks_refresh_min = 30s  jwks_timeout = 5s
 *   ;     jwks_ca = ca.pem
 *   algorithms = RS256 ES256 EdDSA
 *   leeway = 30s
 *   forward_claims = sub:X-User-Id email:X-User-Email
 *
 * The key set is read and parsed (auth/jwks.h) here, at load, in the
 * master: a bad file fails the load at the jwks line, a reload re-reads
 * it, and workers inherit the parsed keys across fork. A jwks_url is only
 * checked here (https, one per section); the master fetches it after
 * start and publishes it through shm (master/jwksfetch.c, shm/jwks.h).
 *
 *   cache = 4096		; verified tokens kept per worker; 0 = off */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/scopes.h"
#include "conf/config.h"
#include "conf/internal.h"

/* Largest JWKS file read: a real set is a few KiB. */
#define JWT_JWKS_MAX (1u << 20)
/* Most leeway: skew beyond this is a broken clock, not skew. */
#define JWT_LEEWAY_MAX_MS (600u * 1000u)
#define JWT_REFRESH_DEFAULT_MS (600u * 1000u)
#define JWT_REFRESH_MIN_DEFAULT_MS (30u * 1000u)
#define JWT_TIMEOUT_DEFAULT_MS (5u * 1000u)
#define JWT_CACHE_DEFAULT 4096u

void conf__jwt_release(struct gw_jwt_conf *j)
{
	for (size_t i = 0; i < j->n_forward; i++) {
		free(j->forward[i].claim);
		free(j->forward[i].header);
		free(j->forward[i].header_lower);
	}
	free(j->forward);
	jwks_free(j->keys);
	free(j->name);
	free(j->issuer);
	free(j->audience);
	free(j->jwks_path);
	free(j->jwks_url);
	free(j->jwks_ca);
}

struct gw_jwt_conf *conf__jwt_find(struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_jwts; i++) {
		if (cfg->jwts[i].name && strcmp(cfg->jwts[i].name, name) == 0)
			return &cfg->jwts[i];
	}
	return NULL;
}

static struct gw_jwt_conf *jwt_cur(struct conf_parser *p)
{
	return &p->cfg->jwts[p->cur];
}

static void jwt_begin(struct conf_parser *p, const char *name)
{
	struct gw_config *cfg = p->cfg;
	const struct gw_jwt_conf *old = conf__jwt_find(cfg, name);
	struct gw_jwt_conf *j;

	if (old)
		conf__error(p, p->line, "duplicate jwt '%s' (first defined at line %d)", name,
			    old->line);
	j = conf__grow(p, (void **)&cfg->jwts, &cfg->n_jwts, sizeof(*j));
	if (!j || !(j->name = conf__strdup(p, name))) {
		p->skip = true;
		return;
	}
	j->line = p->line;
	j->jwks_refresh_ms = JWT_REFRESH_DEFAULT_MS;
	j->jwks_refresh_min_ms = JWT_REFRESH_MIN_DEFAULT_MS;
	j->jwks_timeout_ms = JWT_TIMEOUT_DEFAULT_MS;
	j->cache = JWT_CACHE_DEFAULT;
	p->cur = cfg->n_jwts - 1;
}

static void jwt_issuer(struct conf_parser *p, const char *key, const char *value)
{
	(void)key;
	jwt_cur(p)->issuer = conf__strdup(p, value);
}

static void jwt_audience(struct conf_parser *p, const char *key, const char *value)
{
	(void)key;
	jwt_cur(p)->audience = conf__strdup(p, value);
}

/* The whole of <path> into a malloc'd buffer; 0 or -errno (-EFBIG). */
static int jwt_slurp(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	buf = malloc(JWT_JWKS_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto err_close;
	}
	n = fread(buf, 1, JWT_JWKS_MAX + 1, f);
	if (ferror(f))
		err = -EIO;
	else if (n > JWT_JWKS_MAX)
		err = -EFBIG;
	if (err) {
		free(buf);
		goto err_close;
	}
	*out = buf;
	*len = n;
err_close:
	fclose(f);
	return err;
}

static void jwt_jwks(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_jwt_conf *j = jwt_cur(p);
	char msg[256] = "";
	char *text = NULL;
	size_t len = 0;
	int err;

	(void)key;
	if (!*value) {
		conf__error(p, p->line, "empty value for 'jwks' (want the path of a JWKS file)");
		return;
	}
	j->jwks_path = conf__path(p, value);
	if (!j->jwks_path)
		return;
	err = jwt_slurp(j->jwks_path, &text, &len);
	if (err == -ENOMEM) {
		p->oom = true;
		return;
	}
	if (err) {
		conf__error(p, p->line, "cannot read jwks file '%s': %s", j->jwks_path,
			    err == -EFBIG ? "larger than 1 MiB" : strerror(-err));
		return;
	}
	err = jwks_parse(text, len, &j->keys, msg, sizeof(msg));
	free(text);
	if (err == -ENOMEM)
		p->oom = true;
	else if (err)
		conf__error(p, p->line, "bad jwks file '%s': %s", j->jwks_path, msg);
	else if (jwks_count(j->keys) == 0)
		conf__error(p, p->line, "jwks file '%s' has no usable key", j->jwks_path);
}

/* Remember a key that only means something with jwks_url. */
static void jwt_url_opt(struct conf_parser *p, const char *name)
{
	struct gw_jwt_conf *j = jwt_cur(p);

	if (!j->url_opt) {
		j->url_opt = name;
		j->url_opt_line = p->line;
	}
}

static void jwt_jwks_url(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_jwt_conf *j = jwt_cur(p);

	/* Verification is always on, so plain http would be the only weak
	 * link: a key set decides who gets in. */
	if (strncmp(value, "https://", 8) != 0 || !value[8] || strpbrk(value, " \t\"\\")) {
		conf__error(p, p->line, "bad %s '%s' (want an https:// URL)", key, value);
		return;
	}
	j->jwks_url = conf__strdup(p, value);
}

static void jwt_jwks_ca(struct conf_parser *p, const char *key, const char *value)
{
	struct gw_jwt_conf *j = jwt_cur(p);
	FILE *f;

	if (!*value) {
		conf__error(p, p->line, "empty value for '%s' (want a PEM file of CA certificates)",
			    key);
		return;
	}
	jwt_url_opt(p, "jwks_ca");
	j->jwks_ca = conf__path(p, value);
	if (!j->jwks_ca)
		return;
	/* Read by the fetcher later; refuse a file it could not open now. */
	f = fopen(j->jwks_ca, "r");
	if (!f)
		conf__error(p, p->line, "cannot read %s file '%s': %s", key, j->jwks_ca,
			    strerror(errno));
	else
		fclose(f);
}

/* A duration within [min_ms, max_ms] into *<out>. */
static void jwt_ms(struct conf_parser *p, const char *key, const char *value, uint64_t min_ms,
		   uint64_t max_ms, const char *range, uint64_t *out)
{
	uint64_t ms;

	if (conf__duration(p, key, value, true, &ms) < 0)
		return;
	if (ms < min_ms || ms > max_ms) {
		conf__error(p, p->line, "%s '%s' out of range (%s)", key, value, range);
		return;
	}
	*out = ms;
}

static void jwt_jwks_refresh(struct conf_parser *p, const char *key, const char *value)
{
	jwt_url_opt(p, "jwks_refresh");
	jwt_ms(p, key, value, 1000, 7 * 86400000ull, "1s..7d", &jwt_cur(p)->jwks_refresh_ms);
}

static void jwt_jwks_refresh_min(struct conf_parser *p, const char *key, const char *value)
{
	jwt_url_opt(p, "jwks_refresh_min");
	jwt_ms(p, key, value, 1000, 86400000ull, "1s..1d", &jwt_cur(p)->jwks_refresh_min_ms);
}

static void jwt_jwks_timeout(struct conf_parser *p, const char *key, const char *value)
{
	jwt_url_opt(p, "jwks_timeout");
	jwt_ms(p, key, value, 100, 60000, "100ms..60s", &jwt_cur(p)->jwks_timeout_ms);
}

static void jwt_cache(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t n;

	if (conf__parse_uint(value, 0, GW_JWT_CACHE_MAX, &n) < 0) {
		conf__error(p, p->line, "bad %s '%s' (want a number of tokens, 0 (off) to %u)",
			    key, value, GW_JWT_CACHE_MAX);
		return;
	}
	jwt_cur(p)->cache = (uint32_t)n;
}

static void jwt_algorithms(struct conf_parser *p, const char *key, const char *value)
{
	struct jwt_policy pol;

	(void)key;
	jwt_policy_init(&pol);
	if (!*value || jwt_policy_allow(&pol, value) < 0 || !pol.algs) {
		conf__error(p, p->line, "bad algorithms '%s' (want names such as RS256 ES256 "
			    "EdDSA HS256, separated by spaces; 'none' is never allowed)", value);
		return;
	}
	jwt_cur(p)->algs = pol.algs;
}

static void jwt_leeway(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t ms;

	if (conf__duration(p, key, value, true, &ms) < 0)
		return;
	if (ms > JWT_LEEWAY_MAX_MS) {
		conf__error(p, p->line, "leeway '%s' is too long (max 10m)", value);
		return;
	}
	jwt_cur(p)->leeway_s = (uint32_t)(ms / 1000u);
}

/* Fields the gateway writes itself or that frame the message: a claim
 * must not replace them. */
static bool jwt_reserved_header(const char *lower)
{
	static const char *const reserved[] = {
		"host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"te", "trailer", "upgrade", "proxy-connection", "proxy-authenticate",
		"proxy-authorization", "authorization", "expect", "x-forwarded-for",
		"x-forwarded-proto", "x-forwarded-host", "x-request-id",
	};

	for (size_t i = 0; i < CONF_ARRAY_SIZE(reserved); i++) {
		if (strcmp(lower, reserved[i]) == 0)
			return true;
	}
	return false;
}

/* One "claim:Header" word. */
static void jwt_forward_one(struct conf_parser *p, const char *key, const char *word,
			    size_t len)
{
	struct gw_jwt_conf *j = jwt_cur(p);
	const char *colon = memchr(word, ':', len);
	struct gw_forward_claim *f;
	size_t hlen;
	char *lower;

	if (!colon || colon == word || !conf__is_token(colon + 1, len - (size_t)(colon + 1 - word))) {
		conf__error(p, p->line, "bad %s '%.*s' (want CLAIM:Header-Name, such as "
			    "sub:X-User-Id)", key, (int)len, word);
		return;
	}
	hlen = len - (size_t)(colon + 1 - word);
	lower = strndup(colon + 1, hlen);
	if (!lower) {
		p->oom = true;
		return;
	}
	for (char *c = lower; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (jwt_reserved_header(lower)) {
		conf__error(p, p->line, "%s cannot set '%.*s': the gateway writes it or it frames "
			    "the request", key, (int)hlen, colon + 1);
		free(lower);
		return;
	}
	for (size_t i = 0; i < j->n_forward; i++) {
		if (strcmp(j->forward[i].header_lower, lower) == 0) {
			conf__error(p, p->line, "%s names header '%.*s' twice", key, (int)hlen,
				    colon + 1);
			free(lower);
			return;
		}
	}
	f = conf__grow(p, (void **)&j->forward, &j->n_forward, sizeof(*f));
	if (!f) {
		free(lower);
		return;
	}
	f->header_lower = lower;
	f->claim = strndup(word, (size_t)(colon - word));
	f->header = strndup(colon + 1, hlen);
	if (!f->claim || !f->header)
		p->oom = true;
}

static void jwt_forward_claims(struct conf_parser *p, const char *key, const char *value)
{
	const char *s = value;

	if (!*s) {
		conf__error(p, p->line, "empty value for '%s' (want CLAIM:Header-Name pairs)", key);
		return;
	}
	while (*s) {
		size_t len = strcspn(s, " \t");

		jwt_forward_one(p, key, s, len);
		s += len;
		s += strspn(s, " \t");
	}
}

static const struct conf_key jwt_keys[] = {
	{ "issuer", jwt_issuer, false },
	{ "audience", jwt_audience, false },
	{ "jwks", jwt_jwks, false },
	{ "jwks_url", jwt_jwks_url, false },
	{ "jwks_ca", jwt_jwks_ca, false },
	{ "jwks_refresh", jwt_jwks_refresh, false },
	{ "jwks_refresh_min", jwt_jwks_refresh_min, false },
	{ "jwks_timeout", jwt_jwks_timeout, false },
	{ "cache", jwt_cache, false },
	{ "algorithms", jwt_algorithms, false },
	{ "leeway", jwt_leeway, false },
	{ "forward_claims", jwt_forward_claims, true },
};
_Static_assert(CONF_ARRAY_SIZE(jwt_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__jwt_section = {
	.word = "jwt",
	.named = true,
	.begin = jwt_begin,
	.keys = jwt_keys,
	.n_keys = CONF_ARRAY_SIZE(jwt_keys),
};

/* Route keys. */

/* "apikey", "jwt:NAME" or both (either credential is accepted). */
void conf__route_auth(struct conf_parser *p, const char *key, const char *value,
		      struct gw_route_conf *r)
{
	const char *s = value + strspn(value, " \t");
	char word[128];

	r->auth_line = p->line;		/* even if bad: no second message */
	while (*s) {
		size_t len = strcspn(s, " \t");

		snprintf(word, sizeof(word), "%.*s", (int)len, s);
		if (strcmp(word, "apikey") == 0 && !r->auth_apikey) {
			r->auth_apikey = true;
		} else if (strncmp(word, "jwt:", 4) == 0 && conf__is_name(word + 4) &&
			   len < sizeof(word) && !r->auth_name) {
			r->auth_name = conf__strdup(p, word + 4);
		} else {
			conf__error(p, p->line, "bad %s '%s' (want apikey, jwt:NAME naming a "
				    "[jwt NAME] section, or both, each once)", key, value);
			return;
		}
		s += len;
		s += strspn(s, " \t");
	}
	if (!r->auth_apikey && !r->auth_name)
		conf__error(p, p->line, "empty value for '%s' (want apikey, jwt:NAME or both)", key);
}

void conf__route_scopes(struct conf_parser *p, const char *key, const char *value,
			struct gw_route_conf *r)
{
	size_t cap = strlen(value) + 1;
	char *out = malloc(cap);
	int n;

	r->scopes_line = p->line;
	if (!out) {
		p->oom = true;
		return;
	}
	/* Normalised to single spaces: it is also the scope="..." of a 403.
	 * It never grows, so the only failure is a byte that is no scope's. */
	n = scopes_norm(value, out, cap);
	if (n < 0) {
		conf__error(p, p->line, "bad %s '%s' (scope names are printable ASCII "
			    "without '\"' or '\\', separated by spaces)", key, value);
		free(out);
		return;
	}
	if (!n) {
		conf__error(p, p->line, "empty value for '%s' (want one or more scope names)", key);
		free(out);
		return;
	}
	r->scopes = out;
}

void conf__route_claims(struct conf_parser *p, const char *key, const char *value,
			struct gw_route_conf *r)
{
	const char *s = value;

	if (!r->claims_line)
		r->claims_line = p->line;
	if (!*s) {
		conf__error(p, p->line, "empty value for '%s' (want NAME=VALUE words)", key);
		return;
	}
	while (*s) {
		size_t len = strcspn(s, " \t");
		const char *eq = memchr(s, '=', len);
		struct gw_claim_match *m;

		if (!eq || eq == s) {
			conf__error(p, p->line, "bad %s '%.*s' (want NAME=VALUE, such as role=admin)",
				    key, (int)len, s);
		} else if ((m = conf__grow(p, (void **)&r->claims, &r->n_claims, sizeof(*m)))) {
			m->name = strndup(s, (size_t)(eq - s));
			m->value = strndup(eq + 1, len - (size_t)(eq + 1 - s));
			if (!m->name || !m->value)
				p->oom = true;
		}
		s += len;
		s += strspn(s, " \t");
	}
}

void conf__validate_jwt(struct conf_parser *p)
{
	struct gw_config *cfg = p->cfg;

	size_t n_url = 0;

	for (size_t i = 0; i < cfg->n_jwts; i++) {
		const struct gw_jwt_conf *j = &cfg->jwts[i];

		if (!j->jwks_path && !j->jwks_url)
			conf__error(p, j->line, "jwt '%s' has no jwks (want jwks = FILE or "
				    "jwks_url = https://...)", j->name);
		if (j->jwks_path && j->jwks_url)
			conf__error(p, j->line, "jwt '%s' has both jwks and jwks_url (want one)",
				    j->name);
		if (j->url_opt && !j->jwks_url)
			conf__error(p, j->url_opt_line, "jwt '%s': %s needs jwks_url", j->name,
				    j->url_opt);
		if (j->jwks_url && ++n_url == GW_JWT_URL_MAX + 1)
			conf__error(p, j->line, "jwt '%s': more than %u sections with jwks_url",
				    j->name, GW_JWT_URL_MAX);
		if (j->jwks_url && strlen(j->name) > 63)
			conf__error(p, j->line, "jwt '%s': a name longer than 63 bytes cannot have "
				    "jwks_url", j->name);
		if (!j->algs)
			conf__error(p, j->line, "jwt '%s' has no algorithms", j->name);
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		struct gw_route_conf *r = &cfg->routes[i];
		const struct gw_jwt_conf *j;

		if (r->auth_name) {
			j = conf__jwt_find(cfg, r->auth_name);
			if (!j)
				conf__error(p, r->auth_line, "route '%s' names unknown jwt '%s'",
					    r->name, r->auth_name);
			else
				r->jwt = (size_t)(j - cfg->jwts);
		} else if (!r->auth_line) {
			if (r->scopes_line)
				conf__error(p, r->scopes_line, "route '%s': scopes needs auth",
					    r->name);
			if (r->claims_line)
				conf__error(p, r->claims_line, "route '%s': claims needs auth",
					    r->name);
			for (size_t k = 0; k < r->n_rate_limits; k++) {
				if (r->rate_limits[k].by == GW_RL_BY_JWT)
					conf__error(p, r->rate_limits[k].line,
						    "route '%s': rate_limit by=jwt:%s needs auth",
						    r->name, r->rate_limits[k].header);
			}
		}
	}
}
