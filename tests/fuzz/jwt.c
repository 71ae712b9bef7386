/* libFuzzer harness: arbitrary bytes as a token for jwt_verify() against a
 * fixed key set (an HMAC secret, RFC 7515 A.2's RSA key and RFC 8037 A.4's
 * Ed25519 key) under a policy allowing every algorithm. Must never crash,
 * leak or read outside the input; on success the claim helpers run too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_jwks[] =
	"{\"keys\":["
	"{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
	"{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\""
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4"
	"qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2j"
	"Z47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7W"
	"TBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK"
	"-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"},"
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
	"]}";

/* Built on the first input and kept: the harness's only state. */
static struct jwks *fuzz_keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_policy p;
	struct jwt_result r;

	if (!fuzz_keys && jwks_parse(fuzz_jwks, strlen(fuzz_jwks), &fuzz_keys, NULL, 0) < 0)
		abort();
	jwt_policy_init(&p);
	p.algs = JWT_ALGS_ALL;
	p.leeway_s = 30;
	p.require_exp = false;
	p.issuer = "joe";
	if (jwt_verify(fuzz_keys, &p, (const char *)data, size, 1300819000, &r) == 0) {
		(void)jwt_scopes_ok(r.claims, "read write");
		(void)jwt_claim_equals(r.claims, "sub", "x");
		(void)jwt_claim_string(r.claims, "sub");
	}
	jwt_result_free(&r);
	return 0;
}
