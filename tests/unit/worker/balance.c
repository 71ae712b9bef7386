/* Unit test of worker/balance.c through worker/balance.h.
 *
 * Services are built by hand; every random policy runs from a fixed seed,
 * so the counts below are deterministic and the tolerances only absorb the
 * choice of seed, never run-to-run noise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "worker/balance.h"

#define MAX_INST 8

struct tsvc {
	struct gw_instance_conf inst[MAX_INST];
	struct gw_service_conf svc;
};

/* A service of <n> instances "10.0.0.<i+1>:80" with <weights> (NULL = 1). */
static void tsvc_init(struct tsvc *t, enum gw_balance policy, size_t n, const unsigned *weights)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		snprintf(t->inst[i].addr.text, sizeof(t->inst[i].addr.text), "10.0.0.%zu:80", i + 1);
		t->inst[i].weight = weights ? weights[i] : 1;
	}
	t->svc.name = (char *)"svc";
	t->svc.instances = t->inst;
	t->svc.n_instances = n;
	t->svc.balance = policy;
}

static struct balancer *tbal_new(struct tsvc *t, uint64_t seed)
{
	struct balancer *b = bal_new(&t->svc, seed);

	if (!b) {
		fprintf(stderr, "bal_new failed\n");
		exit(T_EXIT_FAIL);
	}
	return b;
}

/* Pick and release at once <n> times, counting picks per instance. */
static void pick_release(struct balancer *b, unsigned n, unsigned *count)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned at = bal_pick(b, NULL, NULL);

		count[at]++;
		bal_release(b, at);
	}
}

/* |got - want| <= want * pct / 100 */
static int within(unsigned got, double want, double pct)
{
	double d = (double)got - want;

	if (d < 0)
		d = -d;
	if (d <= want * pct / 100.0)
		return 1;
	fprintf(stderr, "  got %u, want %.0f +- %.0f%%\n", got, want, pct);
	return 0;
}

/* <n> picks on a fresh balancer for <t> from <seed>, each released at
 * once: instance i is picked want[i] times, give or take <pct> percent
 * (0: exactly), and no pick stays outstanding. */
static void check_picks(int line, struct tsvc *t, uint64_t seed, unsigned n,
			const double *want, double pct)
{
	unsigned count[MAX_INST] = { 0 };
	struct balancer *b = tbal_new(t, seed);

	pick_release(b, n, count);
	for (unsigned i = 0; i < t->svc.n_instances; i++) {
		if (!within(count[i], want[i], pct)) {
			fprintf(stderr, "line %d: instance %u picked %u times\n", line, i,
				count[i]);
			check_failures++;
		}
		CHECK_INT(bal_outstanding(b, i), 0);
	}
	bal_free(b);
}

static void test_swrr(void)
{
	static const unsigned w[3] = { 5, 1, 1 };
	static const unsigned nginx_seq[7] = { 0, 0, 1, 0, 2, 0, 0 };	/* a a b a c a a */
	struct tsvc t;
	struct balancer *b;

	tsvc_init(&t, GW_BAL_ROUND_ROBIN, 3, w);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < 7; i++)
		CHECK_INT(bal_pick(b, NULL, NULL), nginx_seq[i]);
	/* Without releases every pick stays outstanding. */
	CHECK_INT(bal_outstanding(b, 0), 5);
	CHECK_INT(bal_outstanding(b, 1), 1);
	CHECK_INT(bal_outstanding(b, 2), 1);
	bal_free(b);

	check_picks(__LINE__, &t, 1, 7000, (const double[]){ 5000, 1000, 1000 }, 0);
}

static void test_random(void)
{
	static const unsigned w[3] = { 5, 3, 2 };
	unsigned same = 0;
	struct tsvc t;
	struct balancer *b, *b2;

	tsvc_init(&t, GW_BAL_RANDOM, 3, w);
	check_picks(__LINE__, &t, 42, 100000, (const double[]){ 50000, 30000, 20000 }, 3);

	/* Different seeds, different sequences: workers do not move in step. */
	b = tbal_new(&t, 1);
	b2 = tbal_new(&t, 2);
	for (unsigned i = 0; i < 64; i++)
		same += bal_pick(b, NULL, NULL) == bal_pick(b2, NULL, NULL);
	CHECK(same < 64);
	bal_free(b2);
	bal_free(b);

	/* The same seed repeats itself. */
	b = tbal_new(&t, 7);
	b2 = tbal_new(&t, 7);
	same = 0;
	for (unsigned i = 0; i < 64; i++)
		same += bal_pick(b, NULL, NULL) == bal_pick(b2, NULL, NULL);
	CHECK_INT(same, 64);
	bal_free(b2);
	bal_free(b);
}

static void test_p2c(void)
{
	static const unsigned w[3] = { 5, 3, 2 };
	struct tsvc t;
	struct balancer *b;

	/* Idle instances tie, so the first weighted draw decides. */
	tsvc_init(&t, GW_BAL_P2C, 3, w);
	check_picks(__LINE__, &t, 42, 100000, (const double[]){ 50000, 30000, 20000 }, 3);

	/* Held requests: the load per unit of weight stays level. */
	b = tbal_new(&t, 42);
	for (unsigned i = 0; i < 10000; i++)
		bal_pick(b, NULL, NULL);
	CHECK(within(bal_outstanding(b, 0), 5000, 2));
	CHECK(within(bal_outstanding(b, 1), 3000, 2));
	CHECK(within(bal_outstanding(b, 2), 2000, 2));
	bal_free(b);

	/* Two instances are always both drawn, so the less loaded one wins
	 * every time and held loads never differ by more than one. */
	tsvc_init(&t, GW_BAL_P2C, 2, NULL);
	b = tbal_new(&t, 9);
	for (unsigned i = 0; i < 1000; i++) {
		int d;

		bal_pick(b, NULL, NULL);
		d = (int)bal_outstanding(b, 0) - (int)bal_outstanding(b, 1);
		CHECK(d >= -1 && d <= 1);
	}
	bal_free(b);

	tsvc_init(&t, GW_BAL_P2C, 1, NULL);
	b = tbal_new(&t, 9);
	for (unsigned i = 0; i < 10; i++)
		CHECK_INT(bal_pick(b, NULL, NULL), 0);
	CHECK_INT(bal_outstanding(b, 0), 10);
	bal_free(b);
}

static void test_least_conn(void)
{
	static const unsigned w[2] = { 3, 1 };
	unsigned x, y, z;
	struct tsvc t;
	struct balancer *b;

	tsvc_init(&t, GW_BAL_LEAST_CONN, 3, NULL);
	b = tbal_new(&t, 1);
	/* Equal loads take turns: three picks reach three instances. */
	for (unsigned i = 0; i < 3; i++)
		bal_pick(b, NULL, NULL);
	for (unsigned i = 0; i < 3; i++)
		CHECK_INT(bal_outstanding(b, i), 1);
	/* Fewest outstanding wins, and a release makes room. */
	bal_release(b, 1);
	CHECK_INT(bal_outstanding(b, 1), 0);
	CHECK_INT(bal_pick(b, NULL, NULL), 1);
	bal_release(b, 2);
	CHECK_INT(bal_pick(b, NULL, NULL), 2);
	x = bal_pick(b, NULL, NULL);
	y = bal_pick(b, NULL, NULL);
	z = bal_pick(b, NULL, NULL);
	CHECK(x != y && y != z && x != z);
	for (unsigned i = 0; i < 3; i++)
		CHECK_INT(bal_outstanding(b, i), 2);
	/* Releasing never goes below zero; out-of-range is ignored. */
	bal_release(b, 2);
	bal_release(b, 2);
	bal_release(b, 2);
	CHECK_INT(bal_outstanding(b, 2), 0);
	bal_release(b, 99);
	CHECK_INT(bal_outstanding(b, 99), 0);
	bal_free(b);

	/* Idle service: picks spread evenly instead of piling on the first. */
	check_picks(__LINE__, &t, 1, 300, (const double[]){ 100, 100, 100 }, 0);

	/* Weighted: idle ties share by weight, held loads stay proportional. */
	tsvc_init(&t, GW_BAL_LEAST_CONN, 2, w);
	check_picks(__LINE__, &t, 1, 400, (const double[]){ 300, 100 }, 0);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < 400; i++)
		bal_pick(b, NULL, NULL);
	CHECK_INT(bal_outstanding(b, 0), 300);
	CHECK_INT(bal_outstanding(b, 1), 100);
	bal_free(b);
}

/* The key of client <i>: IPv4 address bytes 192.168.x.y (hash:ip). */
static struct bal_key ip_key(unsigned i, unsigned char *bytes)
{
	bytes[0] = 192;
	bytes[1] = 168;
	bytes[2] = (unsigned char)(i >> 8);
	bytes[3] = (unsigned char)i;
	return (struct bal_key){ bytes, 4 };
}

#define N_KEYS 10000

static void test_hash_spread(void)
{
	static unsigned before[N_KEYS];
	unsigned count[5] = { 0 };
	unsigned moved = 0, moved_elsewhere = 0;
	unsigned char ip[4];
	struct tsvc t;
	struct balancer *b;

	tsvc_init(&t, GW_BAL_HASH_IP, 4, NULL);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < N_KEYS; i++) {
		struct bal_key k = ip_key(i, ip);

		before[i] = bal_pick(b, &k, NULL);
		count[before[i]]++;
	}
	for (unsigned i = 0; i < 4; i++)
		CHECK(within(count[i], N_KEYS / 4.0, 20));	/* 25% +- 5 points */
	bal_free(b);

	/* A fifth instance takes about a fifth of the keys, all from others. */
	tsvc_init(&t, GW_BAL_HASH_IP, 5, NULL);
	b = tbal_new(&t, 12345);
	for (unsigned i = 0; i < N_KEYS; i++) {
		struct bal_key k = ip_key(i, ip);
		unsigned now = bal_pick(b, &k, NULL);

		if (now != before[i]) {
			moved++;
			moved_elsewhere += now != 4;
		}
	}
	CHECK(moved >= N_KEYS / 10 && moved <= N_KEYS * 3 / 10);
	CHECK_INT(moved_elsewhere, 0);
	bal_free(b);
}

static void test_hash_stable(void)
{
	static const unsigned w[2] = { 3, 1 };
	unsigned count[2] = { 0 };
	unsigned first[16];
	char hdr[32];
	struct tsvc t;
	struct balancer *b, *b2;

	/* hash:header, the same key always lands on the same instance, in
	 * any order, and in another worker with another seed. */
	tsvc_init(&t, GW_BAL_HASH_HEADER, 4, NULL);
	b = tbal_new(&t, 1);
	b2 = tbal_new(&t, 999);
	for (unsigned i = 0; i < 16; i++) {
		int n = snprintf(hdr, sizeof(hdr), "user-%u", i);
		struct bal_key k = { hdr, (size_t)n };

		first[i] = bal_pick(b, &k, NULL);
		CHECK_INT(bal_pick(b2, &k, NULL), first[i]);
	}
	for (unsigned round = 0; round < 50; round++) {
		for (unsigned j = 0; j < 16; j++) {
			unsigned i = (j * 7 + round) % 16;
			int n = snprintf(hdr, sizeof(hdr), "user-%u", i);
			struct bal_key k = { hdr, (size_t)n };

			CHECK_INT(bal_pick(b, &k, NULL), first[i]);
		}
	}
	bal_free(b2);
	bal_free(b);

	/* Weights scale the share of the ring. */
	tsvc_init(&t, GW_BAL_HASH_HEADER, 2, w);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < N_KEYS; i++) {
		int n = snprintf(hdr, sizeof(hdr), "session-%u", i);
		struct bal_key k = { hdr, (size_t)n };

		count[bal_pick(b, &k, NULL)]++;
	}
	CHECK(within(count[0], N_KEYS * 0.75, 7));
	CHECK(within(count[1], N_KEYS * 0.25, 20));
	bal_free(b);
}

static void test_hash_without_key(void)
{
	static const unsigned w[3] = { 5, 1, 1 };
	static const unsigned nginx_seq[7] = { 0, 0, 1, 0, 2, 0, 0 };
	struct bal_key none = { NULL, 0 };
	struct tsvc t;
	struct balancer *b;

	tsvc_init(&t, GW_BAL_HASH_IP, 3, NULL);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < 9; i++)
		CHECK_INT(bal_pick(b, i % 2 ? &none : NULL, NULL), i % 3);
	CHECK_INT(bal_outstanding(b, 0), 3);
	bal_free(b);

	tsvc_init(&t, GW_BAL_HASH_HEADER, 3, w);
	b = tbal_new(&t, 1);
	for (unsigned i = 0; i < 7; i++)
		CHECK_INT(bal_pick(b, NULL, NULL), nginx_seq[i]);
	bal_free(b);
}

static void test_no_instances(void)
{
	struct tsvc t;

	tsvc_init(&t, GW_BAL_ROUND_ROBIN, 0, NULL);
	CHECK(bal_new(&t.svc, 1) == NULL);
	bal_free(NULL);
}

int main(void)
{
	test_swrr();
	test_random();
	test_p2c();
	test_least_conn();
	test_hash_spread();
	test_hash_stable();
	test_hash_without_key();
	test_no_instances();
	return CHECK_EXIT();
}
