/* Registered-claim checks (RFC 7519 §4.1) for jwt_verify(), and the claim
 * helpers the gateway uses after a token is accepted (scopes, required
 * claims, forwarded claims). */
#include "auth/jwt.h"
#include "auth/jwt_internal.h"
#include "auth/scopes.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* NumericDates beyond ±2^62 s are clamped: far past any real expiry, and
 * small enough that adding a leeway cannot overflow. */
#define JWT_TIME_MAX ((int64_t)1 << 62)

/* Read NumericDate claim <name>. Returns 0 with <*out> set, 1 if absent,
 * -EINVAL if present but not a number. Fractions are floored (RFC 7519
 * §2 allows them). */
static int jwt_numeric_date(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	if (!v)
		return 1;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		*out = i > JWT_TIME_MAX ? JWT_TIME_MAX : i < -JWT_TIME_MAX ? -JWT_TIME_MAX : i;
		return 0;
	}
	if (!json_is_real(v))
		return -EINVAL;
	d = floor(json_real_value(v));
	if (!isfinite(d))
		return -EINVAL;
	*out = d > (double)JWT_TIME_MAX ? JWT_TIME_MAX :
	       d < -(double)JWT_TIME_MAX ? -JWT_TIME_MAX : (int64_t)d;
	return 0;
}

/* exp, nbf and iat against <now> with the policy's leeway. */
static int jwt_check_times(const json_t *claims, const struct jwt_policy *p, int64_t now,
	struct jwt_result *out)
{
	int64_t leeway = p->leeway_s, exp = 0, nbf = 0, iat = 0;
	int has_exp = jwt_numeric_date(claims, "exp", &exp);
	int has_nbf = jwt_numeric_date(claims, "nbf", &nbf);
	int has_iat = jwt_numeric_date(claims, "iat", &iat);

	if (has_exp < 0 || has_nbf < 0 || has_iat < 0)
		return jwt__fail(out, JWT_ERR_MALFORMED, "exp, nbf or iat is not a number");
	if (has_exp == 1 && p->require_exp)
		return jwt__fail(out, JWT_ERR_CLAIM_MISSING, "exp missing");
	if (has_exp == 0 && now >= exp + leeway)
		return jwt__fail(out, JWT_ERR_EXPIRED, "expired %" PRId64 " s ago", now - exp);
	if (has_nbf == 0 && now + leeway < nbf)
		return jwt__fail(out, JWT_ERR_NOT_YET, "not valid for %" PRId64 " s", nbf - now);
	/* A token issued in the future comes from a broken or hostile clock. */
	if (has_iat == 0 && now + leeway < iat)
		return jwt__fail(out, JWT_ERR_NOT_YET, "issued %" PRId64 " s in the future", iat - now);
	out->exp_s = has_exp == 0 && exp > 0 ? (uint64_t)exp : 0;
	out->not_before_s = INT64_MIN;
	if (has_nbf == 0)
		out->not_before_s = nbf;
	if (has_iat == 0 && iat > out->not_before_s)
		out->not_before_s = iat;
	return 0;
}

/* True if "aud" is <aud> or an array holding it (RFC 7519 §4.1.3). */
static bool jwt_aud_ok(const json_t *claims, const char *aud)
{
	const json_t *v = json_object_get(claims, "aud");
	const json_t *el;
	size_t i;

	if (json_is_string(v))
		return strcmp(json_string_value(v), aud) == 0;
	json_array_foreach(v, i, el) {
		if (json_is_string(el) && strcmp(json_string_value(el), aud) == 0)
			return true;
	}
	return false;
}

int jwt__check_claims(const json_t *claims, const struct jwt_policy *p, uint64_t now_s,
	struct jwt_result *out)
{
	int64_t now = now_s > (uint64_t)JWT_TIME_MAX ? JWT_TIME_MAX : (int64_t)now_s;
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	int rc = jwt_check_times(claims, p, now, out);

	if (rc < 0)
		return rc;
	/* Exact match: issuers are URLs compared as strings (OIDC Discovery
	 * §4.3), so "https://id.example.com" is not "https://id.example.com/". */
	if (p->issuer && (!iss || strcmp(iss, p->issuer) != 0))
		return jwt__fail(out, JWT_ERR_ISSUER, "iss missing or not the configured issuer");
	if (p->audience && !jwt_aud_ok(claims, p->audience))
		return jwt__fail(out, JWT_ERR_AUDIENCE, "aud missing or not the configured audience");
	return 0;
}

/* True if the token grants scope <w> (<n> bytes) through "scope" or "scp". */
static bool jwt_scope_granted(const json_t *claims, const char *w, size_t n)
{
	const json_t *scp = json_object_get(claims, "scp");
	const json_t *el;
	size_t i;

	if (scopes_have(json_string_value(json_object_get(claims, "scope")), w, n))
		return true;
	if (json_is_string(scp))
		return scopes_have(json_string_value(scp), w, n);
	json_array_foreach(scp, i, el) {
		if (json_is_string(el) && json_string_length(el) == n &&
		    memcmp(json_string_value(el), w, n) == 0)
			return true;
	}
	return false;
}

bool jwt_scopes_ok(const json_t *claims, const char *required)
{
	for (const char *s = required; s && *s;) {
		size_t n;

		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n && !jwt_scope_granted(claims, s, n))
			return false;
		s += n;
	}
	return true;
}

/* One scalar against <value>; see jwt_claim_equals(). */
static bool jwt_scalar_equals(const json_t *v, const char *value)
{
	char *end;
	long long n;

	if (json_is_string(v))
		return strcmp(json_string_value(v), value) == 0;
	if (json_is_boolean(v))
		return strcmp(value, json_is_true(v) ? "true" : "false") == 0;
	if (!json_is_integer(v) || !*value)
		return false;
	errno = 0;
	n = strtoll(value, &end, 10);
	return errno == 0 && *end == '\0' && n == json_integer_value(v);
}

bool jwt_claim_equals(const json_t *claims, const char *name, const char *value)
{
	const json_t *v = json_object_get(claims, name);
	const json_t *el;
	size_t i;

	if (!json_is_array(v))
		return v && jwt_scalar_equals(v, value);
	json_array_foreach(v, i, el) {
		if (jwt_scalar_equals(el, value))
			return true;
	}
	return false;
}

const char *jwt_claim_string(const json_t *claims, const char *name)
{
	const json_t *v = json_object_get(claims, name);
	const char *s = json_string_value(v);

	if (!s)
		return NULL;
	/* Claims end up in request headers: CR, LF or NUL there would let a
	 * token holder inject headers. */
	for (size_t i = 0; i < json_string_length(v); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return NULL;
	}
	return s;
}
