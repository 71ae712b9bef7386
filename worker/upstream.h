/* Upstream connections: per-worker keep-alive pools per instance, connect
 * with a deadline, and the response side of an exchange (head parsing,
 * 1xx, body streaming back to the client). */
#ifndef GW_WORKER_UPSTREAM_H
#define GW_WORKER_UPSTREAM_H

#include "worker/conn.h"
#include "worker/core.h"

struct exchange;

/* Events from conn.c and the loop. */
void upstream_on_connect(struct worker *w, struct conn *c, int res);
void upstream_on_data(struct worker *w, struct conn *c);
void upstream_on_eof(struct worker *w, struct conn *c, int err);
void upstream_on_sent(struct worker *w, struct conn *c);
void upstream_on_timeout(struct worker *w, struct conn *c);

/* Move request body bytes from the client's input to the upstream, as far
 * as backpressure allows. 0, or -EINVAL with ex->status/error set when the
 * body is malformed or too large; the caller answers (the pump never runs
 * the pipeline itself, so stages may call it). */
int upstream_pump_request(struct worker *w, struct exchange *ex);

/* Move response body bytes from the upstream to the client, as far as
 * backpressure allows; on the body's end, sets ex->resp_done and releases
 * the upstream. 0, or -EINVAL with ex->status/error set on bad framing. */
int upstream_pump_response(struct worker *w, struct exchange *ex);

/* The client drained below the low mark: read from the upstream again and
 * resume the pipeline if the response completes. */
void upstream_resume(struct worker *w, struct exchange *ex);

/* Bytes straight from a receive buffer, before they would be copied into
 * the connection's input: body bytes are relayed to the peer at once (one
 * copy less on the streaming path). Returns how many were taken; the rest
 * (all of them when the exchange is not streaming a body) go through
 * ->in as usual. upstream_offer() is for upstream connections,
 * upstream_offer_request() for the client side of <ex>. */
size_t upstream_offer(struct worker *w, struct conn *up, const struct rx *rx);
size_t upstream_offer_request(struct worker *w, struct exchange *ex, const struct rx *rx);

/* Client data arrived mid-exchange: pump it, answering on error. */
void upstream_client_data(struct worker *w, struct exchange *ex);

/* Detach and close the exchange's upstream connection (mid-exchange). */
void upstream_abort(struct worker *w, struct exchange *ex);

/* The response is complete: park the connection in its pool if it can
 * carry another request, else close it. */
void upstream_finish(struct worker *w, struct exchange *ex);

#endif
