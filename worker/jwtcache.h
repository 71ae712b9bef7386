/* A worker's cache of verified bearer tokens, one per [jwt] section, so
 * that a client presenting the same token again costs a hash and a memcmp
 * instead of a signature check (an RS256 verify is tens of µs here).
 *
 * Keyed by the exact token bytes. The hash is SipHash-2-4 (libsodium's
 * crypto_shorthash) under a key drawn at random per cache, so a client
 * cannot aim many tokens at one bucket; and it only picks the bucket: an
 * entry matches only when its stored copy of the token is byte-for-byte
 * the token presented, so a hash collision can never admit another token.
 *
 * An entry is good while the verifier would still accept the token's
 * times: now < exp + leeway and now + leeway >= max(nbf, iat), the exact
 * comparisons of auth/jwt_claims.c (the clock may step back, hence the
 * second one). Everything else jwt_verify() checks (signature, alg, iss,
 * aud) depends only on the token and the key set, so the owner clears the
 * cache whenever the key set changes (jwtc_clear()).
 *
 * Bounded: at most <capacity> entries, replaced by CLOCK (a second chance
 * for entries hit since the hand last passed); an expired entry under the
 * hand is taken whatever its bit. Tokens longer than JWTC_TOKEN_MAX are not cached.
 *
 * Single-threaded (one worker); time is a parameter. */
#ifndef GW_WORKER_JWTCACHE_H
#define GW_WORKER_JWTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JWTC_KEY_BYTES	16u	/* crypto_shorthash_KEYBYTES */
#define JWTC_TOKEN_MAX	4096u	/* bytes of token text kept per entry, at most */
#define JWTC_CAPACITY_MAX (1u << 20)

struct jwtc;

struct jwtc_stats {
	uint64_t hits;
	uint64_t misses;	/* lookups that found nothing usable */
	uint64_t expired;	/* entries dropped because their time was up */
	uint64_t evicted;	/* live entries replaced to make room */
};

/* A cache of <capacity> entries (1..JWTC_CAPACITY_MAX) whose hash is keyed
 * by <key>. NULL on ENOMEM or a bad capacity. */
struct jwtc *jwtc_new(uint32_t capacity, const uint8_t key[JWTC_KEY_BYTES]);

/* Free the cache and drop every claims reference it holds; NULL is fine. */
void jwtc_free(struct jwtc *c);

/* The claims of token <tok> (<len> bytes) if it was stored and is good at
 * <now_s>, else NULL. The reference is borrowed: take your own
 * (json_incref) to keep it beyond the next jwtc_put() or jwtc_clear(). */
json_t *jwtc_get(struct jwtc *c, const char *tok, size_t len, int64_t now_s);

/* Remember that <tok> verified with <claims> (a reference is taken), good
 * while now < <exp_s> + <leeway_s> and now + <leeway_s> >= <not_before_s>
 * (INT64_MIN: no lower bound). Returns 0, -E2BIG (longer than
 * JWTC_TOKEN_MAX: not cached), -EINVAL (no exp: never cached, the policy
 * requires one) or -ENOMEM. Storing a token already present replaces it. */
int jwtc_put(struct jwtc *c, const char *tok, size_t len, json_t *claims, uint64_t exp_s,
	     int64_t not_before_s, uint32_t leeway_s, int64_t now_s);

/* Forget every entry (the key set changed). */
void jwtc_clear(struct jwtc *c);

uint32_t jwtc_count(const struct jwtc *c);
struct jwtc_stats jwtc_stats(const struct jwtc *c);

/* Tests only: make every token hash to <h>, to prove collisions are safe. */
void jwtc__force_hash(struct jwtc *c, uint64_t h);

#endif
