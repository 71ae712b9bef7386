#include "auth/b64url.h"

#include <errno.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of <c>, or -1 for anything outside the alphabet (which
 * includes '=', '+', '/' and whitespace). */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	/* One leftover character carries only 6 bits: never a whole byte. */
	if (len % 4 == 1)
		return -EINVAL;
	if (b64url_decoded_len(len) > cap)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Non-zero spare bits would give a second spelling of the same bytes. */
	if (acc & ((1u << bits) - 1))
		return -EINVAL;
	*outlen = n;
	return 0;
}

int b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	if (need + 1 > cap || need > INT32_MAX)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = b64url_alphabet[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[n++] = b64url_alphabet[(acc << (6 - bits)) & 63];
	out[n] = '\0';
	return (int)n;
}
