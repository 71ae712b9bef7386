/* Circuit breaker word: the rules.
 *
 * STATES. One 64-bit word is the whole breaker; every field below lives in
 * it and nothing else in the segment belongs to it.
 *   closed     requests pass; results are counted in a fixed window:
 *              (failures, requests, window start).
 *   open       requests are denied until open_ms << shift (capped at
 *              max_open_ms) has passed since (opened at).
 *   half-open  at most p->probes probe requests at a time; the first probe
 *              result decides: success closes, failure re-opens.
 * The probe count (probe tickets outstanding) is kept in every state.
 *
 * TRANSITIONS (all by one CAS, except the operator stores):
 *   closed    -> open       brk_report(PASS): the threshold is reached (TRIPPED).
 *   open      -> half-open  brk_allow() or brk_tick() once the period is over.
 *   half-open -> closed     brk_report(PROBE, success): empty window, shift 0.
 *   half-open -> open       brk_report(PROBE, failure): shift + 1 while the
 *                           period is below max_open_ms (REOPENED).
 *   any       -> open       brk_force_open(); any -> closed  brk_force_close().
 *   The window restarts, forgetting its counts, at the first result (or
 *   tick) once window_ms has passed since it started. A fixed window, not a
 *   sliding one, because the word has no room for a second bucket; the known
 *   cost is that a burst straddling a restart can see up to 2 * failures - 2
 *   failures without tripping.
 *
 * WHO WRITES. Any worker, by CAS from brk_allow/brk_report/brk_cancel. The
 * master only through brk_tick (same CAS rules as a worker), the operator
 * commands and brk_release_probes. Nobody else, and never a plain store
 * outside brk_init and the operator commands.
 *
 * INVARIANTS.
 *  1. One trip per closed period. Every change is a CAS on the one word;
 *     RMWs on one object are totally ordered and each reads the value just
 *     before it, so a closed -> open CAS must read a closed word and leaves an
 *     open one, and a second trip needs an open -> closed change in between.
 *     Only the caller whose CAS made the change gets BRK_EV_TRIPPED.
 *  2. probes == probe tickets outstanding (granted, not yet reported,
 *     cancelled or released), in every state, including tickets granted in
 *     an earlier half-open period. Grants happen only while probes <
 *     p->probes, so probes in flight never exceed the cap; a half-open
 *     period may grant fewer new ones while older probes are still out.
 *  3. Results are counted only in the state that admitted them: PASS while
 *     closed, PROBE while half-open; anything else only gives back its slot.
 *  4. Counters saturate at COUNT_MAX (4095). In RATIO mode, one result past
 *     it halves both (the ratio is kept, older results weigh half); the
 *     2048 requests left still meet any min_requests.
 *
 * TIME. Times are wrapping uint32 ms. Workers read the clock once per loop
 * turn, so a report may carry a <now> slightly older than a time another
 * worker just stored; elapsed_ms() counts such a negative difference as 0,
 * else it would look like 49 days and restart a window or end an open period
 * at once. The price: a difference is meaningful only below 2^31 ms. brk_tick
 * keeps every time that matters (closed window start, open since) younger
 * than max(window, open period) + the tick interval, hence the
 * BRK_PERIOD_MAX_MS limit. Without ticks, a breaker untouched for 2^31 ms
 * (~24.8 days) could keep a closed window's counts or stay open for up to
 * another 2^31 ms. The half-open time is informational only.
 *
 * MEMORY ORDER. The breaker's own logic needs only the atomicity of the
 * word (relaxed would do): the word is the whole state. Loads are acquire
 * and successful CASes acq_rel anyway, so that bookkeeping a caller keeps
 * beside the word is ordered with it: a worker that records a probe ticket
 * in its own slot after brk_allow(), or clears it before brk_report(),
 * is seen in that order by whoever next reads the word. On x86-64 this
 * costs nothing (locked RMWs are full barriers, loads are acquire).
 *
 * CRASHES. A worker dying anywhere leaves a consistent word: every change is
 * a single CAS. PASS tickets hold nothing, so losing them only loses their
 * results. PROBE tickets hold a slot, which would leak and could leave the
 * breaker half-open with no slot free for ever. Contract: a worker records
 * each PROBE ticket in its own per-worker slot right after brk_allow()
 * returns it and clears it right before brk_report() or brk_cancel() (a
 * relaxed store will do: the master reads the slot only after reaping the
 * worker, and the exit orders everything it did); the master then calls
 * brk_release_probes(b, n) with the count recorded for each breaker. A
 * SIGKILL landing in the few instructions between the granting CAS and the
 * recording store still leaks one slot; brk_force_open/close zero the count
 * and recover it, at the cost that tickets outstanding at that moment
 * decrement a count that no longer includes them (saturating at 0), so for
 * a while more than p->probes probes can be in flight. */
#include "shm/breaker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

/* Word layout, low bit first. Closed uses bits 38..61 for two counters;
 * open and half-open use bits 38..41 for the doubling exponent and keep the
 * rest zero. The probe count and the time have the same place in every
 * state, so a probe's slot survives any transition. */
#define TIME_POS	0
#define TIME_BITS	32	/* closed: window start; open: opened at; half-open: since */
#define PROBES_POS	32
#define PROBES_BITS	6	/* probe tickets outstanding */
#define REQS_POS	38
#define FAILS_POS	50
#define COUNT_BITS	12	/* closed: requests, failures */
#define SHIFT_POS	38
#define SHIFT_BITS	4	/* open, half-open: open period = open_ms << shift */
#define STATE_POS	62
#define STATE_BITS	2

#define COUNT_MAX	((1u << COUNT_BITS) - 1)
#define SHIFT_MAX	((1u << SHIFT_BITS) - 1)

_Static_assert(PROBES_POS == TIME_POS + TIME_BITS, "probes follow the time");
_Static_assert(REQS_POS == PROBES_POS + PROBES_BITS, "requests follow probes");
_Static_assert(FAILS_POS == REQS_POS + COUNT_BITS, "failures follow requests");
_Static_assert(STATE_POS == FAILS_POS + COUNT_BITS, "state follows failures");
_Static_assert(STATE_POS + STATE_BITS == 64, "the fields fill the word exactly");
_Static_assert(SHIFT_POS == REQS_POS && SHIFT_BITS <= 2 * COUNT_BITS,
	       "the exponent reuses the counters' bits");
_Static_assert(BRK_HALF_OPEN < (1u << STATE_BITS), "states fit in 2 bits");
_Static_assert(BRK_PROBES_MAX == (1u << PROBES_BITS) - 1, "the probe cap fits");
_Static_assert(BRK_FAILURES_MAX < COUNT_MAX, "a threshold is reachable");
_Static_assert((COUNT_MAX + 1) / 2 >= BRK_MIN_REQUESTS_MAX,
	       "halving the counters keeps min_requests met");
_Static_assert(sizeof(struct brk_sh) == 8, "one word per breaker");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && sizeof(long long) == sizeof(uint64_t),
	       "lock-free, so a load is a plain load that works on PROT_READ");

static inline unsigned field(uint64_t w, unsigned pos, unsigned bits)
{
	return (unsigned)((w >> pos) & ((UINT64_C(1) << bits) - 1));
}

static inline enum brk_state word_state(uint64_t w)
{
	return (enum brk_state)field(w, STATE_POS, STATE_BITS);
}

static inline uint32_t word_time(uint64_t w) { return (uint32_t)(w >> TIME_POS); }
static inline unsigned word_probes(uint64_t w) { return field(w, PROBES_POS, PROBES_BITS); }

/* Closed words only. */
static inline unsigned word_requests(uint64_t w) { return field(w, REQS_POS, COUNT_BITS); }
static inline unsigned word_failures(uint64_t w) { return field(w, FAILS_POS, COUNT_BITS); }

/* Open and half-open words only. */
static inline unsigned word_shift(uint64_t w) { return field(w, SHIFT_POS, SHIFT_BITS); }

static inline uint64_t word_closed(unsigned probes, unsigned requests, unsigned failures,
				   uint32_t since)
{
	return (uint64_t)BRK_CLOSED << STATE_POS | (uint64_t)failures << FAILS_POS |
	       (uint64_t)requests << REQS_POS | (uint64_t)probes << PROBES_POS |
	       (uint64_t)since << TIME_POS;
}

/* <s> is BRK_OPEN or BRK_HALF_OPEN. */
static inline uint64_t word_opened(enum brk_state s, unsigned probes, unsigned shift,
				   uint32_t since)
{
	return (uint64_t)s << STATE_POS | (uint64_t)shift << SHIFT_POS |
	       (uint64_t)probes << PROBES_POS | (uint64_t)since << TIME_POS;
}

static inline uint64_t word_with_probes(uint64_t w, unsigned probes)
{
	uint64_t mask = ((UINT64_C(1) << PROBES_BITS) - 1) << PROBES_POS;

	return (w & ~mask) | (uint64_t)probes << PROBES_POS;
}

/* Milliseconds from <since> to <now>; a negative difference (a worker's
 * <now> read just before another worker stored <since>) counts as 0. */
static inline uint32_t elapsed_ms(uint32_t now, uint32_t since)
{
	uint32_t d = now - since;

	return d >= UINT32_C(1) << 31 ? 0 : d;
}

static uint32_t max_open(const struct brk_policy *p)
{
	return p->max_open_ms > p->open_ms ? p->max_open_ms : p->open_ms;
}

static uint32_t open_period(const struct brk_policy *p, unsigned shift)
{
	uint64_t ms = (uint64_t)p->open_ms << shift;

	return ms < max_open(p) ? (uint32_t)ms : max_open(p);
}

/* The exponent after one more failed probe: stops growing at the cap, so a
 * later raise of max_open_ms (on reload) does not jump several steps. */
static unsigned next_shift(const struct brk_policy *p, unsigned shift)
{
	if (shift >= SHIFT_MAX || ((uint64_t)p->open_ms << shift) >= max_open(p))
		return shift;
	return shift + 1;
}

static bool open_due(uint64_t w, const struct brk_policy *p, uint32_t now)
{
	return elapsed_ms(now, word_time(w)) >= open_period(p, word_shift(w));
}

static bool should_trip(const struct brk_policy *p, unsigned requests, unsigned failures)
{
	if (p->mode == BRK_MODE_FAILURES)
		return failures >= p->failures;
	return requests >= p->min_requests && failures * 100u >= p->ratio_pct * requests;
}

int brk_policy_check(const struct brk_policy *p)
{
	switch (p->mode) {
	case BRK_MODE_OFF:
		return 0;
	case BRK_MODE_FAILURES:
		if (p->failures < 1 || p->failures > BRK_FAILURES_MAX)
			return -EINVAL;
		break;
	case BRK_MODE_RATIO:
		if (p->ratio_pct < 1 || p->ratio_pct > 100)
			return -EINVAL;
		if (p->min_requests < 1 || p->min_requests > BRK_MIN_REQUESTS_MAX)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (p->window_ms < 1 || p->window_ms > BRK_PERIOD_MAX_MS)
		return -EINVAL;
	if (p->open_ms < 1 || p->open_ms > BRK_PERIOD_MAX_MS)
		return -EINVAL;
	if (p->max_open_ms < p->open_ms || p->max_open_ms > BRK_PERIOD_MAX_MS)
		return -EINVAL;
	if (p->probes < 1 || p->probes > BRK_PROBES_MAX)
		return -EINVAL;
	return 0;
}

void brk_init(struct brk_sh *b)
{
	/* Relaxed: runs before the segment is shared (before fork); fork
	 * itself orders it before anything a child does. */
	atomic_store_explicit(&b->word, word_closed(0, 0, 0, 0), memory_order_relaxed);
}

/* CAS loop of brk_allow() once the word <w> was seen open or half-open:
 * take a probe slot if the period is over and one is free. */
static enum brk_ticket take_probe(struct brk_sh *b, const struct brk_policy *p, uint64_t w,
				  uint32_t now)
{
	for (;;) {
		enum brk_state s = word_state(w);
		unsigned probes = word_probes(w);
		uint64_t nw;

		if (s == BRK_CLOSED)
			return BRK_PASS;	/* a probe closed it while we looked */
		if (s == BRK_OPEN && !open_due(w, p, now))
			return BRK_DENIED;
		if (probes >= p->probes)
			return BRK_DENIED;	/* brk_tick() will still mark it half-open */
		if (s == BRK_OPEN)
			nw = word_opened(BRK_HALF_OPEN, probes + 1, word_shift(w), now);
		else
			nw = word_with_probes(w, probes + 1);
		/* Acq_rel on success: release hands the new probe count (and
		 * whatever we did before) to the next reader; acquire pairs with
		 * the CAS or store that wrote <w>. Failure: acquire, the reloaded
		 * word is our new starting point, as in brk_allow()'s load. */
		if (atomic_compare_exchange_weak_explicit(&b->word, &w, nw, memory_order_acq_rel,
							  memory_order_acquire))
			return BRK_PROBE;
	}
}

enum brk_ticket brk_allow(struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms)
{
	uint64_t w;

	if (p->mode == BRK_MODE_OFF)
		return BRK_PASS;
	/* Acquire: pairs with the release half of the CAS or store that wrote
	 * this value (see MEMORY ORDER); the closed fast path writes nothing. */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	if (word_state(w) == BRK_CLOSED)
		return BRK_PASS;
	return take_probe(b, p, w, now_ms);
}

bool brk_available(const struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms)
{
	uint64_t w;

	if (p->mode == BRK_MODE_OFF)
		return true;
	/* Acquire: as in brk_allow(); a peek, so a stale answer only costs
	 * the balancer one denied brk_allow() or one skipped instance. */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	switch (word_state(w)) {
	case BRK_CLOSED:
		return true;
	case BRK_OPEN:
		return open_due(w, p, now_ms) && word_probes(w) < p->probes;
	default:
		return word_probes(w) < p->probes;
	}
}

/* The closed word after counting one result at <now>: the window restarted
 * if it expired, the counters moved, and open instead if that trips it. */
static uint64_t count_result(uint64_t w, const struct brk_policy *p, bool failed, uint32_t now)
{
	uint32_t since = word_time(w);
	unsigned reqs = word_requests(w), fails = word_failures(w);

	if (elapsed_ms(now, since) >= p->window_ms) {
		since = now;
		reqs = 0;
		fails = 0;
	}
	if (failed && fails < COUNT_MAX)
		fails++;
	if (p->mode == BRK_MODE_RATIO && ++reqs > COUNT_MAX) {
		reqs /= 2;		/* invariant 4: keep the ratio, weigh older results half */
		fails = (fails + 1) / 2;
	}
	if (should_trip(p, reqs, fails))
		return word_opened(BRK_OPEN, word_probes(w), 0, now);
	return word_closed(word_probes(w), reqs, fails, since);
}

/* brk_report() for a BRK_PASS ticket: count it while closed. */
static enum brk_event report_pass(struct brk_sh *b, const struct brk_policy *p, bool failed,
				  uint32_t now)
{
	uint64_t w, nw;

	if (p->mode == BRK_MODE_OFF || (p->mode == BRK_MODE_FAILURES && !failed))
		return BRK_EV_NONE;
	/* Acquire: as in brk_allow(). */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	do {
		if (word_state(w) != BRK_CLOSED)
			return BRK_EV_NONE;	/* admitted before a trip: invariant 3 */
		nw = count_result(w, p, failed, now);
		/* Acq_rel / acquire: as in take_probe(). This CAS is the one
		 * that may move closed -> open, and it succeeds for one caller
		 * only (invariant 1). */
	} while (!atomic_compare_exchange_weak_explicit(&b->word, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
	return word_state(nw) == BRK_OPEN ? BRK_EV_TRIPPED : BRK_EV_NONE;
}

/* The word after a probe reports on <w>: one slot fewer, and the decision
 * if <w> is half-open. <ev> gets the transition made. */
static uint64_t probe_result(uint64_t w, const struct brk_policy *p, bool failed, uint32_t now,
			     enum brk_event *ev)
{
	unsigned probes = word_probes(w);
	unsigned left = probes ? probes - 1 : 0;	/* 0 only after an operator reset */

	*ev = BRK_EV_NONE;
	if (word_state(w) != BRK_HALF_OPEN || p->mode == BRK_MODE_OFF)
		return word_with_probes(w, left);
	if (failed) {
		*ev = BRK_EV_REOPENED;
		return word_opened(BRK_OPEN, left, next_shift(p, word_shift(w)), now);
	}
	*ev = BRK_EV_CLOSED;
	return word_closed(left, 0, 0, now);
}

/* brk_report() for a BRK_PROBE ticket. */
static enum brk_event report_probe(struct brk_sh *b, const struct brk_policy *p, bool failed,
				   uint32_t now)
{
	enum brk_event ev;
	uint64_t w, nw;

	/* Acquire: as in brk_allow(). */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	do {
		nw = probe_result(w, p, failed, now, &ev);
		if (nw == w)
			return BRK_EV_NONE;
		/* Acq_rel / acquire: as in take_probe(). */
	} while (!atomic_compare_exchange_weak_explicit(&b->word, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
	return ev;
}

enum brk_event brk_report(struct brk_sh *b, const struct brk_policy *p, enum brk_ticket t,
			  bool failed, uint32_t now_ms)
{
	switch (t) {
	case BRK_PASS:
		return report_pass(b, p, failed, now_ms);
	case BRK_PROBE:
		return report_probe(b, p, failed, now_ms);
	default:
		return BRK_EV_NONE;	/* BRK_DENIED granted nothing */
	}
}

/* Give back up to <n> probe slots, never going below zero. */
static void drop_probes(struct brk_sh *b, unsigned n)
{
	uint64_t w, nw;
	unsigned probes;

	/* Acquire: as in brk_allow(). */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	do {
		probes = word_probes(w);
		if (n == 0 || probes == 0)
			return;
		nw = word_with_probes(w, probes > n ? probes - n : 0);
		/* Acq_rel / acquire: as in take_probe(); the release half
		 * orders the caller's clearing of its probe record first. */
	} while (!atomic_compare_exchange_weak_explicit(&b->word, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
}

void brk_cancel(struct brk_sh *b, enum brk_ticket t)
{
	if (t == BRK_PROBE)
		drop_probes(b, 1);
}

void brk_release_probes(struct brk_sh *b, unsigned n)
{
	drop_probes(b, n);
}

/* The word after housekeeping at <now>, or <w> itself when none is due. */
static uint64_t tick_result(uint64_t w, const struct brk_policy *p, uint32_t now)
{
	switch (word_state(w)) {
	case BRK_CLOSED:
		if (elapsed_ms(now, word_time(w)) < p->window_ms)
			return w;
		return word_closed(word_probes(w), 0, 0, now);
	case BRK_OPEN:
		if (!open_due(w, p, now))
			return w;
		return word_opened(BRK_HALF_OPEN, word_probes(w), word_shift(w), now);
	default:
		return w;	/* half-open: its time decides nothing */
	}
}

bool brk_tick(struct brk_sh *b, const struct brk_policy *p, uint32_t now_ms)
{
	uint64_t w, nw;

	if (p->mode == BRK_MODE_OFF)
		return false;
	/* Acquire: as in brk_allow(). */
	w = atomic_load_explicit(&b->word, memory_order_acquire);
	do {
		nw = tick_result(w, p, now_ms);
		if (nw == w)
			return false;
		/* Acq_rel / acquire: as in take_probe(). */
	} while (!atomic_compare_exchange_weak_explicit(&b->word, &w, nw, memory_order_acq_rel,
							memory_order_acquire));
	return true;
}

void brk_read(const struct brk_sh *b, const struct brk_policy *p, struct brk_view *out)
{
	/* Acquire: as in brk_allow(). A plain load instruction (the word is
	 * lock-free), so gatewayctl can call this on a read-only mapping. */
	uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
	bool closed = word_state(w) == BRK_CLOSED;

	out->state = word_state(w);
	out->failures = closed ? word_failures(w) : 0;
	out->requests = closed ? word_requests(w) : 0;
	out->probes = word_probes(w);
	out->shift = closed ? 0 : word_shift(w);
	out->since_ms = word_time(w);
	out->open_for_ms = open_period(p, out->shift);
}

void brk_force_open(struct brk_sh *b, uint32_t now_ms)
{
	/* Release: pairs with the acquire loads and CASes of the workers. A
	 * store, not a CAS: the new word does not depend on the old one, and
	 * it simply wins over any CAS ordered before it. */
	atomic_store_explicit(&b->word, word_opened(BRK_OPEN, 0, 0, now_ms), memory_order_release);
}

void brk_force_close(struct brk_sh *b, uint32_t now_ms)
{
	/* Release: as in brk_force_open(). */
	atomic_store_explicit(&b->word, word_closed(0, 0, 0, now_ms), memory_order_release);
}

const char *brk_state_name(enum brk_state s)
{
	switch (s) {
	case BRK_CLOSED:
		return "closed";
	case BRK_OPEN:
		return "open";
	case BRK_HALF_OPEN:
		return "half-open";
	default:
		return "?";
	}
}
