/* Remote key sets: the master fetches each [jwt] section's jwks_url and
 * publishes the document to the workers through the shared segment
 * (shm/jwks.h). Workers never fetch and never wait on a fetch.
 *
 * How a fetch runs: in a short-lived child forked for it (master/jwksget.c
 * does the HTTPS GET with libcurl, blocking, under its own timeouts and an
 * alarm), which writes its result into a pipe that the master polls on its
 * ring like any other descriptor (MIO_JWKS). Chosen over driving libcurl's
 * multi interface from the master's loop because:
 *   - the master's loop stays what it is (one-shot polls and deadlines);
 *     curl multi would need socket and timer callbacks mapped onto it, and
 *     its name resolution may still block or spawn threads in the master;
 *   - a remote peer's TLS and HTTP bytes are parsed in a throwaway process,
 *     not in the one that owns the segment and supervises everything;
 *   - the cost, one fork per fetch, is nothing at one fetch per section
 *     every few minutes.
 * The master then parses the document (the same jwks_parse() workers use)
 * and publishes it only if it holds a usable key and differs from what is
 * published, so an unchanged set does not empty the workers' token caches.
 *
 * Schedule, per section: a fetch at start, then jwks_refresh after every
 * good one; a failed fetch (unreachable, timeout, non-2xx, too large, not a
 * key set) keeps the last good keys and retries after 1 s, doubling up to
 * 60 s (or jwks_refresh if shorter). A worker's request after an unknown
 * kid starts a fetch at once unless one ran for the same reason less than
 * jwks_refresh_min ago, or one is in flight.
 *
 * Slots: each jwks_url section gets a slot of the region by name, kept
 * across reloads (a reload that keeps a section keeps its slot and keys;
 * one that changes its URL or CA fetches at once). A slot is reused for
 * another name only when every slot is taken. */
#ifndef GW_MASTER_JWKSFETCH_H
#define GW_MASTER_JWKSFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

struct master;
struct mjwks;

#define MJWKS_POLL_MS		50u	/* how often worker requests are looked at */
#define MJWKS_BACKOFF_MIN_MS	1000u
#define MJWKS_BACKOFF_MAX_MS	60000u

struct mjwks *mjwks_new(void);
void mjwks_free(struct master *m);

/* Give every jwks_url section of <cfg> its slot (cfg->jwts[i].jwks_slot),
 * before <cfg>'s workers are forked. Returns 0 or -ENOMEM. */
int mjwks_apply_config(struct master *m, struct gw_config *cfg);

uint64_t mjwks_next_deadline(const struct master *m);
void mjwks_tick(struct master *m, uint64_t now_ms);

/* The MIO_JWKS poll handler. */
void mjwks_on_poll(struct master *m, uint32_t index, uint32_t tag, int res);

/* Pure schedule decisions, for tests. */

/* The wait after <failures> failures in a row (>= 1) for a section that
 * refreshes every <refresh_ms>. */
uint64_t mjwks_backoff_ms(unsigned failures, uint64_t refresh_ms);

/* Whether a kid-triggered refresh may start at <now_ms> when the last one
 * started at <last_ms> (0: never) and they are <min_ms> apart at least. */
bool mjwks_kid_refresh_ok(uint64_t now_ms, uint64_t last_ms, uint64_t min_ms);

/* jwksget.c, in the fetcher child: GET <url> over HTTPS, verifying the
 * peer against <ca> (NULL: the system's CAs), within <timeout_ms>, taking
 * at most <cap> bytes. Returns 0 with a malloc'd *<out> of *<len> bytes,
 * or -errno with a message in <err>. */
int mjwks_get(const char *url, const char *ca, uint64_t timeout_ms, size_t cap, char **out,
	      size_t *len, char *err, size_t errlen);

#endif
