/* TLS session-ticket keys (see tickets.h).
 *
 * Layout: a header (magic, the current slot index) and three key slots,
 * each with its own sequence word, on separate cache lines.
 *
 * States of a slot: current (tickets are issued with it), previous
 * (tickets under it are still accepted), spare (the next rotation writes
 * it). Rotation by the master, the only writer: write the spare slot under
 * its sequence (odd while writing, even after), then make it current with a
 * release store of the index. The old current becomes the previous, the old
 * previous the spare.
 *
 * Invariants: a reader only ever uses the current and the previous slot,
 * and the master only writes the spare one, so a rotation never writes
 * under a reader that is on time. A reader that was preempted across two
 * rotations would be reading the slot being rewritten: the sequence check
 * catches that (the copy is retried, never used torn).
 *
 * Memory order: a seqlock per slot. The writer makes the sequence odd
 * (relaxed store, then a release fence), writes the key bytes as plain
 * bytes, and makes it even with a release store; a reader loads it with
 * acquire, copies, fences (acquire) and loads it again. A reader may copy
 * bytes being written (the seqlock's usual caveat, as in shm/registry.c's
 * read-only copy) but never uses them: the re-check fails. The current
 * index is published with release and read with acquire, so whoever sees
 * slot i current sees its bytes.
 *
 * A worker killed at any instant holds nothing here. The master dying
 * mid-rotation leaves the spare slot odd; nothing reads the spare slot. */
#include "shm/tickets.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#define TICKETS_MAGIC 0x544b5431ull	/* "TKT1" */
#define TICKETS_SLOTS 3u

struct ticket_slot_sh {
	_Atomic uint32_t seq;		/* odd while the master writes the slot */
	uint32_t pad0;
	struct ticket_key key;
	uint8_t pad1[64 - (sizeof(struct ticket_key) + 8) % 64];
} __attribute__((aligned(64)));

struct tickets_region_sh {
	uint64_t magic;
	_Atomic uint32_t current;	/* slot index; written by the master */
	uint8_t pad[52];
	struct ticket_slot_sh slots[TICKETS_SLOTS];
};

_Static_assert(sizeof(struct ticket_slot_sh) % 64 == 0, "slots are whole cache lines");
_Static_assert(offsetof(struct tickets_region_sh, slots) == 64, "slots cache aligned");

size_t tickets_region_size(void)
{
	return sizeof(struct tickets_region_sh);
}

static void slot_write(struct ticket_slot_sh *s, const struct ticket_key *k)
{
	/* Relaxed: the master is the only writer of seq. */
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	/* Relaxed store then a release fence: a reader that sees any new
	 * byte below also sees the odd sequence, and retries. */
	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(&s->key, k, sizeof(*k));
	/* Release: pairs with the reader's acquire load of seq; an even value
	 * it sees comes with the bytes written before it. */
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

static void key_new(struct ticket_key *k, uint64_t now_wall_s)
{
	randombytes_buf(k->name, sizeof(k->name));
	randombytes_buf(k->aes, sizeof(k->aes));
	randombytes_buf(k->hmac, sizeof(k->hmac));
	k->created_wall_s = now_wall_s;
}

void tickets_format_master(void *mem, uint64_t now_wall_s)
{
	struct tickets_region_sh *sh = mem;
	struct ticket_key k;

	memset(sh, 0, sizeof(*sh));
	sh->magic = TICKETS_MAGIC;
	for (unsigned i = 0; i < TICKETS_SLOTS; i++) {
		key_new(&k, now_wall_s);
		slot_write(&sh->slots[i], &k);
	}
	sodium_memzero(&k, sizeof(k));
	/* Relaxed: nobody else maps the region yet (before fork). */
	atomic_store_explicit(&sh->current, 0, memory_order_relaxed);
}

int tickets_attach(struct tickets *t, void *mem, size_t size)
{
	struct tickets_region_sh *sh = mem;

	if (size < sizeof(*sh) || sh->magic != TICKETS_MAGIC)
		return -EINVAL;
	t->sh = sh;
	return 0;
}

void tickets_rotate_master(struct tickets *t, uint64_t now_wall_s)
{
	struct ticket_key k;

	key_new(&k, now_wall_s);
	tickets__rotate_to(t, &k);
	sodium_memzero(&k, sizeof(k));
}

void tickets__rotate_to(struct tickets *t, const struct ticket_key *k)
{
	/* Relaxed: the master is the only writer of current. */
	uint32_t cur = atomic_load_explicit(&t->sh->current, memory_order_relaxed);
	uint32_t next = (cur + 1) % TICKETS_SLOTS;	/* the spare: not current, not previous */

	slot_write(&t->sh->slots[next], k);
	/* Release: pairs with the acquire in current_index(); seeing <next>
	 * current means seeing its key written. */
	atomic_store_explicit(&t->sh->current, next, memory_order_release);
}

static uint32_t current_index(const struct tickets *t)
{
	/* Acquire: pairs with the release in tickets_rotate_master(). */
	return atomic_load_explicit(&t->sh->current, memory_order_acquire) % TICKETS_SLOTS;
}

/* Copy slot <i> out; -EAGAIN when it was being written. */
static int slot_read(const struct ticket_slot_sh *s, struct ticket_key *out)
{
	/* Acquire: pairs with slot_write()'s final release store. */
	uint32_t before = atomic_load_explicit(&s->seq, memory_order_acquire);
	uint32_t after;

	if (before & 1)
		return -EAGAIN;
	memcpy(out, &s->key, sizeof(*out));
	/* Acquire fence: the copy above is complete before seq is read again,
	 * so a change during the copy shows as a different value. */
	atomic_thread_fence(memory_order_acquire);
	after = atomic_load_explicit(&s->seq, memory_order_relaxed);
	return after == before ? 0 : -EAGAIN;
}

int tickets_current(const struct tickets *t, struct ticket_key *out)
{
	return slot_read(&t->sh->slots[current_index(t)], out);
}

int tickets_find(const struct tickets *t, const uint8_t name[TICKETS_NAME_BYTES],
		 struct ticket_key *out, bool *is_current)
{
	uint32_t cur = current_index(t);
	uint32_t prev = (cur + TICKETS_SLOTS - 1) % TICKETS_SLOTS;
	int ret;

	ret = slot_read(&t->sh->slots[cur], out);
	if (ret)
		return ret;
	if (memcmp(out->name, name, TICKETS_NAME_BYTES) == 0) {
		*is_current = true;
		return 0;
	}
	ret = slot_read(&t->sh->slots[prev], out);
	if (ret)
		return ret;
	*is_current = false;
	return memcmp(out->name, name, TICKETS_NAME_BYTES) == 0 ? 0 : -ENOENT;
}

uint64_t tickets_current_created(const struct tickets *t)
{
	struct ticket_key k;

	while (tickets_current(t, &k) == -EAGAIN)
		;	/* the master itself asks: nobody else writes */
	return k.created_wall_s;
}
