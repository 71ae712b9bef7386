/* The decision stages: which route serves the request, and which instance
 * of its service gets it. Both read the request head in place. */
#include <netinet/in.h>

#include "worker/balance.h"
#include "worker/conn.h"
#include "worker/route.h"
#include "worker/stages.h"

enum stage_result stage_route(struct worker *w, struct exchange *ex)
{
	int route = route_match(w->router, buf_head(&ex->client->in), &ex->req);

	if (route < 0) {
		ex->status = 404;
		ex->error = "no route matches the request";
		return STAGE_RESPOND;
	}
	ex->route = route;
	ex->service = (uint32_t)w->cfg->routes[route].service;
	return STAGE_CONTINUE;
}

/* The bytes a hashing balancer hashes for this request, if any. */
static struct bal_key balance_key(struct worker *w, struct exchange *ex)
{
	const struct gw_service_conf *svc = &w->cfg->services[ex->service];
	const struct sockaddr_storage *peer = &ex->client->client.peer;
	struct bal_key key = { NULL, 0 };

	if (svc->balance == GW_BAL_HASH_IP) {
		if (peer->ss_family == AF_INET) {
			key.data = &((const struct sockaddr_in *)peer)->sin_addr;
			key.len = sizeof(struct in_addr);
		} else if (peer->ss_family == AF_INET6) {
			key.data = &((const struct sockaddr_in6 *)peer)->sin6_addr;
			key.len = sizeof(struct in6_addr);
		}
	} else if (svc->balance == GW_BAL_HASH_HEADER) {
		const char *buf = buf_head(&ex->client->in);
		int i = http_field_find(buf, &ex->req.h, svc->hash_header);
		if (i >= 0) {
			key.data = buf + ex->req.h.fields[i].value.off;
			key.len = ex->req.h.fields[i].value.len;
		}
	}
	return key;
}

enum stage_result stage_pick(struct worker *w, struct exchange *ex)
{
	struct bal_key key = balance_key(w, ex);

	ex->instance = bal_pick(w->balancers[ex->service], &key);
	ex->picked = true;
	return STAGE_CONTINUE;
}
