/* Signature checks for every JWS algorithm we accept. Each family has one
 * function; all of them compare in constant time or leave comparison to
 * OpenSSL/libsodium, and none trusts a signature length it did not check. */
#include "auth/jwt_internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <sodium.h>

static const struct jwt__alg_info jwt_algs[JWT_ALG_COUNT] = {
	[JWT_HS256] = { "HS256", JWT_FAM_HMAC, 32 },
	[JWT_HS384] = { "HS384", JWT_FAM_HMAC, 48 },
	[JWT_HS512] = { "HS512", JWT_FAM_HMAC, 64 },
	[JWT_RS256] = { "RS256", JWT_FAM_RSA, 32 },
	[JWT_RS384] = { "RS384", JWT_FAM_RSA, 48 },
	[JWT_RS512] = { "RS512", JWT_FAM_RSA, 64 },
	[JWT_PS256] = { "PS256", JWT_FAM_PSS, 32 },
	[JWT_PS384] = { "PS384", JWT_FAM_PSS, 48 },
	[JWT_PS512] = { "PS512", JWT_FAM_PSS, 64 },
	[JWT_ES256] = { "ES256", JWT_FAM_ECDSA, 32 },
	[JWT_ES384] = { "ES384", JWT_FAM_ECDSA, 48 },
	[JWT_EDDSA] = { "EdDSA", JWT_FAM_EDDSA, 0 },
};

const struct jwt__alg_info *jwt__alg_info(enum jwt_alg alg)
{
	return (unsigned)alg < JWT_ALG_COUNT ? &jwt_algs[alg] : NULL;
}

/* The SHA-2 digest of <hash_len> bytes. */
static const EVP_MD *jwt_md(size_t hash_len)
{
	return hash_len == 64 ? EVP_sha512() : hash_len == 48 ? EVP_sha384() : EVP_sha256();
}

bool jwt__key_fits(enum jwt_alg alg, const struct jwk *k)
{
	const struct jwt__alg_info *ai = jwt__alg_info(alg);

	if (!ai || !k->sig_use)
		return false;
	if (k->alg[0] && strcmp(k->alg, ai->name) != 0)
		return false;
	switch (ai->fam) {
	case JWT_FAM_HMAC:
		return k->type == JWK_OCT && k->raw_len >= ai->hash_len;
	case JWT_FAM_RSA:
	case JWT_FAM_PSS:
		return k->type == JWK_RSA;
	case JWT_FAM_ECDSA:
		return k->type == (alg == JWT_ES256 ? JWK_EC_P256 : JWK_EC_P384);
	case JWT_FAM_EDDSA:
		return k->type == JWK_ED25519;
	}
	return false;
}

static int jwt_check_hmac(const struct jwt__alg_info *ai, const struct jwk *k,
	const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int rc;

	if (siglen != ai->hash_len || k->raw_len > INT32_MAX)
		return -EBADMSG;
	if (!HMAC(jwt_md(ai->hash_len), k->raw, (int)k->raw_len, msg, msglen, mac, &maclen))
		return -ENOMEM;
	/* Constant time: a timing leak here would let a client forge MACs
	 * byte by byte. */
	rc = maclen == siglen && CRYPTO_memcmp(mac, sig, siglen) == 0 ? 0 : -EBADMSG;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* EVP_DigestVerify with <pkey>; PSS when <pss>. The caller has checked the
 * signature length for the key. */
static int jwt_check_evp(EVP_PKEY *pkey, size_t hash_len, bool pss,
	const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -ENOMEM;

	if (!mctx)
		return rc;
	rc = -EBADMSG;
	if (EVP_DigestVerifyInit(mctx, &pctx, jwt_md(hash_len), NULL, pkey) <= 0)
		goto out_free;
	/* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out_free;
	if (EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1)
		rc = 0;
out_free:
	EVP_MD_CTX_free(mctx);
	/* A failed verify leaves entries on OpenSSL's per-thread error queue;
	 * a stream of forged tokens must not grow it. */
	ERR_clear_error();
	return rc;
}

static int jwt_check_rsa(const struct jwt__alg_info *ai, const struct jwk *k,
	const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen)
{
	if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
		return -EBADMSG;
	return jwt_check_evp(k->pkey, ai->hash_len, ai->fam == JWT_FAM_PSS, msg, msglen, sig, siglen);
}

/* Re-encode a JOSE r||s signature of 2 * <half> bytes as DER. Returns the
 * DER length (buffer in <*der>, free with OPENSSL_free) or -errno. */
static int jwt_ecdsa_der(const uint8_t *sig, size_t half, unsigned char **der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
	BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
	int len = -ENOMEM;

	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s))
		goto out_free;
	r = s = NULL;  /* owned by es now */
	*der = NULL;
	len = i2d_ECDSA_SIG(es, der);
	if (len <= 0)
		len = -ENOMEM;
out_free:
	BN_free(s);
	BN_free(r);
	ECDSA_SIG_free(es);
	return len;
}

static int jwt_check_ecdsa(const struct jwt__alg_info *ai, const struct jwk *k,
	const uint8_t *msg, size_t msglen, const uint8_t *sig, size_t siglen)
{
	unsigned char *der = NULL;
	int derlen, rc;

	/* Fixed-size r||s only (RFC 7518 §3.4); a DER signature is refused
	 * here rather than guessed at. */
	if (siglen != 2 * ai->hash_len)
		return -EBADMSG;
	derlen = jwt_ecdsa_der(sig, ai->hash_len, &der);
	if (derlen < 0)
		return derlen;
	rc = jwt_check_evp(k->pkey, ai->hash_len, false, msg, msglen, der, (size_t)derlen);
	OPENSSL_free(der);
	return rc;
}

static int jwt_check_eddsa(const struct jwk *k, const uint8_t *msg, size_t msglen,
	const uint8_t *sig, size_t siglen)
{
	if (siglen != crypto_sign_BYTES || k->raw_len != crypto_sign_PUBLICKEYBYTES)
		return -EBADMSG;
	return crypto_sign_verify_detached(sig, msg, msglen, k->raw) == 0 ? 0 : -EBADMSG;
}

int jwt__sig_check(enum jwt_alg alg, const struct jwk *k, const uint8_t *msg, size_t msglen,
	const uint8_t *sig, size_t siglen)
{
	const struct jwt__alg_info *ai = jwt__alg_info(alg);

	if (!ai || !jwt__key_fits(alg, k))
		return -EBADMSG;
	switch (ai->fam) {
	case JWT_FAM_HMAC:
		return jwt_check_hmac(ai, k, msg, msglen, sig, siglen);
	case JWT_FAM_RSA:
	case JWT_FAM_PSS:
		return jwt_check_rsa(ai, k, msg, msglen, sig, siglen);
	case JWT_FAM_ECDSA:
		return jwt_check_ecdsa(ai, k, msg, msglen, sig, siglen);
	case JWT_FAM_EDDSA:
		return jwt_check_eddsa(k, msg, msglen, sig, siglen);
	}
	return -EBADMSG;
}
