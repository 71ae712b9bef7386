/* The verified-token cache (see jwtcache.h).
 *
 * Entries live in one array of <capacity>; a bucket array (a power of two,
 * at least as many buckets as entries) heads singly linked chains through
 * entry indexes. A free entry is on the free stack; a live one is in
 * exactly one chain. The CLOCK hand walks the entry array. */
#include "worker/jwtcache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define NIL UINT32_MAX

struct jwtc_entry {
	uint64_t hash;
	char *token;		/* malloc'd copy of the token; NULL when free */
	uint32_t len;
	uint32_t next;		/* chain link, NIL at the end */
	json_t *claims;		/* owned reference */
	int64_t valid_from;	/* good when now >= valid_from ... */
	int64_t expires_at;	/* ... and now < expires_at */
	bool referenced;	/* hit since the hand last passed */
};

struct jwtc {
	struct jwtc_entry *e;
	uint32_t capacity;
	uint32_t *buckets;	/* entry index, NIL = empty */
	uint32_t mask;		/* buckets - 1 */
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t hand;
	uint8_t key[JWTC_KEY_BYTES];
	bool forced;		/* jwtc__force_hash() */
	uint64_t forced_hash;
	struct jwtc_stats st;
};

_Static_assert(JWTC_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key size");

static uint64_t jwtc_hash(const struct jwtc *c, const char *tok, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	if (c->forced)
		return c->forced_hash;
	crypto_shorthash(out, (const unsigned char *)tok, len, c->key);
	memcpy(&h, out, sizeof(h));
	return h;
}

struct jwtc *jwtc_new(uint32_t capacity, const uint8_t key[JWTC_KEY_BYTES])
{
	struct jwtc *c;
	uint32_t nb = 1;

	if (capacity == 0 || capacity > JWTC_CAPACITY_MAX)
		return NULL;
	while (nb < capacity)
		nb <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = calloc(capacity, sizeof(*c->e));
	c->buckets = malloc(nb * sizeof(*c->buckets));
	c->free_stack = malloc(capacity * sizeof(*c->free_stack));
	if (!c->e || !c->buckets || !c->free_stack) {
		jwtc_free(c);
		return NULL;
	}
	c->capacity = capacity;
	c->mask = nb - 1;
	memcpy(c->key, key, JWTC_KEY_BYTES);
	for (uint32_t i = 0; i < nb; i++)
		c->buckets[i] = NIL;
	/* Popped from the top: entry 0 first. */
	for (uint32_t i = 0; i < capacity; i++)
		c->free_stack[i] = capacity - 1 - i;
	c->n_free = capacity;
	return c;
}

static void entry_drop(struct jwtc_entry *x)
{
	json_decref(x->claims);
	free(x->token);
	x->claims = NULL;
	x->token = NULL;
}

void jwtc_free(struct jwtc *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->e && i < c->capacity; i++)
		entry_drop(&c->e[i]);
	free(c->e);
	free(c->buckets);
	free(c->free_stack);
	sodium_memzero(c->key, sizeof(c->key));
	free(c);
}

/* Take live entry <i> out of its chain and free it. */
static void entry_remove(struct jwtc *c, uint32_t i)
{
	uint32_t *link = &c->buckets[c->e[i].hash & c->mask];

	while (*link != i)
		link = &c->e[*link].next;
	*link = c->e[i].next;
	entry_drop(&c->e[i]);
	c->free_stack[c->n_free++] = i;
}

static bool entry_good(const struct jwtc_entry *x, int64_t now)
{
	return now >= x->valid_from && now < x->expires_at;
}

/* The live entry holding exactly <tok>, or NIL. */
static uint32_t entry_find(const struct jwtc *c, uint64_t h, const char *tok, size_t len)
{
	for (uint32_t i = c->buckets[h & c->mask]; i != NIL; i = c->e[i].next) {
		const struct jwtc_entry *x = &c->e[i];

		/* The hash only narrows the search: the bytes decide. */
		if (x->hash == h && x->len == len && memcmp(x->token, tok, len) == 0)
			return i;
	}
	return NIL;
}

json_t *jwtc_get(struct jwtc *c, const char *tok, size_t len, int64_t now_s)
{
	uint64_t h;
	uint32_t i;

	if (len > JWTC_TOKEN_MAX) {
		c->st.misses++;
		return NULL;
	}
	h = jwtc_hash(c, tok, len);
	i = entry_find(c, h, tok, len);
	if (i == NIL) {
		c->st.misses++;
		return NULL;
	}
	if (!entry_good(&c->e[i], now_s)) {
		/* Expired for good, or (clock stepped back) not yet valid:
		 * either way the verifier decides again. */
		entry_remove(c, i);
		c->st.expired++;
		c->st.misses++;
		return NULL;
	}
	c->e[i].referenced = true;
	c->st.hits++;
	return c->e[i].claims;
}

/* A free entry: from the stack, else the first expired or unreferenced
 * one under the hand (two sweeps at most: the first clears every bit). */
static uint32_t entry_take(struct jwtc *c, int64_t now)
{
	if (c->n_free)
		return c->free_stack[--c->n_free];
	for (uint64_t n = 0; n < 2ull * c->capacity + 1; n++) {
		uint32_t i = c->hand;
		struct jwtc_entry *x = &c->e[i];

		c->hand = i + 1 == c->capacity ? 0 : i + 1;
		if (!entry_good(x, now)) {
			c->st.expired++;
		} else if (x->referenced) {
			x->referenced = false;
			continue;
		} else {
			c->st.evicted++;
		}
		entry_remove(c, i);
		return c->free_stack[--c->n_free];
	}
	return NIL;	/* unreachable: the second sweep finds a clear bit */
}

int jwtc_put(struct jwtc *c, const char *tok, size_t len, json_t *claims, uint64_t exp_s,
	     int64_t not_before_s, uint32_t leeway_s, int64_t now_s)
{
	struct jwtc_entry *x;
	uint64_t h;
	uint32_t i;
	char *copy;

	if (len > JWTC_TOKEN_MAX)
		return -E2BIG;
	/* exp is clamped below 2^62 by the verifier: no overflow. */
	if (exp_s == 0 || exp_s > ((uint64_t)1 << 62))
		return -EINVAL;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, tok, len);
	h = jwtc_hash(c, tok, len);
	i = entry_find(c, h, tok, len);
	if (i != NIL)
		entry_remove(c, i);
	i = entry_take(c, now_s);
	if (i == NIL) {
		free(copy);
		return -ENOMEM;
	}
	x = &c->e[i];
	x->hash = h;
	x->token = copy;
	x->len = (uint32_t)len;
	x->claims = json_incref(claims);
	x->expires_at = (int64_t)exp_s + leeway_s;
	/* The verifier refuses while now + leeway < not_before. */
	x->valid_from = not_before_s == INT64_MIN ? INT64_MIN : not_before_s - leeway_s;
	x->referenced = false;
	x->next = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = i;
	return 0;
}

void jwtc_clear(struct jwtc *c)
{
	for (uint32_t b = 0; b <= c->mask; b++) {
		for (uint32_t i = c->buckets[b]; i != NIL; i = c->e[i].next)
			entry_drop(&c->e[i]);
		c->buckets[b] = NIL;
	}
	for (uint32_t i = 0; i < c->capacity; i++)
		c->free_stack[i] = c->capacity - 1 - i;
	c->n_free = c->capacity;
	c->hand = 0;
}

uint32_t jwtc_count(const struct jwtc *c)
{
	return c->capacity - c->n_free;
}

struct jwtc_stats jwtc_stats(const struct jwtc *c)
{
	return c->st;
}

void jwtc__force_hash(struct jwtc *c, uint64_t h)
{
	c->forced = true;
	c->forced_hash = h;
}
