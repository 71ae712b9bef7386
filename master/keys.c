/* The API-key store, owned by the master: adopted from each loaded
 * configuration (start and reload), persisted on every change, and
 * published to the workers through the shared segment's key table
 * (shm/apikeys.h), so gatewayctl keys add/revoke take effect in every
 * worker at once, with no reload.
 *
 * Order of a change: the file first (keystore_save(): temporary file,
 * fsync, rename), then the table. If the file cannot be written nothing
 * changes, in memory or in the table, and the command says why. So the
 * file never lacks a key that works, and a restart serves exactly what
 * was answered.
 *
 * A reload adopts the store read by its conf_load() as soon as the file
 * validated (the workers read the table, not the configuration, so the
 * keys need not wait for the new generation), and reconciles the table
 * with it: keys no longer live are removed, live ones added or rewritten.
 * An invalid store fails the reload before this, and the running keys
 * stay. */
#include "master/master.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/keystore.h"
#include "lib/log.h"

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, APIKEYS_HASH_BYTES);
}

/* The record a live store entry becomes in the table. */
static void to_record(const struct keystore_entry *e, struct apikey_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = e->id;
	memcpy(r->hash, e->hash, sizeof(r->hash));
	memcpy(r->consumer, e->consumer, sizeof(r->consumer));
	memcpy(r->scopes, e->scopes, sizeof(r->scopes));
}

/* Remove every table record whose hash is not among the sorted <live>. */
static int drop_stale(struct apikeys *t, const uint8_t (*live)[APIKEYS_HASH_BYTES], size_t n)
{
	uint8_t (*gone)[APIKEYS_HASH_BYTES] = malloc(APIKEYS_SLOTS * sizeof(*gone));
	struct apikey_record r;
	size_t n_gone = 0;

	if (!gone)
		return -ENOMEM;
	/* Collect first: a remove moves records between slots. */
	for (uint32_t i = 0; i < APIKEYS_SLOTS; i++) {
		if (apikeys_slot_master(t, i, &r) && !bsearch(r.hash, live, n, sizeof(*live), cmp_hash))
			memcpy(gone[n_gone++], r.hash, APIKEYS_HASH_BYTES);
	}
	for (size_t i = 0; i < n_gone; i++)
		apikeys_remove_master(t, gone[i]);
	free(gone);
	return 0;
}

/* Make the table hold exactly the live keys of <ks> (none when NULL). */
static int publish(struct master *m, const struct keystore *ks)
{
	static const uint8_t zero[APIKEYS_HKEY_BYTES];
	struct apikeys *t = &m->tables.apikeys;
	uint8_t (*live)[APIKEYS_HASH_BYTES];
	struct apikey_record r;
	size_t n = 0, failed = 0;
	int ret;

	if (!apikeys_has_hkey_master(t, ks ? ks->hkey : zero))
		apikeys_rekey_master(t, ks ? ks->hkey : zero);
	live = malloc((ks && ks->n ? ks->n : 1) * sizeof(*live));
	if (!live)
		return -ENOMEM;
	for (size_t i = 0; ks && i < ks->n; i++) {
		if (!ks->entries[i].revoked)
			memcpy(live[n++], ks->entries[i].hash, APIKEYS_HASH_BYTES);
	}
	qsort(live, n, sizeof(*live), cmp_hash);
	ret = drop_stale(t, (const uint8_t (*)[APIKEYS_HASH_BYTES])live, n);
	free(live);
	for (size_t i = 0; !ret && ks && i < ks->n; i++) {
		if (ks->entries[i].revoked)
			continue;
		to_record(&ks->entries[i], &r);
		failed += apikeys_put_master(t, &r) != 0;
	}
	if (failed)
		log_error("apikeys: %zu live keys do not fit the shared table (at most %u); they "
			  "are refused", failed, APIKEYS_MAX_LIVE);
	return ret;
}

int master_keys_adopt(struct master *m, struct gw_config *cfg, bool starting)
{
	struct gw_apikeys_conf *a = &cfg->apikeys;
	char *path = a->file ? strdup(a->file) : NULL;
	int ret;

	if (a->file && !path)
		return -ENOMEM;
	if (a->store && a->store_created) {
		ret = keystore_save(a->store, path);
		if (ret < 0) {
			log_error("apikeys: cannot create key store '%s': %s", path, strerror(-ret));
			if (starting) {
				free(path);
				return ret;
			}
		} else {
			log_info("apikeys: created an empty key store '%s'", path);
		}
		a->store_created = false;
	}
	keystore_free(m->keys);
	free(m->keys_path);
	m->keys = a->store;
	m->keys_path = path;
	a->store = NULL;	/* the master's now; cfg keeps the path */
	ret = publish(m, m->keys);
	if (ret < 0)
		log_error("apikeys: publishing the keys failed: %s", strerror(-ret));
	return ret;
}

void master_keys_free(struct master *m)
{
	keystore_free(m->keys);
	free(m->keys_path);
	m->keys = NULL;
	m->keys_path = NULL;
}

int master_keys_put(struct master *m, const struct keystore_entry *e)
{
	struct apikey_record r;

	to_record(e, &r);
	return apikeys_put_master(&m->tables.apikeys, &r);
}

int master_keys_remove(struct master *m, const struct keystore_entry *e)
{
	return apikeys_remove_master(&m->tables.apikeys, e->hash);
}
