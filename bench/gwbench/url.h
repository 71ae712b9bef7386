/* The URLs gwbench accepts: http://HOST[:PORT][/PATH[?QUERY]][#FRAGMENT].
 *
 * HOST is an IPv4 literal, a bracketed IPv6 literal or a host name (resolved
 * once, at start, by plan.c). https:// is refused with its own message
 * until TLS arrives; anything else is not a URL we know. */
#ifndef GW_BENCH_GWBENCH_URL_H
#define GW_BENCH_GWBENCH_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_MAX_HOST 255

struct url {
	char host[URL_MAX_HOST + 1];	/* without brackets, NUL-terminated */
	bool ipv6;			/* host was a bracketed literal */
	uint16_t port;			/* 80 unless given */
	bool has_port;			/* the URL spelled a port */
	const char *target;		/* origin-form request-target, into the input */
	size_t target_len;		/* ("/" when the URL has no path: then points to a literal) */
};

/* Parse <text> into <u>. 0, or -EINVAL with a reason in err[err_len]
 * (no prefix, no newline). */
int url_parse(const char *text, struct url *u, char *err, size_t err_len);

/* True when <a> and <b> name the same host (ASCII case-insensitive) and port. */
bool url_same_origin(const struct url *a, const struct url *b);

/* "host:port" or "[v6]:port" into dst[cap], for messages. */
void url_origin(const struct url *u, char *dst, size_t cap);

#endif
