/* The admin HTTP listener, served by the master (admin_listen, loopback by
 * default). One request per connection, answered with JSON:
 *
 *   GET    /healthz                    200 while the master runs
 *   GET    /readyz                     200 when every worker of the current
 *                                      generation accepts, else 503
 *   GET    /registry                   services and instances (as gatewayctl
 *                                      services --json)
 *   PUT    /registry/SERVICE/HOST:PORT[?ttl=30s&weight=N]
 *                                      register or renew (heartbeat) an
 *                                      instance; it is removed when no PUT
 *                                      renews it within its TTL
 *   DELETE /registry/SERVICE/HOST:PORT deregister
 *
 * PUT and DELETE need "Authorization: Bearer <admin_token>"; with no
 * admin_token configured they are refused. */
#ifndef GW_MASTER_ADMIN_H
#define GW_MASTER_ADMIN_H

#include <stdint.h>

struct master;

/* Bind and listen on m->cfg->admin_addr unless admin_listen = off; logs
 * "admin listening on ADDR". 0 or -errno (logged). */
int admin_open(struct master *m);
void admin_close(struct master *m);

void admin_on_poll(struct master *m, uint32_t index, uint32_t tag, int res);
void admin_tick(struct master *m, uint64_t now_ms);
uint64_t admin_next_deadline(const struct master *m);

#endif
