/* shm/breaker.c in one process: every transition, with time moved by
 * arithmetic. The word lives in ordinary memory here; the cross-process
 * behaviour is breaker_stress.c's subject. */
#include <errno.h>
#include <sys/mman.h>

#include "shm/breaker.h"
#include "tests/unit/check.h"

#define T0 1000000u	/* an arbitrary start time, ms */

static struct brk_policy failures_policy(unsigned n)
{
	return (struct brk_policy){
		.mode = BRK_MODE_FAILURES, .failures = n, .window_ms = 10000,
		.open_ms = 1000, .max_open_ms = 5000, .probes = 1,
	};
}

static struct brk_policy ratio_policy(unsigned pct, unsigned min_requests)
{
	return (struct brk_policy){
		.mode = BRK_MODE_RATIO, .ratio_pct = pct, .min_requests = min_requests,
		.window_ms = 10000, .open_ms = 1000, .max_open_ms = 5000, .probes = 1,
	};
}

static struct brk_view view(const struct brk_sh *b, const struct brk_policy *p)
{
	struct brk_view v;

	brk_read(b, p, &v);
	return v;
}

/* Report <n> PASS results at <now>, checking none of them trips. */
static void report_n(struct brk_sh *b, const struct brk_policy *p, unsigned n, bool failed,
		     uint32_t now)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_INT(brk_report(b, p, BRK_PASS, failed, now), BRK_EV_NONE);
}

/* Trip <b> (closed) at <now> with p->failures failures. */
static void trip(struct brk_sh *b, const struct brk_policy *p, uint32_t now)
{
	report_n(b, p, p->failures - 1, true, now);
	CHECK_INT(brk_report(b, p, BRK_PASS, true, now), BRK_EV_TRIPPED);
	CHECK_INT(view(b, p).state, BRK_OPEN);
}

/* brk_available() must predict brk_allow() at the same instant; a probe
 * granted here is given back. Returns what brk_allow() granted. */
static enum brk_ticket agree(struct brk_sh *b, const struct brk_policy *p, uint32_t now)
{
	bool avail = brk_available(b, p, now);
	enum brk_ticket t = brk_allow(b, p, now);

	CHECK_INT(avail, t != BRK_DENIED);
	brk_cancel(b, t);
	return t;
}

static void test_policy_check(void)
{
	struct brk_policy p = failures_policy(5), r = ratio_policy(50, 20);

	CHECK_INT(brk_policy_check(&p), 0);
	CHECK_INT(brk_policy_check(&r), 0);
	CHECK_INT(brk_policy_check(&(struct brk_policy){ .mode = BRK_MODE_OFF }), 0);
	p.failures = 0;
	CHECK_INT(brk_policy_check(&p), -EINVAL);
	p.failures = BRK_FAILURES_MAX + 1;
	CHECK_INT(brk_policy_check(&p), -EINVAL);
	p = failures_policy(5);
	p.probes = BRK_PROBES_MAX + 1;
	CHECK_INT(brk_policy_check(&p), -EINVAL);
	p = failures_policy(5);
	p.max_open_ms = p.open_ms - 1;
	CHECK_INT(brk_policy_check(&p), -EINVAL);
	p = failures_policy(5);
	p.window_ms = BRK_PERIOD_MAX_MS + 1;
	CHECK_INT(brk_policy_check(&p), -EINVAL);
	r.min_requests = 0;
	CHECK_INT(brk_policy_check(&r), -EINVAL);
	r = ratio_policy(101, 20);
	CHECK_INT(brk_policy_check(&r), -EINVAL);
}

static void test_init_and_names(void)
{
	struct brk_policy p = failures_policy(5);
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.failures, 0);
	CHECK_INT(v.requests, 0);
	CHECK_INT(v.probes, 0);
	CHECK_INT(v.shift, 0);
	CHECK_INT(v.open_for_ms, 1000);
	CHECK_STR(brk_state_name(BRK_CLOSED), "closed");
	CHECK_STR(brk_state_name(BRK_OPEN), "open");
	CHECK_STR(brk_state_name(BRK_HALF_OPEN), "half-open");
	CHECK_STR(brk_state_name((enum brk_state)7), "?");
}

/* N-1 failures leave it closed; the N-th trips; successes count nothing. */
static void test_failures_trip_at_n(void)
{
	struct brk_policy p = failures_policy(5);
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	CHECK_INT(brk_allow(&b, &p, T0), BRK_PASS);
	report_n(&b, &p, 4, true, T0);
	report_n(&b, &p, 100, false, T0);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.failures, 4);
	CHECK_INT(v.requests, 0);		/* FAILURES mode records no successes */
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 1), BRK_EV_TRIPPED);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_OPEN);
	CHECK_INT(v.since_ms, T0 + 1);
	CHECK_INT(v.shift, 0);
	CHECK_INT(v.open_for_ms, 1000);
	CHECK_INT(brk_allow(&b, &p, T0 + 1), BRK_DENIED);
}

/* The window restarts once window_ms passed since its start and forgets
 * what it counted; a <now> slightly older than the start counts inside. */
static void test_window_restart(void)
{
	struct brk_policy p = failures_policy(3);
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	brk_force_close(&b, T0);
	report_n(&b, &p, 2, true, T0);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 10000), BRK_EV_NONE);
	v = view(&b, &p);
	CHECK_INT(v.failures, 1);
	CHECK_INT(v.since_ms, T0 + 10000);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 10000 - 5), BRK_EV_NONE);
	v = view(&b, &p);
	CHECK_INT(v.failures, 2);
	CHECK_INT(v.since_ms, T0 + 10000);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 19999), BRK_EV_TRIPPED);
}

static void test_ratio_needs_min_requests(void)
{
	struct brk_policy p = ratio_policy(50, 20);
	struct brk_sh b;

	brk_init(&b);
	report_n(&b, &p, 19, true, T0);		/* 100% but only 19 requests */
	CHECK_INT(view(&b, &p).requests, 19);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0), BRK_EV_TRIPPED);

	brk_force_close(&b, T0);
	report_n(&b, &p, 11, false, T0);
	report_n(&b, &p, 10, true, T0);		/* 10 / 21 < 50% */
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0), BRK_EV_TRIPPED);	/* 11 / 22 */

	/* A success can trip too: it is the one that reaches min_requests. */
	brk_force_close(&b, T0);
	report_n(&b, &p, 19, true, T0);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, false, T0), BRK_EV_TRIPPED);
}

/* Past 4095 results in one window both counters halve. */
static void test_ratio_halving(void)
{
	struct brk_policy p = ratio_policy(50, 1000);
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	report_n(&b, &p, 3095, false, T0);	/* successes first: no trip on the way */
	report_n(&b, &p, 1000, true, T0);
	v = view(&b, &p);
	CHECK_INT(v.requests, 4095);
	CHECK_INT(v.failures, 1000);
	report_n(&b, &p, 1, false, T0);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.requests, 2048);
	CHECK_INT(v.failures, 500);
	report_n(&b, &p, 1047, true, T0);	/* 1547 / 3095 < 50% */
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0), BRK_EV_TRIPPED);	/* 1548 / 3096 */
}

/* Open -> half-open after open_ms; at most `probes` probes; PASS results
 * of requests admitted before the trip are ignored. */
static void test_half_open_and_probe_cap(void)
{
	struct brk_policy p = failures_policy(2);
	struct brk_sh b;
	struct brk_view v;

	p.probes = 3;
	brk_init(&b);
	trip(&b, &p, T0);
	CHECK_INT(brk_allow(&b, &p, T0 + 999), BRK_DENIED);
	CHECK(!brk_available(&b, &p, T0 + 999));
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 500), BRK_EV_NONE);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, false, T0 + 500), BRK_EV_NONE);
	CHECK_INT(view(&b, &p).state, BRK_OPEN);
	CHECK(brk_available(&b, &p, T0 + 1000));
	for (int i = 0; i < 3; i++)
		CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_DENIED);
	CHECK(!brk_available(&b, &p, T0 + 1000));
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_HALF_OPEN);
	CHECK_INT(v.probes, 3);
	CHECK_INT(v.since_ms, T0 + 1000);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, T0 + 1001), BRK_EV_NONE);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, false, T0 + 1001), BRK_EV_NONE);
	CHECK_INT(view(&b, &p).state, BRK_HALF_OPEN);
	CHECK_INT(brk_report(&b, &p, BRK_DENIED, true, T0 + 1001), BRK_EV_NONE);
	CHECK_INT(view(&b, &p).probes, 3);
}

/* Each failed probe doubles the open period up to max_open_ms; a
 * successful one closes with an empty window and the base period. */
static void test_probe_doubling_and_close(void)
{
	static const uint32_t periods[] = { 2000, 4000, 5000, 5000 };
	struct brk_policy p = failures_policy(1);
	struct brk_sh b;
	struct brk_view v;
	uint32_t now = T0;

	brk_init(&b);
	trip(&b, &p, now);
	now += 1000;
	for (unsigned i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		CHECK_INT(brk_allow(&b, &p, now), BRK_PROBE);
		CHECK_INT(brk_report(&b, &p, BRK_PROBE, true, now), BRK_EV_REOPENED);
		v = view(&b, &p);
		CHECK_INT(v.state, BRK_OPEN);
		CHECK_INT(v.open_for_ms, periods[i]);
		CHECK_INT(v.shift, i < 2 ? i + 1 : 3);
		CHECK_INT(v.probes, 0);
		CHECK_INT(brk_allow(&b, &p, now + periods[i] - 1), BRK_DENIED);
		now += periods[i];
	}
	CHECK_INT(brk_allow(&b, &p, now), BRK_PROBE);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, false, now + 7), BRK_EV_CLOSED);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.shift, 0);
	CHECK_INT(v.failures, 0);
	CHECK_INT(v.probes, 0);
	CHECK_INT(v.since_ms, now + 7);
	CHECK_INT(v.open_for_ms, 1000);
	trip(&b, &p, now + 8);
	CHECK_INT(view(&b, &p).open_for_ms, 1000);
}

/* A probe slot outlives the half-open period that granted it: a late probe
 * only gives its slot back, and still counts against the cap. */
static void test_late_probes(void)
{
	struct brk_policy p = failures_policy(1);
	struct brk_sh b;
	struct brk_view v;

	p.probes = 2;
	brk_init(&b);
	trip(&b, &p, T0);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, false, T0 + 1001), BRK_EV_CLOSED);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.probes, 1);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, true, T0 + 1002), BRK_EV_NONE);
	v = view(&b, &p);
	CHECK_INT(v.failures, 0);
	CHECK_INT(v.probes, 0);

	/* Two probes out; one fails and re-opens; the next half-open period
	 * has one slot free until the other probe reports. */
	trip(&b, &p, T0 + 2000);
	CHECK_INT(brk_allow(&b, &p, T0 + 3000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 3000), BRK_PROBE);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, true, T0 + 3000), BRK_EV_REOPENED);
	CHECK_INT(view(&b, &p).probes, 1);
	CHECK_INT(brk_allow(&b, &p, T0 + 5000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 5000), BRK_DENIED);
	CHECK_INT(view(&b, &p).probes, 2);
}

static void test_cancel(void)
{
	struct brk_policy p = failures_policy(1);
	struct brk_sh b;

	brk_init(&b);
	brk_cancel(&b, BRK_PASS);
	brk_cancel(&b, BRK_DENIED);
	CHECK_INT(view(&b, &p).probes, 0);
	trip(&b, &p, T0);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_DENIED);
	brk_cancel(&b, BRK_PROBE);
	CHECK_INT(view(&b, &p).probes, 0);
	CHECK_INT(view(&b, &p).state, BRK_HALF_OPEN);
	CHECK_INT(brk_allow(&b, &p, T0 + 1001), BRK_PROBE);
	brk_cancel(&b, BRK_PROBE);
	brk_cancel(&b, BRK_PROBE);		/* one too many: stays at 0 */
	CHECK_INT(view(&b, &p).probes, 0);
}

static void test_force(void)
{
	struct brk_policy p = failures_policy(3);
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	report_n(&b, &p, 2, true, T0);
	brk_force_open(&b, T0 + 5);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_OPEN);
	CHECK_INT(v.since_ms, T0 + 5);
	CHECK_INT(v.open_for_ms, 1000);
	CHECK_INT(brk_allow(&b, &p, T0 + 1004), BRK_DENIED);
	CHECK_INT(brk_allow(&b, &p, T0 + 1005), BRK_PROBE);
	brk_force_close(&b, T0 + 2000);
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_CLOSED);
	CHECK_INT(v.failures, 0);
	CHECK_INT(v.probes, 0);			/* an operator reset zeroes the count */
	CHECK_INT(v.since_ms, T0 + 2000);
	CHECK_INT(brk_allow(&b, &p, T0 + 2000), BRK_PASS);
	trip(&b, &p, T0 + 2001);
}

static void test_release_probes(void)
{
	struct brk_policy p = failures_policy(1);
	struct brk_sh b;

	p.probes = 4;
	brk_init(&b);
	trip(&b, &p, T0);
	for (int i = 0; i < 4; i++)
		CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK(!brk_available(&b, &p, T0 + 1000));
	brk_release_probes(&b, 0);
	CHECK_INT(view(&b, &p).probes, 4);
	brk_release_probes(&b, 3);
	CHECK_INT(view(&b, &p).probes, 1);
	CHECK_INT(view(&b, &p).state, BRK_HALF_OPEN);
	CHECK(brk_available(&b, &p, T0 + 1000));
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	brk_release_probes(&b, 99);
	CHECK_INT(view(&b, &p).probes, 0);
}

/* Times near 2^32 wrap; differences stay right. */
static void test_clock_wrap(void)
{
	const uint32_t t = UINT32_MAX - 300;	/* the clock wraps 301 ms later */
	struct brk_policy p = failures_policy(2);
	struct brk_sh b;

	brk_init(&b);
	brk_force_close(&b, t);
	report_n(&b, &p, 1, true, t + 100);
	CHECK_INT(brk_report(&b, &p, BRK_PASS, true, t + 9999), BRK_EV_TRIPPED);
	CHECK_INT(view(&b, &p).since_ms, (uint32_t)(t + 9999));
	CHECK_INT(brk_allow(&b, &p, t + 9999 + 999), BRK_DENIED);
	CHECK_INT(brk_allow(&b, &p, t + 9999 + 1000), BRK_PROBE);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, false, t + 11000), BRK_EV_CLOSED);

	/* A window opened just before the wrap still ends window_ms later. */
	brk_force_close(&b, t + 200);
	report_n(&b, &p, 1, true, t + 200);
	report_n(&b, &p, 1, true, t + 200 + 10000);	/* restarted: 1 again */
	CHECK_INT(view(&b, &p).failures, 1);
	CHECK_INT(view(&b, &p).since_ms, (uint32_t)(t + 10200));
}

/* brk_tick restarts an expired closed window and half-opens a due open
 * breaker, and touches nothing else. */
static void test_tick(void)
{
	struct brk_policy p = failures_policy(3), off = { .mode = BRK_MODE_OFF };
	struct brk_sh b;
	struct brk_view v;

	brk_init(&b);
	brk_force_close(&b, T0);
	report_n(&b, &p, 2, true, T0);
	CHECK(!brk_tick(&b, &p, T0 + 9999));
	CHECK(!brk_tick(&b, &p, T0 - 1));		/* an older <now> is not an expiry */
	CHECK_INT(view(&b, &p).failures, 2);
	CHECK(brk_tick(&b, &p, T0 + 10000));
	v = view(&b, &p);
	CHECK_INT(v.failures, 0);
	CHECK_INT(v.since_ms, T0 + 10000);
	CHECK(!brk_tick(&b, &p, T0 + 10000));
	CHECK(!brk_tick(&b, &off, T0 + 90000));

	brk_force_open(&b, T0);
	CHECK(!brk_tick(&b, &p, T0 + 999));
	CHECK(brk_tick(&b, &p, T0 + 1000));
	v = view(&b, &p);
	CHECK_INT(v.state, BRK_HALF_OPEN);
	CHECK_INT(v.probes, 0);
	CHECK(!brk_tick(&b, &p, T0 + 99999));
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
}

/* BRK_MODE_OFF: everything passes and nothing is counted. */
static void test_mode_off(void)
{
	struct brk_policy off = { .mode = BRK_MODE_OFF };
	struct brk_sh b;

	brk_init(&b);
	for (int i = 0; i < 2000; i++)
		CHECK_INT(brk_report(&b, &off, BRK_PASS, true, T0), BRK_EV_NONE);
	CHECK_INT(view(&b, &off).failures, 0);
	brk_force_open(&b, T0);
	CHECK_INT(brk_allow(&b, &off, T0), BRK_PASS);
	CHECK(brk_available(&b, &off, T0));
}

/* Walk one breaker through every state and check the peek at each step. */
static void test_available_agrees(void)
{
	struct brk_policy p = failures_policy(2);
	struct brk_sh b;

	p.probes = 2;
	brk_init(&b);
	CHECK_INT(agree(&b, &p, T0), BRK_PASS);
	trip(&b, &p, T0);
	CHECK_INT(agree(&b, &p, T0), BRK_DENIED);
	CHECK_INT(agree(&b, &p, T0 + 999), BRK_DENIED);
	CHECK_INT(agree(&b, &p, T0 + 1000), BRK_PROBE);	/* now half-open, 0 out */
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(agree(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(brk_allow(&b, &p, T0 + 1000), BRK_PROBE);
	CHECK_INT(agree(&b, &p, T0 + 1000), BRK_DENIED);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, true, T0 + 1000), BRK_EV_REOPENED);
	CHECK_INT(agree(&b, &p, T0 + 2999), BRK_DENIED);
	CHECK_INT(agree(&b, &p, T0 + 3000), BRK_PROBE);	/* one slot still held */
	CHECK_INT(brk_allow(&b, &p, T0 + 3000), BRK_PROBE);
	CHECK_INT(agree(&b, &p, T0 + 3000), BRK_DENIED);
	CHECK_INT(brk_report(&b, &p, BRK_PROBE, false, T0 + 3000), BRK_EV_CLOSED);
	CHECK_INT(agree(&b, &p, T0 + 3000), BRK_PASS);
	brk_release_probes(&b, 1);
	CHECK_INT(view(&b, &p).probes, 0);
}

/* gatewayctl maps the segment read-only: brk_read() must not write. */
static void test_read_only_mapping(void)
{
	struct brk_policy p = failures_policy(1);
	struct brk_sh *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);

	CHECK(b != MAP_FAILED);
	if (b == MAP_FAILED)
		return;
	brk_init(b);
	trip(b, &p, T0);
	CHECK_INT(mprotect(b, 4096, PROT_READ), 0);
	CHECK_INT(view(b, &p).state, BRK_OPEN);
	CHECK(!brk_available(b, &p, T0));
	munmap(b, 4096);
}

int main(void)
{
	test_policy_check();
	test_init_and_names();
	test_failures_trip_at_n();
	test_window_restart();
	test_ratio_needs_min_requests();
	test_ratio_halving();
	test_half_open_and_probe_cap();
	test_probe_doubling_and_close();
	test_late_probes();
	test_cancel();
	test_force();
	test_release_probes();
	test_clock_wrap();
	test_tick();
	test_mode_off();
	test_available_agrees();
	test_read_only_mapping();
	return CHECK_EXIT();
}
