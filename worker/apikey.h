/* API-key authentication for routes with "auth = apikey" (alone, or with
 * jwt:NAME: either credential is accepted). The hooks worker/auth.c's
 * authn stage and the transform stage call; the key table itself is in
 * the shared segment (shm/apikeys.h). */
#ifndef GW_WORKER_APIKEY_H
#define GW_WORKER_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/http1.h"
#include "worker/pipeline.h"

/* What the key of a request came to (ex->apikey). */
enum apikey_outcome {
	APIKEY_NONE = 0,	/* not looked at: the route takes no keys */
	APIKEY_OK,		/* a live key: ex->consumer names its consumer */
	APIKEY_MISSING,		/* no key header */
	APIKEY_INVALID,		/* no live key matches (unknown or revoked) */
	APIKEY_SCOPE,		/* a live key without every scope the route requires */
};

/* Whether the route of <ex> takes API keys. */
bool apikey_route(const struct worker *w, const struct exchange *ex);

/* The authn stage's key half, for a route that takes keys. STAGE_CONTINUE
 * when a key authenticated the request (ex->apikey == APIKEY_OK, scopes
 * granted), or when no key was sent and the route also takes tokens (the
 * token decides). Otherwise STAGE_RESPOND: 401 for a missing or invalid
 * key, 403 insufficient_scope, 503 when the table stayed busy. */
enum stage_result apikey_authn(struct worker *w, struct exchange *ex);

/* Whether the key half decided the refusal (so no token was looked at). */
bool apikey_refused(const struct exchange *ex);

/* The "WWW-Authenticate: ApiKey ..." line of an authn/authz refusal on a
 * route that takes keys; nothing otherwise. 0 or -ENOSPC. */
int apikey_challenge(const struct worker *w, const struct exchange *ex, struct buf *out,
		     size_t cap);

/* The transform stage: whether the client's field <name> is dropped (the
 * key header and X-Consumer, whenever [apikeys] is configured), and the
 * X-Consumer line of a key-authenticated request. 0 or -ENOSPC. */
bool apikey_dropped_field(const struct worker *w, const char *buf, struct http_span name);
int apikey_put_consumer(const struct exchange *ex, struct buf *out, size_t limit);

#endif
