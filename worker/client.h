/* Client connections: accept, reading requests, keep-alive, pipelining,
 * lingering close, and their deadlines (header_timeout, idle_timeout). */
#ifndef GW_WORKER_CLIENT_H
#define GW_WORKER_CLIENT_H

#include <stdbool.h>

#include "worker/conn.h"
#include "worker/core.h"

/* A new connection accepted on w->listen_fds[listener]. */
void client_accept(struct worker *w, int fd, uint32_t listener);

/* Events from conn.c. */
void client_on_data(struct worker *w, struct conn *c);
/* Request body bytes straight from a receive buffer (see upstream_offer()):
 * how many were relayed without passing through c->in. */
size_t client_offer(struct worker *w, struct conn *c, const struct rx *rx);
void client_on_eof(struct worker *w, struct conn *c, int err);
void client_on_sent(struct worker *w, struct conn *c);
void client_on_timeout(struct worker *w, struct conn *c);

/* The exchange on <c> finished. Returns true when the next request should
 * be parsed now (keep-alive); false when the connection is closing or waits
 * for more bytes. */
bool client_next_request(struct worker *w, struct conn *c);

/* Close <c> at once, aborting any exchange. */
void client_close(struct worker *w, struct conn *c);

/* Draining: close <c> if it is between requests. */
void client_drain(struct worker *w, struct conn *c);

#endif
