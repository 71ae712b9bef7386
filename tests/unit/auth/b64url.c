/* auth/b64url: strict base64url, the first gate every token passes. */
#include "auth/b64url.h"
#include "tests/unit/check.h"

#include <errno.h>

static int dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	return b64url_decode(s, strlen(s), out, cap, n);
}

static void test_valid(void)
{
	uint8_t out[16];
	size_t n = 99;

	CHECK_INT(dec("", out, sizeof(out), &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(dec("Zg", out, sizeof(out), &n), 0);
	CHECK(n == 1 && out[0] == 'f');
	CHECK_INT(dec("Zm8", out, sizeof(out), &n), 0);
	CHECK(n == 2 && memcmp(out, "fo", 2) == 0);
	CHECK_INT(dec("Zm9v", out, sizeof(out), &n), 0);
	CHECK(n == 3 && memcmp(out, "foo", 3) == 0);
	CHECK_INT(dec("-w", out, sizeof(out), &n), 0);
	CHECK(n == 1 && out[0] == 0xfb);
	CHECK_INT(dec("_w", out, sizeof(out), &n), 0);
	CHECK(n == 1 && out[0] == 0xff);
}

static void test_invalid(void)
{
	uint8_t out[16];
	size_t n;

	CHECK_INT(dec("Zg==", out, sizeof(out), &n), -EINVAL);  /* padding */
	CHECK_INT(dec("Zm9v=", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(dec("Z", out, sizeof(out), &n), -EINVAL);     /* 6 bits */
	CHECK_INT(dec("Zh", out, sizeof(out), &n), -EINVAL);    /* spare bits set */
	CHECK_INT(dec("Zm9", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(dec("+w", out, sizeof(out), &n), -EINVAL);    /* base64, not url */
	CHECK_INT(dec("/w", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(dec("Zm 9", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(dec("Zm\n9", out, sizeof(out), &n), -EINVAL);
	CHECK_INT(b64url_decode("Zm\0v", 4, out, sizeof(out), &n), -EINVAL);
	CHECK_INT(dec("Zm9v", out, 2, &n), -ENOSPC);
}

static void test_round_trip(void)
{
	uint8_t in[100], out[100];
	char enc[140];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n = 0;
		int elen = b64url_encode(in, len, enc, sizeof(enc));
		CHECK(elen >= 0);
		CHECK_INT(b64url_decoded_len((size_t)elen), len);
		CHECK_INT(b64url_decode(enc, (size_t)elen, out, sizeof(out), &n), 0);
		CHECK(n == len && memcmp(in, out, len) == 0);
	}
	CHECK_INT(b64url_encode(in, 3, enc, 4), -ENOSPC);  /* no room for NUL */
}

int main(void)
{
	test_valid();
	test_invalid();
	test_round_trip();
	return CHECK_EXIT();
}
