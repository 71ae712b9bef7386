/* Active health checks, run by the master on its own ring.
 *
 * For every instance of a service with a `health = PATH ...` line, the
 * master connects every interval, sends "GET PATH HTTP/1.1" with
 * Connection: close (over TLS, verified as the service's upstream
 * connections are, when the service has tls = yes), and reads the status
 * line. 2xx and 3xx count as a
 * success; anything else, a refused or reset connection, or no status line
 * within the timeout count as a failure. `rise` successes in a row mark a
 * down instance up, `fall` failures in a row mark an up one down; the
 * verdict goes to the instance's health word in the shared segment, where
 * every worker's balancer reads it. An instance starts up and unchecked. */
#ifndef GW_MASTER_HEALTH_H
#define GW_MASTER_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"

struct master;
struct health_checker;
struct tls_client;

/* One instance to check. */
struct health_target {
	unsigned slot;				/* instance slot in the segment */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64];				/* "1.2.3.4:80", for logs */
	char service[64];			/* service name, for logs */
	char host[256];				/* Host header value */
	const struct gw_health_conf *conf;	/* borrowed; path != NULL */
	struct tls_client *tls;			/* borrowed; NULL = plain HTTP */
	const char *sni;			/* borrowed: the service's tls_sni, or NULL */
};

/* Create the checker (no targets yet). NULL on ENOMEM. */
struct health_checker *health_new(void);

/* Replace the target list (copied). A slot present before with the same
 * address keeps its rise/fall progress and schedule; a new one is first
 * checked at a random point within its interval, so checks spread out. An
 * in-flight check of a slot no longer listed is abandoned. 0, -ENOMEM, or
 * -EINVAL (nothing changed) for a slot beyond the instance table. */
int health_set_targets(struct master *m, const struct health_target *targets, size_t n);

/* The earliest monotonic ms at which health_tick() has work; UINT64_MAX
 * when none. */
uint64_t health_next_deadline(const struct master *m);

/* Start due checks, time out late ones. Called every master loop turn. */
void health_tick(struct master *m, uint64_t now_ms);

/* The MIO_HEALTH poll handler (registered by the master's loop setup). */
void health_on_poll(struct master *m, uint32_t index, uint32_t tag, int res);

/* Abandon every check, close every socket, free the checker. */
void health_free(struct master *m);

#endif
