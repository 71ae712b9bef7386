/* Multi-process stress test of shm/apikeys.c (STYLE §16).
 *
 * Process 0 is the master: it adds, rewrites in place and removes keys
 * from a universe of NKEYS as fast as it can, their homes crowded into
 * few slots so that clusters are long and removes move records around
 * (and across the end of the table). Seven readers look keys up at
 * random, pinned round-robin and started on a barrier.
 *
 * The master brackets every operation on key k with a per-key sequence
 * (odd while it runs) and publishes the key's version and liveness before
 * closing it. Exact invariants, on every lookup a reader accepted:
 *   - a found record is whole: every byte is what version v of its key
 *     holds (no torn copy, no mix of two keys);
 *   - when no operation on k overlapped the lookup (same even sequence
 *     before and after), the answer is exactly the published state: found
 *     with that version if live, -ENOENT if not. So a key that other
 *     keys' removes shift around is never missed, and a removed key is
 *     never found;
 *   - when one overlapped, a found version was published before the
 *     lookup ended.
 * At the end every reader checks every key against the final state, and
 * the live count equals the number of live keys. -EAGAIN answers are
 * counted, never used. */
#include <sys/mman.h>

#include <sodium.h>

#include "shm/apikeys.h"
#include "tests/unit/shm/stress.h"

#define NPROC 8u		/* process 0 writes, the others read */
#define NKEYS 3000u
#define HOMES 96u		/* distinct home slots the keys crowd into */
#define OPS 300000u
#define READS 300000u

struct keystate {
	_Atomic uint32_t seq;		/* odd while the master changes the key */
	_Atomic uint32_t version;	/* of the last put; 0 = never */
	_Atomic uint32_t live;
};

struct shared {
	_Alignas(64) struct stress_barrier start;
	_Atomic unsigned stop;
	_Atomic unsigned writer_done;
	_Alignas(64) _Atomic uint64_t accepted, exact, retried;
	_Alignas(64) struct keystate keys[NKEYS];
};

static uint32_t key_home(uint32_t k)
{
	/* Spread the few homes over the table, the last one near its end. */
	return (k % HOMES) * (APIKEYS_SLOTS / HOMES) + (k % HOMES == HOMES - 1 ? 80 : 0);
}

/* Version <v> of key <k>: every byte follows from (k, v). */
static void make(struct apikey_record *r, uint32_t k, uint32_t v)
{
	uint32_t h = key_home(k) % APIKEYS_SLOTS;
	size_t n = v % (APIKEYS_SCOPES_MAX - 1) + 1;

	memset(r, 0, sizeof(*r));
	memcpy(r->hash, &h, 4);
	memcpy(r->hash + 4, &k, 4);
	memset(r->hash + 8, (int)(k * 13u), APIKEYS_HASH_BYTES - 8);
	r->id = k;
	snprintf(r->consumer, sizeof(r->consumer), "k%u-v%u", k, v);
	memset(r->scopes, 'a' + (int)(v % 26u), n);
}

static void writer(struct shared *s, struct apikeys *t)
{
	struct apikey_record r;
	uint64_t rnd = 0x9e3779b97f4a7c15ull;
	uint32_t live = 0;

	for (unsigned op = 0; op < OPS && !stress_stopped(&s->stop); op++) {
		uint32_t k = (uint32_t)(stress_rnd(&rnd) % NKEYS);
		struct keystate *ks = &s->keys[k];
		/* seq_cst throughout this test's own words: they are the
		 * reference the table is checked against, so keep them simple. */
		uint32_t seq = atomic_load(&ks->seq), v = atomic_load(&ks->version);
		bool is_live = atomic_load(&ks->live), now_live = true;
		int ret;

		atomic_store(&ks->seq, seq + 1);
		if (is_live && stress_rnd(&rnd) % 2) {
			make(&r, k, v);
			ret = apikeys_remove_master(t, r.hash);
			now_live = false;
			live--;
		} else {
			/* The version first: a reader that finds version v
			 * afterwards reads a version of at least v. */
			atomic_store(&ks->version, ++v);
			make(&r, k, v);
			ret = apikeys_put_master(t, &r);
			live += !is_live;
		}
		if (ret != 0)
			stress_fail(&s->stop, "apikeys_stress: op on key %u failed: %d\n", k, ret);
		atomic_store(&ks->live, now_live);
		atomic_store(&ks->seq, seq + 2);
	}
	if (apikeys_count(t) != live)
		stress_fail(&s->stop, "apikeys_stress: count %u, want %u\n", apikeys_count(t), live);
	atomic_store(&s->writer_done, 1);
}

/* Check one lookup of key <k>; returns whether it was checked exactly. */
static bool check_one(struct shared *s, struct apikeys *t, uint32_t k, bool final)
{
	struct keystate *ks = &s->keys[k];
	struct apikey_record r, got, want;
	uint32_t seq1, seq2, v1, v2;
	bool live1;
	int ret;

	seq1 = atomic_load(&ks->seq);
	v1 = atomic_load(&ks->version);
	live1 = atomic_load(&ks->live);
	make(&r, k, 0);		/* the hash does not depend on the version */
	ret = apikeys_find(t, r.hash, &got);
	seq2 = atomic_load(&ks->seq);
	v2 = atomic_load(&ks->version);
	if (ret == -EAGAIN) {
		if (final)
			stress_fail(&s->stop, "apikeys_stress: -EAGAIN with no writer\n");
		atomic_fetch_add_explicit(&s->retried, 1, memory_order_relaxed);
		return false;
	}
	if (ret == 0) {
		uint32_t v;

		if (got.id != k || sscanf(got.consumer, "k%*u-v%u", &v) != 1) {
			stress_fail(&s->stop, "apikeys_stress: key %u: got record of %u '%s'\n",
				    k, got.id, got.consumer);
			return false;
		}
		make(&want, k, v);
		if (memcmp(&want, &got, sizeof(got)) != 0)
			stress_fail(&s->stop, "apikeys_stress: key %u v%u: torn record\n", k, v);
		if (v > v2)
			stress_fail(&s->stop, "apikeys_stress: key %u: v%u not published (v%u)\n",
				    k, v, v2);
	}
	if (seq1 != seq2 || (seq1 & 1))
		return false;
	if (ret != (live1 ? 0 : -ENOENT))
		stress_fail(&s->stop, "apikeys_stress: key %u: lookup %d but %s (v%u)%s\n", k,
			    ret, live1 ? "live" : "removed", v1, final ? " at the end" : "");
	else if (ret == 0) {
		make(&want, k, v1);
		if (memcmp(&want, &got, sizeof(got)) != 0)
			stress_fail(&s->stop, "apikeys_stress: key %u: not version %u\n", k, v1);
	}
	return true;
}

static void reader(struct shared *s, struct apikeys *t, unsigned i)
{
	uint64_t rnd = 0x1234567ull * (i + 1), accepted = 0, exact = 0;

	for (unsigned n = 0; n < READS && !stress_stopped(&s->stop); n++) {
		exact += check_one(s, t, (uint32_t)(stress_rnd(&rnd) % NKEYS), false);
		accepted++;
	}
	/* The final view: wait for the writer (bounded by the alarm). */
	while (!atomic_load(&s->writer_done) && !stress_stopped(&s->stop))
		sched_yield();
	for (uint32_t k = 0; k < NKEYS && !stress_stopped(&s->stop); k++)
		if (!check_one(s, t, k, true))
			stress_fail(&s->stop, "apikeys_stress: key %u not checked at the end\n", k);
	/* Relaxed: tallies read by the parent after reaping us. */
	atomic_fetch_add_explicit(&s->accepted, accepted, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->exact, exact, memory_order_relaxed);
}

int main(void)
{
	size_t rsize = (apikeys_region_size() + 4095) & ~(size_t)4095;
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *region = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[NPROC];
	int failed = 0, status;

	if (s == MAP_FAILED || region == MAP_FAILED || sodium_init() < 0 ||
	    stress_mask_init() < 0)
		return T_EXIT_FAIL;
	stress_alarm("apikeys_stress: timed out\n", 100);
	apikeys_format_master(region);
	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (pids[i] == 0) {
			struct apikeys t;

			if (apikeys_attach(&t, region, rsize) != 0 ||
			    stress_barrier_wait(&s->start, NPROC, &s->stop) != 0)
				_exit(T_EXIT_FAIL);
			if (i == 0)
				writer(s, &t);
			else
				reader(s, &t, i);
			_exit(stress_stopped(&s->stop) ? T_EXIT_FAIL : T_EXIT_PASS);
		}
	}
	for (unsigned i = 0; i < NPROC; i++)
		failed |= stress_reap(pids[i], &status) != 0;
	/* Relaxed: every child was reaped. */
	printf("apikeys_stress: %llu lookups, %llu checked exactly, %llu retried\n",
	       (unsigned long long)atomic_load_explicit(&s->accepted, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&s->exact, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&s->retried, memory_order_relaxed));
	CHECK(!failed);
	CHECK(atomic_load_explicit(&s->exact, memory_order_relaxed) > READS);
	return CHECK_EXIT();
}
