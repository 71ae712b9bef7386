/* Every region of the segment behind one process-local handle, and the
 * master's repair after a worker dies. */
#ifndef GW_SHM_TABLES_H
#define GW_SHM_TABLES_H

#include "shm/apikeys.h"
#include "shm/connlimit.h"
#include "shm/inst.h"
#include "shm/jwks.h"
#include "shm/registry.h"
#include "shm/rl.h"
#include "shm/segment.h"
#include "shm/tickets.h"
#include "shm/workers.h"

struct shm_tables {
	const struct shm_segment *seg;	/* borrowed */
	struct wtab workers;
	struct inst_table inst;
	struct reg_table reg;
	struct tickets tickets;
	struct apikeys apikeys;
	struct jwksr jwks;
	struct rl_table rl;
	struct cl_table connlimit;
};

/* Attach every region of <seg>. <worker_id> is the caller's worker id, or
 * -1 for the master and gatewayctl (claims they make record owner 0).
 * Returns 0 or -EPROTO when a region does not look formatted. */
int shm_tables_attach(struct shm_tables *t, const struct shm_segment *seg, int worker_id);

/* Master, after reaping worker <worker_id>: release every claim it held
 * (rate-limit bucket claims, half-open probes, its registry epoch, its
 * in-flight counts, its per-address connection counts) and free its id. STYLE §7. */
void shm_release_worker_master(struct shm_tables *t, unsigned worker_id);

#endif
