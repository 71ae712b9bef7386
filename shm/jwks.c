/* Published JWKS documents (see jwks.h).
 *
 * Layout: a header line (magic) and JWKSR_SLOTS slots. A slot has a
 * control line the master writes (current generation, finished attempts,
 * refresh-after time), a line of its own for the workers' request word,
 * and two text buffers, each under its own sequence word.
 *
 * States of a buffer: current (buffer gen & 1 of the slot's generation:
 * workers copy it), previous (a reader that loaded the generation just
 * before the last publish may still copy it), being written (the master
 * fills the one that is not current). Generation N always lives in buffer
 * N & 1, so a publish writes over the previous document, never the current
 * one.
 *
 * Writers: the master alone writes everything but the request word; any
 * worker raises the request word, and only the master clears it.
 *
 * Invariants: a reader returns bytes only when the buffer's sequence was
 * the same even value before and after its copy, and the buffer's own
 * generation is the one it looked up; so it never returns a torn or mixed
 * document (tests/unit/shm/jwks_stress.c checks every byte). The
 * generation only grows.
 *
 * Memory order: a seqlock per buffer, as in shm/tickets.c. The master
 * makes the sequence odd (relaxed store, then a release fence), writes the
 * name, generation, length and text as plain bytes, and makes it even
 * with a release store; then it stores the slot's generation with release.
 * A reader loads the generation with acquire (pairs with that release: the
 * buffer's bytes and even sequence are visible), loads the sequence with
 * acquire, copies, fences (acquire) and loads the sequence again. A
 * reader preempted across two publishes copies bytes being rewritten
 * (the seqlock's usual caveat) but the re-check fails and it retries.
 *
 * A worker killed at any instant holds nothing here; a request word it
 * raised only causes one refresh. The master dying mid-publish leaves the
 * buffer being written odd, but no generation names it. */
#include "shm/jwks.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define JWKSR_MAGIC 0x4a574b5331ull	/* "JWKS1" */
#define JWKSR_READ_TRIES 4

struct jwksr_buf_sh {
	_Atomic uint64_t seq;		/* odd while the master writes */
	uint64_t gen;			/* the generation these bytes are */
	uint32_t len;			/* bytes of text */
	uint32_t pad0;
	char name[JWKSR_NAME_MAX + 1];	/* the section, NUL-terminated */
	uint8_t pad1[40];
	char text[JWKSR_TEXT_MAX];
} __attribute__((aligned(64)));

struct jwksr_slot_sh {
	/* Written by the master only. */
	_Atomic uint64_t gen;		/* current generation; 0 = none yet */
	_Atomic uint64_t attempts;	/* fetches finished */
	_Atomic uint64_t refresh_after_ms;
	uint8_t pad0[40];
	/* Raised by any worker, cleared by the master: its own line, so the
	 * workers' stores do not bounce the master's control line. */
	_Atomic uint32_t request;
	uint8_t pad1[60];
	struct jwksr_buf_sh buf[2];
} __attribute__((aligned(64)));

struct jwksr_region_sh {
	uint64_t magic;
	uint8_t pad[56];
	struct jwksr_slot_sh slots[JWKSR_SLOTS];
};

_Static_assert(offsetof(struct jwksr_buf_sh, text) % 64 == 0, "text on its own lines");
_Static_assert(offsetof(struct jwksr_slot_sh, request) == 64, "request on its own line");
_Static_assert(offsetof(struct jwksr_slot_sh, buf) == 128, "buffers after two lines");
_Static_assert(offsetof(struct jwksr_region_sh, slots) == 64, "slots cache aligned");

size_t jwksr_region_size(void)
{
	return sizeof(struct jwksr_region_sh);
}

void jwksr_format_master(void *mem)
{
	struct jwksr_region_sh *r = mem;

	/* Before any fork: plain writes, ordered by fork itself. */
	memset(r, 0, sizeof(*r));
	r->magic = JWKSR_MAGIC;
}

int jwksr_attach(struct jwksr *t, void *mem, size_t size)
{
	struct jwksr_region_sh *r = mem;

	if (!mem || size < sizeof(*r) || r->magic != JWKSR_MAGIC)
		return -EPROTO;
	t->sh = r;
	return 0;
}

static struct jwksr_slot_sh *slot_of(const struct jwksr *t, unsigned slot)
{
	return &t->sh->slots[slot];
}

int64_t jwksr_publish_master(struct jwksr *t, unsigned slot, const char *name,
			     const char *text, size_t len)
{
	struct jwksr_slot_sh *s;
	struct jwksr_buf_sh *b;
	uint64_t gen, seq;
	size_t nlen = strlen(name);

	if (len > JWKSR_TEXT_MAX)
		return -E2BIG;
	if (slot >= JWKSR_SLOTS || nlen == 0 || nlen > JWKSR_NAME_MAX)
		return -EINVAL;
	s = slot_of(t, slot);
	/* Relaxed: the master is the only writer of gen and seq. */
	gen = atomic_load_explicit(&s->gen, memory_order_relaxed) + 1;
	b = &s->buf[gen & 1];
	seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
	/* Relaxed store then a release fence: a reader that sees any byte
	 * written below also sees the odd sequence, and retries. */
	atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	b->gen = gen;
	b->len = (uint32_t)len;
	memset(b->name, 0, sizeof(b->name));
	memcpy(b->name, name, nlen);
	memcpy(b->text, text, len);
	/* Release: pairs with the reader's acquire load of seq; an even value
	 * it sees comes with the bytes written before it. */
	atomic_store_explicit(&b->seq, seq + 2, memory_order_release);
	/* Release: pairs with jwksr_gen()'s acquire; whoever sees gen finds
	 * buffer gen & 1 complete. */
	atomic_store_explicit(&s->gen, gen, memory_order_release);
	return (int64_t)gen;
}

void jwksr_attempted_master(struct jwksr *t, unsigned slot)
{
	struct jwksr_slot_sh *s = slot_of(t, slot);
	/* Relaxed load: single writer. */
	uint64_t n = atomic_load_explicit(&s->attempts, memory_order_relaxed);

	/* Release: pairs with jwksr_attempts()'s acquire, so a worker that
	 * sees the attempt finished also sees the generation it published. */
	atomic_store_explicit(&s->attempts, n + 1, memory_order_release);
}

void jwksr_set_refresh_after_master(struct jwksr *t, unsigned slot, uint64_t mono_ms)
{
	/* Relaxed: advisory; a worker reading a stale value either waits for
	 * a refresh in vain (bounded by its deadline) or answers at once. */
	atomic_store_explicit(&slot_of(t, slot)->refresh_after_ms, mono_ms, memory_order_relaxed);
}

bool jwksr_take_request_master(struct jwksr *t, unsigned slot)
{
	struct jwksr_slot_sh *s = slot_of(t, slot);

	/* Relaxed load first: the common case is no request, and it must not
	 * write the line. Relaxed exchange: the word carries no data; the
	 * fetch it causes publishes through gen. */
	if (!atomic_load_explicit(&s->request, memory_order_relaxed))
		return false;
	return atomic_exchange_explicit(&s->request, 0, memory_order_relaxed) != 0;
}

uint64_t jwksr_gen(const struct jwksr *t, unsigned slot)
{
	/* Acquire: pairs with the release store in jwksr_publish_master(). */
	return atomic_load_explicit(&slot_of(t, slot)->gen, memory_order_acquire);
}

uint64_t jwksr_attempts(const struct jwksr *t, unsigned slot)
{
	/* Acquire: see jwksr_attempted_master(). */
	return atomic_load_explicit(&slot_of(t, slot)->attempts, memory_order_acquire);
}

uint64_t jwksr_refresh_after(const struct jwksr *t, unsigned slot)
{
	/* Relaxed: advisory, see jwksr_set_refresh_after_master(). */
	return atomic_load_explicit(&slot_of(t, slot)->refresh_after_ms, memory_order_relaxed);
}

void jwksr_request(struct jwksr *t, unsigned slot)
{
	struct jwksr_slot_sh *s = slot_of(t, slot);

	/* Relaxed: a flag with no data behind it. Load first so that a burst
	 * of unknown kids writes the line once, not once per request. */
	if (!atomic_load_explicit(&s->request, memory_order_relaxed))
		atomic_store_explicit(&s->request, 1, memory_order_relaxed);
}

/* One attempt at copying generation <gen> out of its buffer. */
static int read_once(const struct jwksr_slot_sh *s, uint64_t gen, const char *name, char *out,
		     size_t *len)
{
	const struct jwksr_buf_sh *b = &s->buf[gen & 1];
	char bname[JWKSR_NAME_MAX + 1];
	uint64_t s1, s2, bgen;
	uint32_t n;

	/* Acquire: pairs with the release store that made it even. */
	s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
	if (s1 & 1)
		return -EAGAIN;
	bgen = b->gen;
	n = b->len;
	memcpy(bname, b->name, sizeof(bname));
	if (n > JWKSR_TEXT_MAX)
		n = JWKSR_TEXT_MAX;	/* torn length: the re-check fails below */
	memcpy(out, b->text, n);
	/* Acquire fence: the copies above happen before the re-check. */
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&b->seq, memory_order_relaxed);
	if (s1 != s2 || bgen != gen)
		return -EAGAIN;
	bname[JWKSR_NAME_MAX] = '\0';
	if (strcmp(bname, name) != 0)
		return -ENOENT;
	*len = n;
	return 0;
}

int jwksr_read(const struct jwksr *t, unsigned slot, const char *name, char *out, size_t cap,
	       size_t *len, uint64_t *gen)
{
	const struct jwksr_slot_sh *s;

	if (slot >= JWKSR_SLOTS || cap < JWKSR_TEXT_MAX)
		return -EINVAL;
	s = slot_of(t, slot);
	for (int i = 0; i < JWKSR_READ_TRIES; i++) {
		uint64_t g = jwksr_gen(t, slot);
		int ret;

		if (g == 0)
			return -ENOENT;
		ret = read_once(s, g, name, out, len);
		if (ret != -EAGAIN) {
			if (ret == 0)
				*gen = g;
			return ret;
		}
	}
	return -EAGAIN;
}
