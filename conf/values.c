/* Value syntax shared by every section: numbers, durations, sizes, booleans,
 * names and socket addresses. Each parser accepts the whole string or
 * nothing: no sign, no surrounding space, no trailing garbage, no overflow. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "conf/internal.h"

/* Read the leading decimal digits of <text> (at least one) into *out and
 * point *end after them; -EINVAL when there is no digit or on overflow. */
static int values_digits(const char *text, uint64_t *out, const char **end)
{
	uint64_t n = 0;
	const char *s = text;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	*out = n;
	*end = s;
	return 0;
}

int conf__parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t n;

	if (values_digits(text, &n, &end) < 0 || *end || n < min || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

int conf_parse_duration_ms(const char *text, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },		/* a bare number is seconds */
		{ "ms", 1 },
		{ "s", 1000 },
		{ "m", 60 * 1000 },
		{ "h", 60 * 60 * 1000 },
	};
	const char *end;
	uint64_t n;

	if (values_digits(text, &n, &end) < 0)
		return -EINVAL;
	for (size_t i = 0; i < CONF_ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / units[i].ms)
			return -EINVAL;
		*out = n * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

int conf_parse_size(const char *text, uint64_t *out)
{
	const char *end;
	unsigned shift;
	uint64_t n;

	if (values_digits(text, &n, &end) < 0)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		shift = 0;
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (shift && end[1])
		return -EINVAL;
	if (n > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = n << shift;
	return 0;
}

int conf__parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < CONF_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

bool conf__is_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	}
	return true;
}

bool conf__is_token(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!c || (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

unsigned conf__addr_port(const struct gw_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

/* A host name as DNS spells it: letters, digits, '-', '.', and '_' (seen in
 * service records and container names). Anything else cannot resolve, so
 * reject it before asking the resolver. */
static bool values_is_hostname(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-._", *s))
			return false;
	}
	return true;
}

/* Split "host:port" / "[v6]:port" into <host> (brackets removed) and
 * <port>; both must be non-empty and the port 0..65535 in digits. */
static int values_split_addr(const char *text, char *host, size_t host_size,
			     char *port, size_t port_size, bool *bracketed)
{
	const char *colon, *hs = text, *he;
	uint64_t n;

	*bracketed = text[0] == '[';
	if (*bracketed) {
		hs = text + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		colon = he + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		he = colon;
		/* An IPv6 literal needs its brackets: "::1:80" is ambiguous. */
		if (memchr(hs, ':', (size_t)(he - hs)))
			return -EINVAL;
	}
	if (he == hs || (size_t)(he - hs) >= host_size)
		return -EINVAL;
	if (strlen(colon + 1) >= port_size ||
	    conf__parse_uint(colon + 1, 0, 65535, &n) < 0)
		return -EINVAL;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Write the canonical text "1.2.3.4:80" / "[::1]:80" of out->ss. */
static int values_addr_text(struct gw_addr *out)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int n;

	if (getnameinfo((struct sockaddr *)&out->ss, out->len, host, sizeof(host),
			serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -EINVAL;
	if (out->ss.ss_family == AF_INET6)
		n = snprintf(out->text, sizeof(out->text), "[%s]:%s", host, serv);
	else
		n = snprintf(out->text, sizeof(out->text), "%s:%s", host, serv);
	return n > 0 && (size_t)n < sizeof(out->text) ? 0 : -EINVAL;
}

/* getaddrinfo() <host> <port> with <flags>; the first result wins, as the
 * resolver's order (RFC 6724, gai.conf) is the one the admin controls. */
static int values_lookup(const char *host, const char *port, int flags, int family,
			 struct gw_addr *out)
{
	struct addrinfo hints = {
		.ai_family = family,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = flags | AI_NUMERICSERV,
	};
	struct addrinfo *res;
	int rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return values_addr_text(out);
}

/* True when <host> is some numeric IPv4 form other than a dotted quad
 * ("127.1", "0x7f.0.0.1", "1.2.3.4.5"): a typo, never a name to resolve. */
static bool values_is_odd_ipv4(const char *host)
{
	struct in_addr in;

	return inet_aton(host, &in) != 0 || strspn(host, "0123456789.") == strlen(host);
}

int conf_parse_addr(const char *text, bool resolve_names, struct gw_addr *out)
{
	char host[256], port[8];
	struct in_addr in;
	bool bracketed;

	if (values_split_addr(text, host, sizeof(host), port, sizeof(port), &bracketed) < 0)
		return -EINVAL;
	if (bracketed) {
		/* getaddrinfo() rather than inet_pton() to accept a %scope;
		 * but glibc takes odd things ("*"), so check the digits first. */
		size_t n = strspn(host, "0123456789abcdefABCDEF:.");
		int rc;

		if (!n || (host[n] && host[n] != '%'))
			return -EINVAL;
		rc = values_lookup(host, port, AI_NUMERICHOST, AF_INET6, out);

		return rc == -ENOENT ? -EINVAL : rc;
	}
	if (strcmp(host, "*") == 0)
		return values_lookup("0.0.0.0", port, AI_NUMERICHOST, AF_INET, out);
	if (inet_pton(AF_INET, host, &in) == 1)
		return values_lookup(host, port, AI_NUMERICHOST, AF_INET, out);

	if (!values_is_hostname(host) || values_is_odd_ipv4(host))
		return -EINVAL;
	if (!resolve_names)
		return -ENOENT;
	return values_lookup(host, port, 0, AF_UNSPEC, out);
}

int conf__addr(struct conf_parser *p, const char *key, const char *text,
	       struct gw_addr *out)
{
	int rc = conf_parse_addr(text, !(p->flags & CONF_NO_RESOLVE), out);

	if (rc == -EINVAL)
		conf__error(p, p->line, "bad address '%s' for '%s' (want IP:PORT, [IPv6]:PORT or HOST:PORT)",
			    text, key);
	else if (rc == -ENOENT && (p->flags & CONF_NO_RESOLVE))
		conf__error(p, p->line, "host name in '%s' for '%s' is not resolved in this mode",
			    text, key);
	else if (rc == -ENOENT)
		conf__error(p, p->line, "cannot resolve '%s' for '%s'", text, key);
	else if (rc == -ENOMEM)
		p->oom = true;
	return rc;
}

int conf__duration(struct conf_parser *p, const char *key, const char *value,
		   bool zero_ok, uint64_t *out)
{
	uint64_t ms;

	if (conf_parse_duration_ms(value, &ms) < 0) {
		conf__error(p, p->line, "bad duration '%s' for '%s'", value, key);
		return -EINVAL;
	}
	if (!ms && !zero_ok) {
		conf__error(p, p->line, "'%s' must be more than 0", key);
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

int conf__size(struct conf_parser *p, const char *key, const char *value,
	       uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n;

	if (conf_parse_size(value, &n) < 0) {
		conf__error(p, p->line, "bad size '%s' for '%s'", value, key);
		return -EINVAL;
	}
	if (n < min || n > max) {
		conf__error(p, p->line, "'%s' must be %" PRIu64 "..%" PRIu64 " bytes, not %s",
			    key, min, max, value);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

char *conf__path(struct conf_parser *p, const char *value)
{
	const char *slash = strrchr(p->name, '/');
	char *out;

	if (value[0] == '/' || !slash)
		return conf__strdup(p, value);
	if (asprintf(&out, "%.*s/%s", (int)(slash - p->name), p->name, value) < 0) {
		p->oom = true;
		return NULL;
	}
	return out;
}
