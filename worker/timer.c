#include "worker/timer.h"

#include <stddef.h>

static inline uint64_t tick_of(uint64_t ms) { return ms / TIMER_TICK_MS; }

void timer_wheel_init(struct timer_wheel *tw, uint64_t now_ms)
{
	for (unsigned i = 0; i < TIMER_SLOTS; i++)
		tw->slots[i] = NULL;
	tw->tick = tick_of(now_ms);
	tw->n_armed = 0;
}

static void unlink_timer(struct timer_wheel *tw, struct timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->pprev = NULL;
	t->next = NULL;
	tw->n_armed--;
}

void timer_arm(struct timer_wheel *tw, struct timer *t, uint64_t deadline_ms)
{
	uint64_t tick = tick_of(deadline_ms);

	if (t->pprev)
		unlink_timer(tw, t);
	/* A deadline already behind the cursor goes in the cursor's slot so the
	 * next expiry pass sees it. */
	if (tick < tw->tick)
		tick = tw->tick;
	struct timer **slot = &tw->slots[tick & (TIMER_SLOTS - 1)];
	t->deadline_ms = deadline_ms;
	t->next = *slot;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = slot;
	*slot = t;
	tw->n_armed++;
}

void timer_cancel(struct timer_wheel *tw, struct timer *t)
{
	if (t->pprev)
		unlink_timer(tw, t);
}

static void expire_slot(struct timer_wheel *tw, unsigned slot, uint64_t now_ms,
			void (*fire)(struct timer *, void *), void *arg)
{
	struct timer *t = tw->slots[slot];

	while (t) {
		struct timer *next = t->next;
		if (t->deadline_ms <= now_ms) {
			unlink_timer(tw, t);
			/* fire may arm or cancel other timers, but only this one
			 * can be freed, and we already hold its successor. A re-arm
			 * into this same slot lands at the head, before next, so it is
			 * not visited twice in this pass. */
			(t->fire ? t->fire : fire)(t, arg);
		}
		t = next;
	}
}

void timer_expire(struct timer_wheel *tw, uint64_t now_ms,
		  void (*fire)(struct timer *t, void *arg), void *arg)
{
	uint64_t now_tick = tick_of(now_ms);
	uint64_t end = now_tick + 1;

	if (end - tw->tick > TIMER_SLOTS)
		tw->tick = end - TIMER_SLOTS;
	for (; tw->tick < end; tw->tick++) {
		if (tw->n_armed == 0) {
			tw->tick = now_tick;
			break;
		}
		expire_slot(tw, (unsigned)(tw->tick & (TIMER_SLOTS - 1)), now_ms, fire, arg);
	}
	/* Keep the current tick: timers armed later in this tick must still be
	 * found by the next pass. */
	tw->tick = now_tick;
}

uint64_t timer_next_ms(const struct timer_wheel *tw, uint64_t now_ms, uint64_t cap_ms)
{
	if (tw->n_armed == 0)
		return cap_ms;
	/* The current tick's slot: expiry ran over it, but a timer armed since
	 * (a short backoff) may be due before the tick ends; the rest of the
	 * slot is due a later turn round. */
	uint64_t tick_end = (tw->tick + 1) * TIMER_TICK_MS;
	for (const struct timer *t = tw->slots[tw->tick & (TIMER_SLOTS - 1)]; t; t = t->next) {
		if (t->deadline_ms < tick_end) {
			uint64_t wait = t->deadline_ms > now_ms ? t->deadline_ms - now_ms : 0;
			return wait < cap_ms ? wait : cap_ms;
		}
	}
	for (uint64_t i = 1; i <= TIMER_SLOTS; i++) {
		uint64_t tick = tw->tick + i;
		if (!tw->slots[tick & (TIMER_SLOTS - 1)])
			continue;
		uint64_t at = tick * TIMER_TICK_MS;
		uint64_t wait = at > now_ms ? at - now_ms : 0;
		return wait < cap_ms ? wait : cap_ms;
	}
	return cap_ms;
}
