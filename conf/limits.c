/* [gateway] hardening keys: request limits, client timeouts, the per-IP
 * connection limit, and the user workers run as.
 *
 * Defaults follow what nginx, Apache and HAProxy users expect (docs/config.md
 * has the table): 100 header fields (HAProxy's tune.http.maxhdr is 101),
 * an 8 KiB request line (nginx's large_client_header_buffers), nginx's 60 s
 * client_body_timeout and send_timeout, and a minimum body rate in the
 * manner of Apache's mod_reqtimeout "body=...,MinRate=500", here 1 KiB/s. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/internal.h"
#include "lib/http1.h"

#define LIMITS_REQUEST_LINE_MIN 64u
#define LIMITS_REQUEST_LINE_MAX (1u << 20)
#define LIMITS_CONNS_PER_IP_MAX 65535u	/* shm/connlimit.h counts per worker in 16 bits */
#define LIMITS_NAME_MAX 64u
#define LIMITS_GROUPS_MAX 256u

void conf__limits_defaults(struct gw_config *cfg)
{
	cfg->max_headers = HTTP_MAX_HEADERS;
	cfg->max_request_line = 8192;
	cfg->client_body_timeout_ms = 60000;
	cfg->client_body_min_rate = 1024;
	cfg->send_timeout_ms = 60000;
	cfg->max_conns_per_ip = 0;
}

void conf__gateway_max_headers(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t n;

	/* The parser keeps the fields in a fixed array of HTTP_MAX_HEADERS. */
	if (conf__parse_uint(value, 1, HTTP_MAX_HEADERS, &n) < 0) {
		conf__error(p, p->line, "'%s' must be a number 1..%d, not '%s'", key,
			    HTTP_MAX_HEADERS, value);
		return;
	}
	p->cfg->max_headers = (unsigned)n;
}

void conf__gateway_max_request_line(struct conf_parser *p, const char *key, const char *value)
{
	conf__size(p, key, value, LIMITS_REQUEST_LINE_MIN, LIMITS_REQUEST_LINE_MAX,
		   &p->cfg->max_request_line);
}

void conf__gateway_client_body_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &p->cfg->client_body_timeout_ms);
}

/* Bytes per second, written as a size ("1K", "500"); 0 turns it off. */
void conf__gateway_client_body_min_rate(struct conf_parser *p, const char *key,
					const char *value)
{
	conf__size(p, key, value, 0, 1ull << 30, &p->cfg->client_body_min_rate);
}

void conf__gateway_send_timeout(struct conf_parser *p, const char *key, const char *value)
{
	conf__duration(p, key, value, false, &p->cfg->send_timeout_ms);
}

void conf__gateway_max_conns_per_ip(struct conf_parser *p, const char *key, const char *value)
{
	uint64_t n;

	if (conf__parse_uint(value, 0, LIMITS_CONNS_PER_IP_MAX, &n) < 0) {
		conf__error(p, p->line, "'%s' must be a number 0..%u (0 = off), not '%s'", key,
			    LIMITS_CONNS_PER_IP_MAX, value);
		return;
	}
	p->cfg->max_conns_per_ip = (unsigned)n;
}

static bool name_ok(struct conf_parser *p, const char *key, const char *value)
{
	size_t n = strlen(value);

	if (!n || n > LIMITS_NAME_MAX) {
		conf__error(p, p->line, "'%s' wants a name of 1..%u characters", key,
			    LIMITS_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c <= ' ' || c >= 0x7f || c == ':') {
			conf__error(p, p->line, "'%s' is not a valid user or group name", value);
			return false;
		}
	}
	return true;
}

/* The supplementary groups a login of <pw> would have, so a worker can
 * setgroups() without reading the group database itself (initgroups()). */
static void user_groups(struct conf_parser *p, const struct passwd *pw)
{
	int n = LIMITS_GROUPS_MAX;
	gid_t groups[LIMITS_GROUPS_MAX];
	uint32_t *out;

	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
		conf__error(p, p->line, "user '%s' is in more than %u groups", pw->pw_name,
			    LIMITS_GROUPS_MAX);
		return;
	}
	out = calloc((size_t)n, sizeof(*out));
	if (!out) {
		conf__error(p, p->line, "out of memory");
		return;
	}
	for (int i = 0; i < n; i++)
		out[i] = (uint32_t)groups[i];
	free(p->cfg->user_groups);
	p->cfg->user_groups = out;
	p->cfg->n_user_groups = (size_t)n;
}

/* Resolved now, in the master, so a typo fails the load (and a reload)
 * with its line instead of a worker that cannot start. */
void conf__gateway_user(struct conf_parser *p, const char *key, const char *value)
{
	struct passwd *pw;

	if (!name_ok(p, key, value))
		return;
	errno = 0;
	pw = getpwnam(value);
	if (!pw) {
		conf__error(p, p->line, "unknown user '%s'%s%s", value, errno ? ": " : "",
			    errno ? strerror(errno) : "");
		return;
	}
	free(p->cfg->user);
	p->cfg->user = conf__strdup(p, value);
	p->cfg->user_uid = (uint32_t)pw->pw_uid;
	if (!p->cfg->group)
		p->cfg->user_gid = (uint32_t)pw->pw_gid;
	user_groups(p, pw);
	/* nginx: "the user directive makes sense only if the master process
	 * runs with super-user privileges, ignored". */
	if (geteuid() != 0)
		conf__warn(p, p->line, "'%s' has no effect: gatewayd is not running as root", key);
}

void conf__gateway_group(struct conf_parser *p, const char *key, const char *value)
{
	struct group *gr;

	if (!name_ok(p, key, value))
		return;
	errno = 0;
	gr = getgrnam(value);
	if (!gr) {
		conf__error(p, p->line, "unknown group '%s'%s%s", value, errno ? ": " : "",
			    errno ? strerror(errno) : "");
		return;
	}
	free(p->cfg->group);
	p->cfg->group = conf__strdup(p, value);
	p->cfg->group_line = p->line;
	p->cfg->user_gid = (uint32_t)gr->gr_gid;
}
