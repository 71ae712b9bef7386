/* API keys in the shared segment (see apikeys.h).
 *
 * Layout: a header (magic, the table's sequence word gen, the live count,
 * the store's hash key) on its own cache line, then APIKEYS_SLOTS slots of
 * whole cache lines, each with its own sequence word, a state and a record.
 * A key's home slot is the first 32 bits of its hash masked (the hash is
 * keyed BLAKE2b, so homes are uniform and a client cannot aim at one);
 * collisions probe linearly. There are no tombstones: a remove shifts the
 * records of the cluster back (Knuth's Algorithm R), so a miss stops at
 * the first free slot and the table never fills with dead records.
 *
 * States of a slot: free, live. Writers: the master only, for every field.
 *
 * Invariants: (1) every live record sits between its home and the first
 * free slot after it (what lets a lookup stop at a free slot); (2) no two
 * live records have the same hash; (3) at most APIKEYS_MAX_LIVE are live,
 * so a probe meets a free slot well before it wraps.
 *
 * Memory order, two sequence locks:
 *  - per slot: the master makes seq odd (relaxed store, release fence),
 *    writes state and record as plain bytes, makes it even (release store).
 *    A reader loads it with acquire, copies, fences (acquire) and loads it
 *    again; a change means a torn copy, which is never used. Adding a key
 *    into a free slot, or rewriting a record in place, only needs this:
 *    a lookup for any other key passes the slot either way (it was free and
 *    past the end of that key's cluster, or it is live with another hash).
 *  - for the table, gen: a remove moves records between slots, and a
 *    lookup could miss a key moved from ahead of it to behind it; a rekey
 *    changes the hash key. Both run with gen odd (same protocol as a slot).
 *    A lookup reads gen (acquire) before it starts and again after an
 *    acquire fence when it ends, and its answer counts only if gen was even
 *    and unchanged: so a key removed before the lookup began is never
 *    found, and one live throughout is never missed.
 * A reader may copy bytes being written (the seqlock's usual caveat, as in
 * shm/tickets.c) but never uses them.
 *
 * A worker killed at any instant holds nothing here (readers never write).
 * The master dying mid-write leaves a sequence odd: readers then give up
 * after their retry budget (-EAGAIN, the request is refused), which fails
 * closed; the workers die with the master anyway (PR_SET_PDEATHSIG). */
#include "shm/apikeys.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#define APIKEYS_MAGIC	0x4b455931ull	/* "KEY1" */
#define APIKEYS_MASK	(APIKEYS_SLOTS - 1u)
#define APIKEYS_TRIES	4096u		/* lookups retried before -EAGAIN */

enum slot_state {
	SLOT_FREE = 0,
	SLOT_LIVE,
};

struct apikey_slot_sh {
	_Atomic uint32_t seq;		/* odd while the master writes the slot */
	uint32_t state;			/* enum slot_state */
	struct apikey_record rec;
	uint8_t pad[(64 - (sizeof(struct apikey_record) + 8) % 64) % 64];
} __attribute__((aligned(64)));

struct apikeys_region_sh {
	uint64_t magic;
	_Atomic uint32_t gen;		/* odd while the master removes or rekeys */
	_Atomic uint32_t live;		/* live records; written by the master */
	uint8_t hkey[APIKEYS_HKEY_BYTES];	/* written with gen odd */
	uint8_t pad[64 - 16 - APIKEYS_HKEY_BYTES];
	struct apikey_slot_sh slots[APIKEYS_SLOTS];
};

_Static_assert((APIKEYS_SLOTS & APIKEYS_MASK) == 0, "APIKEYS_SLOTS is a power of two");
_Static_assert(sizeof(struct apikey_slot_sh) % 64 == 0, "slots are whole cache lines");
_Static_assert(offsetof(struct apikeys_region_sh, slots) == 64, "slots cache aligned");
_Static_assert(APIKEYS_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
	       APIKEYS_HASH_BYTES <= crypto_generichash_BYTES_MAX, "hash size");
_Static_assert(APIKEYS_HKEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
	       APIKEYS_HKEY_BYTES <= crypto_generichash_KEYBYTES_MAX, "hash key size");

size_t apikeys_region_size(void)
{
	return sizeof(struct apikeys_region_sh);
}

void apikeys_hash(const uint8_t hkey[APIKEYS_HKEY_BYTES], const char *key, size_t len,
		  uint8_t out[APIKEYS_HASH_BYTES])
{
	crypto_generichash(out, APIKEYS_HASH_BYTES, (const unsigned char *)key, len, hkey,
			   APIKEYS_HKEY_BYTES);
}

static uint32_t home(const uint8_t hash[APIKEYS_HASH_BYTES])
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h));
	return h & APIKEYS_MASK;
}

void apikeys_format_master(void *mem)
{
	struct apikeys_region_sh *sh = mem;

	/* Before fork: nobody else maps the region yet, so plain writes do. */
	memset(sh, 0, sizeof(*sh));
	sh->magic = APIKEYS_MAGIC;
}

int apikeys_attach(struct apikeys *t, void *mem, size_t size)
{
	struct apikeys_region_sh *sh = mem;

	if (size < sizeof(*sh) || sh->magic != APIKEYS_MAGIC)
		return -EINVAL;
	t->sh = sh;
	return 0;
}

/* ---- the master's side ---- */

/* Make the sequence word <seq> odd: a reader that sees any byte written
 * after this also sees the odd value (or a later one), and retries. */
static void seq_begin(_Atomic uint32_t *seq)
{
	/* Relaxed: the master is the only writer of every sequence word. */
	uint32_t v = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, v + 1, memory_order_relaxed);
	/* Release fence: orders the odd store before the plain writes that
	 * follow, for a reader whose acquire fence sees one of them. */
	atomic_thread_fence(memory_order_release);
}

static void seq_end(_Atomic uint32_t *seq)
{
	/* Relaxed load: our own last store. */
	uint32_t v = atomic_load_explicit(seq, memory_order_relaxed);

	/* Release: pairs with the reader's acquire load; an even value it
	 * sees comes with every byte written before it. */
	atomic_store_explicit(seq, v + 1, memory_order_release);
}

static void slot_write(struct apikey_slot_sh *s, enum slot_state state,
		       const struct apikey_record *r)
{
	seq_begin(&s->seq);
	s->state = state;
	if (r)
		memcpy(&s->rec, r, sizeof(*r));
	else
		memset(&s->rec, 0, sizeof(s->rec));
	seq_end(&s->seq);
}

static void live_add(struct apikeys *t, int32_t d)
{
	/* Relaxed: a display count with one writer (the master). */
	uint32_t v = atomic_load_explicit(&t->sh->live, memory_order_relaxed);

	atomic_store_explicit(&t->sh->live, v + (uint32_t)d, memory_order_relaxed);
}

uint32_t apikeys_count(const struct apikeys *t)
{
	/* Relaxed: a display count; nothing is read on the strength of it. */
	return atomic_load_explicit(&t->sh->live, memory_order_relaxed);
}

void apikeys_rekey_master(struct apikeys *t, const uint8_t hkey[APIKEYS_HKEY_BYTES])
{
	struct apikeys_region_sh *sh = t->sh;

	seq_begin(&sh->gen);
	for (uint32_t i = 0; i < APIKEYS_SLOTS; i++) {
		if (sh->slots[i].state != SLOT_FREE)
			slot_write(&sh->slots[i], SLOT_FREE, NULL);
	}
	memcpy(sh->hkey, hkey, APIKEYS_HKEY_BYTES);
	/* Relaxed: display count, one writer. */
	atomic_store_explicit(&sh->live, 0, memory_order_relaxed);
	seq_end(&sh->gen);
}

bool apikeys_has_hkey_master(const struct apikeys *t, const uint8_t hkey[APIKEYS_HKEY_BYTES])
{
	return memcmp(t->sh->hkey, hkey, APIKEYS_HKEY_BYTES) == 0;
}

/* The slot holding <hash>, or the free slot that ends its probe. The
 * master reads without sequence checks: it is the only writer. */
static uint32_t find_master(const struct apikeys_region_sh *sh,
			    const uint8_t hash[APIKEYS_HASH_BYTES])
{
	uint32_t i = home(hash);

	while (sh->slots[i].state != SLOT_FREE &&
	       memcmp(sh->slots[i].rec.hash, hash, APIKEYS_HASH_BYTES) != 0)
		i = (i + 1) & APIKEYS_MASK;	/* ends: invariant (3) */
	return i;
}

int apikeys_put_master(struct apikeys *t, const struct apikey_record *r)
{
	uint32_t i = find_master(t->sh, r->hash);
	bool is_new = t->sh->slots[i].state == SLOT_FREE;

	if (is_new && apikeys_count(t) >= APIKEYS_MAX_LIVE)
		return -ENOSPC;
	slot_write(&t->sh->slots[i], SLOT_LIVE, r);
	if (is_new)
		live_add(t, 1);
	return 0;
}

/* Whether home <k> lies cyclically in (i, j]: a record there may stay
 * where it is when slot i is emptied. */
static bool home_between(uint32_t i, uint32_t k, uint32_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

int apikeys_remove_master(struct apikeys *t, const uint8_t hash[APIKEYS_HASH_BYTES])
{
	struct apikeys_region_sh *sh = t->sh;
	uint32_t i = find_master(sh, hash), j;

	if (sh->slots[i].state == SLOT_FREE)
		return -ENOENT;
	seq_begin(&sh->gen);
	/* Algorithm R: pull back every record of the cluster that would
	 * otherwise sit beyond a free slot from its home (invariant 1). */
	for (j = (i + 1) & APIKEYS_MASK; sh->slots[j].state != SLOT_FREE;
	     j = (j + 1) & APIKEYS_MASK) {
		if (home_between(i, home(sh->slots[j].rec.hash), j))
			continue;
		slot_write(&sh->slots[i], SLOT_LIVE, &sh->slots[j].rec);
		i = j;
	}
	slot_write(&sh->slots[i], SLOT_FREE, NULL);
	live_add(t, -1);
	seq_end(&sh->gen);
	return 0;
}

bool apikeys_slot_master(const struct apikeys *t, uint32_t i, struct apikey_record *out)
{
	const struct apikey_slot_sh *s = &t->sh->slots[i & APIKEYS_MASK];

	if (s->state != SLOT_LIVE)
		return false;
	memcpy(out, &s->rec, sizeof(*out));
	return true;
}

/* ---- readers ---- */

/* Copy slot <s> out: 0, or -EAGAIN when the master was writing it. */
static int slot_read(const struct apikey_slot_sh *s, uint32_t *state, struct apikey_record *out)
{
	/* Acquire: pairs with seq_end()'s release store. */
	uint32_t before = atomic_load_explicit(&s->seq, memory_order_acquire);
	uint32_t after;

	if (before & 1)
		return -EAGAIN;
	*state = s->state;
	memcpy(out, &s->rec, sizeof(*out));
	/* Acquire fence: the copy is complete before seq is read again, so a
	 * write during the copy shows as a different value. */
	atomic_thread_fence(memory_order_acquire);
	after = atomic_load_explicit(&s->seq, memory_order_relaxed);
	return after == before ? 0 : -EAGAIN;
}

/* One probe for <hash>: 0, -ENOENT, or -EAGAIN when a slot on the way was
 * being written. */
static int probe(const struct apikeys_region_sh *sh, const uint8_t hash[APIKEYS_HASH_BYTES],
		 struct apikey_record *out)
{
	uint32_t i = home(hash), state;

	for (uint32_t n = 0; n < APIKEYS_SLOTS; n++, i = (i + 1) & APIKEYS_MASK) {
		if (slot_read(&sh->slots[i], &state, out) < 0)
			return -EAGAIN;
		if (state == SLOT_FREE)
			return -ENOENT;
		/* Constant time: how much of a stored hash matched never shows. */
		if (sodium_memcmp(out->hash, hash, APIKEYS_HASH_BYTES) == 0)
			return 0;
	}
	return -ENOENT;		/* a full table: cannot happen (invariant 3) */
}

/* A lookup under gen: hash <key> (when not NULL) with the table's hash key,
 * or use <hash> as given. */
static int lookup(const struct apikeys *t, const char *key, size_t len,
		  const uint8_t *hash, struct apikey_record *out)
{
	const struct apikeys_region_sh *sh = t->sh;
	uint8_t h[APIKEYS_HASH_BYTES], hkey[APIKEYS_HKEY_BYTES];

	for (unsigned try = 0; try < APIKEYS_TRIES; try++) {
		/* Acquire: pairs with seq_end(&gen); an even gen comes with the
		 * hash key and every record move written before it. */
		uint32_t g = atomic_load_explicit(&sh->gen, memory_order_acquire);
		int ret;

		if (g & 1)
			continue;
		if (key) {
			memcpy(hkey, sh->hkey, sizeof(hkey));
			apikeys_hash(hkey, key, len, h);
			hash = h;
		}
		ret = probe(sh, hash, out);
		/* Acquire fence: every slot read above is done before gen is
		 * read again, so a remove or rekey that overlapped shows. */
		atomic_thread_fence(memory_order_acquire);
		if (ret != -EAGAIN && atomic_load_explicit(&sh->gen, memory_order_relaxed) == g) {
			sodium_memzero(hkey, sizeof(hkey));
			return ret;
		}
	}
	sodium_memzero(hkey, sizeof(hkey));
	return -EAGAIN;
}

int apikeys_verify(const struct apikeys *t, const char *key, size_t len,
		   struct apikey_record *out)
{
	return lookup(t, key, len, NULL, out);
}

int apikeys_find(const struct apikeys *t, const uint8_t hash[APIKEYS_HASH_BYTES],
		 struct apikey_record *out)
{
	return lookup(t, NULL, 0, hash, out);
}
