/* Internal to auth/: the algorithm table and signature primitives
 * (jwt_sig.c) and the claim checks (jwt_claims.c) that jwt_verify() in
 * jwt.c runs in order. Not for use outside auth/ and its tests. */
#ifndef GW_AUTH_JWT_INTERNAL_H
#define GW_AUTH_JWT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwks.h"
#include "auth/jwt.h"

enum jwt_family {
	JWT_FAM_HMAC,   /* oct keys, HMAC with hash_len bytes of output */
	JWT_FAM_RSA,    /* RSA keys, PKCS#1 v1.5 */
	JWT_FAM_PSS,    /* RSA keys, PSS with MGF1 and salt = hash length */
	JWT_FAM_ECDSA,  /* EC keys on one curve, JOSE r||s signatures */
	JWT_FAM_EDDSA,  /* Ed25519 keys */
};

struct jwt__alg_info {
	const char *name;      /* JWS "alg" value */
	enum jwt_family fam;
	size_t hash_len;       /* bytes; 0 for EdDSA */
};

const struct jwt__alg_info *jwt__alg_info(enum jwt_alg alg);

/* Whether <k> may verify <alg>: its type and curve fit the algorithm, its
 * own "alg" (if any) is <alg>, its "use" (if any) is "sig", and an HMAC
 * secret is at least as long as the hash (RFC 7518 §3.2). */
bool jwt__key_fits(enum jwt_alg alg, const struct jwk *k);

/* Check <sig> (<siglen> bytes, already base64url-decoded) over <msg> with
 * <k>, which must fit <alg>. Returns 0 if valid, -EBADMSG if not (wrong
 * length included), -ENOMEM. */
int jwt__sig_check(enum jwt_alg alg, const struct jwk *k, const uint8_t *msg, size_t msglen,
	const uint8_t *sig, size_t siglen);

/* Check exp, nbf, iat, iss and aud of the payload <claims> under <p> at
 * <now_s>; sets out->exp_s. Returns 0, or -EACCES with <out> filled. */
int jwt__check_claims(const json_t *claims, const struct jwt_policy *p, uint64_t now_s,
	struct jwt_result *out);

/* Record a refusal in <out> (reason from <fmt>); returns -EACCES, or
 * -ENOMEM for JWT_ERR_NOMEM. */
int jwt__fail(struct jwt_result *out, enum jwt_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
