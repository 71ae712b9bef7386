/* JWKS parsing: JSON (jansson) in, OpenSSL 3 EVP_PKEY objects out. Every
 * key is validated here, once, so that jwt.c can trust a struct jwk: RSA
 * moduli are 2048..16384 bits, EC points are on their curve, Ed25519 keys
 * are 32 bytes, HMAC secrets are non-empty. */
#include "auth/jwks.h"
#include "auth/b64url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>

#define JWKS_MAX_KEYS 64          /* a provider publishing more is broken */
#define JWKS_RSA_MIN_BITS 2048    /* RFC 7518 §3.3 */
#define JWKS_RSA_MAX_BITS 16384   /* bounds the cost of one verification */
#define JWKS_RSA_MAX_E 8          /* bytes of exponent; 65537 needs 3 */
#define JWKS_FIELD_MAX 2048       /* decoded bytes of one key member */

struct jwks {
	size_t n;        /* usable keys in keys[] */
	size_t skipped;  /* unsupported keys left out */
	struct jwk keys[];
};

static void jwks_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void jwks_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct jwks *jwks_alloc(size_t nkeys)
{
	return calloc(1, sizeof(struct jwks) + nkeys * sizeof(struct jwk));
}

static void jwk_clear(struct jwk *k)
{
	EVP_PKEY_free(k->pkey);
	if (k->raw)
		OPENSSL_clear_free(k->raw, k->raw_len);
	memset(k, 0, sizeof(*k));
}

void jwks_free(struct jwks *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		jwk_clear(&set->keys[i]);
	free(set);
}

size_t jwks_count(const struct jwks *set)
{
	return set ? set->n : 0;
}

const struct jwk *jwks_key(const struct jwks *set, size_t i)
{
	return set && i < set->n ? &set->keys[i] : NULL;
}

size_t jwks_skipped(const struct jwks *set)
{
	return set ? set->skipped : 0;
}

/* Decode the base64url string member <name> of <obj> into a new buffer.
 * Returns 0, -ENOENT (absent or not a string), -EINVAL or -ENOMEM. */
static int jwk_b64_member(const json_t *obj, const char *name, uint8_t **out, size_t *len)
{
	const json_t *v = json_object_get(obj, name);
	const char *s;
	size_t slen, cap;
	uint8_t *buf;

	if (!json_is_string(v))
		return -ENOENT;
	s = json_string_value(v);
	slen = json_string_length(v);
	cap = b64url_decoded_len(slen);
	if (cap > JWKS_FIELD_MAX)
		return -EINVAL;
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	if (b64url_decode(s, slen, buf, cap, len) < 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

/* Run EVP_PKEY_fromdata() for a public key of <type> ("RSA", "EC") from
 * the parameters collected in <bld>. */
static int jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int rc = -ENOMEM;

	if (!params || !ctx)
		goto out_free;
	rc = -EINVAL;
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out_free;
	rc = 0;
out_free:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return rc;
}

/* Refuse RSA keys too small to trust or too big to verify cheaply. */
static int jwk_rsa_size_ok(EVP_PKEY *pkey, const char **why)
{
	int bits = EVP_PKEY_get_bits(pkey);

	if (bits < JWKS_RSA_MIN_BITS) {
		*why = "RSA modulus shorter than 2048 bits";
		return -EINVAL;
	}
	if (bits > JWKS_RSA_MAX_BITS) {
		*why = "RSA modulus longer than 16384 bits";
		return -EINVAL;
	}
	return 0;
}

static int jwk_rsa_pkey(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
	EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
	int rc = -ENOMEM;

	if (!bld || !bn || !be)
		goto out_free;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out_free;
	rc = -EINVAL;
	/* An even or trivial exponent cannot come from a real RSA key. */
	if (!BN_is_odd(be) || BN_is_one(be))
		goto out_free;
	rc = jwk_fromdata("RSA", bld, out);
out_free:
	BN_free(be);
	BN_free(bn);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

static int jwk_build_rsa(const json_t *obj, struct jwk *k, const char **why)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	int rc;

	rc = jwk_b64_member(obj, "n", &n, &nlen);
	if (rc < 0) {
		*why = rc == -ENOMEM ? "out of memory" : "RSA \"n\" missing or not base64url";
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto out_free;
	}
	rc = jwk_b64_member(obj, "e", &e, &elen);
	if (rc < 0 || elen == 0 || elen > JWKS_RSA_MAX_E) {
		*why = rc == -ENOMEM ? "out of memory" : "RSA \"e\" missing, not base64url or too long";
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto out_free;
	}
	rc = jwk_rsa_pkey(n, nlen, e, elen, &k->pkey);
	if (rc < 0) {
		*why = rc == -ENOMEM ? "out of memory" : "RSA key rejected by OpenSSL";
		goto out_free;
	}
	k->type = JWK_RSA;
	rc = jwk_rsa_size_ok(k->pkey, why);
out_free:
	free(e);
	free(n);
	return rc;
}

/* Check the point of a freshly built EC key: on the curve, not infinity. */
static int jwk_ec_check(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? 0 : -EINVAL;
}

/* Build an EC key on <group> from the uncompressed point 04||x||y. */
static int jwk_ec_pkey(const char *group, const uint8_t *pt, size_t ptlen, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	int rc = -ENOMEM;

	if (!bld)
		return rc;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen))
		goto out_free;
	rc = jwk_fromdata("EC", bld, out);
	if (rc == 0)
		rc = jwk_ec_check(*out);
out_free:
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

static int jwk_build_ec(const json_t *obj, struct jwk *k, enum jwk_type type, const char **why)
{
	size_t field = type == JWK_EC_P256 ? 32 : 48;
	const char *group = type == JWK_EC_P256 ? "P-256" : "P-384";
	uint8_t *x = NULL, *y = NULL, pt[1 + 2 * 48];
	size_t xlen = 0, ylen = 0;
	int rc;

	rc = jwk_b64_member(obj, "x", &x, &xlen);
	if (rc == 0)
		rc = jwk_b64_member(obj, "y", &y, &ylen);
	/* RFC 7518 §6.2.1.2: coordinates are always the full field size. */
	if (rc == 0 && (xlen != field || ylen != field))
		rc = -EINVAL;
	if (rc < 0) {
		*why = rc == -ENOMEM ? "out of memory" : "EC \"x\"/\"y\" missing, not base64url or wrong size";
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto out_free;
	}
	pt[0] = 0x04;
	memcpy(pt + 1, x, field);
	memcpy(pt + 1 + field, y, field);
	rc = jwk_ec_pkey(group, pt, 1 + 2 * field, &k->pkey);
	if (rc < 0)
		*why = rc == -ENOMEM ? "out of memory" : "EC point is not on the curve";
	k->type = type;
out_free:
	free(y);
	free(x);
	return rc;
}

/* libsodium verifies Ed25519 signatures in jwt.c; sodium_init() is
 * idempotent and must precede its first use. */
static int jwk_sodium_ready(const char **why)
{
	if (sodium_init() < 0) {
		*why = "libsodium failed to initialise";
		return -ENOMEM;
	}
	return 0;
}

static int jwk_build_ed25519(const json_t *obj, struct jwk *k, const char **why)
{
	int rc = jwk_sodium_ready(why);

	if (rc < 0)
		return rc;
	rc = jwk_b64_member(obj, "x", &k->raw, &k->raw_len);

	if (rc == 0 && k->raw_len != 32)
		rc = -EINVAL;
	if (rc < 0) {
		*why = rc == -ENOMEM ? "out of memory" : "Ed25519 \"x\" missing, not base64url or not 32 bytes";
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	k->type = JWK_ED25519;
	return 0;
}

static int jwk_build_oct(const json_t *obj, struct jwk *k, const char **why)
{
	int rc = jwk_b64_member(obj, "k", &k->raw, &k->raw_len);

	if (rc == 0 && k->raw_len == 0)
		rc = -EINVAL;
	if (rc < 0) {
		*why = rc == -ENOMEM ? "out of memory" : "oct \"k\" missing, empty or not base64url";
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	k->type = JWK_OCT;
	return 0;
}

/* Copy kid, alg and use. Returns -EINVAL with <why> if one is not a string
 * or does not fit. */
static int jwk_parse_meta(const json_t *obj, struct jwk *k, const char **why)
{
	const json_t *kid = json_object_get(obj, "kid");
	const json_t *alg = json_object_get(obj, "alg");
	const json_t *use = json_object_get(obj, "use");

	if (kid && (!json_is_string(kid) || json_string_length(kid) > JWK_KID_MAX ||
		    strlen(json_string_value(kid)) != json_string_length(kid))) {
		*why = "\"kid\" is not a string of at most 128 bytes";
		return -EINVAL;
	}
	if (alg && (!json_is_string(alg) || json_string_length(alg) > JWK_ALG_MAX)) {
		*why = "\"alg\" is not a short string";
		return -EINVAL;
	}
	if (use && !json_is_string(use)) {
		*why = "\"use\" is not a string";
		return -EINVAL;
	}
	if (kid) {
		strcpy(k->kid, json_string_value(kid));
		k->has_kid = true;
	}
	if (alg)
		strcpy(k->alg, json_string_value(alg));
	k->sig_use = !use || strcmp(json_string_value(use), "sig") == 0;
	return 0;
}

/* Which supported type <obj> is. Returns 0, or 1 if the type or curve is
 * one we do not verify with (the key is then skipped), or -EINVAL. */
static int jwk_classify(const json_t *obj, enum jwk_type *type, const char **why)
{
	const char *kty = json_string_value(json_object_get(obj, "kty"));
	const char *crv = json_string_value(json_object_get(obj, "crv"));

	if (!kty) {
		*why = "\"kty\" missing or not a string";
		return -EINVAL;
	}
	if (strcmp(kty, "RSA") == 0)
		*type = JWK_RSA;
	else if (strcmp(kty, "oct") == 0)
		*type = JWK_OCT;
	else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0)
		*type = JWK_EC_P256;
	else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-384") == 0)
		*type = JWK_EC_P384;
	else if (strcmp(kty, "OKP") == 0 && crv && strcmp(crv, "Ed25519") == 0)
		*type = JWK_ED25519;
	else
		return 1;
	return 0;
}

static int jwk_build(const json_t *obj, struct jwk *k, enum jwk_type type, const char **why)
{
	switch (type) {
	case JWK_RSA:
		return jwk_build_rsa(obj, k, why);
	case JWK_EC_P256:
	case JWK_EC_P384:
		return jwk_build_ec(obj, k, type, why);
	case JWK_ED25519:
		return jwk_build_ed25519(obj, k, why);
	case JWK_OCT:
		return jwk_build_oct(obj, k, why);
	}
	*why = "unknown key type";
	return -EINVAL;
}

/* Parse member <idx> of "keys" into <k>. Returns 0, 1 when skipped, or
 * -errno with the message already in <err>. */
static int jwk_parse_one(const json_t *obj, size_t idx, struct jwk *k, char *err, size_t errlen)
{
	const char *why = "not a JSON object";
	const char *kid = json_string_value(json_object_get(obj, "kid"));
	enum jwk_type type = JWK_OCT;
	int rc = -EINVAL;

	if (json_is_object(obj))
		rc = jwk_classify(obj, &type, &why);
	if (rc == 0)
		rc = jwk_parse_meta(obj, k, &why);
	if (rc == 0)
		rc = jwk_build(obj, k, type, &why);
	if (rc < 0) {
		jwks_errf(err, errlen, "key %zu (kid \"%.64s\"): %s", idx, kid ? kid : "", why);
		jwk_clear(k);
	}
	return rc;
}

static int jwks_parse_keys(const json_t *keys, struct jwks *set, char *err, size_t errlen)
{
	size_t idx;
	const json_t *obj;

	json_array_foreach(keys, idx, obj) {
		int rc = jwk_parse_one(obj, idx, &set->keys[set->n], err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 1)
			set->skipped++;
		else
			set->n++;
	}
	return 0;
}

int jwks_parse(const char *json, size_t len, struct jwks **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	const json_t *keys = json_object_get(root, "keys");
	struct jwks *set = NULL;
	int rc = -EINVAL;

	if (!root) {
		jwks_errf(err, errlen, "JWKS is not JSON: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_array(keys) || json_array_size(keys) > JWKS_MAX_KEYS) {
		jwks_errf(err, errlen, "JWKS has no \"keys\" array of at most %d keys", JWKS_MAX_KEYS);
		goto out_root;
	}
	set = jwks_alloc(json_array_size(keys));
	rc = set ? jwks_parse_keys(keys, set, err, errlen) : -ENOMEM;
	if (rc < 0) {
		jwks_free(set);
		goto out_root;
	}
	*out = set;
out_root:
	json_decref(root);
	return rc;
}

/* Fill <k> from a parsed PEM public key, taking ownership of <pkey>. */
static int jwk_from_pkey(EVP_PKEY *pkey, struct jwk *k, const char **why)
{
	char group[32] = "";

	k->pkey = pkey;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		k->type = JWK_RSA;
		return jwk_rsa_size_ok(pkey, why);
	}
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		if (jwk_sodium_ready(why) < 0)
			return -ENOMEM;
		k->pkey = NULL;
		k->raw_len = 32;
		k->raw = malloc(32);
		k->type = JWK_ED25519;
		if (!k->raw || !EVP_PKEY_get_raw_public_key(pkey, k->raw, &k->raw_len) ||
		    k->raw_len != 32) {
			EVP_PKEY_free(pkey);
			*why = "cannot read the Ed25519 public key";
			return -EINVAL;
		}
		EVP_PKEY_free(pkey);
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)) {
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
			k->type = JWK_EC_P256;
		else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
			k->type = JWK_EC_P384;
		else
			goto unsupported;
		*why = "EC public key fails OpenSSL's check";
		return jwk_ec_check(pkey);
	}
unsupported:
	*why = "PEM key is not RSA, EC P-256/P-384 or Ed25519";
	return -EINVAL;
}

/* A set of exactly one key, with <kid> (may be NULL) copied in. */
static int jwks_single(const char *kid, struct jwks **out, struct jwk **k, const char **why)
{
	struct jwks *set;

	if (kid && strlen(kid) > JWK_KID_MAX) {
		*why = "kid longer than 128 bytes";
		return -EINVAL;
	}
	set = jwks_alloc(1);
	if (!set) {
		*why = "out of memory";
		return -ENOMEM;
	}
	set->n = 1;
	*k = &set->keys[0];
	(*k)->sig_use = true;
	if (kid) {
		strcpy((*k)->kid, kid);
		(*k)->has_kid = true;
	}
	*out = set;
	return 0;
}

int jwks_from_pem(const char *pem, size_t len, const char *kid, struct jwks **out,
	char *err, size_t errlen)
{
	const char *why = "not a PEM public key";
	BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	struct jwks *set = NULL;
	struct jwk *k;
	int rc = -EINVAL;

	BIO_free(bio);
	if (!pkey)
		goto out_err;
	rc = jwks_single(kid, &set, &k, &why);
	if (rc < 0) {
		EVP_PKEY_free(pkey);
		goto out_err;
	}
	rc = jwk_from_pkey(pkey, k, &why);
	if (rc < 0) {
		jwks_free(set);
		goto out_err;
	}
	*out = set;
	return 0;
out_err:
	jwks_errf(err, errlen, "PEM key (kid \"%.64s\"): %s", kid ? kid : "", why);
	return rc;
}

int jwks_from_secret(const uint8_t *secret, size_t len, const char *kid, struct jwks **out,
	char *err, size_t errlen)
{
	const char *why = "HMAC secret shorter than 32 bytes";
	struct jwks *set = NULL;
	struct jwk *k;
	int rc = -EINVAL;

	if (len < 32 || len > JWKS_FIELD_MAX)
		goto out_err;
	rc = jwks_single(kid, &set, &k, &why);
	if (rc < 0)
		goto out_err;
	k->type = JWK_OCT;
	k->raw = malloc(len);
	if (!k->raw) {
		jwks_free(set);
		why = "out of memory";
		rc = -ENOMEM;
		goto out_err;
	}
	memcpy(k->raw, secret, len);
	k->raw_len = len;
	*out = set;
	return 0;
out_err:
	jwks_errf(err, errlen, "HMAC secret (kid \"%.64s\"): %s", kid ? kid : "", why);
	return rc;
}
