/* max_conns_per_ip: the worker's side of shm/connlimit.c.
 *
 * An over-limit connection is closed at once, without a response, like
 * HAProxy's "tcp-request connection reject" and Envoy's connection limit:
 * answering would mean reading a request first, which is exactly what the
 * connection is not allowed to cost us, and a TLS listener could not carry
 * a plain-text answer anyway.
 *
 * The limit fails open where it cannot count: an address whose bucket has
 * no free slot (14 other addresses share it) or whose bucket's claim stays
 * held by a stalled or dead process is admitted uncounted (both are rare:
 * the hash is keyed, so a client cannot aim at a bucket). A release that
 * finds its claim held is kept and retried on the next admit or release,
 * so no count is lost. */
#include "worker/connlimit.h"

#include <stdlib.h>

#include "lib/log.h"
#include "shm/connlimit.h"

static void retry_releases(struct worker *w)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < w->n_cl_retry; i++) {
		if (cl_release(&w->shm.connlimit, w->id, w->cl_retry[i]) < 0)
			w->cl_retry[kept++] = w->cl_retry[i];
	}
	w->n_cl_retry = kept;
}

static uint64_t addr_key(struct worker *w, const struct cidr *a)
{
	struct shm_hash_part parts[2] = {
		{ &a->family, 1 },
		{ a->addr, a->family == AF_INET ? 4u : 16u },
	};

	return shm_hash(w->seg, parts, 2);
}

bool connlimit_admit(struct worker *w, struct conn *c)
{
	unsigned limit = w->cfg->max_conns_per_ip;
	uint32_t handle;

	if (!limit || !c->client.peer_addr.family)
		return true;
	if (w->n_cl_retry)
		retry_releases(w);
	switch (cl_acquire(&w->shm.connlimit, w->id, addr_key(w, &c->client.peer_addr), limit,
			   &handle)) {
	case CL_ADMIT:
		c->ip_counted = true;
		c->client.cl_handle = handle;
		return true;
	case CL_OVER:
		log_debug("client %s: max_conns_per_ip (%u) reached, closing", c->client.peer_ip,
			  limit);
		wtab_count(w->stats, WTAB_CONNLIMIT_REFUSED, 1);
		return false;
	case CL_FULL:
	case CL_BUSY:
		break;
	}
	return true;
}

static void keep_for_retry(struct worker *w, uint32_t handle)
{
	if (w->n_cl_retry == w->cap_cl_retry) {
		uint32_t cap = w->cap_cl_retry ? w->cap_cl_retry * 2 : 16;
		uint32_t *p = realloc(w->cl_retry, cap * sizeof(*p));

		if (!p) {
			/* The master's repair gives it back when we exit. */
			log_error("out of memory keeping a connection count to release");
			return;
		}
		w->cl_retry = p;
		w->cap_cl_retry = cap;
	}
	w->cl_retry[w->n_cl_retry++] = handle;
}

void connlimit_release(struct worker *w, struct conn *c)
{
	if (!c->ip_counted)
		return;
	c->ip_counted = false;
	if (w->n_cl_retry)
		retry_releases(w);
	if (cl_release(&w->shm.connlimit, w->id, c->client.cl_handle) < 0)
		keep_for_retry(w, c->client.cl_handle);
}

void connlimit_free(struct worker *w)
{
	free(w->cl_retry);
	w->cl_retry = NULL;
	w->n_cl_retry = w->cap_cl_retry = 0;
}
