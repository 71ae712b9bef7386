/* URL parsing for gwbench's targets; url.h states what is accepted.
 *
 * Only what a load generator needs: where to connect and which bytes to
 * put on the request line. The target is checked for bytes that cannot
 * appear on a request line (CTLs, space, non-ASCII) so that a typo fails
 * here, with the URL in the message, instead of as 400s from the server. */
#include "bench/gwbench/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* "[v6]" at s (len n) into u->host. */
static int parse_host6(const char *url, const char *s, size_t n, struct url *u,
		       char *err, size_t err_len)
{
	struct in6_addr a6;

	if (n < 3 || s[n - 1] != ']' || n - 2 > URL_MAX_HOST)
		return fail(err, err_len, "'%s': bad IPv6 literal", url);
	memcpy(u->host, s + 1, n - 2);
	u->host[n - 2] = '\0';
	if (inet_pton(AF_INET6, u->host, &a6) != 1)
		return fail(err, err_len, "'%s': bad IPv6 literal", url);
	u->ipv6 = true;
	return 0;
}

static int parse_port(const char *url, const char *s, size_t n, struct url *u,
		      char *err, size_t err_len)
{
	unsigned long v = 0;

	if (!n || n > 5)
		return fail(err, err_len, "'%s': bad port", url);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(err, err_len, "'%s': bad port", url);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(err, err_len, "'%s': port out of range 1..65535", url);
	u->port = (uint16_t)v;
	u->has_port = true;
	return 0;
}

/* The authority "host[:port]" at s (len n). */
static int parse_authority(const char *url, const char *s, size_t n, struct url *u,
			   char *err, size_t err_len)
{
	const char *colon;
	size_t hn;
	int ret;

	if (!n)
		return fail(err, err_len, "'%s': no host", url);
	if (memchr(s, '@', n))
		return fail(err, err_len, "'%s': user info in URLs is not supported", url);
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return fail(err, err_len, "'%s': bad IPv6 literal", url);
		hn = (size_t)(close - s) + 1;
		ret = parse_host6(url, s, hn, u, err, err_len);
		if (ret)
			return ret;
		if (hn == n)
			return 0;
		if (s[hn] != ':')
			return fail(err, err_len, "'%s': junk after the IPv6 literal", url);
		return parse_port(url, s + hn + 1, n - hn - 1, u, err, err_len);
	}
	colon = memchr(s, ':', n);
	hn = colon ? (size_t)(colon - s) : n;
	if (!hn || hn > URL_MAX_HOST)
		return fail(err, err_len, "'%s': bad host", url);
	for (size_t i = 0; i < hn; i++)
		if (!host_char(s[i]))
			return fail(err, err_len, "'%s': bad character in the host", url);
	memcpy(u->host, s, hn);
	u->host[hn] = '\0';
	if (!colon)
		return 0;
	return parse_port(url, colon + 1, n - hn - 1, u, err, err_len);
}

int url_parse(const char *text, struct url *u, char *err, size_t err_len)
{
	static const char http[] = "http://";
	const char *auth, *end, *frag;
	int ret;

	memset(u, 0, sizeof(*u));
	u->port = 80;
	if (strncasecmp(text, "https://", 8) == 0)
		return fail(err, err_len, "'%s': https is not supported yet (TLS arrives later); "
			    "use http://", text);
	if (strncasecmp(text, http, sizeof(http) - 1) != 0)
		return fail(err, err_len, "'%s': only http:// URLs are supported", text);
	auth = text + sizeof(http) - 1;
	end = auth + strcspn(auth, "/?#");
	ret = parse_authority(text, auth, (size_t)(end - auth), u, err, err_len);
	if (ret)
		return ret;
	frag = strchr(end, '#');
	u->target = end;
	u->target_len = frag ? (size_t)(frag - end) : strlen(end);
	for (size_t i = 0; i < u->target_len; i++) {
		unsigned char c = (unsigned char)end[i];

		if (c <= 0x20 || c >= 0x7f)
			return fail(err, err_len, "'%s': space, control or non-ASCII byte in the path "
				    "(percent-encode it)", text);
	}
	if (u->target_len == 0 || u->target[0] == '?') {
		/* "http://h" and "http://h?q" ask for "/" and "/?q". */
		if (u->target_len) {
			return fail(err, err_len, "'%s': a query needs a path: write /?%.*s", text,
				    (int)u->target_len - 1, u->target + 1);
		}
		u->target = "/";
		u->target_len = 1;
	}
	return 0;
}

bool url_same_origin(const struct url *a, const struct url *b)
{
	return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

void url_origin(const struct url *u, char *dst, size_t cap)
{
	snprintf(dst, cap, u->ipv6 ? "[%s]:%u" : "%s:%u", u->host, u->port);
}
