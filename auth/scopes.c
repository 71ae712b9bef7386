/* Scope lists (see auth/scopes.h). */
#include "auth/scopes.h"

#include <errno.h>
#include <string.h>

static bool token_byte(char c)
{
	return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
}

int scopes_norm(const char *list, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *c = list; *c; c++) {
		if (*c != ' ' && *c != '\t' && !token_byte(*c))
			return -EINVAL;
	}
	if (!cap)
		return -ENOSPC;
	while (*list) {
		size_t len;

		list += strspn(list, " \t");
		len = strcspn(list, " \t");
		if (!len)
			break;
		if (n + (n ? 1 : 0) + len >= cap)
			return -ENOSPC;
		if (n)
			out[n++] = ' ';
		memcpy(out + n, list, len);
		n += len;
		list += len;
	}
	out[n] = '\0';
	return (int)n;
}

bool scopes_have(const char *list, const char *scope, size_t len)
{
	for (const char *s = list; s && *s;) {
		size_t n;

		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n && n == len && memcmp(s, scope, len) == 0)
			return true;
		s += n;
	}
	return false;
}

bool scopes_all_in(const char *required, const char *granted)
{
	for (const char *s = required; s && *s;) {
		size_t n;

		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n && !scopes_have(granted, s, n))
			return false;
		s += n;
	}
	return true;
}
