/* Unit test for worker/timer.c: the timing wheel fires every timer exactly
 * once, at or after its deadline and within one tick of it, across wheel
 * turns, re-arms and cancels. Time is moved by arithmetic, never slept. */
#include <stdlib.h>

#include "tests/unit/check.h"
#include "worker/timer.h"

#define N 2000

struct item {
	struct timer t;
	uint64_t due;
	uint64_t fired_at;
	int fired;
};

static uint64_t now;

static void on_fire(struct timer *t, void *arg)
{
	struct item *it = (struct item *)t;

	(void)arg;
	it->fired++;
	it->fired_at = now;
}

static void test_basic(void)
{
	struct timer_wheel tw;
	struct item a = { 0 }, b = { 0 };

	now = 1000;
	timer_wheel_init(&tw, now);
	timer_arm(&tw, &a.t, now + 50);
	timer_arm(&tw, &b.t, now + 10000);	/* more than one turn away */
	CHECK(timer_armed(&a.t));
	CHECK_INT(tw.n_armed, 2);
	now += 49;
	timer_expire(&tw, now, on_fire, NULL);
	CHECK_INT(a.fired, 0);
	now += 1;
	timer_expire(&tw, now, on_fire, NULL);
	CHECK_INT(a.fired, 1);
	CHECK(!timer_armed(&a.t));
	/* b is skipped on the wheel's first pass over its slot. */
	for (int i = 0; i < 1300; i++) {
		now += 8;
		timer_expire(&tw, now, on_fire, NULL);
		if (now < 1000 + 10000)
			CHECK_INT(b.fired, 0);
	}
	CHECK_INT(b.fired, 1);
	CHECK(b.fired_at >= 11000 && b.fired_at < 11000 + TIMER_TICK_MS + 8);
	CHECK_INT(tw.n_armed, 0);
}

static void test_rearm_cancel(void)
{
	struct timer_wheel tw;
	struct item a = { 0 }, b = { 0 };

	now = 0;
	timer_wheel_init(&tw, now);
	timer_arm(&tw, &a.t, 100);
	timer_arm(&tw, &a.t, 300);	/* moves, not duplicates */
	CHECK_INT(tw.n_armed, 1);
	timer_arm(&tw, &b.t, 200);
	timer_cancel(&tw, &b.t);
	timer_cancel(&tw, &b.t);	/* harmless twice */
	now = 250;
	timer_expire(&tw, now, on_fire, NULL);
	CHECK_INT(a.fired, 0);
	CHECK_INT(b.fired, 0);
	now = 300;
	timer_expire(&tw, now, on_fire, NULL);
	CHECK_INT(a.fired, 1);
	CHECK_INT(b.fired, 0);
	/* A deadline in the past fires on the next pass. */
	timer_arm(&tw, &b.t, 10);
	timer_expire(&tw, now, on_fire, NULL);
	CHECK_INT(b.fired, 1);
}

static void test_next_ms(void)
{
	struct timer_wheel tw;
	struct item a = { 0 };

	now = 5000;
	timer_wheel_init(&tw, now);
	CHECK_INT(timer_next_ms(&tw, now, 1000), 1000);
	timer_arm(&tw, &a.t, now + 100);
	uint64_t wait = timer_next_ms(&tw, now, 1000);
	CHECK(wait > 0 && wait <= 100);
	/* A far timer never makes the loop spin: the wait is positive. */
	timer_cancel(&tw, &a.t);
	timer_arm(&tw, &a.t, now + 100000);
	CHECK(timer_next_ms(&tw, now, 1000) > 0);
	timer_cancel(&tw, &a.t);

	/* A timer armed after expiry ran, due before the current tick ends
	 * (a few-ms backoff), bounds the wait: it must not wait for the next
	 * turn of the wheel. now = 5000 starts tick 625, which ends at 5008. */
	timer_expire(&tw, now, on_fire, NULL);
	timer_arm(&tw, &a.t, now + 3);
	CHECK_INT(timer_next_ms(&tw, now, 1000), 3);
	timer_arm(&tw, &a.t, now);
	CHECK_INT(timer_next_ms(&tw, now, 1000), 0);
}

/* Many random deadlines, random re-arms, a clock advancing in uneven
 * steps: each live timer fires once, never early, at most a tick plus one
 * step late. */
static void test_random(void)
{
	static struct item items[N];
	struct timer_wheel tw;
	uint64_t rng = 42;

	now = 123456;
	timer_wheel_init(&tw, now);
	for (int i = 0; i < N; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		items[i].due = now + (rng >> 33) % 20000;
		timer_arm(&tw, &items[i].t, items[i].due);
	}
	for (int i = 0; i < N; i += 3) {	/* re-arm a third */
		items[i].due += 777;
		timer_arm(&tw, &items[i].t, items[i].due);
	}
	uint64_t step = 0;
	while (tw.n_armed > 0 && now < 123456 + 40000) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		step = 1 + (rng >> 33) % 37;
		now += step;
		timer_expire(&tw, now, on_fire, NULL);
	}
	for (int i = 0; i < N; i++) {
		CHECK_INT(items[i].fired, 1);
		CHECK(items[i].fired_at >= items[i].due);
		CHECK(items[i].fired_at <= items[i].due + TIMER_TICK_MS + 37);
	}
}

int main(void)
{
	test_basic();
	test_rearm_cancel();
	test_next_ms();
	test_random();
	return CHECK_EXIT();
}
