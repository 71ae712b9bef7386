/* worker/jwtcache.c: hits and misses, the exact time bounds (exp with
 * leeway, nbf/iat with leeway, a clock stepping back), CLOCK eviction,
 * collisions that must not match, the token-length bound, clearing, and
 * that every claims reference is dropped. Time is a parameter: no sleep. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/unit/check.h"
#include "worker/jwtcache.h"

static const uint8_t key[JWTC_KEY_BYTES] = "0123456789abcdef";

static json_t *claims_for(const char *sub)
{
	return json_pack("{s:s}", "sub", sub);
}

static const char *sub_of(json_t *c)
{
	return c ? json_string_value(json_object_get(c, "sub")) : NULL;
}

static void test_hit_miss(void)
{
	struct jwtc *c = jwtc_new(8, key);
	json_t *a = claims_for("alice");

	CHECK(c);
	CHECK(jwtc_get(c, "tok.a.1", 7, 1000) == NULL);
	CHECK_INT(jwtc_put(c, "tok.a.1", 7, a, 2000, INT64_MIN, 0, 1000), 0);
	CHECK_STR(sub_of(jwtc_get(c, "tok.a.1", 7, 1000)), "alice");
	/* A prefix, a longer token, one changed byte: all misses. */
	CHECK(jwtc_get(c, "tok.a.", 6, 1000) == NULL);
	CHECK(jwtc_get(c, "tok.a.12", 8, 1000) == NULL);
	CHECK(jwtc_get(c, "tok.a.2", 7, 1000) == NULL);
	CHECK_INT(jwtc_stats(c).hits, 1);
	CHECK_INT(jwtc_stats(c).misses, 4);
	/* The cache holds its own reference. */
	CHECK_INT(a->refcount, 2);
	jwtc_free(c);
	CHECK_INT(a->refcount, 1);
	json_decref(a);
}

static void test_exp_leeway(void)
{
	struct jwtc *c = jwtc_new(4, key);
	json_t *a = claims_for("a");

	/* exp 100, leeway 5: the verifier accepts while now < 105. */
	CHECK_INT(jwtc_put(c, "t", 1, a, 100, INT64_MIN, 5, 50), 0);
	CHECK(jwtc_get(c, "t", 1, 104) != NULL);
	CHECK(jwtc_get(c, "t", 1, 105) == NULL);
	CHECK_INT(jwtc_stats(c).expired, 1);
	CHECK_INT(jwtc_count(c), 0);
	/* Leeway 0: exp itself is already too late. */
	CHECK_INT(jwtc_put(c, "u", 1, a, 100, INT64_MIN, 0, 50), 0);
	CHECK(jwtc_get(c, "u", 1, 99) != NULL);
	CHECK(jwtc_get(c, "u", 1, 100) == NULL);
	/* No exp: never cached. Too long: never cached. */
	CHECK_INT(jwtc_put(c, "v", 1, a, 0, INT64_MIN, 0, 50), -EINVAL);
	{
		static char big[JWTC_TOKEN_MAX + 1];

		memset(big, 'x', sizeof(big));
		CHECK_INT(jwtc_put(c, big, sizeof(big), a, 100, INT64_MIN, 0, 50), -E2BIG);
		CHECK(jwtc_get(c, big, sizeof(big), 50) == NULL);
		CHECK_INT(jwtc_put(c, big, JWTC_TOKEN_MAX, a, 100, INT64_MIN, 0, 50), 0);
		CHECK(jwtc_get(c, big, JWTC_TOKEN_MAX, 50) != NULL);
	}
	jwtc_free(c);
	CHECK_INT(a->refcount, 1);
	json_decref(a);
}

static void test_not_before(void)
{
	struct jwtc *c = jwtc_new(4, key);
	json_t *a = claims_for("a");

	/* max(nbf, iat) = 1000, leeway 10: good from 990 on. */
	CHECK_INT(jwtc_put(c, "t", 1, a, 5000, 1000, 10, 995), 0);
	CHECK(jwtc_get(c, "t", 1, 995) != NULL);
	CHECK(jwtc_get(c, "t", 1, 990) != NULL);
	/* The clock stepped back past it: not a hit, and dropped. */
	CHECK(jwtc_get(c, "t", 1, 989) == NULL);
	CHECK_INT(jwtc_count(c), 0);
	jwtc_free(c);
	json_decref(a);
}

static void test_eviction(void)
{
	struct jwtc *c = jwtc_new(4, key);
	json_t *a = claims_for("a");
	char tok[16];

	for (int i = 0; i < 4; i++) {
		snprintf(tok, sizeof(tok), "tok%d", i);
		CHECK_INT(jwtc_put(c, tok, strlen(tok), a, 1000, INT64_MIN, 0, 1), 0);
	}
	CHECK_INT(jwtc_count(c), 4);
	/* tok0 and tok2 were hit: the hand spares them once. */
	CHECK(jwtc_get(c, "tok0", 4, 1));
	CHECK(jwtc_get(c, "tok2", 4, 1));
	CHECK_INT(jwtc_put(c, "tok4", 4, a, 1000, INT64_MIN, 0, 1), 0);
	CHECK_INT(jwtc_count(c), 4);
	CHECK_INT(jwtc_stats(c).evicted, 1);
	CHECK(jwtc_get(c, "tok1", 4, 1) == NULL);	/* first unreferenced */
	CHECK(jwtc_get(c, "tok0", 4, 1) != NULL);
	CHECK(jwtc_get(c, "tok2", 4, 1) != NULL);
	CHECK(jwtc_get(c, "tok3", 4, 1) != NULL);
	CHECK(jwtc_get(c, "tok4", 4, 1) != NULL);
	/* An expired entry under the hand goes even if it was hit. */
	{
		struct jwtc *d = jwtc_new(2, key);

		CHECK_INT(jwtc_put(d, "A", 1, a, 10, INT64_MIN, 0, 1), 0);
		CHECK_INT(jwtc_put(d, "B", 1, a, 1000, INT64_MIN, 0, 1), 0);
		CHECK(jwtc_get(d, "A", 1, 5) != NULL);
		CHECK(jwtc_get(d, "B", 1, 5) != NULL);
		CHECK_INT(jwtc_put(d, "C", 1, a, 1000, INT64_MIN, 0, 20), 0);
		CHECK_INT(jwtc_stats(d).expired, 1);
		CHECK_INT(jwtc_stats(d).evicted, 0);
		CHECK(jwtc_get(d, "B", 1, 20) != NULL);
		CHECK(jwtc_get(d, "C", 1, 20) != NULL);
		jwtc_free(d);
	}
	/* Many more tokens than room: bounded, and every reference tracked. */
	for (int i = 0; i < 1000; i++) {
		snprintf(tok, sizeof(tok), "many%d", i);
		CHECK_INT(jwtc_put(c, tok, strlen(tok), a, 1000, INT64_MIN, 0, 20), 0);
	}
	CHECK_INT(jwtc_count(c), 4);
	CHECK_INT(a->refcount, 5);
	jwtc_free(c);
	CHECK_INT(a->refcount, 1);
	json_decref(a);
}

static void test_collision(void)
{
	struct jwtc *c = jwtc_new(8, key);
	json_t *a = claims_for("alice"), *m = claims_for("mallory");

	/* Every token in one chain with the same hash: only bytes decide. */
	jwtc__force_hash(c, 42);
	CHECK_INT(jwtc_put(c, "token-of-alice", 14, a, 1000, INT64_MIN, 0, 1), 0);
	CHECK(jwtc_get(c, "token-of-mallo", 14, 1) == NULL);
	CHECK(jwtc_get(c, "token-of-alic", 13, 1) == NULL);
	CHECK_INT(jwtc_put(c, "token-of-mallo", 14, m, 1000, INT64_MIN, 0, 1), 0);
	CHECK_STR(sub_of(jwtc_get(c, "token-of-alice", 14, 1)), "alice");
	CHECK_STR(sub_of(jwtc_get(c, "token-of-mallo", 14, 1)), "mallory");
	/* Storing a token again replaces it, not duplicates it. */
	CHECK_INT(jwtc_put(c, "token-of-alice", 14, a, 2000, INT64_MIN, 0, 1), 0);
	CHECK_INT(jwtc_count(c), 2);
	CHECK(jwtc_get(c, "token-of-alice", 14, 1500) != NULL);
	jwtc_free(c);
	json_decref(a);
	json_decref(m);
}

static void test_clear(void)
{
	struct jwtc *c = jwtc_new(4, key);
	json_t *a = claims_for("a");

	CHECK_INT(jwtc_put(c, "x", 1, a, 1000, INT64_MIN, 0, 1), 0);
	CHECK_INT(jwtc_put(c, "y", 1, a, 1000, INT64_MIN, 0, 1), 0);
	jwtc_clear(c);
	CHECK_INT(jwtc_count(c), 0);
	CHECK_INT(a->refcount, 1);
	CHECK(jwtc_get(c, "x", 1, 1) == NULL);
	/* Usable again, to full capacity. */
	for (int i = 0; i < 4; i++)
		CHECK_INT(jwtc_put(c, &"abcd"[i], 1, a, 1000, INT64_MIN, 0, 1), 0);
	CHECK_INT(jwtc_count(c), 4);
	jwtc_free(c);
	json_decref(a);
	CHECK(jwtc_new(0, key) == NULL);
	CHECK(jwtc_new(JWTC_CAPACITY_MAX + 1, key) == NULL);
}

int main(void)
{
	if (sodium_init() < 0)
		return T_EXIT_FAIL;
	test_hit_miss();
	test_exp_leeway();
	test_not_before();
	test_eviction();
	test_collision();
	test_clear();
	return CHECK_EXIT();
}
