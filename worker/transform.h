/* Header rewriting in both directions (RFC 9110 §7.6): hop-by-hop fields
 * and those named in Connection never cross the gateway; the gateway adds
 * X-Forwarded-For/-Proto/-Host and X-Request-Id upstream, and X-Request-Id
 * downstream, and hides the upstream's Server. */
#ifndef GW_WORKER_TRANSFORM_H
#define GW_WORKER_TRANSFORM_H

#include "worker/pipeline.h"

/* Append to <out> the response head for the client: the status line of
 * ex->resp (parsed from <buf>) and its fields, rewritten. For an interim
 * (1xx) head too. 0 or -ENOBUFS. */
int transform_response_head(struct worker *w, const struct exchange *ex, const char *buf,
			    struct buf *out);

#endif
