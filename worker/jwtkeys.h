/* A worker's JWT key sets and verified-token caches, one of each per [jwt]
 * section, and the verification the authn stage calls.
 *
 * Key sets: a section with a jwks file verifies with the set the master
 * parsed at load (inherited across fork: a reload re-reads the file and
 * starts new workers, whose caches start empty). A section with jwks_url
 * verifies with the set the master last published in the shared segment
 * (shm/jwks.h): jwtkeys_sync() sees the generation move at a loop turn,
 * parses the new text (CPU only) and swaps it in, clearing the section's
 * token cache, so a key the provider removed stops admitting its tokens
 * from that turn on. Until a first fetch succeeds such a section has no
 * keys and refuses every token.
 *
 * An unknown kid on a jwks_url section asks the master for a refresh and
 * holds the request (the stage suspends, polled by a short timer) until
 * the master finished a fetch attempt or JWTKEYS_WAIT_MS passed, then
 * verifies once more; a kid still unknown is refused. The request is not
 * held when the master's rate limit says no refresh will come. */
#ifndef GW_WORKER_JWTKEYS_H
#define GW_WORKER_JWTKEYS_H

#include <stddef.h>

#include "auth/jwt.h"
#include "worker/core.h"

#define JWTKEYS_WAIT_MS		2000u	/* longest hold for a refresh */
#define JWTKEYS_POLL_MS		10u	/* how often a held request looks */

struct exchange;

/* Build the per-section state (caches keyed at random) and take the
 * published key sets. 0 or -ENOMEM. */
int jwtkeys_init(struct worker *w);
void jwtkeys_free(struct worker *w);

/* Each loop turn, before requests run: swap in newly published key sets. */
void jwtkeys_sync(struct worker *w);

/* Verify <tok> (<len> bytes) for exchange <ex> under section <j> and
 * policy <pol>: a cached result, else jwt_verify() (and the result
 * cached). Returns what jwt_verify() returns, with <out> to release the
 * same way, or -EAGAIN: the exchange waits for a key refresh (its stage
 * suspended; a timer resumes it; <out> holds nothing). */
int jwtkeys_verify(struct worker *w, struct exchange *ex, const struct gw_jwt_conf *j,
		   const struct jwt_policy *pol, const char *tok, size_t len,
		   struct jwt_result *out);

/* The exchange is over or reset: forget any wait state. */
void jwtkeys_release(struct exchange *ex);

#endif
