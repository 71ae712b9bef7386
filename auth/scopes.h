/* Scope lists: scope tokens (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E, so
 * no '"' or '\' and a list can be quoted in a WWW-Authenticate header)
 * separated by spaces. One rule for a route's required scopes (conf/), a
 * key's granted scopes (the key store) and a token's "scope" claim. */
#ifndef GW_AUTH_SCOPES_H
#define GW_AUTH_SCOPES_H

#include <stdbool.h>
#include <stddef.h>

/* Write <list> (tokens separated by spaces or tabs, any number) into <out>
 * (<cap> bytes with the NUL) as tokens separated by single spaces. Returns
 * the length written, -EINVAL for a byte that is neither a token byte nor a
 * separator, or -ENOSPC when the normalised list does not fit. */
int scopes_norm(const char *list, char *out, size_t cap);

/* Whether the space-separated <list> (NULL = empty) holds the scope
 * <scope>[0..len). */
bool scopes_have(const char *list, const char *scope, size_t len);

/* Whether every scope of <required> is in <granted> (both space-separated,
 * NULL = empty; an empty <required> needs nothing). */
bool scopes_all_in(const char *required, const char *granted);

#endif
