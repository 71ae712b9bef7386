/* Circuit breakers: one atomic 64-bit word per upstream instance, kept in
 * the shared segment, so a trip made by one worker is seen by all of them.
 *
 * The caller owns the words (an array in the MAP_SHARED segment, one per
 * instance slot, initialised with brk_init() before the workers fork) and
 * the policy (from the service's "breaker =" line, checked once with
 * brk_policy_check()). Every function takes <now>: milliseconds as a
 * wrapping uint32_t, the caller's (uint32_t)(monotonic_ms - segment_epoch_ms),
 * read once per loop turn.
 *
 * A request goes: t = brk_allow(); when t is BRK_DENIED, pick another
 * instance; otherwise send, then call brk_report(t, failed) exactly once, or
 * brk_cancel(t) when the request was abandoned before it was sent. A worker
 * also records every BRK_PROBE ticket it holds in its own slot, so that the
 * master can give them back with brk_release_probes() if it dies; the full
 * contract (states, invariants, ordering, crashes) opens shm/breaker.c. */
#ifndef GW_SHM_BREAKER_H
#define GW_SHM_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define BRK_FAILURES_MAX	1023u		/* largest failures= threshold */
#define BRK_MIN_REQUESTS_MAX	1023u		/* largest min_requests= */
#define BRK_PROBES_MAX		63u		/* largest probes= (6 bits in the word) */
#define BRK_PERIOD_MAX_MS	(1u << 30)	/* largest window, open or max_open (~12 days) */

/* In-segment: the whole breaker. 8 bytes, no padding of its own; callers
 * that want instances on separate cache lines pad the array themselves. */
struct brk_sh {
	_Atomic uint64_t word;
};

enum brk_mode {
	BRK_MODE_OFF = 0,	/* no breaker: every request passes, nothing is counted */
	BRK_MODE_FAILURES,	/* trip on <failures> failures in one window */
	BRK_MODE_RATIO,		/* trip on ratio_pct% failures once min_requests were seen */
};

/* Process-local, immutable while in use; brk_policy_check() gives the ranges.
 * Every function below assumes a policy that passed it. */
struct brk_policy {
	enum brk_mode mode;
	unsigned failures;	/* FAILURES: 1..BRK_FAILURES_MAX */
	unsigned ratio_pct;	/* RATIO: 1..100 */
	unsigned min_requests;	/* RATIO: 1..BRK_MIN_REQUESTS_MAX */
	uint32_t window_ms;	/* fixed counting window, 1..BRK_PERIOD_MAX_MS */
	uint32_t open_ms;	/* first open period, 1..BRK_PERIOD_MAX_MS */
	uint32_t max_open_ms;	/* cap of the doubling, open_ms..BRK_PERIOD_MAX_MS */
	unsigned probes;	/* concurrent half-open probes, 1..BRK_PROBES_MAX */
};

enum brk_state {
	BRK_CLOSED = 0,		/* requests pass and their results are counted */
	BRK_OPEN,		/* requests are denied until the open period ends */
	BRK_HALF_OPEN,		/* only probes pass; the first result decides */
};

/* What brk_allow() granted; hand it back to brk_report() or brk_cancel(). */
enum brk_ticket {
	BRK_DENIED = 0,		/* do not send to this instance */
	BRK_PASS,		/* an ordinary request */
	BRK_PROBE,		/* a half-open probe: holds one of the probe slots */
};

/* What a brk_report() call did to the state, for logs and metrics. */
enum brk_event {
	BRK_EV_NONE = 0,
	BRK_EV_TRIPPED,		/* this report moved closed -> open (once per trip) */
	BRK_EV_REOPENED,	/* this probe failed: half-open -> open, period doubled */
	BRK_EV_CLOSED,		/* this probe succeeded: half-open -> closed */
};

/* A decoded copy of the word, for gatewayctl, /metrics and tests. */
struct brk_view {
	enum brk_state state;
	unsigned failures;	/* closed: failures in the window; else 0 */
	unsigned requests;	/* closed, RATIO mode: results in the window; else 0 */
	unsigned probes;	/* probe tickets outstanding, in any state */
	unsigned shift;		/* open, half-open: open period = open_ms << shift (capped) */
	uint32_t since_ms;	/* closed: window start; open: opened at; half-open: since */
	uint32_t open_for_ms;	/* the open period now in force (closed: the next one) */
};

/* 0 when <p> is usable, -EINVAL when a field is out of its range. */
int brk_policy_check(const struct brk_policy *p);

/* Closed, empty, no probes. Only before any other process uses <b>. */
void brk_init(struct brk_sh *b);

/* May a request go to this instance now? Closed: BRK_PASS, without writing
 * the word. Open and the open period over, or half-open: BRK_PROBE while
 * fewer than p->probes probe tickets are outstanding (the first one moves
 * open -> half-open), else BRK_DENIED. Open and not yet due: BRK_DENIED.
 * BRK_MODE_OFF: always BRK_PASS. Any process. */
enum brk_ticket brk_allow(struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms);

/* Would brk_allow() grant something at <now_ms>? Read-only, for balancers
 * choosing among instances; brk_allow() still decides (another worker may
 * take the last probe slot in between). */
bool brk_available(const struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms);

/* The request granted <t> finished; <failed> says whether it counts as a
 * failure. BRK_PASS results count only while closed (later ones were
 * admitted before a trip and are ignored); in FAILURES mode successes are
 * not recorded at all, which keeps a healthy instance's path read-only.
 * BRK_PROBE results decide only while half-open. Returns the transition this
 * call made, BRK_EV_NONE when it made none. Any process. */
enum brk_event brk_report(struct brk_sh *b, const struct brk_policy *p, enum brk_ticket t,
			  bool failed, uint32_t now_ms);

/* Ticket <t> was never used (the request was abandoned before sending):
 * give back its probe slot. No-op for BRK_PASS and BRK_DENIED. */
void brk_cancel(struct brk_sh *b, enum brk_ticket t);

/* Housekeeping, called by the master for every breaker at least every
 * BRK_PERIOD_MAX_MS (in practice every second): restarts a closed window
 * that has expired and moves an open breaker whose period is over to
 * half-open, so no stored time gets old enough to wrap. True when it
 * changed the word. */
bool brk_tick(struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms);

/* Decode the word with one atomic load; works on a PROT_READ mapping. */
void brk_read(const struct brk_sh *b, const struct brk_policy *p, struct brk_view *out);

/* Operator commands (master). Open for the base period from <now_ms>, or
 * close with an empty window starting at <now_ms>. Both zero the probe
 * count, which also recovers slots leaked by a crash (see shm/breaker.c). */
void brk_force_open(struct brk_sh *b, uint32_t now_ms);
void brk_force_close(struct brk_sh *b, uint32_t now_ms);

/* Repair (master, after reaping a worker): the dead worker held <n> probe
 * tickets on <b>; give their slots back. Never goes below zero. */
void brk_release_probes(struct brk_sh *b, unsigned n);

/* "closed", "open", "half-open"; "?" for anything else. */
const char *brk_state_name(enum brk_state s);

#endif
