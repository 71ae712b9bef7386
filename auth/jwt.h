/* JWT verification (RFC 7519 over the JWS compact serialization, RFC 7515)
 * against a struct jwks. Pure: no clock, no I/O, no global state; the
 * caller passes <now_s> and keeps the key set alive. One call does the
 * whole check in a fixed order (size, shape, header, alg, key, signature,
 * claims), so the first failure is the one reported.
 *
 * Never trusted from the token: "jku", "x5u", "jwk" and "x5c" (keys always
 * come from the configured set), "crit" (any value is refused: we implement
 * no extensions) and the key type implied by "alg" (checked against the
 * key's own type, which defeats the HS256-with-an-RSA-public-key attack). */
#ifndef GW_AUTH_JWT_H
#define GW_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/jwks.h"

/* JWS algorithms we verify (RFC 7518 §3.1, RFC 8037 §3.1). */
enum jwt_alg {
	JWT_HS256, JWT_HS384, JWT_HS512,
	JWT_RS256, JWT_RS384, JWT_RS512,
	JWT_PS256, JWT_PS384, JWT_PS512,
	JWT_ES256, JWT_ES384,
	JWT_EDDSA,
	JWT_ALG_COUNT,
};

#define JWT_ALG_BIT(a) (1u << (a))
#define JWT_ALGS_ALL ((1u << JWT_ALG_COUNT) - 1)

/* Why a token was refused. The gateway answers 401 with
 * WWW-Authenticate: Bearer error="invalid_token" for every one of these;
 * JWT_ERR_KID_UNKNOWN also asks for a (rate-limited) JWKS refresh. */
enum jwt_err {
	JWT_OK = 0,
	JWT_ERR_TOO_LARGE,      /* longer than the policy's max_len */
	JWT_ERR_MALFORMED,      /* not three base64url parts of JSON objects */
	JWT_ERR_ALG,            /* none, unknown, or not allowed by the policy */
	JWT_ERR_KEY_MISMATCH,   /* no key of the type (or "alg") the token's alg needs */
	JWT_ERR_KID_UNKNOWN,    /* the token's kid is not in the set */
	JWT_ERR_SIGNATURE,      /* no candidate key verifies the signature */
	JWT_ERR_EXPIRED,        /* now >= exp + leeway */
	JWT_ERR_NOT_YET,        /* now < nbf - leeway, or iat in the future */
	JWT_ERR_CLAIM_MISSING,  /* exp absent while the policy requires it */
	JWT_ERR_ISSUER,         /* iss absent or not the configured issuer */
	JWT_ERR_AUDIENCE,       /* aud absent or not containing the audience */
	JWT_ERR_NOMEM,          /* allocation failed: answer 500, not 401 */
};

#define JWT_MAX_LEN_DEFAULT 8192  /* bytes of token text */

struct jwt_policy {
	uint32_t algs;         /* JWT_ALG_BIT() set of allowed algs; 0 allows none */
	const char *issuer;    /* exact "iss" required; NULL: not checked */
	const char *audience;  /* must be "aud" or in the "aud" array; NULL: not checked */
	uint32_t leeway_s;     /* seconds of clock skew allowed on exp, nbf, iat */
	size_t max_len;        /* bytes of token; 0 means JWT_MAX_LEN_DEFAULT */
	bool require_exp;      /* refuse tokens without "exp" (jwt_policy_init: true) */
};

struct jwt_result {
	enum jwt_err err;
	char reason[96];          /* short, loggable, never contains token bytes */
	enum jwt_alg alg;         /* valid once the header was accepted */
	const struct jwk *key;    /* the key that verified; NULL on failure */
	json_t *claims;           /* the payload object on success; owned, see jwt_result_free */
	uint64_t exp_s;           /* "exp" in seconds (0 when absent), to bound a cache entry */
	int64_t not_before_s;     /* the later of "nbf" and "iat" (INT64_MIN when both are
				   * absent): the token is refused while now + leeway < it */
};

/* Defaults: no algs, no iss/aud, leeway 0, max_len 8 KiB, exp required. */
void jwt_policy_init(struct jwt_policy *p);

/* Allow the algorithms named in <names>, separated by spaces or commas
 * ("RS256 ES256 EdDSA"). Returns 0, or -EINVAL naming nothing if one name
 * is unknown; "none" is always unknown. */
int jwt_policy_allow(struct jwt_policy *p, const char *names);

/* The JWS name of <alg> ("RS256"), and the reverse (-EINVAL if unknown). */
const char *jwt_alg_name(enum jwt_alg alg);
int jwt_alg_parse(const char *name, size_t len, enum jwt_alg *out);

/* A fixed English name for <err> ("expired"), for logs and metrics. */
const char *jwt_err_name(enum jwt_err err);

/* Verify <token> (<len> bytes, no "Bearer " prefix, need not be
 * NUL-terminated) against <keys> under <p> at time <now_s> (Unix seconds).
 * Returns 0 with <out> filled and out->claims set, -EACCES when the token is
 * refused (out->err and out->reason say why), or -ENOMEM (out->err is
 * JWT_ERR_NOMEM). <out> must be released with jwt_result_free() in every
 * case. */
int jwt_verify(const struct jwks *keys, const struct jwt_policy *p, const char *token,
	size_t len, uint64_t now_s, struct jwt_result *out);

/* Drop the claims reference; <r> may then be reused. */
void jwt_result_free(struct jwt_result *r);

/* True if every scope in <required> (space-separated; NULL or "" requires
 * nothing) is granted by "scope" (a space-separated string) or "scp" (an
 * array of strings, or a space-separated string). */
bool jwt_scopes_ok(const json_t *claims, const char *required);

/* True if claim <name> equals <value>: a string exactly, an integer by
 * value ("42"), a boolean as "true"/"false". For an array claim, true if
 * any element does (roles, groups). Reals and objects never match. */
bool jwt_claim_equals(const json_t *claims, const char *name, const char *value);

/* The string claim <name>, or NULL if absent, not a string, or holding a
 * control character or NUL: the result is safe to put in a header value or
 * a rate-limit key. Valid while <claims> is. */
const char *jwt_claim_string(const json_t *claims, const char *name);

#endif
