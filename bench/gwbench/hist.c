/* Log-linear latency histogram; the layout is described in hist.h.
 *
 * Bucket idx >= 2 * HIST_SUB belongs to octave e = idx / HIST_SUB +
 * HIST_SUB_BITS - 1 and holds [sub << s, (sub + 1) << s) with
 * s = e - HIST_SUB_BITS and sub = HIST_SUB + idx % HIST_SUB, the inverse of
 * hist__index(). */
#include "bench/gwbench/hist.h"

#include <string.h>

_Static_assert(HIST_BUCKETS == 4736, "43 bits at 128 sub-buckets: 37 octaves");
_Static_assert(HIST_MAX_BITS < 64, "bucket bounds are computed in 64 bits");

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_bucket_low(unsigned idx)
{
	unsigned s;

	if (idx < 2 * HIST_SUB)
		return idx;
	s = idx / HIST_SUB - 1;
	return (uint64_t)(HIST_SUB + idx % HIST_SUB) << s;
}

uint64_t hist_bucket_high(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	/* The last bucket also takes everything beyond the tracked range. */
	if (idx == HIST_BUCKETS - 1)
		return UINT64_MAX;
	return hist_bucket_low(idx) + (UINT64_C(1) << (idx / HIST_SUB - 1)) - 1;
}

/* The middle of bucket idx, without overflowing on the last one. */
static uint64_t bucket_mid(unsigned idx)
{
	uint64_t lo = hist_bucket_low(idx);

	if (idx < 2 * HIST_SUB)
		return lo;
	return lo + ((UINT64_C(1) << (idx / HIST_SUB - 1)) - 1) / 2;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0, v;
	double r;

	if (!h->count)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	r = pct / 100.0 * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen < rank)
			continue;
		v = bucket_mid(i);
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;	/* unreachable: the counts add up to count */
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
