/* Route matching and path rewriting for one worker.
 *
 * The config already holds routes in precedence order (cfg->route_order);
 * route_match() walks that order and returns the first route whose every
 * condition holds. A matcher owns the per-process scratch PCRE2 needs, so
 * each worker creates its own after fork. */
#ifndef GW_WORKER_ROUTE_H
#define GW_WORKER_ROUTE_H

#include <stddef.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/http1.h"

struct route_matcher;

/* Create a matcher over <cfg> (borrowed, must outlive it); NULL on ENOMEM. */
struct route_matcher *route_matcher_new(const struct gw_config *cfg);
void route_matcher_free(struct route_matcher *m);

/* Index into cfg->routes of the route serving <req> (whose spans point into
 * <buf>), or -1 when none matches. Host is compared case-insensitively
 * without its port; path, header values and query values byte for byte. */
int route_match(struct route_matcher *m, const char *buf, const struct http_request *req);

/* Append to <out> the path to send upstream for <req> on route <route>:
 * strip_prefix first (leaving at least "/"), then rewrite (regex with
 * $1..$9 captures) on what remains, then the original "?query" if any.
 * Returns 0, or -ENOBUFS when <out> would pass <limit> bytes. */
int route_upstream_target(struct route_matcher *m, size_t route, const char *buf,
			  const struct http_request *req, struct buf *out, size_t limit);

#endif
