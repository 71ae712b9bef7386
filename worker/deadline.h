/* Client deadlines that guard against slow clients (docs/http.md, "Slow
 * clients"): the request body's read timeout and minimum rate, and the
 * send timeout for a client that does not read its responses. The head's
 * deadline (header_timeout, a total for the whole head, which is what
 * stops slowloris) stays in worker/client.c. */
#ifndef GW_WORKER_DEADLINE_H
#define GW_WORKER_DEADLINE_H

#include <stdbool.h>

#include "worker/core.h"

struct exchange;

/* Body bytes were relayed (or the relay started) and more are awaited:
 * arm the client's timer for the earlier of client_body_timeout from now
 * and the minimum-rate deadline (client_body_min_rate, counted from the
 * body's start after one client_body_timeout of grace). */
void deadline_body(struct worker *w, struct exchange *ex);

/* The client's timer fired while its body was awaited. True: the client
 * is too slow (answer 408). False: we had stopped reading it ourselves
 * (the upstream is slower), so the timer was re-armed and the rate window
 * starts again. */
bool deadline_body_expired(struct worker *w, struct exchange *ex);

/* A send to client <c> was submitted (the first, or the next after one
 * completed): the client must take bytes within send_timeout, or it is
 * closed. */
void deadline_send(struct worker *w, struct conn *c);

/* Prepare or disarm <c>'s send timer (conn_alloc; conn_close, and a
 * completed send with none after it). */
void deadline_send_init(struct conn *c);
void deadline_send_cancel(struct worker *w, struct conn *c);

#endif
