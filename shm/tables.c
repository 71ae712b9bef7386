/* Attaching the regions, and repairing them after a worker's death. The
 * repair order does not matter for correctness (each region's repair is
 * self-contained), but the worker-table entry is released last so that
 * its id cannot be handed out again while another region still shows the
 * dead worker's claims. */
#include "shm/tables.h"

#include <errno.h>

#include "lib/log.h"

int shm_tables_attach(struct shm_tables *t, const struct shm_segment *seg, int worker_id)
{
	uint32_t owner = worker_id < 0 ? 0 : (uint32_t)worker_id + 1;
	size_t size;
	void *mem;

	t->seg = seg;
	mem = shm_region(seg, SHM_REGION_WORKERS, &size);
	if (wtab_attach(&t->workers, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_INSTANCES, &size);
	if (inst_attach(&t->inst, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_REGISTRY, &size);
	if (reg_attach(&t->reg, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_TICKETS, &size);
	if (tickets_attach(&t->tickets, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_APIKEYS, &size);
	if (apikeys_attach(&t->apikeys, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_JWKS, &size);
	if (jwksr_attach(&t->jwks, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_CONNLIMIT, &size);
	if (cl_attach(&t->connlimit, mem, size) < 0)
		return -EPROTO;
	mem = shm_region(seg, SHM_REGION_RATELIMIT, &size);
	if (rl_attach(&t->rl, mem, size, owner) < 0)
		return -EPROTO;
	return 0;
}

void shm_release_worker_master(struct shm_tables *t, unsigned worker_id)
{
	rl_repair_master(&t->rl, worker_id + 1);
	if (cl_repair_master(&t->connlimit, worker_id) < 0)
		log_error("worker %u: a connection-count bucket stayed claimed by another "
			  "process; some of its connections are still counted", worker_id);
	inst_repair_worker_master(&t->inst, worker_id);
	reg_forget_reader_master(&t->reg, worker_id);
	wtab_release_master(&t->workers, worker_id);
}
