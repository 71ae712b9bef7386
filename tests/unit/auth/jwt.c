/* auth/jwt: tokens minted once by PyJWT and jwcrypto (vectors/cases.json,
 * see mint.py) for every algorithm and every rejection, the published JOSE
 * examples (RFC 7515 A.1-A.3, RFC 8037 A.4), the policy parser and the
 * claim helpers. */
#include "auth/jwt.h"
#include "auth/jwt_internal.h"
#include "auth/b64url.h"
#include "tests/unit/auth/slurp.h"
#include "tests/unit/check.h"

#include <errno.h>

static const char *dir;

static const char *const err_ids[] = {
	[JWT_OK] = "JWT_OK",
	[JWT_ERR_TOO_LARGE] = "JWT_ERR_TOO_LARGE",
	[JWT_ERR_MALFORMED] = "JWT_ERR_MALFORMED",
	[JWT_ERR_ALG] = "JWT_ERR_ALG",
	[JWT_ERR_KEY_MISMATCH] = "JWT_ERR_KEY_MISMATCH",
	[JWT_ERR_KID_UNKNOWN] = "JWT_ERR_KID_UNKNOWN",
	[JWT_ERR_SIGNATURE] = "JWT_ERR_SIGNATURE",
	[JWT_ERR_EXPIRED] = "JWT_ERR_EXPIRED",
	[JWT_ERR_NOT_YET] = "JWT_ERR_NOT_YET",
	[JWT_ERR_CLAIM_MISSING] = "JWT_ERR_CLAIM_MISSING",
	[JWT_ERR_ISSUER] = "JWT_ERR_ISSUER",
	[JWT_ERR_AUDIENCE] = "JWT_ERR_AUDIENCE",
	[JWT_ERR_NOMEM] = "JWT_ERR_NOMEM",
};

static const char *err_id(enum jwt_err e)
{
	return (unsigned)e < sizeof(err_ids) / sizeof(err_ids[0]) ? err_ids[e] : "?";
}

/* The file's defaults, with the case's "policy" object applied on top. */
static void case_policy(const json_t *file, const json_t *c, struct jwt_policy *p)
{
	const json_t *o = json_object_get(c, "policy");
	const json_t *v;

	jwt_policy_init(p);
	p->algs = JWT_ALGS_ALL;
	p->issuer = json_string_value(json_object_get(file, "iss"));
	p->audience = json_string_value(json_object_get(file, "aud"));
	p->leeway_s = (uint32_t)json_integer_value(json_object_get(file, "leeway"));
	if ((v = json_object_get(o, "algs"))) {
		p->algs = 0;
		CHECK_INT(jwt_policy_allow(p, json_string_value(v)), 0);
	}
	if ((v = json_object_get(o, "leeway")))
		p->leeway_s = (uint32_t)json_integer_value(v);
	if ((v = json_object_get(o, "require_exp")))
		p->require_exp = json_is_true(v);
	if ((v = json_object_get(o, "max_len")))
		p->max_len = (size_t)json_integer_value(v);
	if (json_object_get(o, "aud"))
		p->audience = json_string_value(json_object_get(o, "aud"));
}

/* The key set a case names: a PEM file under "keys", else <dflt>. */
static struct jwks *case_keys(const json_t *c, struct jwks *dflt, struct jwks **owned)
{
	const char *pemfile = json_string_value(json_object_get(c, "keys"));
	char err[256] = "";
	size_t len;
	char *pem;

	*owned = NULL;
	if (!pemfile)
		return dflt;
	pem = slurp(dir, pemfile, &len);
	if (pem && jwks_from_pem(pem, len, NULL, owned, err, sizeof(err)) < 0)
		fprintf(stderr, "%s: %s\n", pemfile, err);
	free(pem);
	return *owned;
}

static void run_case(const json_t *file, const json_t *c, struct jwks *dflt)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *tok = json_string_value(json_object_get(c, "token"));
	const char *want = json_string_value(json_object_get(c, "expect"));
	const char *sub = json_string_value(json_object_get(c, "sub"));
	uint64_t now = (uint64_t)json_integer_value(json_object_get(file, "now"));
	struct jwks *owned, *keys = case_keys(c, dflt, &owned);
	struct jwt_policy p;
	struct jwt_result r;
	int rc;

	case_policy(file, c, &p);
	rc = jwt_verify(keys, &p, tok, strlen(tok), now, &r);
	if (getenv("AUTH_TEST_VERBOSE"))
		fprintf(stderr, "%-32s %-22s %s\n", name, err_id(r.err), r.reason);
	if (strcmp(err_id(r.err), want) != 0 || (rc == 0) != (r.err == JWT_OK)) {
		fprintf(stderr, "case %s: got %s (%s, rc %d), want %s\n", name, err_id(r.err),
			r.reason, rc, want);
		check_failures++;
	}
	if (r.err == JWT_OK) {
		const json_t *nbf = json_object_get(r.claims, "nbf");
		const json_t *iat = json_object_get(r.claims, "iat");
		int64_t nb = INT64_MIN;

		CHECK(r.claims && r.key);
		if (sub)
			CHECK_STR(jwt_claim_string(r.claims, "sub"), sub);
		/* The token cache's lower bound: the later of nbf and iat. */
		if (json_is_integer(nbf))
			nb = json_integer_value(nbf);
		if (json_is_integer(iat) && json_integer_value(iat) > nb)
			nb = json_integer_value(iat);
		if (!json_is_real(nbf) && !json_is_real(iat))
			CHECK(r.not_before_s == nb);
	} else {
		CHECK(!r.claims && !r.key && r.reason[0]);
		CHECK_INT(rc, -EACCES);
	}
	jwt_result_free(&r);
	jwks_free(owned);
}

static void test_minted_cases(void)
{
	size_t len, i;
	char *text = slurp(dir, "cases.json", &len), *jtext = slurp(dir, "jwks.json", &len);
	json_t *file = text ? json_loads(text, 0, NULL) : NULL;
	struct jwks *keys = NULL;
	const json_t *c;

	CHECK(file && jtext && jwks_parse(jtext, strlen(jtext), &keys, NULL, 0) == 0);
	CHECK(json_array_size(json_object_get(file, "cases")) >= 100);
	json_array_foreach(json_object_get(file, "cases"), i, c)
		run_case(file, c, keys);
	jwks_free(keys);
	json_decref(file);
	free(jtext);
	free(text);
}

/* The RFC 7515 examples share one payload: iss "joe", exp 1300819380. */
#define RFC_PAYLOAD "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_EXP 1300819380u

struct rfc_vector {
	const char *name;
	const char *jwks;
	const char *token;
};

static const struct rfc_vector rfc7515[] = {
	{ "RFC 7515 A.1 HS256",
	  "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}]}",
	  "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" },
	{ "RFC 7515 A.2 RS256",
	  "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\""
	  "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4"
	  "qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2j"
	  "Z47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7W"
	  "TBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK"
	  "-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}]}",
	  "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD "."
	  "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm"
	  "4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--"
	  "f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383Lc"
	  "OLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
	  "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw" },
	{ "RFC 7515 A.3 ES256",
	  "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}",
	  "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD "."
	  "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q" },
};

/* Each RFC 7515 example verifies exactly, and only before its exp. */
static void test_rfc7515(void)
{
	for (size_t i = 0; i < sizeof(rfc7515) / sizeof(rfc7515[0]); i++) {
		const struct rfc_vector *v = &rfc7515[i];
		struct jwks *keys = NULL;
		struct jwt_policy p;
		struct jwt_result r;
		char err[256] = "";

		jwt_policy_init(&p);
		p.algs = JWT_ALGS_ALL;
		p.issuer = "joe";
		if (jwks_parse(v->jwks, strlen(v->jwks), &keys, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", v->name, err);
			check_failures++;
			continue;
		}
		if (jwt_verify(keys, &p, v->token, strlen(v->token), RFC_EXP - 100, &r) != 0) {
			fprintf(stderr, "%s: %s\n", v->name, r.reason);
			check_failures++;
		}
		CHECK(r.exp_s == RFC_EXP && json_is_true(json_object_get(r.claims, "http://example.com/is_root")));
		CHECK(r.not_before_s == INT64_MIN);
		jwt_result_free(&r);
		CHECK_INT(jwt_verify(keys, &p, v->token, strlen(v->token), RFC_EXP, &r), -EACCES);
		CHECK_INT(r.err, JWT_ERR_EXPIRED);
		jwks_free(keys);
	}
}

/* RFC 8037 A.4: its payload is not JSON, so jwt_verify() refuses it after
 * the signature passed; the signature itself is checked directly. */
static void test_rfc8037(void)
{
	static const char jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
	static const char input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
	static const char sig64[] = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
	char token[256];
	uint8_t sig[64];
	size_t n = 0;
	struct jwks *keys = NULL;
	struct jwt_policy p;
	struct jwt_result r;

	CHECK_INT(jwks_parse(jwks, strlen(jwks), &keys, NULL, 0), 0);
	CHECK_INT(b64url_decode(sig64, strlen(sig64), sig, sizeof(sig), &n), 0);
	CHECK_INT(jwt__sig_check(JWT_EDDSA, jwks_key(keys, 0), (const uint8_t *)input,
		strlen(input), sig, n), 0);
	sig[10] ^= 1;
	CHECK_INT(jwt__sig_check(JWT_EDDSA, jwks_key(keys, 0), (const uint8_t *)input,
		strlen(input), sig, n), -EBADMSG);
	snprintf(token, sizeof(token), "%s.%s", input, sig64);
	jwt_policy_init(&p);
	p.algs = JWT_ALG_BIT(JWT_EDDSA);
	CHECK_INT(jwt_verify(keys, &p, token, strlen(token), 0, &r), -EACCES);
	CHECK_INT(r.err, JWT_ERR_MALFORMED);
	CHECK_STR(r.reason, "payload is not a JSON object");
	jwt_result_free(&r);
	jwks_free(keys);
}

static void test_policy_and_names(void)
{
	struct jwt_policy p;
	enum jwt_alg a;

	jwt_policy_init(&p);
	CHECK(p.algs == 0 && p.require_exp && p.max_len == JWT_MAX_LEN_DEFAULT);
	CHECK_INT(jwt_policy_allow(&p, "RS256 ES256 EdDSA HS256"), 0);
	CHECK_INT(p.algs, JWT_ALG_BIT(JWT_RS256) | JWT_ALG_BIT(JWT_ES256) |
		JWT_ALG_BIT(JWT_EDDSA) | JWT_ALG_BIT(JWT_HS256));
	CHECK_INT(jwt_policy_allow(&p, " PS512,,ES384 "), 0);
	CHECK(p.algs & JWT_ALG_BIT(JWT_PS512) && p.algs & JWT_ALG_BIT(JWT_ES384));
	CHECK_INT(jwt_policy_allow(&p, "RS256 none"), -EINVAL);
	CHECK_INT(jwt_policy_allow(&p, "rs256"), -EINVAL);
	CHECK_INT(jwt_policy_allow(&p, ""), 0);
	for (int i = 0; i < JWT_ALG_COUNT; i++) {
		const char *n = jwt_alg_name((enum jwt_alg)i);
		CHECK(jwt_alg_parse(n, strlen(n), &a) == 0 && a == (enum jwt_alg)i);
	}
	CHECK_INT(jwt_alg_parse("ES512", 5, &a), -EINVAL);
	CHECK_STR(jwt_err_name(JWT_ERR_EXPIRED), "expired");
	CHECK_STR(jwt_err_name((enum jwt_err)99), "unknown");
}

static void test_claim_helpers(void)
{
	json_t *c = json_loads("{\"sub\":\"user-42\",\"scope\":\"read  write\",\"scp\":[\"admin\",\"ops\"],"
		"\"roles\":[\"a\",\"b\",3],\"tenant\":7,\"beta\":true,\"ratio\":0.5,"
		"\"crlf\":\"x\\r\\nInjected: 1\",\"obj\":{}}", 0, NULL);
	json_t *c2 = json_loads("{\"scp\":\"alpha beta\"}", 0, NULL);

	CHECK(c && c2);
	CHECK(jwt_scopes_ok(c, "read"));
	CHECK(jwt_scopes_ok(c, "write read"));
	CHECK(jwt_scopes_ok(c, "admin read"));
	CHECK(!jwt_scopes_ok(c, "read delete"));
	CHECK(!jwt_scopes_ok(c, "rea"));
	CHECK(jwt_scopes_ok(c, ""));
	CHECK(jwt_scopes_ok(c, NULL));
	CHECK(jwt_scopes_ok(c2, "beta alpha"));
	CHECK(!jwt_scopes_ok(c2, "gamma"));
	CHECK(jwt_claim_equals(c, "sub", "user-42"));
	CHECK(!jwt_claim_equals(c, "sub", "user-4"));
	CHECK(jwt_claim_equals(c, "roles", "b"));
	CHECK(jwt_claim_equals(c, "roles", "3"));
	CHECK(!jwt_claim_equals(c, "roles", "c"));
	CHECK(jwt_claim_equals(c, "tenant", "7"));
	CHECK(!jwt_claim_equals(c, "tenant", "7x"));
	CHECK(!jwt_claim_equals(c, "tenant", ""));
	CHECK(jwt_claim_equals(c, "beta", "true"));
	CHECK(!jwt_claim_equals(c, "beta", "false"));
	CHECK(!jwt_claim_equals(c, "ratio", "0.5"));
	CHECK(!jwt_claim_equals(c, "obj", "{}"));
	CHECK(!jwt_claim_equals(c, "missing", "x"));
	CHECK_STR(jwt_claim_string(c, "sub"), "user-42");
	CHECK(jwt_claim_string(c, "crlf") == NULL);
	CHECK(jwt_claim_string(c, "tenant") == NULL);
	CHECK(jwt_claim_string(c, "missing") == NULL);
	json_decref(c2);
	json_decref(c);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return T_EXIT_FAIL;
	}
	dir = argv[1];
	test_minted_cases();
	test_rfc7515();
	test_rfc8037();
	test_policy_and_names();
	test_claim_helpers();
	return CHECK_EXIT();
}
