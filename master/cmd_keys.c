/* gatewayctl keys add / list / revoke (docs/control-protocol.md). The
 * store is the master's (master/keys.c): each change is written to the
 * store's file first, then published to the workers' table, so a key
 * works, or stops working, in every worker as soon as the answer is sent.
 * A key is in exactly one answer, that of keys add; it is never logged,
 * and list shows no secret (not even the hash). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/keystore.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "master/cmd.h"
#include "master/master.h"

static json_t *scopes_json(const char *scopes)
{
	json_t *list = json_array();

	while (*scopes) {
		size_t n = strcspn(scopes, " ");

		json_array_append_new(list, json_stringn(scopes, n));
		scopes += n;
		scopes += strspn(scopes, " ");
	}
	return list;
}

static json_t *entry_json(const struct keystore_entry *e)
{
	return json_pack("{s:i, s:s, s:o, s:I, s:s}", "id", (int)e->id, "consumer", e->consumer,
			 "scopes", scopes_json(e->scopes), "created", (json_int_t)e->created_s,
			 "state", e->revoked ? "revoked" : "live");
}

static json_t *keys_list(struct master *m)
{
	json_t *list = json_array();

	for (size_t i = 0; i < m->keys->n; i++)
		json_array_append_new(list, entry_json(&m->keys->entries[i]));
	return json_pack("{s:b, s:s, s:I, s:o}", "ok", 1, "file", m->keys_path,
			 "live", (json_int_t)apikeys_count(&m->tables.apikeys), "keys", list);
}

static json_t *keys_add(struct master *m, const char *consumer, const char *scopes)
{
	char key[KEYSTORE_KEY_LEN + 1], norm[APIKEYS_SCOPES_MAX + 1];
	const struct keystore_entry *e;
	json_t *answer;
	int ret;

	if (!keystore_consumer_ok(consumer))
		return cmd_error("invalid", "bad consumer '%.80s' (want 1..%u of A-Z a-z 0-9 . _ @ -)",
				 consumer, APIKEYS_CONSUMER_MAX);
	if (!keystore_scopes_norm(scopes, norm))
		return cmd_error("invalid", "bad scopes '%.80s' (scope names are printable ASCII "
				 "without '\"' or '\\', at most %u bytes together)", scopes,
				 APIKEYS_SCOPES_MAX);
	if (apikeys_count(&m->tables.apikeys) >= APIKEYS_MAX_LIVE)
		return cmd_error("failed", "the key table is full (%u live keys): revoke some first",
				 APIKEYS_MAX_LIVE);
	ret = keystore_add(m->keys, consumer, norm, clock_wall_us() / 1000000u, key, &e);
	if (ret)
		return cmd_error("failed", "cannot add a key: %s",
				 ret == -ENOSPC ? "the store is full" : strerror(-ret));
	ret = keystore_save(m->keys, m->keys_path);
	if (ret) {
		keystore_undo_add(m->keys);
		sodium_memzero(key, sizeof(key));
		log_error("apikeys: cannot write '%s': %s; no key added", m->keys_path, strerror(-ret));
		return cmd_error("failed", "cannot write the key store '%s': %s; no key was added",
				 m->keys_path, strerror(-ret));
	}
	master_keys_put(m, e);	/* room checked above */
	log_info("apikeys: added key %u for consumer '%s'", e->id, e->consumer);
	answer = json_pack("{s:b, s:i, s:s, s:o, s:s}", "ok", 1, "id", (int)e->id,
			   "consumer", e->consumer, "scopes", scopes_json(e->scopes), "key", key);
	sodium_memzero(key, sizeof(key));
	return answer;
}

static json_t *keys_revoke(struct master *m, const char *word)
{
	struct keystore_entry *e;
	char *end;
	unsigned long id;
	int ret;

	errno = 0;
	id = strtoul(word, &end, 10);
	if (!*word || *end || errno || id == 0 || id > 0x7fffffffu || word[0] == '-' ||
	    word[0] == '+')
		return cmd_error("invalid", "bad key id '%.40s' (want the number keys list shows)",
				 word);
	e = keystore_find(m->keys, (uint32_t)id);
	if (!e)
		return cmd_error("not_found", "no key %lu", id);
	if (e->revoked)
		return cmd_error("invalid", "key %lu is already revoked", id);
	e->revoked = true;
	ret = keystore_save(m->keys, m->keys_path);
	if (ret) {
		e->revoked = false;
		log_error("apikeys: cannot write '%s': %s; key %lu not revoked", m->keys_path,
			  strerror(-ret), id);
		return cmd_error("failed", "cannot write the key store '%s': %s; the key was not "
				 "revoked", m->keys_path, strerror(-ret));
	}
	master_keys_remove(m, e);
	log_info("apikeys: revoked key %lu of consumer '%s'", id, e->consumer);
	return json_pack("{s:b, s:i, s:s}", "ok", 1, "id", (int)id, "consumer", e->consumer);
}

json_t *cmd__keys(struct cmd_ctx *c)
{
	const char *sub = c->words[1];

	if (!c->m->keys)
		return cmd_error("invalid", "API keys are off: the configuration has no [apikeys] "
				 "section");
	if (strcmp(sub, "list") == 0 && c->n_words == 2)
		return keys_list(c->m);
	if (strcmp(sub, "add") == 0 && (c->n_words == 3 || c->n_words == 4))
		return keys_add(c->m, c->words[2], c->n_words == 4 ? c->words[3] : "");
	if (strcmp(sub, "revoke") == 0 && c->n_words == 3)
		return keys_revoke(c->m, c->words[2]);
	return cmd_error("usage", "usage: keys list | keys add CONSUMER [SCOPES] | keys revoke ID");
}
