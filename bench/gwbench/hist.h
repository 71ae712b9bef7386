/* Latency histogram with bounded relative error (HdrHistogram-like).
 *
 * Values are unsigned integers (gwbench records nanoseconds). Below
 * 2 * HIST_SUB every value has its own bucket; above, each power of two
 * [2^e, 2^(e+1)) is cut into HIST_SUB equal buckets, so a bucket's width is
 * at most 1/HIST_SUB of its lower bound and a value reported from the
 * bucket's middle is within 1/(2 * HIST_SUB) of the truth (0.4 %).
 *
 * The counts live inside the struct: recording never allocates, a thread
 * owns its histogram without locks, and merging is adding arrays. Values
 * at or above 2^HIST_MAX_BITS land in the last bucket; min, max and the sum
 * stay exact whatever the value. */
#ifndef GW_BENCH_GWBENCH_HIST_H
#define GW_BENCH_GWBENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)	/* linear buckets per power of two */
#define HIST_MAX_BITS	43			/* 2^43 ns is 2.4 hours */
#define HIST_BUCKETS	((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;		/* values recorded */
	uint64_t sum;		/* of the values; wraps after 2^64 (584 years of ns) */
	uint64_t min;		/* UINT64_MAX while empty */
	uint64_t max;		/* 0 while empty */
	uint64_t counts[HIST_BUCKETS];
};

/* Empty <h>. */
void hist_init(struct hist *h);

/* Bucket of <v>: v itself below 2 * HIST_SUB, then HIST_SUB per octave. */
static inline unsigned hist__index(uint64_t v)
{
	unsigned e, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	shift = e - HIST_SUB_BITS;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* Record one value. Inline: it is on every response's path. */
static inline void hist_record(struct hist *h, uint64_t v)
{
	h->counts[hist__index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Add every value of <src> to <dst>. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The value below which <pct> percent of the values lie (pct in 0..100):
 * the middle of the bucket holding the value of rank ceil(pct/100 * count),
 * clamped to [min, max], so pct 0 gives min and pct 100 gives max exactly.
 * 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Arithmetic mean of the values (exact up to double rounding); 0 when empty. */
double hist_mean(const struct hist *h);

/* Smallest and largest value of bucket <idx> (for tests and reports). */
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_high(unsigned idx);

#endif
