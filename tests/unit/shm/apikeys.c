/* Unit test of shm/apikeys.c through its header: put, find, verify by key
 * text, in-place rewrite, removes inside long clusters and across the end
 * of the table (Algorithm R keeps every other key findable), the live
 * limit, and a rekey emptying the table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "shm/apikeys.h"
#include "tests/unit/check.h"

/* A record whose hash has home slot <home> and is otherwise unique to <n>. */
static void make(struct apikey_record *r, uint32_t home, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->hash, &home, 4);
	memcpy(r->hash + 4, &n, 4);
	r->hash[31] = 0xa5;
	r->id = n;
	snprintf(r->consumer, sizeof(r->consumer), "consumer-%u", n);
	snprintf(r->scopes, sizeof(r->scopes), "s%u t%u", n, n + 1);
}

static void test_put_find_remove(struct apikeys *t)
{
	struct apikey_record r, got;
	const uint32_t homes[] = { 5, 5, 6, 5, 7, 6, APIKEYS_SLOTS - 2, APIKEYS_SLOTS - 1,
				   APIKEYS_SLOTS - 2, 0, 1, APIKEYS_SLOTS - 1 };
	const size_t n = sizeof(homes) / sizeof(homes[0]);
	bool live[sizeof(homes) / sizeof(homes[0])];

	for (uint32_t i = 0; i < n; i++) {
		make(&r, homes[i], i + 1);
		CHECK_INT(apikeys_put_master(t, &r), 0);
		live[i] = true;
	}
	CHECK_INT(apikeys_count(t), n);
	/* Remove in an order that pulls records back over the wrap. */
	const uint32_t order[] = { 0, 6, 2, 9, 7, 4 };
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		make(&r, homes[order[o]], order[o] + 1);
		CHECK_INT(apikeys_remove_master(t, r.hash), 0);
		CHECK_INT(apikeys_remove_master(t, r.hash), -ENOENT);
		live[order[o]] = false;
		for (uint32_t i = 0; i < n; i++) {
			make(&r, homes[i], i + 1);
			int ret = apikeys_find(t, r.hash, &got);

			CHECK_INT(ret, live[i] ? 0 : -ENOENT);
			if (live[i] && ret == 0)
				CHECK(memcmp(&got, &r, sizeof(r)) == 0);
		}
	}
	CHECK_INT(apikeys_count(t), n - 6);
	/* In place: same hash, new consumer; the count stays. */
	make(&r, homes[1], 2);
	strcpy(r.consumer, "renamed");
	CHECK_INT(apikeys_put_master(t, &r), 0);
	CHECK_INT(apikeys_find(t, r.hash, &got), 0);
	CHECK_STR(got.consumer, "renamed");
	CHECK_INT(apikeys_count(t), n - 6);
	/* The master's own view walks the slots. */
	uint32_t seen = 0;
	for (uint32_t i = 0; i < APIKEYS_SLOTS; i++)
		seen += apikeys_slot_master(t, i, &got);
	CHECK_INT(seen, n - 6);
}

static void test_verify(struct apikeys *t)
{
	uint8_t hkey[APIKEYS_HKEY_BYTES];
	struct apikey_record r, got;
	const char *key = "gwk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

	randombytes_buf(hkey, sizeof(hkey));
	apikeys_rekey_master(t, hkey);
	CHECK_INT(apikeys_count(t), 0);
	CHECK(apikeys_has_hkey_master(t, hkey));
	memset(&r, 0, sizeof(r));
	apikeys_hash(hkey, key, strlen(key), r.hash);
	r.id = 42;
	strcpy(r.consumer, "alice");
	CHECK_INT(apikeys_put_master(t, &r), 0);
	CHECK_INT(apikeys_verify(t, key, strlen(key), &got), 0);
	CHECK_INT(got.id, 42);
	CHECK_STR(got.consumer, "alice");
	/* One byte off, one byte short: not found. */
	CHECK_INT(apikeys_verify(t, "gwk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFH", strlen(key),
				 &got), -ENOENT);
	CHECK_INT(apikeys_verify(t, key, strlen(key) - 1, &got), -ENOENT);
	/* Another hash key: the same text hashes elsewhere. */
	hkey[0] ^= 1;
	apikeys_rekey_master(t, hkey);
	CHECK(apikeys_has_hkey_master(t, hkey));
	CHECK_INT(apikeys_verify(t, key, strlen(key), &got), -ENOENT);
	CHECK_INT(apikeys_count(t), 0);
}

static void test_full(struct apikeys *t)
{
	struct apikey_record r, got;
	uint8_t hkey[APIKEYS_HKEY_BYTES] = { 1 };

	apikeys_rekey_master(t, hkey);
	for (uint32_t i = 0; i < APIKEYS_MAX_LIVE; i++) {
		make(&r, (i * 2654435761u) % APIKEYS_SLOTS, i);
		if (apikeys_put_master(t, &r) != 0) {
			CHECK(!"put failed before the limit");
			return;
		}
	}
	make(&r, 3, APIKEYS_MAX_LIVE);
	CHECK_INT(apikeys_put_master(t, &r), -ENOSPC);
	/* A rewrite in place still works when full. */
	make(&r, (7 * 2654435761u) % APIKEYS_SLOTS, 7);
	CHECK_INT(apikeys_put_master(t, &r), 0);
	/* Remove them all; each removal leaves the others findable. */
	for (uint32_t i = 0; i < APIKEYS_MAX_LIVE; i++) {
		make(&r, (i * 2654435761u) % APIKEYS_SLOTS, i);
		CHECK_INT(apikeys_remove_master(t, r.hash), 0);
		if (i % 97 == 0) {
			make(&r, ((i + 1) * 2654435761u) % APIKEYS_SLOTS, i + 1);
			CHECK_INT(apikeys_find(t, r.hash, &got), 0);
		}
	}
	CHECK_INT(apikeys_count(t), 0);
}

int main(void)
{
	size_t size = apikeys_region_size();
	void *mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	struct apikeys t;

	if (!mem || sodium_init() < 0)
		return T_EXIT_FAIL;
	apikeys_format_master(mem);
	CHECK_INT(apikeys_attach(&t, mem, size - 1), -EINVAL);
	CHECK_INT(apikeys_attach(&t, mem, size), 0);
	test_put_find_remove(&t);
	test_verify(&t);
	test_full(&t);
	free(mem);
	return CHECK_EXIT();
}
