/* Deadlines for connections: a hashed timing wheel.
 *
 * Each connection owns one struct timer; arming it again moves it. Slots
 * cover TIMER_TICK_MS each, TIMER_SLOTS of them; a deadline further away
 * than one turn of the wheel waits in its slot and is skipped until its turn
 * comes round. Add, move and cancel are O(1); timer_expire() visits only the
 * slots the clock passed since the last call. */
#ifndef GW_WORKER_TIMER_H
#define GW_WORKER_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_TICK_MS 8u
#define TIMER_SLOTS 512u	/* a power of two; one turn = 4096 ms */

struct timer {
	struct timer *next;
	struct timer **pprev;	/* NULL when not armed */
	uint64_t deadline_ms;
	/* Called instead of timer_expire()'s <fire> when set: for timers
	 * whose owner is not the kind the loop's handler expects. */
	void (*fire)(struct timer *t, void *arg);
};

struct timer_wheel {
	struct timer *slots[TIMER_SLOTS];
	uint64_t tick;		/* the next tick to expire */
	uint64_t n_armed;
};

/* Start the wheel at <now_ms>. */
void timer_wheel_init(struct timer_wheel *tw, uint64_t now_ms);

/* Arm (or re-arm) <t> to fire at <deadline_ms>. */
void timer_arm(struct timer_wheel *tw, struct timer *t, uint64_t deadline_ms);

/* Disarm <t>; harmless when not armed. */
void timer_cancel(struct timer_wheel *tw, struct timer *t);

static inline bool timer_armed(const struct timer *t) { return t->pprev != 0; }

/* Call <fire>(t, arg) (or t->fire when set) for every timer due at
 * <now_ms>, disarming each first (so fire may re-arm or free it). Visits at most the slots passed since the
 * last call, plus one full turn when the clock jumped further. */
void timer_expire(struct timer_wheel *tw, uint64_t now_ms,
		  void (*fire)(struct timer *t, void *arg), void *arg);

/* Milliseconds until the earliest slot holding a timer may fire, capped at
 * <cap_ms>; 0 when something is already due. */
uint64_t timer_next_ms(const struct timer_wheel *tw, uint64_t now_ms, uint64_t cap_ms);

#endif
