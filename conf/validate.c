/* Checks that need the whole file: required keys, references between
 * sections, and what must exist at least once. Each problem is reported at
 * the line a reader would go to fix it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

static void validate_services(struct conf_parser *p)
{
	struct gw_config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->n_services; i++) {
		struct gw_service_conf *svc = &cfg->services[i];

		if (!svc->n_instances)
			conf__error(p, svc->line, "service '%s' has no instance", svc->name);
		/* breaker_on may come before breaker, so this waits for the end. */
		if (svc->breaker.on_line && svc->breaker.mode == GW_BRK_OFF)
			conf__warn(p, svc->breaker.on_line, "breaker_on has no effect without breaker");
		conf__validate_upstream_tls(p, svc);
	}
}

static bool validate_is_loopback(const struct gw_addr *a)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
}

static bool validate_is_any(const struct gw_addr *a)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return in->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

/* Would binding both fail (or, with SO_REUSEPORT, silently share one
 * port)? Same family and port, and the same address or a wildcard. Port 0
 * is a fresh port each time. */
static bool validate_addrs_clash(const struct gw_addr *a, const struct gw_addr *b)
{
	unsigned port = conf__addr_port(a);

	if (!port || port != conf__addr_port(b) || a->ss.ss_family != b->ss.ss_family)
		return false;
	return strcmp(a->text, b->text) == 0 || validate_is_any(a) || validate_is_any(b);
}

/* The admin endpoint must not take a client port, and should not be
 * reachable from elsewhere without a token. */
static void validate_admin(struct conf_parser *p)
{
	const struct gw_config *cfg = p->cfg;

	if (!cfg->admin_enabled)
		return;
	for (size_t i = 0; i < cfg->n_listens; i++) {
		const struct gw_listen_conf *l = &cfg->listens[i];

		if (!validate_addrs_clash(&cfg->admin_addr, &l->addr))
			continue;
		if (p->admin_line)
			conf__error(p, p->admin_line, "admin_listen %s clashes with listen %s (line %d)",
				    cfg->admin_addr.text, l->addr.text, l->line);
		else
			conf__error(p, l->line, "listen %s clashes with the default admin_listen %s "
				    "(set admin_listen to another address, or off)", l->addr.text,
				    cfg->admin_addr.text);
	}
	if (!validate_is_loopback(&cfg->admin_addr) && !cfg->admin_token)
		conf__warn(p, p->admin_line, "admin_listen on a non-loopback address: protect it "
			   "with admin_token and a firewall");
}

/* A route with retry_non_idempotent but no retry keeps its service's
 * policy and changes only that; it then carries the whole policy, so a
 * worker reads one struct (the route's when its line is set). */
static void validate_route_retry(struct gw_route_conf *r, const struct gw_service_conf *svc)
{
	struct gw_retry_conf *rr = &r->retry;
	bool non_idempotent = rr->non_idempotent;
	int line = rr->non_idempotent_line;

	if (rr->line || !line)
		return;
	*rr = svc->retry;
	rr->non_idempotent = non_idempotent;
	rr->non_idempotent_line = line;
	rr->line = line;
}

/* A strip_prefix that is not a segment-aligned prefix of a literal path
 * can never strip anything. A regex path may match anything, so it is not
 * checked. */
static void validate_strip_prefix(struct conf_parser *p, const struct gw_route_conf *r)
{
	size_t n;

	if (!r->strip_prefix || !r->path || r->path_kind == GW_PATH_REGEX)
		return;
	n = strlen(r->strip_prefix);
	if (strncmp(r->path, r->strip_prefix, n) == 0 &&
	    (r->path[n] == '\0' || r->path[n] == '/' || r->strip_prefix[n - 1] == '/'))
		return;
	conf__warn(p, r->line, "route '%s': strip_prefix '%s' is not a prefix of its path '%s'",
		   r->name, r->strip_prefix, r->path);
}

static void validate_route(struct conf_parser *p, struct gw_route_conf *r)
{
	struct gw_service_conf *svc;

	/* A key that was present but bad has been reported already. */
	if (!r->path && !r->path_line)
		conf__error(p, r->line, "route '%s' has no path", r->name);
	if (!r->service_name) {
		if (!r->service_line)
			conf__error(p, r->line, "route '%s' has no service", r->name);
	} else if (!(svc = conf__service_find(p->cfg, r->service_name))) {
		conf__error(p, r->service_line, "route '%s' names unknown service '%s'",
			    r->name, r->service_name);
	} else {
		r->service = (size_t)(svc - p->cfg->services);
		validate_route_retry(r, svc);
	}
	r->n_conditions = (r->methods || r->method_names ? 1 : 0) + (r->host ? 1 : 0) +
			  (unsigned)r->n_headers + (r->query_name ? 1 : 0);
	validate_strip_prefix(p, r);
}

void conf__validate(struct conf_parser *p)
{
	struct gw_config *cfg = p->cfg;
	int where = p->gateway_line ? p->gateway_line : 1;

	if (!cfg->n_listens)
		conf__error(p, where, "no listen address");
	validate_admin(p);
	conf__validate_tls(p);
	if (cfg->group && !cfg->user)
		conf__error(p, cfg->group_line, "'group' needs 'user' (the workers' user)");
	validate_services(p);
	conf__validate_jwt(p);
	conf__validate_apikeys(p);
	for (size_t i = 0; i < cfg->n_routes; i++)
		validate_route(p, &cfg->routes[i]);
	if (!cfg->n_routes)
		conf__error(p, 1, "no route");
}
