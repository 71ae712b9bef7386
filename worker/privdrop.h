/* Dropping root in a worker (user = / group = in [gateway]). */
#ifndef GW_WORKER_PRIVDROP_H
#define GW_WORKER_PRIVDROP_H

#include "conf/config.h"

/* In a worker whose setup is done (ring, listeners, logs open) and which
 * has accepted nothing yet: when running as root and <cfg> names a user,
 * become that user and group for good. 0, 0 also when there is nothing to
 * do; -errno when a step failed or root could be regained (the worker must
 * not serve then). */
int privdrop_worker(const struct gw_config *cfg);

#endif
