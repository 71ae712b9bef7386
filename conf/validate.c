/* Checks that need the whole file: required keys, references between
 * sections, and what must exist at least once. Each problem is reported at
 * the line a reader would go to fix it. */
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

static void validate_services(struct conf_parser *p)
{
	const struct gw_config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct gw_service_conf *svc = &cfg->services[i];

		if (!svc->n_instances)
			conf__error(p, svc->line, "service '%s' has no instance", svc->name);
	}
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
	validate_services(p);
	for (size_t i = 0; i < cfg->n_routes; i++)
		validate_route(p, &cfg->routes[i]);
	if (!cfg->n_routes)
		conf__error(p, 1, "no route");
}
