/* The API-key store: the master's file of consumers and keyed hashes of
 * their keys ([apikeys] file = ..., docs/config.md). The keys themselves
 * are shown once, by gatewayctl keys add, and never written anywhere.
 *
 * The file is text, one record a line, rewritten whole on every change
 * (a temporary file, fsync, rename), mode 0600:
 *
 *   # comments and blank lines are ignored
 *   gatewayd-apikeys 1                     first record: format and version
 *   hash-key HEX                           64 hex digits: the BLAKE2b key
 *   next-id N                              optional: the next id to give
 *   key ID CONSUMER STATE CREATED HASH [SCOPE ...]
 *
 * ID is 1..2^31-1, unique; CONSUMER is [A-Za-z0-9._@-]{1,63}; STATE is
 * "live" or "revoked"; CREATED is Unix seconds; HASH is 64 hex digits, the
 * keyed BLAKE2b-256 (crypto_generichash) of the whole key text under the
 * hash key, unique; SCOPEs are scope tokens (RFC 6749 §3.3, without '"'
 * or '\'), at most APIKEYS_SCOPES_MAX bytes together.
 *
 * A key is "gwk_" plus 43 base64url characters (32 random bytes from
 * randombytes_buf()), so it is recognisable in logs and secret scanners. */
#ifndef GW_AUTH_KEYSTORE_H
#define GW_AUTH_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Only the size constants: the store does not link shm/. */
#include "shm/apikeys.h"

#define KEYSTORE_PREFIX		"gwk_"
#define KEYSTORE_KEY_LEN	47u		/* "gwk_" + 43 base64url characters */
#define KEYSTORE_MAX_ENTRIES	65536u		/* records in one file, revoked included */
#define KEYSTORE_MAX_LINE	1024u		/* bytes of one line */
#define KEYSTORE_MAX_FILE	(KEYSTORE_MAX_ENTRIES * 512u)

struct keystore_entry {
	uint32_t id;
	bool revoked;
	uint64_t created_s;			/* Unix seconds */
	uint8_t hash[APIKEYS_HASH_BYTES];
	char consumer[APIKEYS_CONSUMER_MAX + 1];
	char scopes[APIKEYS_SCOPES_MAX + 1];	/* single spaces; "" = none */
};

struct keystore {
	uint8_t hkey[APIKEYS_HKEY_BYTES];
	uint32_t next_id;			/* > every id in entries */
	struct keystore_entry *entries;		/* in file order (ids ascending when
						 * written by keystore_add) */
	size_t n, cap;
};

/* How a parse reports one problem: <line> of the text (1-based) and a
 * message without the file name or a trailing newline. */
typedef void keystore_report_fn(void *arg, int line, const char *msg);

/* An empty store with a fresh random hash key. 0 or -ENOMEM. libsodium
 * must be initialised (sodium_init()). */
int keystore_new(struct keystore **out);

/* Parse a whole file's <text>. Every problem is reported (all of them, not
 * just the first); returns 0 with *out, -EINVAL when something was
 * reported, or -ENOMEM. */
int keystore_parse(const char *text, size_t len, keystore_report_fn *report, void *arg,
		   struct keystore **out);

/* Read <path> and parse it. A missing file is an empty store with a fresh
 * hash key (*created set), so the first start needs no setup. Returns 0,
 * -EINVAL (parse errors reported), -EPERM when group or others may read
 * or write it, -EISDIR when it is not a regular file,
 * -EFBIG, -ENOMEM or another -errno (those are not reported: the caller
 * names the file and the reason). */
int keystore_load(const char *path, keystore_report_fn *report, void *arg,
		  struct keystore **out, bool *created);

/* The file's text (malloc'd, *len bytes, NUL-terminated); 0 or -ENOMEM. */
int keystore_format(const struct keystore *ks, char **text, size_t *len);

/* Replace <path> with the store: write <path>.tmp.XXXXXX mode 0600 in the
 * same directory, fsync it, rename it over <path>, fsync the directory.
 * 0 or -errno, with nothing left behind on failure. Blocks: master only. */
int keystore_save(const struct keystore *ks, const char *path);

/* Whether <name> is a valid consumer; whether <scopes> is a valid scope
 * list (auth/scopes.h) that fits a key (then written normalised, single
 * spaces, into <norm> of APIKEYS_SCOPES_MAX + 1 bytes). */
bool keystore_consumer_ok(const char *name);
bool keystore_scopes_norm(const char *scopes, char norm[APIKEYS_SCOPES_MAX + 1]);

/* Make a key for <consumer> with <scopes> (NULL or "" for none) created at
 * <now_s>: the key text goes to <key> (KEYSTORE_KEY_LEN + 1 bytes), the new
 * record (its hash, never the key) is appended, and *entry points at it.
 * Returns 0, -EINVAL (bad consumer or scopes), -ENOSPC (the store is
 * full) or -ENOMEM. keystore_undo_add() takes it back (a failed save). */
int keystore_add(struct keystore *ks, const char *consumer, const char *scopes, uint64_t now_s,
		 char key[KEYSTORE_KEY_LEN + 1], const struct keystore_entry **entry);
void keystore_undo_add(struct keystore *ks);

/* The record with <id>, or NULL. */
struct keystore_entry *keystore_find(struct keystore *ks, uint32_t id);

/* The keyed hash of <key>[0..len) under <hkey>; the same function as
 * apikeys_hash() in shm/ (a unit test checks they agree). */
void keystore_hash(const uint8_t hkey[APIKEYS_HKEY_BYTES], const char *key, size_t len,
		   uint8_t out[APIKEYS_HASH_BYTES]);

void keystore_free(struct keystore *ks);

#endif
