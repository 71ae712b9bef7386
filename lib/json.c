#include "lib/json.h"

#include <string.h>

size_t json_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap == 0)
		return 0;
	/* Stop while the longest escape (\u00XX, 6 bytes) and the NUL fit. */
	for (; *src && n + 7 <= cap; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch == '"' || ch == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(dst + n, "\\u00", 4);
			dst[n + 4] = hex[ch >> 4];
			dst[n + 5] = hex[ch & 0xf];
			n += 6;
		} else {
			dst[n++] = (char)ch;
		}
	}
	dst[n] = '\0';
	return n;
}
