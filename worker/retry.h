/* The end of one upstream attempt: its accounting (instance counters, the
 * breaker, the worker's counters) and, when it failed, whether another
 * attempt is made.
 *
 * A retry happens only when the route's (or else the service's) policy
 * lists the outcome, the method is idempotent (RFC 9110: GET, HEAD,
 * OPTIONS, TRACE, PUT, DELETE) unless retry_non_idempotent is set, the
 * request has no body (it is streamed, not kept), the client has not seen
 * a byte of a response, attempts remain, and the retry budget allows it:
 * retries in flight across all workers stay under budget% of requests in
 * flight, or under min_concurrency. The next attempt waits a full-jitter
 * backoff, rand(0, min(max, min * 2^(n-1))) for the n-th retry, and goes
 * to an instance not tried yet when there is one. */
#ifndef GW_WORKER_RETRY_H
#define GW_WORKER_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/pipeline.h"

/* The attempt on ex->inst ended: <kind> is a GW_FAIL_* bit, or 0 when a
 * response head with <status> arrived. Reports it to the breaker (giving
 * back a probe ticket) and counts it. Once per attempt. */
void attempt_report(struct worker *w, struct exchange *ex, uint32_t kind, unsigned status);

/* After attempt_report() of a failure: start another attempt if the policy
 * allows. Returns true when a retry is under way (the upstream is closed,
 * the pick released, and the pipeline resumes at the pick stage after the
 * backoff); false when the caller fails the exchange as it would have. */
bool retry_maybe(struct worker *w, struct exchange *ex, uint32_t kind, unsigned status);

/* The exchange is over: stop counting it as a retry in flight and drop a
 * pending backoff. */
void retry_end(struct worker *w, struct exchange *ex);

#endif
