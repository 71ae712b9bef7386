/* Unit test for bench/gwbench/hist.c: relative error within 1 % from 1 µs
 * to 1 h, percentiles of known distributions, merging, and exact min, max
 * and mean. Values are nanoseconds, as gwbench records them. */
#include <math.h>
#include <stdlib.h>

#include "bench/gwbench/hist.h"
#include "tests/unit/check.h"

#define US	UINT64_C(1000)
#define HOUR	(UINT64_C(3600) * 1000000000u)

static struct hist h, h2, all;

static double rel_err(uint64_t got, uint64_t want)
{
	return fabs((double)got - (double)want) / (double)want;
}

#define CHECK_NEAR(got, want, tol) do { \
	uint64_t g_ = (got), w_ = (want); \
	if (rel_err(g_, w_) > (tol)) { \
		fprintf(stderr, "%s:%d: %s == %llu, want %llu within %.2f%%\n", __FILE__, \
			__LINE__, #got, (unsigned long long)g_, (unsigned long long)w_, (tol) * 100); \
		check_failures++; \
	} \
} while (0)

/* Every bucket is contiguous with the next and narrower than 1/128 of its
 * lower bound: the layout itself bounds the error. */
static void test_layout(void)
{
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		if (hist_bucket_low(i + 1) != hi + 1) {
			fprintf(stderr, "bucket %u ends at %llu, next starts at %llu\n", i,
				(unsigned long long)hi, (unsigned long long)hist_bucket_low(i + 1));
			check_failures++;
			return;
		}
		/* Below 256 every value is its own bucket (exact). */
		if (lo < 256 ? hi != lo : (double)(hi - lo + 1) / (double)lo > 1.0 / 128 + 1e-12) {
			fprintf(stderr, "bucket %u [%llu, %llu] too wide\n", i,
				(unsigned long long)lo, (unsigned long long)hi);
			check_failures++;
			return;
		}
		if (hist__index(lo) != i || hist__index(hi) != i) {
			fprintf(stderr, "bucket %u: index of its bounds is %u, %u\n", i,
				hist__index(lo), hist__index(hi));
			check_failures++;
			return;
		}
	}
	CHECK(hist_bucket_high(HIST_BUCKETS - 2) >= 2 * HOUR);
}

/* One value alone comes back within 1 % (in fact 0.4 %) at any percentile
 * strictly inside (0, 100), from 1 µs to 1 h in steps of 0.7 %. */
static void test_single_values(void)
{
	for (double v = (double)US; v <= (double)HOUR; v *= 1.007) {
		uint64_t x = (uint64_t)v;

		hist_init(&h);
		hist_record(&h, x);
		hist_record(&h, x);
		CHECK_NEAR(hist_percentile(&h, 50), x, 0.01);
		/* The middle of the bucket is reported, clamped to min/max:
		 * with one distinct value, that is the value itself. */
		CHECK_INT(hist_percentile(&h, 50), x);
		CHECK_INT(h.min, x);
		CHECK_INT(h.max, x);
	}
	/* Several distinct values in one histogram: each is its own percentile. */
	hist_init(&h);
	for (uint64_t v = US; v <= HOUR; v *= 3)
		hist_record(&h, v);
	uint64_t n = h.count, k = 0;
	for (uint64_t v = US; v <= HOUR; v *= 3) {
		k++;
		CHECK_NEAR(hist_percentile(&h, 100.0 * ((double)k - 0.5) / (double)n), v, 0.005);
	}
}

/* Uniform 1..100000 µs: pX is X % of the range within 1 %. */
static void test_uniform(void)
{
	static const double pcts[] = { 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99 };

	hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(&h, v * US);
	CHECK_INT(h.count, 100000);
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		uint64_t want = (uint64_t)ceil(pcts[i] / 100 * 100000) * US;

		CHECK_NEAR(hist_percentile(&h, pcts[i]), want, 0.01);
	}
	CHECK_INT(hist_percentile(&h, 0), 1 * US);
	CHECK_INT(hist_percentile(&h, 100), 100000 * US);
	/* Exact: sum of 1..100000 µs / 100000 = 50000.5 µs. */
	CHECK(fabs(hist_mean(&h) - 50000.5 * 1000) < 1e-3);
}

/* 99 % at 100 µs and 1 % at 50 ms: p50 and p99 are fast, p99.5 is slow. */
static void test_bimodal(void)
{
	hist_init(&h);
	for (int i = 0; i < 9900; i++)
		hist_record(&h, 100 * US);
	for (int i = 0; i < 100; i++)
		hist_record(&h, 50000 * US);
	CHECK_NEAR(hist_percentile(&h, 50), 100 * US, 0.01);
	CHECK_NEAR(hist_percentile(&h, 99), 100 * US, 0.01);
	CHECK_NEAR(hist_percentile(&h, 99.5), 50000 * US, 0.01);
	CHECK_NEAR(hist_percentile(&h, 99.99), 50000 * US, 0.01);
	CHECK_INT(h.min, 100 * US);
	CHECK_INT(h.max, 50000 * US);
}

/* Exponential with mean 1 ms (deterministic quantiles, no RNG): the pth
 * percentile is -ln(1 - p) ms. */
static void test_exponential(void)
{
	static const double pcts[] = { 50, 90, 99, 99.9 };
	const int n = 200000;

	hist_init(&h);
	for (int i = 0; i < n; i++) {
		double u = (i + 0.5) / n;

		hist_record(&h, (uint64_t)(-log(1 - u) * 1e6));
	}
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		CHECK_NEAR(hist_percentile(&h, pcts[i]), (uint64_t)(-log(1 - pcts[i] / 100) * 1e6),
			   0.01);
}

/* Two halves merged equal the whole, bucket for bucket; min, max, mean
 * exact. */
static void test_merge(void)
{
	uint64_t sum = 0, x = 12345;

	hist_init(&h);
	hist_init(&h2);
	hist_init(&all);
	for (int i = 0; i < 100000; i++) {
		/* A cheap LCG over 1 µs .. ~4 s. */
		x = x * 6364136223846793005u + 1442695040888963407u;
		uint64_t v = US + (x >> 42);

		hist_record(i % 3 ? &h : &h2, v);
		hist_record(&all, v);
		sum += v;
	}
	hist_merge(&h, &h2);
	CHECK_INT(h.count, all.count);
	CHECK_INT(h.sum, sum);
	CHECK_INT(h.min, all.min);
	CHECK_INT(h.max, all.max);
	CHECK(memcmp(h.counts, all.counts, sizeof(h.counts)) == 0);
	CHECK(hist_mean(&h) == (double)sum / 100000);
	for (double p = 0; p <= 100; p += 0.5)
		CHECK_INT(hist_percentile(&h, p), hist_percentile(&all, p));
	/* Merging an empty histogram changes nothing; into one, copies. */
	hist_init(&h2);
	hist_merge(&h, &h2);
	CHECK_INT(h.min, all.min);
	hist_merge(&h2, &all);
	CHECK_INT(h2.min, all.min);
	CHECK_INT(h2.max, all.max);
	CHECK_INT(h2.count, all.count);
}

static void test_edges(void)
{
	hist_init(&h);
	CHECK_INT(hist_percentile(&h, 50), 0);
	CHECK(hist_mean(&h) == 0);
	CHECK_INT(h.count, 0);
	/* Small values are exact, 0 included. */
	for (uint64_t v = 0; v < 256; v++) {
		hist_init(&h);
		hist_record(&h, v);
		CHECK_INT(hist_percentile(&h, 50), v);
	}
	/* Beyond the range: the last bucket, but min/max/mean exact. */
	hist_init(&h);
	hist_record(&h, UINT64_C(1) << 60);
	hist_record(&h, UINT64_C(1) << 60);
	CHECK_INT(h.max, UINT64_C(1) << 60);
	CHECK_INT(hist_percentile(&h, 50), UINT64_C(1) << 60);
	CHECK_INT(h.counts[HIST_BUCKETS - 1], 2);
}

int main(void)
{
	test_layout();
	test_single_values();
	test_uniform();
	test_bimodal();
	test_exponential();
	test_merge();
	test_edges();
	return CHECK_EXIT();
}
