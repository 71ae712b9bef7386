/* API keys as every worker sees them: the master's key store
 * (auth/keystore.h) published into the shared segment, so that a key added
 * or revoked with gatewayctl works, or stops working, in every worker at
 * once, without a reload (DESIGN §4).
 *
 * The region holds the store's hash key and an open-addressed table of the
 * live keys, indexed by their keyed BLAKE2b hash. Keys themselves are never
 * here: a worker hashes the key a client presents (apikeys_verify()) and
 * looks the hash up. The master is the only writer; workers and gatewayctl
 * only read, without a lock. */
#ifndef GW_SHM_APIKEYS_H
#define GW_SHM_APIKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIKEYS_HASH_BYTES	32u	/* crypto_generichash output */
#define APIKEYS_HKEY_BYTES	32u	/* crypto_generichash key */
#define APIKEYS_CONSUMER_MAX	63u	/* bytes of a consumer name, without NUL */
#define APIKEYS_SCOPES_MAX	271u	/* bytes of the space-separated scopes */
#define APIKEYS_SLOTS		8192u	/* table slots, a power of two */
#define APIKEYS_MAX_LIVE	(APIKEYS_SLOTS / 2)	/* load factor at most 1/2 */

/* One live key, as copied out for a reader. */
struct apikey_record {
	uint32_t id;				/* the store's id, shown by keys list */
	uint8_t hash[APIKEYS_HASH_BYTES];	/* keyed hash of the key text */
	char consumer[APIKEYS_CONSUMER_MAX + 1];	/* NUL-terminated */
	char scopes[APIKEYS_SCOPES_MAX + 1];	/* NUL-terminated, "" = none */
};

struct apikeys_region_sh;

/* The process-local handle. */
struct apikeys {
	struct apikeys_region_sh *sh;
};

size_t apikeys_region_size(void);

/* Master, before fork: format an empty table with an all-zero hash key
 * (apikeys_rekey_master() sets the store's). */
void apikeys_format_master(void *mem);
int apikeys_attach(struct apikeys *t, void *mem, size_t size);

/* The keyed hash of <key>[0..len) under the hash key <hkey>: what the store
 * keeps and the table is indexed by. */
void apikeys_hash(const uint8_t hkey[APIKEYS_HKEY_BYTES], const char *key, size_t len,
		  uint8_t out[APIKEYS_HASH_BYTES]);

/* Master only (the single writer). */

/* Empty the table and install hash key <hkey>: for a store with another key
 * than the table's. Readers retry while it runs, then find nothing until
 * the records are added again. */
void apikeys_rekey_master(struct apikeys *t, const uint8_t hkey[APIKEYS_HKEY_BYTES]);
/* Whether the table's hash key is <hkey>. */
bool apikeys_has_hkey_master(const struct apikeys *t, const uint8_t hkey[APIKEYS_HKEY_BYTES]);
/* Add <r>, or rewrite the record with r->hash in place (its id, consumer
 * or scopes changed). 0, or -ENOSPC when APIKEYS_MAX_LIVE keys are live. */
int apikeys_put_master(struct apikeys *t, const struct apikey_record *r);
/* Remove the key whose hash is <hash>: 0 or -ENOENT. From the return on, no
 * lookup that starts finds it. */
int apikeys_remove_master(struct apikeys *t, const uint8_t hash[APIKEYS_HASH_BYTES]);
/* The live record at slot <i> (0..APIKEYS_SLOTS-1), for the master's
 * reconciliation after a reload: true and *out filled when live. */
bool apikeys_slot_master(const struct apikeys *t, uint32_t i, struct apikey_record *out);
/* Live keys. */
uint32_t apikeys_count(const struct apikeys *t);

/* Readers (workers, gatewayctl, tests). Each returns 0 and fills *out,
 * -ENOENT when no live key matches, or -EAGAIN when the master kept
 * rewriting the table for the whole bounded retry budget (practically
 * never: a remove or a rekey, a few µs each, must overlap every try). */

/* Hash <key>[0..len) under the table's hash key and look it up; the stored
 * hash is compared in constant time (sodium_memcmp). */
int apikeys_verify(const struct apikeys *t, const char *key, size_t len,
		   struct apikey_record *out);
/* Look up a hash already computed (tests; apikeys_verify() does this). */
int apikeys_find(const struct apikeys *t, const uint8_t hash[APIKEYS_HASH_BYTES],
		 struct apikey_record *out);

#endif
