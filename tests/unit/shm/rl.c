/* Unit test for shm/rl.c in one process, through shm/rl.h: GCRA values are
 * exact (admits, remaining, reset, retry-after), idle slots are reused
 * without loss, a full bucket evicts its smallest TAT, a held claim gives
 * BUSY without changing anything, and rl_repair_master() clears what a
 * worker killed mid-insert leaves (a claim, a reserved slot). Time moves by
 * arithmetic, never by sleeping. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/rl.h"
#include "tests/unit/check.h"

#define T0 1000000000ull	/* an arbitrary monotonic now, µs */

/* A formatted region of <n_buckets> in fresh shared memory, attached as
 * the master. */
static void *region_new(uint32_t n_buckets, struct rl_table *t)
{
	size_t size = rl_region_size(n_buckets);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		perror("mmap");
		exit(T_EXIT_FAIL);
	}
	rl_format_master(mem, n_buckets);
	if (rl_attach(t, mem, size, 0) != 0) {
		fprintf(stderr, "rl_attach failed\n");
		exit(T_EXIT_FAIL);
	}
	return mem;
}

static void region_free(void *mem, uint32_t n_buckets)
{
	munmap(mem, rl_region_size(n_buckets));
}

/* A key whose home bucket is <bucket>, distinct for distinct <nth>. */
static uint64_t key_in(const struct rl_table *t, uint32_t bucket, unsigned nth)
{
	for (uint64_t k = 1;; k++) {
		if (rl__bucket_of(t, k) == bucket && nth-- == 0)
			return k;
	}
}

static void check_verdict(struct rl_verdict v, enum rl_result res, uint64_t remaining,
			  uint64_t reset_us, uint64_t retry_us, int line)
{
	if (v.result != res || v.remaining != remaining || v.reset_us != reset_us ||
	    v.retry_after_us != retry_us) {
		fprintf(stderr, "line %d: verdict {%d, %" PRIu64 ", %" PRIu64 ", %" PRIu64
			"}, want {%d, %" PRIu64 ", %" PRIu64 ", %" PRIu64 "}\n", line, v.result,
			v.remaining, v.reset_us, v.retry_after_us, res, remaining, reset_us, retry_us);
		check_failures++;
	}
}
#define VERDICT(v, res, rem, reset, retry) check_verdict(v, res, rem, reset, retry, __LINE__)

static void test_sizes(void)
{
	struct rl_table t;
	void *mem;

	CHECK_INT(rl_region_size(0), 0);
	CHECK_INT(rl_region_size(3), 0);
	CHECK_INT(rl_region_size(1), 64 + 128);
	CHECK_INT(rl_region_size(1024), 64 + 128 * 1024);
	CHECK_INT(rl_buckets_fit(0), 0);
	CHECK_INT(rl_buckets_fit(64 + 127), 0);
	CHECK_INT(rl_buckets_fit(64 + 128), 1);
	CHECK_INT(rl_buckets_fit(64 + 128 * 3), 2);
	CHECK_INT(rl_buckets_fit(64 + 128 * 4), 4);
	CHECK_INT(rl_buckets_fit((size_t)64 << 20), 1u << 18);
	CHECK(rl_region_size(rl_buckets_fit(1000000)) <= 1000000);

	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	CHECK_INT(rl_attach(&t, mem, 4096, 0), -EINVAL);	/* not formatted */
	rl_format_master(mem, 3);				/* not a power of two */
	CHECK_INT(rl_attach(&t, mem, 4096, 0), -EINVAL);
	rl_format_master(mem, 16);
	CHECK_INT(rl_attach(&t, mem, 4096, 0), 0);
	CHECK_INT(t.n_buckets, 16);
	CHECK_INT(rl_attach(&t, mem, rl_region_size(16) - 1, 0), -EINVAL);
	CHECK_INT(rl_attach(&t, (char *)mem + 64, 4000, 0), -EINVAL);
	CHECK_INT(rl_attach(&t, NULL, 4096, 0), -EINVAL);
	munmap(mem, 4096);
}

static void test_rules(void)
{
	struct rl_rule ok = { 1000, 5 }, zero_t = { 0, 5 }, zero_b = { 1000, 0 };
	struct rl_rule max = { 1, RL_SPAN_MAX_US }, over = { 2, RL_SPAN_MAX_US / 2 + 1 };
	struct rl_table t;
	void *mem = region_new(4, &t);

	CHECK_INT(rl_rule_check(&ok), 0);
	CHECK_INT(rl_rule_check(&max), 0);
	CHECK_INT(rl_rule_check(&zero_t), -EINVAL);
	CHECK_INT(rl_rule_check(&zero_b), -EINVAL);
	CHECK_INT(rl_rule_check(&over), -EINVAL);
	CHECK_INT(rl_rule_check(NULL), -EINVAL);
	/* An unusable rule or clock fails closed and records nothing. */
	VERDICT(rl_take(&t, &zero_t, 1, T0), RL_REJECT, 0, 0, 0);
	VERDICT(rl_take(&t, &ok, 1, RL_NOW_MAX_US), RL_REJECT, 0, 0, 0);
	VERDICT(rl_take(&t, &ok, 1, T0), RL_ADMIT, 4, 1000, 0);
	region_free(mem, 4);
}

/* B at once, then exactly one per T, and a quiet key is full again. */
static void test_burst(void)
{
	struct rl_rule r = { 1000, 5 };
	struct rl_table t;
	void *mem = region_new(64, &t);
	uint64_t now = T0;

	for (uint64_t i = 1; i <= 5; i++)
		VERDICT(rl_take(&t, &r, 42, now), RL_ADMIT, 5 - i, i * 1000, 0);
	VERDICT(rl_take(&t, &r, 42, now), RL_REJECT, 0, 5000, 1000);
	VERDICT(rl_take(&t, &r, 42, now + 999), RL_REJECT, 0, 4001, 1);
	VERDICT(rl_take(&t, &r, 42, now + 1000), RL_ADMIT, 0, 5000, 0);
	VERDICT(rl_take(&t, &r, 42, now + 1000), RL_REJECT, 0, 5000, 1000);
	/* One per T for a long run, never two. */
	for (uint64_t n = 2; n < 100; n++) {
		VERDICT(rl_take(&t, &r, 42, now + n * 1000), RL_ADMIT, 0, 5000, 0);
		VERDICT(rl_take(&t, &r, 42, now + n * 1000 + 999), RL_REJECT, 0, 4001, 1);
	}
	/* The TAT is now + 104000: 2.5 T before it, 2 requests' worth has
	 * refilled; at the TAT, the bucket is exactly full. */
	now += 104000;
	VERDICT(rl_take(&t, &r, 42, now - 2500), RL_ADMIT, 1, 3500, 0);
	VERDICT(rl_take(&t, &r, 42, now + 1000), RL_ADMIT, 4, 1000, 0);
	/* Keys do not share state. */
	VERDICT(rl_take(&t, &r, 43, now), RL_ADMIT, 4, 1000, 0);
	region_free(mem, 64);
}

/* "10/min": T = 6 s, B = 10. */
static void test_per_minute(void)
{
	struct rl_rule r = { 6000000, 10 };
	struct rl_table t;
	void *mem = region_new(64, &t);
	uint64_t now = T0, s = 1000000;

	for (uint64_t i = 1; i <= 10; i++)
		VERDICT(rl_take(&t, &r, 7, now), RL_ADMIT, 10 - i, i * 6 * s, 0);
	/* TAT = now + 60 s. */
	VERDICT(rl_take(&t, &r, 7, now + 10), RL_REJECT, 0, 60 * s - 10, 6 * s - 10);
	VERDICT(rl_take(&t, &r, 7, now + 6 * s - 1), RL_REJECT, 0, 54 * s + 1, 1);
	VERDICT(rl_take(&t, &r, 7, now + 6 * s), RL_ADMIT, 0, 60 * s, 0);
	/* TAT = now + 66 s; at 30 s, 24 s (4 requests) have refilled. */
	VERDICT(rl_take(&t, &r, 7, now + 30 * s), RL_ADMIT, 3, 42 * s, 0);
	/* TAT = now + 72 s: full again at exactly that time. */
	VERDICT(rl_take(&t, &r, 7, now + 72 * s), RL_ADMIT, 9, 6 * s, 0);
	region_free(mem, 64);
}

static void test_refund(void)
{
	struct rl_rule r = { 1000, 5 };
	struct rl_verdict v;
	struct rl_table t;
	void *mem = region_new(64, &t);

	for (int i = 0; i < 3; i++)
		rl_take(&t, &r, 9, T0);
	rl_refund(&t, &r, 9, T0);		/* TAT T0 + 3000 -> T0 + 2000 */
	CHECK_INT(rl_peek(&t, &r, 9, T0, &v), 0);
	VERDICT(v, RL_ADMIT, 3, 2000, 0);
	VERDICT(rl_take(&t, &r, 9, T0), RL_ADMIT, 2, 3000, 0);
	/* Never below now: refunds past a full bucket give nothing more. */
	for (int i = 0; i < 10; i++)
		rl_refund(&t, &r, 9, T0 + 500);
	CHECK_INT(rl_peek(&t, &r, 9, T0 + 500, &v), -ENOENT);
	VERDICT(v, RL_ADMIT, 5, 0, 0);
	VERDICT(rl_take(&t, &r, 9, T0 + 500), RL_ADMIT, 4, 1000, 0);
	/* A partial step clamps at now. */
	rl_refund(&t, &r, 9, T0 + 700);	/* TAT T0 + 1500 - 1000 < now */
	VERDICT(rl_take(&t, &r, 9, T0 + 700), RL_ADMIT, 4, 1000, 0);
	/* Refunding an absent key does nothing (and creates nothing). */
	rl_refund(&t, &r, 10, T0);
	CHECK_INT(rl_peek(&t, &r, 10, T0, &v), -ENOENT);
	region_free(mem, 64);
}

static void test_reset(void)
{
	struct rl_rule r = { 1000, 2 };
	struct rl_table t;
	void *mem = region_new(64, &t);

	rl_take(&t, &r, 5, T0);
	rl_take(&t, &r, 5, T0);
	VERDICT(rl_take(&t, &r, 5, T0), RL_REJECT, 0, 2000, 1000);
	CHECK_INT(rl_reset(&t, 5), 0);
	VERDICT(rl_take(&t, &r, 5, T0), RL_ADMIT, 1, 1000, 0);
	CHECK_INT(rl_reset(&t, 6), -ENOENT);
	/* Reset all: every key full again, nothing absent becomes present. */
	rl_take(&t, &r, 6, T0);
	rl_take(&t, &r, 6, T0);
	rl_reset_all_master(&t);
	VERDICT(rl_take(&t, &r, 5, T0), RL_ADMIT, 1, 1000, 0);
	VERDICT(rl_take(&t, &r, 6, T0), RL_ADMIT, 1, 1000, 0);
	CHECK_INT(rl_reset(&t, 77), -ENOENT);
	/* Key 0 is a key like any other (it shares RL_KEY_ZERO's state). */
	VERDICT(rl_take(&t, &r, 0, T0), RL_ADMIT, 1, 1000, 0);
	VERDICT(rl_take(&t, &r, RL_KEY_ZERO, T0), RL_ADMIT, 0, 2000, 0);
	CHECK_INT(rl_reset(&t, 0), 0);
	VERDICT(rl_take(&t, &r, RL_KEY_ZERO, T0), RL_ADMIT, 1, 1000, 0);
	region_free(mem, 64);
}

/* Peek matches what take would say, changes nothing, and works through a
 * read-only mapping of the same memory. */
static void test_peek(void)
{
	struct rl_rule r = { 1000, 3 }, bad = { 0, 3 };
	struct rl_table t, ro;
	struct rl_stats st;
	struct rl_verdict v;
	size_t size = rl_region_size(8);
	int fd = memfd_create("rl-test", 0);
	void *mem, *rom;

	CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rom = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED && rom != MAP_FAILED);
	rl_format_master(mem, 8);
	CHECK_INT(rl_attach(&t, mem, size, 1), 0);
	CHECK_INT(rl_attach(&ro, rom, size, 0), 0);

	CHECK_INT(rl_peek(&ro, &r, 3, T0, &v), -ENOENT);
	VERDICT(v, RL_ADMIT, 3, 0, 0);
	CHECK_INT(rl_peek(&ro, &bad, 3, T0, &v), -EINVAL);
	rl_take(&t, &r, 3, T0);
	for (int i = 0; i < 5; i++) {	/* repeated peeks change nothing */
		CHECK_INT(rl_peek(&ro, &r, 3, T0 + 100, &v), 0);
		VERDICT(v, RL_ADMIT, 2, 900, 0);
	}
	rl_take(&t, &r, 3, T0);
	rl_take(&t, &r, 3, T0);
	CHECK_INT(rl_peek(&ro, &r, 3, T0 + 100, &v), 0);
	VERDICT(v, RL_REJECT, 0, 2900, 900);
	VERDICT(rl_take(&t, &r, 3, T0 + 100), RL_REJECT, 0, 2900, 900);
	CHECK_INT(rl_peek(&ro, &r, 3, T0 + 1000, &v), 0);
	VERDICT(v, RL_ADMIT, 1, 2000, 0);
	/* Idle (TAT <= now) reads as absent. */
	CHECK_INT(rl_peek(&ro, &r, 3, T0 + 3000, &v), -ENOENT);
	VERDICT(v, RL_ADMIT, 3, 0, 0);
	rl_stats_read(&ro, T0 + 2999, &st);
	CHECK_INT(st.keys, 1);
	CHECK_INT(st.capacity, 8 * RL_BUCKET_SLOTS);
	rl_stats_read(&ro, T0 + 3000, &st);
	CHECK_INT(st.keys, 0);
	munmap(rom, size);
	munmap(mem, size);
	close(fd);
}

/* Idle slots are reused with no eviction; with all 7 live, the smallest
 * TAT goes and is counted. n_buckets = 1, so every key shares the bucket. */
static void test_reuse_evict(void)
{
	struct rl_rule r = { 1000, 10 };
	struct rl_stats st;
	struct rl_verdict v;
	struct rl__audit a;
	struct rl_table t;
	void *mem = region_new(1, &t);

	for (uint64_t k = 1; k <= 7; k++)
		rl_take(&t, &r, k, T0);			/* TAT T0 + 1000 each */
	for (uint64_t k = 101; k <= 107; k++)	/* all idle at T0 + 1000 */
		VERDICT(rl_take(&t, &r, k, T0 + 1000), RL_ADMIT, 9, 1000, 0);
	rl_stats_read(&t, T0 + 1000, &st);
	CHECK_INT(st.evictions, 0);
	CHECK_INT(st.keys, 7);
	CHECK_INT(rl_peek(&t, &r, 1, T0 + 1000, &v), -ENOENT);

	/* Key 100 + i takes i more: TAT T0 + 1000 * (i + 2); 101 is smallest. */
	for (uint64_t k = 102; k <= 107; k++)
		for (uint64_t i = 101; i < k; i++)
			rl_take(&t, &r, k, T0 + 1000);
	VERDICT(rl_take(&t, &r, 200, T0 + 1000), RL_ADMIT, 9, 1000, 0);
	rl_stats_read(&t, T0 + 1000, &st);
	CHECK_INT(st.evictions, 1);
	CHECK_INT(st.keys, 7);
	CHECK_INT(rl_peek(&t, &r, 101, T0 + 1000, &v), -ENOENT);
	for (uint64_t k = 102; k <= 107; k++) {
		CHECK_INT(rl_peek(&t, &r, k, T0 + 1000, &v), 0);
		CHECK_INT(v.reset_us, 1000 * (k - 100));
	}
	/* The evicted key comes back with a full bucket, evicting 200. */
	VERDICT(rl_take(&t, &r, 101, T0 + 1000), RL_ADMIT, 9, 1000, 0);
	rl__audit(&t, 0, &a);
	CHECK_INT(a.duplicates, 0);
	CHECK_INT(a.claims, 0);
	CHECK_INT(a.reserved, 0);
	region_free(mem, 1);
}

/* A claim held by another owner makes inserts into its bucket BUSY, with
 * nothing changed; present keys are still decided; repairing the owner
 * frees it, repairing someone else does not. */
static void test_busy(void)
{
	struct rl_rule r = { 1000, 3 };
	struct rl_table t, w;
	struct rl_stats st;
	struct rl__audit a;
	struct rl_verdict v;
	void *mem = region_new(4, &t);
	uint64_t present = key_in(&t, 2, 0), fresh = key_in(&t, 2, 1), other = key_in(&t, 1, 0);

	CHECK_INT(rl_attach(&w, mem, rl_region_size(4), 5), 0);
	rl_take(&t, &r, present, T0);
	CHECK_INT(rl__insert_halt(&w, &r, key_in(&t, 2, 2), T0, RL__HALT_CLAIMED), 0);
	CHECK_INT(rl__insert_halt(&t, &r, present, T0, RL__HALT_CLAIMED), -EBUSY);
	for (int i = 0; i < 3; i++)
		VERDICT(rl_take(&t, &r, fresh, T0), RL_BUSY, 0, 0, 0);
	CHECK_INT(rl_peek(&t, &r, fresh, T0, &v), -ENOENT);
	rl_stats_read(&t, T0, &st);
	CHECK_INT(st.busy, 3);
	VERDICT(rl_take(&t, &r, present, T0), RL_ADMIT, 1, 2000, 0);
	VERDICT(rl_take(&t, &r, other, T0), RL_ADMIT, 2, 1000, 0);	/* another bucket */
	rl__audit(&t, 5, &a);
	CHECK_INT(a.claims, 1);
	CHECK_INT(a.claims_owner, 1);

	rl_repair_master(&t, 6);
	VERDICT(rl_take(&t, &r, fresh, T0), RL_BUSY, 0, 0, 0);
	rl_repair_master(&t, 5);
	rl__audit(&t, 5, &a);
	CHECK_INT(a.claims, 0);
	VERDICT(rl_take(&t, &r, fresh, T0), RL_ADMIT, 2, 1000, 0);
	region_free(mem, 4);
}

/* Fill the single bucket with live keys 1..7 (key k has TAT T0 + 1000 k),
 * have owner 3 die inserting key 50 at <at>, then repair. */
static void die_and_repair(enum rl__halt at)
{
	struct rl_rule r = { 1000, 10 };
	struct rl_table t, w;
	struct rl__audit a;
	struct rl_verdict v;
	void *mem = region_new(1, &t);

	CHECK_INT(rl_attach(&w, mem, rl_region_size(1), 3), 0);
	for (uint64_t k = 1; k <= 7; k++)
		for (uint64_t i = 0; i < k; i++)
			rl_take(&t, &r, k, T0);
	CHECK_INT(rl__insert_halt(&w, &r, 50, T0, at), 0);
	rl__audit(&t, 3, &a);
	CHECK_INT(a.claims_owner, 1);
	CHECK_INT(a.reserved, at == RL__HALT_CLAIMED ? 0 : 1);
	CHECK_INT(a.reserved_unclaimed, 0);
	/* The victim (key 1, smallest TAT) is being re-keyed: BUSY; so is the
	 * half-inserted key 50. Others are decided as usual. */
	if (at != RL__HALT_CLAIMED) {
		VERDICT(rl_take(&t, &r, 1, T0), RL_BUSY, 0, 0, 0);
		VERDICT(rl_take(&t, &r, 50, T0), RL_BUSY, 0, 0, 0);
		CHECK_INT(rl_peek(&t, &r, 50, T0, &v), -ENOENT);
		CHECK_INT(rl_reset(&t, at == RL__HALT_KEYED ? 50 : 1), -EBUSY);
	}
	VERDICT(rl_take(&t, &r, 7, T0), RL_ADMIT, 2, 8000, 0);

	rl_repair_master(&t, 3);
	rl__audit(&t, 3, &a);
	CHECK_INT(a.claims, 0);
	CHECK_INT(a.reserved, 0);
	CHECK_INT(a.duplicates, 0);
	CHECK_INT(a.misplaced, 0);
	/* After a reserve the victim's state is gone: key 1 comes back full. */
	VERDICT(rl_take(&t, &r, 1, T0), RL_ADMIT, at == RL__HALT_CLAIMED ? 8 : 9,
		at == RL__HALT_CLAIMED ? 2000 : 1000, 0);
	CHECK_INT(rl_peek(&t, &r, 2, T0, &v), 0);
	CHECK_INT(v.reset_us, 2000);
	region_free(mem, 1);
}

static void test_repair(void)
{
	die_and_repair(RL__HALT_CLAIMED);
	die_and_repair(RL__HALT_RESERVED);
	die_and_repair(RL__HALT_KEYED);
}

int main(void)
{
	test_sizes();
	test_rules();
	test_burst();
	test_per_minute();
	test_refund();
	test_reset();
	test_peek();
	test_reuse_evict();
	test_busy();
	test_repair();
	return CHECK_EXIT();
}
