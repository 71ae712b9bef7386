/* JSON Web Key Sets (RFC 7517, RFC 7518 §6, RFC 8037 §2) parsed once into
 * an immutable set of verification keys. Parsing builds every OpenSSL key
 * object up front, so verifying a token never parses key material; a set is
 * read-only after jwks_parse() and may be shared freely within a process.
 *
 * Supported: kty RSA (n, e; at least 2048 bits), EC (crv P-256 or P-384;
 * x, y on the curve), OKP (crv Ed25519; x) and oct (k; HMAC secrets).
 * Keys of other types or curves (X25519, P-521, "use":"enc" is kept but
 * never used to verify) are skipped and counted, so that a provider adding a
 * new key type does not take our whole set down. A malformed key of a
 * supported type fails the whole parse: half a key set is a silent outage. */
#ifndef GW_AUTH_JWKS_H
#define GW_AUTH_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evp_pkey_st;

enum jwk_type {
	JWK_RSA,      /* pkey set */
	JWK_EC_P256,  /* pkey set */
	JWK_EC_P384,  /* pkey set */
	JWK_ED25519,  /* raw[32] holds the public key, pkey NULL */
	JWK_OCT,      /* raw/raw_len hold the HMAC secret, pkey NULL */
};

#define JWK_KID_MAX 128  /* bytes, excluding the NUL; longer kids are refused */
#define JWK_ALG_MAX 16

struct jwk {
	enum jwk_type type;
	char kid[JWK_KID_MAX + 1];  /* "" when the key has no kid */
	bool has_kid;
	char alg[JWK_ALG_MAX + 1];  /* "" when absent; else the only alg allowed */
	bool sig_use;               /* false if "use" is present and not "sig" */
	struct evp_pkey_st *pkey;   /* RSA and EC keys; owned by the set */
	uint8_t *raw;               /* Ed25519 public key or HMAC secret; owned */
	size_t raw_len;             /* bytes in raw */
};

/* Opaque: a counted array of struct jwk, plus how many were skipped. */
struct jwks;

/* Parse the JWKS document <json> (<len> bytes, {"keys":[...]}) into <*out>.
 * Returns 0, -EINVAL with a message naming the key ("key 2 (kid \"a\"): EC
 * point is not on P-256") in <err> (<errlen> bytes, may be 0), or -ENOMEM. */
int jwks_parse(const char *json, size_t len, struct jwks **out, char *err, size_t errlen);

/* A set of one key from a PEM "PUBLIC KEY" (RSA, EC P-256/P-384 or
 * Ed25519), for configs that name a key file rather than a JWKS. <kid> may
 * be NULL. Same returns as jwks_parse(). */
int jwks_from_pem(const char *pem, size_t len, const char *kid, struct jwks **out,
	char *err, size_t errlen);

/* A set of one HMAC secret of <len> bytes (at least 32: RFC 7518 §3.2 wants
 * a key as long as the hash, checked again per alg at verify time). */
int jwks_from_secret(const uint8_t *secret, size_t len, const char *kid, struct jwks **out,
	char *err, size_t errlen);

/* Free a set and every key in it; NULL is fine. */
void jwks_free(struct jwks *set);

/* Number of usable keys, and key <i> (0 <= i < count). */
size_t jwks_count(const struct jwks *set);
const struct jwk *jwks_key(const struct jwks *set, size_t i);

/* Keys of unsupported type or curve that jwks_parse() left out. */
size_t jwks_skipped(const struct jwks *set);

#endif
