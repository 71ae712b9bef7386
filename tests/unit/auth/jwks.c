/* auth/jwks: key sets from JWKS documents, PEM public keys and HMAC
 * secrets, and that every refusal names the key and the problem. */
#include "auth/jwks.h"
#include "tests/unit/auth/slurp.h"
#include "tests/unit/check.h"

#include <errno.h>

static const char *dir;

/* The key with <kid>, or NULL. */
static const struct jwk *by_kid(const struct jwks *set, const char *kid)
{
	for (size_t i = 0; i < jwks_count(set); i++) {
		if (strcmp(jwks_key(set, i)->kid, kid) == 0)
			return jwks_key(set, i);
	}
	return NULL;
}

static void test_minted_set(void)
{
	struct jwks *set = NULL;
	char err[256] = "";
	size_t len;
	char *json = slurp(dir, "jwks.json", &len);
	const struct jwk *k;

	CHECK(json != NULL);
	if (!json)
		return;
	CHECK_INT(jwks_parse(json, len, &set, err, sizeof(err)), 0);
	CHECK_INT(jwks_count(set), 9);
	CHECK_INT(jwks_skipped(set), 1);  /* the X25519 key */
	k = by_kid(set, "hmac");
	CHECK(k && k->type == JWK_OCT && k->raw_len == 64 && k->alg[0] == '\0' && k->sig_use);
	k = by_kid(set, "rsa");
	CHECK(k && k->type == JWK_RSA && k->pkey && k->has_kid);
	k = by_kid(set, "rsa-enc");
	CHECK(k && k->type == JWK_RSA && !k->sig_use);
	k = by_kid(set, "p256");
	CHECK(k && k->type == JWK_EC_P256 && strcmp(k->alg, "ES256") == 0);
	k = by_kid(set, "p384");
	CHECK(k && k->type == JWK_EC_P384);
	k = by_kid(set, "ed");
	CHECK(k && k->type == JWK_ED25519 && k->raw_len == 32 && !k->pkey);
	CHECK(jwks_key(set, jwks_count(set)) == NULL);
	jwks_free(set);
	free(json);
}

/* Parsing <json> must fail with -EINVAL and a message containing <want>. */
static void expect_refused(const char *json, const char *want, int line)
{
	struct jwks *set = NULL;
	char err[256] = "";
	int rc = jwks_parse(json, strlen(json), &set, err, sizeof(err));

	if (rc != -EINVAL || set || !strstr(err, want)) {
		fprintf(stderr, "line %d: rc %d, err \"%s\", want \"%s\"\n", line, rc, err, want);
		check_failures++;
	}
	jwks_free(set);
}

#define REFUSED(json, want) expect_refused(json, want, __LINE__)

/* RFC 7515 A.3's P-256 public key, and the same with y changed (still
 * canonical base64url, no longer on the curve). */
#define P256_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define P256_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define P256_Y_OFF "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"

static void test_refusals(void)
{
	REFUSED("not json", "JWKS is not JSON");
	REFUSED("{}", "no \"keys\" array");
	REFUSED("{\"keys\":{}}", "no \"keys\" array");
	REFUSED("{\"keys\":[1]}", "key 0 (kid \"\"): not a JSON object");
	REFUSED("{\"keys\":[{\"kid\":\"a\"}]}", "key 0 (kid \"a\"): \"kty\" missing");
	REFUSED("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI\"},"
		"{\"kty\":\"oct\",\"kid\":\"bad\",\"k\":\"\"}]}", "key 1 (kid \"bad\"): oct \"k\"");
	REFUSED("{\"keys\":[{\"kty\":\"oct\",\"k\":\"ab+c\"}]}", "oct \"k\" missing, empty or not base64url");
	REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ab+c\",\"e\":\"AQAB\"}]}", "RSA \"n\"");
	REFUSED("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", "RSA \"n\"");
	REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y_OFF "\"}]}",
		"EC point is not on the curve");
	REFUSED("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"}]}",
		"wrong size");
	REFUSED("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}]}",
		"not 32 bytes");
	REFUSED("{\"keys\":[{\"kty\":\"oct\",\"kid\":7,\"k\":\"AAAA\"}]}", "\"kid\" is not a string");
	REFUSED("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"kid\":\"b\",\"k\":\"AAAA\"}]}", "JWKS is not JSON");
	REFUSED("{\"keys\":[{\"kty\":\"oct\",\"use\":1,\"k\":\"AAAA\"}]}", "\"use\" is not a string");
}

static void test_ok_shapes(void)
{
	const char *ec = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X "\",\"y\":\"" P256_Y "\"},"
		"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},{\"kty\":\"XYZ\"}]}";
	struct jwks *set = NULL;
	char err[256] = "";

	CHECK_INT(jwks_parse(ec, strlen(ec), &set, err, sizeof(err)), 0);
	CHECK_INT(jwks_count(set), 1);
	CHECK_INT(jwks_skipped(set), 2);
	CHECK(jwks_key(set, 0)->type == JWK_EC_P256 && !jwks_key(set, 0)->has_kid);
	jwks_free(set);
	set = NULL;
	CHECK_INT(jwks_parse("{\"keys\":[]}", 11, &set, NULL, 0), 0);
	CHECK_INT(jwks_count(set), 0);
	jwks_free(set);
	jwks_free(NULL);
}

static void test_small_rsa(void)
{
	struct jwks *set = NULL;
	char err[256] = "";
	size_t len;
	char *json = slurp(dir, "rsa1024.jwk.json", &len);

	CHECK(json != NULL);
	if (!json)
		return;
	CHECK_INT(jwks_parse(json, len, &set, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "key 0 (kid \"small\"): RSA modulus shorter than 2048 bits") != NULL);
	free(json);
}

/* jwks_from_pem() on vectors/<file> yields one key of <type>, or <rc>. */
static void check_pem(const char *file, int rc, enum jwk_type type)
{
	struct jwks *set = NULL;
	char err[256] = "";
	size_t len;
	char *pem = slurp(dir, file, &len);

	CHECK(pem != NULL);
	if (!pem)
		return;
	CHECK_INT(jwks_from_pem(pem, len, "k1", &set, err, sizeof(err)), rc);
	if (rc == 0) {
		CHECK_INT(jwks_count(set), 1);
		CHECK(jwks_key(set, 0)->type == type);
		CHECK_STR(jwks_key(set, 0)->kid, "k1");
	} else {
		CHECK(set == NULL && strstr(err, "PEM key (kid \"k1\")") != NULL);
	}
	jwks_free(set);
	free(pem);
}

static void test_pem_and_secret(void)
{
	static const uint8_t secret[32] = { 1, 2, 3 };
	struct jwks *set = NULL;
	char err[256] = "";

	check_pem("rsa_pub.pem", 0, JWK_RSA);
	check_pem("ec_p256_pub.pem", 0, JWK_EC_P256);
	check_pem("ec_p384_pub.pem", 0, JWK_EC_P384);
	check_pem("ed25519_pub.pem", 0, JWK_ED25519);
	check_pem("rsa1024_pub.pem", -EINVAL, JWK_RSA);
	CHECK_INT(jwks_from_pem("junk", 4, NULL, &set, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a PEM public key") != NULL);
	CHECK_INT(jwks_from_secret(secret, 32, NULL, &set, err, sizeof(err)), 0);
	CHECK(jwks_count(set) == 1 && jwks_key(set, 0)->type == JWK_OCT && !jwks_key(set, 0)->has_kid);
	jwks_free(set);
	set = NULL;
	CHECK_INT(jwks_from_secret(secret, 31, "s", &set, err, sizeof(err)), -EINVAL);
	CHECK(set == NULL && strstr(err, "shorter than 32 bytes") != NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return T_EXIT_FAIL;
	}
	dir = argv[1];
	test_minted_set();
	test_refusals();
	test_ok_shapes();
	test_small_rsa();
	test_pem_and_secret();
	return CHECK_EXIT();
}
