/* Route precedence and the routes it hides.
 *
 * The first route in cfg->route_order whose every condition holds serves
 * the request, so the order is the matching semantics:
 *   1. by path kind: exact, then regex, then prefix;
 *   2. among prefixes, the longer prefix first (most specific);
 *   3. then the route with more conditions first (methods, host, each
 *      header, query: one each);
 *   4. then file order.
 * Rule 4 makes the order total, so the result never depends on the sort.
 *
 * A route B is reported as never matched when some A before it has the same
 * kind and path text and each of A's conditions is implied by B's: every
 * request B accepts, A accepts first. The check is sound, not complete (a
 * wildcard host or an overlapping regex is not reasoned about), so it
 * never warns about a route that can match. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

static int order_cmp(const void *a, const void *b, void *arg)
{
	const struct gw_config *cfg = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	const struct gw_route_conf *ra = &cfg->routes[ia], *rb = &cfg->routes[ib];

	/* enum gw_path_kind is declared in precedence order. */
	if (ra->path_kind != rb->path_kind)
		return ra->path_kind < rb->path_kind ? -1 : 1;
	if (ra->path_kind == GW_PATH_PREFIX) {
		size_t la = strlen(ra->path), lb = strlen(rb->path);

		if (la != lb)
			return la > lb ? -1 : 1;
	}
	if (ra->n_conditions != rb->n_conditions)
		return ra->n_conditions > rb->n_conditions ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static bool order_has_name(char *const *names, const char *name)
{
	for (; names && *names; names++) {
		if (strcmp(*names, name) == 0)
			return true;
	}
	return false;
}

/* Does every request with B's methods also pass A's method condition? */
static bool order_methods_implied(const struct gw_route_conf *a, const struct gw_route_conf *b)
{
	if (!a->methods && !a->method_names)
		return true;
	if (!b->methods && !b->method_names)
		return false;
	if (b->methods & ~a->methods)
		return false;
	for (char **m = b->method_names; m && *m; m++) {
		if (!order_has_name(a->method_names, *m))
			return false;
	}
	return true;
}

static bool order_header_in(const struct gw_header_match *h, const struct gw_route_conf *b)
{
	for (size_t i = 0; i < b->n_headers; i++) {
		if (strcmp(b->headers[i].name, h->name) == 0 &&
		    strcmp(b->headers[i].value, h->value) == 0)
			return true;
	}
	return false;
}

/* True when route <a> matches every request route <b> matches. */
static bool order_shadows(const struct gw_route_conf *a, const struct gw_route_conf *b)
{
	if (a->path_kind != b->path_kind || strcmp(a->path, b->path) != 0)
		return false;
	if (!order_methods_implied(a, b))
		return false;
	if (a->host && (!b->host || strcmp(a->host, b->host) != 0))
		return false;
	for (size_t i = 0; i < a->n_headers; i++) {
		if (!order_header_in(&a->headers[i], b))
			return false;
	}
	if (a->query_name && (!b->query_name || strcmp(a->query_name, b->query_name) != 0 ||
			      strcmp(a->query_value, b->query_value) != 0))
		return false;
	return true;
}

static void order_warn_shadowed(struct conf_parser *p)
{
	const struct gw_config *cfg = p->cfg;

	for (size_t j = 1; j < cfg->n_routes; j++) {
		const struct gw_route_conf *b = &cfg->routes[cfg->route_order[j]];

		for (size_t i = 0; i < j; i++) {
			const struct gw_route_conf *a = &cfg->routes[cfg->route_order[i]];

			if (!order_shadows(a, b))
				continue;
			conf__warn(p, b->line, "route '%s' is never matched: route '%s' (line %d) "
				   "always matches first", b->name, a->name, a->line);
			break;
		}
	}
}

int conf__routes_order(struct conf_parser *p)
{
	struct gw_config *cfg = p->cfg;

	cfg->route_order = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*cfg->route_order));
	if (!cfg->route_order)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_routes; i++)
		cfg->route_order[i] = i;
	qsort_r(cfg->route_order, cfg->n_routes, sizeof(*cfg->route_order), order_cmp, cfg);
	order_warn_shadowed(p);
	return 0;
}
