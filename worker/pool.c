#include "worker/pool.h"

#include "tls/client.h"
#include "worker/conn.h"

static struct pool *pool_of(struct worker *w, const struct conn *up)
{
	return &w->pools[up->up.slot];
}

void pool_init(struct pool *p)
{
	p->head = POOL_NONE;
	p->count = 0;
	p->tls_session = NULL;
}

void pool_park(struct worker *w, struct conn *up)
{
	struct pool *p = pool_of(w, up);

	up->up.phase = UPSTREAM_IDLE;
	up->up.pool_prev = POOL_NONE;
	up->up.pool_next = p->head;
	if (p->head != POOL_NONE)
		w->conns[p->head].up.pool_prev = up->index;
	p->head = up->index;
	p->count++;
}

void pool_unpark(struct worker *w, struct conn *up)
{
	struct pool *p = pool_of(w, up);

	if (up->up.pool_prev != POOL_NONE)
		w->conns[up->up.pool_prev].up.pool_next = up->up.pool_next;
	else
		p->head = up->up.pool_next;
	if (up->up.pool_next != POOL_NONE)
		w->conns[up->up.pool_next].up.pool_prev = up->up.pool_prev;
	p->count--;
}

struct conn *pool_take(struct worker *w, uint32_t slot)
{
	struct pool *p = &w->pools[slot];

	if (p->head == POOL_NONE)
		return NULL;
	struct conn *up = &w->conns[p->head];
	pool_unpark(w, up);
	up->up.phase = UPSTREAM_ACTIVE;
	return up;
}

uint32_t pool_idle(const struct worker *w, uint32_t slot)
{
	return w->pools[slot].count;
}

void pool_close_slot(struct worker *w, uint32_t slot)
{
	struct conn *up;

	while ((up = pool_take(w, slot)))
		conn_close(w, up);
	tls_client_forget(&w->pools[slot].tls_session);
}

void pool_close_all(struct worker *w)
{
	for (uint32_t slot = 0; slot < SHM_MAX_INSTANCES; slot++)
		pool_close_slot(w, slot);
}
