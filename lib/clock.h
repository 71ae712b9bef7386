/* Monotonic and wall clocks in the units the rest of the code uses.
 * Hot loops read the clock once per turn and pass `now` down (STYLE §12). */
#ifndef GW_LIB_CLOCK_H
#define GW_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds. */
static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Monotonic time in milliseconds. */
static inline uint64_t clock_mono_ms(void) { return clock_mono_ns() / 1000000u; }

/* Wall-clock time in microseconds since the epoch (for logs only). */
static inline uint64_t clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
