/* Unit test for worker/pool.c: idle upstream connections per instance slot
 * are a most-recently-parked-first list; unparking from the middle keeps
 * the links whole; counts follow; slots never mix. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "worker/pool.h"

#define N_CONNS 8

static struct conn conns[N_CONNS];
static struct pool pools[3];

static struct conn *upstream(uint32_t index, uint32_t slot)
{
	struct conn *c = &conns[index];

	memset(c, 0, sizeof(*c));
	c->index = index;
	c->kind = CONN_UPSTREAM;
	c->up.slot = slot;
	c->up.phase = UPSTREAM_ACTIVE;
	return c;
}

int main(void)
{
	struct worker w;

	memset(&w, 0, sizeof(w));
	w.conns = conns;
	w.n_conns = N_CONNS;
	w.pools = pools;
	for (unsigned i = 0; i < 3; i++)
		pool_init(&pools[i]);

	CHECK(pool_take(&w, 0) == NULL);
	pool_park(&w, upstream(1, 0));
	pool_park(&w, upstream(2, 0));
	pool_park(&w, upstream(3, 0));
	pool_park(&w, upstream(4, 1));	/* another slot */
	pool_park(&w, upstream(5, 2));	/* and another */
	CHECK_INT(pool_idle(&w, 0), 3);
	CHECK_INT(pool_idle(&w, 1), 1);
	CHECK_INT(pool_idle(&w, 2), 1);
	CHECK_INT(conns[2].up.phase, UPSTREAM_IDLE);

	/* Out of the middle: 3 -> 1 stays linked. */
	pool_unpark(&w, &conns[2]);
	CHECK_INT(pool_idle(&w, 0), 2);
	struct conn *c = pool_take(&w, 0);
	CHECK(c == &conns[3]);	/* most recently parked first */
	CHECK_INT(c->up.phase, UPSTREAM_ACTIVE);
	c = pool_take(&w, 0);
	CHECK(c == &conns[1]);
	CHECK(pool_take(&w, 0) == NULL);
	CHECK_INT(pool_idle(&w, 0), 0);

	/* The other lists were not touched. */
	CHECK(pool_take(&w, 1) == &conns[4]);
	CHECK(pool_take(&w, 2) == &conns[5]);

	/* Unpark the head and the tail of a three-long list. */
	pool_park(&w, upstream(1, 0));
	pool_park(&w, upstream(2, 0));
	pool_park(&w, upstream(3, 0));
	pool_unpark(&w, &conns[3]);
	pool_unpark(&w, &conns[1]);
	CHECK(pool_take(&w, 0) == &conns[2]);
	CHECK(pool_take(&w, 0) == NULL);
	return CHECK_EXIT();
}
