/* Strict base64url (RFC 4648 §5) as JOSE uses it (RFC 7515 §2): no padding,
 * no whitespace, only [A-Za-z0-9_-], and the unused low bits of the last
 * character must be zero. Being strict means one token has exactly one
 * encoding, so a cache keyed by the token text cannot be split by variants. */
#ifndef GW_AUTH_B64URL_H
#define GW_AUTH_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes b64url_decode() writes for <len> input characters (an upper bound
 * when the input is invalid). */
static inline size_t b64url_decoded_len(size_t len)
{
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

/* Decode <len> characters of <in> into <out> (room for <cap> bytes) and
 * store the byte count in <*outlen>. Returns 0, -EINVAL if the input is not
 * canonical unpadded base64url, or -ENOSPC if <cap> is too small. Empty
 * input decodes to zero bytes. */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* Encode <len> bytes into <out> (room for <cap> chars including the NUL).
 * Returns the length written, or -ENOSPC. Used by tests and the fuzzer. */
int b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
