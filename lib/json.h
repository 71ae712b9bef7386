/* JSON string escaping for the lines and bodies the gateway writes itself
 * (access log, error responses). */
#ifndef GW_LIB_JSON_H
#define GW_LIB_JSON_H

#include <stddef.h>

/* Write <src> (NUL-terminated) escaped as JSON string content (no quotes)
 * into <dst> of <cap> bytes, always NUL-terminating. Quotes, backslashes
 * and control characters are escaped; other bytes pass as they are. Output
 * that would not fit is cut at a character boundary. Returns the length
 * written. */
size_t json_escape(char *dst, size_t cap, const char *src);

#endif
