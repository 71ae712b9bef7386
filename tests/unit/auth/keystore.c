/* Unit test of auth/keystore.c and keystore_io.c: new keys (prefix,
 * length, never stored), a file round trip (format, save, load), the
 * parser's messages with their line numbers (all of them reported),
 * uniqueness, a store readable by others refused, a missing file starting
 * empty, and keystore_hash() agreeing with shm's apikeys_hash(). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/keystore.h"
#include "shm/apikeys.h"
#include "tests/unit/check.h"

/* Messages collected as "LINE: message\n". */
struct msgs {
	char text[4096];
	size_t len;
	unsigned n;
};

static void collect(void *arg, int line, const char *msg)
{
	struct msgs *m = arg;
	int n = snprintf(m->text + m->len, sizeof(m->text) - m->len, "%d: %s\n", line, msg);

	if (n > 0 && (size_t)n < sizeof(m->text) - m->len)
		m->len += (size_t)n;
	m->n++;
}

static int parse(const char *text, struct msgs *m, struct keystore **ks)
{
	memset(m, 0, sizeof(*m));
	*ks = NULL;
	return keystore_parse(text, strlen(text), collect, m, ks);
}

static void test_add(void)
{
	struct keystore *ks;
	const struct keystore_entry *e;
	char key[KEYSTORE_KEY_LEN + 1], key2[KEYSTORE_KEY_LEN + 1];
	uint8_t h[APIKEYS_HASH_BYTES];

	CHECK_INT(keystore_new(&ks), 0);
	CHECK_INT(keystore_add(ks, "alice", "  orders:read   orders:write ", 100, key, &e), 0);
	CHECK_INT(strlen(key), KEYSTORE_KEY_LEN);
	CHECK(strncmp(key, "gwk_", 4) == 0);
	CHECK_INT(e->id, 1);
	CHECK_STR(e->scopes, "orders:read orders:write");
	keystore_hash(ks->hkey, key, strlen(key), h);
	CHECK(memcmp(h, e->hash, sizeof(h)) == 0);
	/* The shm side hashes the same way. */
	apikeys_hash(ks->hkey, key, strlen(key), h);
	CHECK(memcmp(h, e->hash, sizeof(h)) == 0);
	CHECK_INT(keystore_add(ks, "bob", NULL, 101, key2, &e), 0);
	CHECK_INT(e->id, 2);
	CHECK(strcmp(key, key2) != 0);
	CHECK_INT(keystore_add(ks, "bad name", NULL, 1, key2, &e), -EINVAL);
	CHECK_INT(keystore_add(ks, "x", "a\"b", 1, key2, &e), -EINVAL);
	CHECK_INT(ks->n, 2);
	keystore_undo_add(ks);
	CHECK_INT(ks->n, 1);
	CHECK_INT(ks->next_id, 2);
	CHECK(keystore_find(ks, 1) != NULL);
	CHECK(keystore_find(ks, 2) == NULL);
	keystore_free(ks);
}

static void test_round_trip(const char *dir)
{
	struct keystore *ks, *back;
	const struct keystore_entry *e;
	char key[KEYSTORE_KEY_LEN + 1], path[512], *text;
	struct msgs m = { .len = 0 };
	struct stat st;
	struct dirent *de;
	unsigned files = 0;
	size_t len;
	bool created;
	DIR *d;

	snprintf(path, sizeof(path), "%s/store.db", dir);
	CHECK_INT(keystore_load(path, collect, &m, &ks, &created), 0);
	CHECK(created);
	CHECK_INT(ks->n, 0);
	CHECK_INT(keystore_add(ks, "alice", "a b", 1700000000, key, &e), 0);
	CHECK_INT(keystore_add(ks, "bob.smith@x", "", 1700000001, key, &e), 0);
	keystore_find(ks, 1)->revoked = true;
	CHECK_INT(keystore_save(ks, path), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(keystore_load(path, collect, &m, &back, &created), 0);
	CHECK(!created);
	CHECK_INT(m.n, 0);
	CHECK_INT(back->n, 2);
	CHECK_INT(back->next_id, 3);
	CHECK(memcmp(back->hkey, ks->hkey, sizeof(ks->hkey)) == 0);
	CHECK(memcmp(back->entries, ks->entries, 2 * sizeof(*ks->entries)) == 0);
	/* The key text is nowhere in the file. */
	CHECK_INT(keystore_format(back, &text, &len), 0);
	CHECK(strstr(text, key) == NULL && strstr(text, key + 4) == NULL);
	free(text);
	/* Readable by group: refused, whatever it holds. */
	CHECK_INT(chmod(path, 0640), 0);
	CHECK_INT(keystore_load(path, collect, &m, &ks, &created), -EPERM);
	CHECK_INT(chmod(path, 0604), 0);
	CHECK_INT(keystore_load(path, collect, &m, &ks, &created), -EPERM);
	CHECK_INT(keystore_load(dir, collect, &m, &ks, &created), -EISDIR);
	/* No temporary file left behind: the directory holds the store only. */
	d = opendir(dir);
	while (d && (de = readdir(d)))
		files += de->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK_INT(files, 1);
	keystore_free(back);
	keystore_free(ks);
}

#define HK "hash-key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_errors(void)
{
	struct keystore *ks;
	struct msgs m;

	CHECK_INT(parse("# nothing\n", &m, &ks), -EINVAL);
	CHECK_STR(m.text, "1: empty API-key store (want 'gatewayd-apikeys 1' and a hash-key)\n");
	CHECK_INT(parse("gatewayd-apikeys 2\n" HK, &m, &ks), -EINVAL);
	CHECK_STR(m.text, "1: unsupported store version 2 (this gatewayd reads 1)\n");
	CHECK_INT(parse("hello\n", &m, &ks), -EINVAL);
	CHECK(strstr(m.text, "1: not an API-key store") == m.text);
	CHECK_INT(parse("# c\ngatewayd-apikeys 1\n", &m, &ks), -EINVAL);
	CHECK_STR(m.text, "2: no hash-key record\n");
	/* Every bad line reported, each at its own line. */
	CHECK_INT(parse("gatewayd-apikeys 1\n" HK
			"key 1 alice live 10 " H1 " a\n"
			"key 0 alice live 10 " H2 "\n"
			"key 2 al ice live 10 " H2 "\n"
			"key 3 bob dead 10 " H2 "\n"
			"key 4 bob live -1 " H2 "\n"
			"key 5 bob live 10 XYZ\n"
			"key 6 bob live 10 " H2 " a\"b\n"
			"frobnicate 1\n"
			"key 7\n"
			HK, &m, &ks), -EINVAL);
	CHECK_STR(m.text,
		  "4: bad key id '0' (want 1..2147483647)\n"
		  "5: bad state 'ice' (want live or revoked)\n"
		  "5: bad created time 'live' (want Unix seconds)\n"
		  "5: bad hash (want 64 lowercase hex digits)\n"
		  "6: bad state 'dead' (want live or revoked)\n"
		  "7: bad created time '-1' (want Unix seconds)\n"
		  "8: bad hash (want 64 lowercase hex digits)\n"
		  "9: bad scopes (scope names are printable ASCII without '\"' or '\\', at most 271 bytes together)\n"
		  "10: unknown record 'frobnicate' (want hash-key, next-id or key)\n"
		  "11: bad key record (want: key ID CONSUMER live|revoked CREATED HASH [SCOPE ...])\n"
		  "12: duplicate hash-key (first at line 2)\n");
	/* Duplicates, once the rest is fine. */
	CHECK_INT(parse("gatewayd-apikeys 1\n" HK
			"key 1 alice live 10 " H1 "\n"
			"key 2 bob live 10 " H2 "\n"
			"key 1 carol revoked 10 " H1 "\n", &m, &ks), -EINVAL);
	CHECK_STR(m.text, "5: duplicate key id 1 (first at line 3)\n"
			  "5: duplicate hash (the same key as line 3)\n");
	/* NUL and over-long lines. */
	{
		char text[2200] = "gatewayd-apikeys 1\n" HK "x";
		size_t n = strlen(text);

		memset(text + n, 'y', 1100);
		strcpy(text + n + 1100, "\nkey\0 1\n");
		memset(&m, 0, sizeof(m));
		CHECK_INT(keystore_parse(text, n + 1100 + 8, collect, &m, &ks), -EINVAL);
		CHECK_STR(m.text, "3: line too long (max 1024 bytes)\n4: NUL byte in line\n");
	}
	/* Good: CRLF, comments, next-id beyond the largest id. */
	CHECK_INT(parse("gatewayd-apikeys 1\r\n" HK "next-id 9\n# x\n\n"
			"key 3 alice revoked 10 " H1 " b  a\n", &m, &ks), 0);
	CHECK_STR(m.text, "");
	if (ks) {
		CHECK_INT(ks->next_id, 9);
		CHECK_INT(ks->n, 1);
		CHECK(ks->entries[0].revoked);
		CHECK_STR(ks->entries[0].scopes, "b a");
		keystore_free(ks);
	}
}

int main(void)
{
	char dir[] = "/tmp/test_keystore.XXXXXX";

	if (sodium_init() < 0 || !mkdtemp(dir))
		return T_EXIT_FAIL;
	test_add();
	test_round_trip(dir);
	test_errors();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return T_EXIT_FAIL;
	}
	return CHECK_EXIT();
}
