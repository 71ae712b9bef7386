/* Multi-process stress test of shm/tickets.c (STYLE §16).
 *
 * One writer process rotates the ticket key as fast as it can, to keys
 * whose bytes are a function of a counter (so a torn copy is recognisable);
 * seven readers copy the current key and look keys up by name, pinned
 * round-robin and started on a barrier. Exact invariants, checked on every
 * copy a reader accepted (tickets_current or tickets_find returned 0):
 *   - the copy is whole: every byte agrees with the counter in its name;
 *   - a reader never sees the counter go backwards;
 *   - a key found by name is the one that name was made with.
 * Copies refused with -EAGAIN are counted, never used. The writer must make
 * progress (many rotations) and the readers must accept many copies. */
#include <sys/mman.h>

#include <sodium.h>

#include "shm/tickets.h"
#include "tests/unit/shm/stress.h"

#define NPROC 8u		/* process 0 writes, the others read */
#define ROTATIONS 200000u
#define READS 400000u

struct shared {
	_Alignas(64) struct stress_barrier start;
	_Atomic unsigned stop;
	_Alignas(64) _Atomic uint64_t accepted, retried;
	_Alignas(64) unsigned char region[4096];
};

/* Key number <n>: its name carries n, and every other byte derives from it. */
static void make_key(struct ticket_key *k, uint64_t n)
{
	memset(k->name, 0, sizeof(k->name));
	memcpy(k->name, &n, sizeof(n));
	for (unsigned i = 0; i < sizeof(k->aes); i++)
		k->aes[i] = (uint8_t)(n * 31 + i);
	for (unsigned i = 0; i < sizeof(k->hmac); i++)
		k->hmac[i] = (uint8_t)(n * 17 + i * 3);
	k->created_wall_s = n;
}

static uint64_t key_number(const struct ticket_key *k)
{
	uint64_t n;

	memcpy(&n, k->name, sizeof(n));
	return n;
}

static bool key_whole(const struct ticket_key *k)
{
	struct ticket_key want;

	make_key(&want, key_number(k));
	return memcmp(&want, k, sizeof(want)) == 0;
}

static void writer(struct shared *s, struct tickets *t)
{
	struct ticket_key k;

	for (uint64_t n = 4; n <= ROTATIONS && !stress_stopped(&s->stop); n++) {
		make_key(&k, n);
		tickets__rotate_to(t, &k);
	}
}

static void reader(struct shared *s, struct tickets *t)
{
	uint64_t last = 0, accepted = 0, retried = 0;
	struct ticket_key k, found;
	bool cur;

	for (unsigned i = 0; i < READS && !stress_stopped(&s->stop); i++) {
		if (tickets_current(t, &k) != 0) {
			retried++;
			continue;
		}
		accepted++;
		if (!key_whole(&k))
			stress_fail(&s->stop, "tickets_stress: torn copy of key %llu\n",
				    (unsigned long long)key_number(&k));
		if (key_number(&k) < last)
			stress_fail(&s->stop, "tickets_stress: key %llu after %llu\n",
				    (unsigned long long)key_number(&k), (unsigned long long)last);
		last = key_number(&k);
		if (tickets_find(t, k.name, &found, &cur) == 0 &&
		    memcmp(&found, &k, sizeof(k)) != 0)
			stress_fail(&s->stop, "tickets_stress: key %llu found by name differs\n",
				    (unsigned long long)last);
	}
	/* Relaxed: tallies read by the parent after reaping us. */
	atomic_fetch_add_explicit(&s->accepted, accepted, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->retried, retried, memory_order_relaxed);
}

int main(void)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[NPROC];
	int failed = 0, status;

	if (s == MAP_FAILED || sodium_init() < 0 || stress_mask_init() < 0 ||
	    tickets_region_size() > sizeof(s->region))
		return T_EXIT_FAIL;
	stress_alarm("tickets_stress: timed out\n", 60);
	tickets_format_master(s->region, 0);
	{
		/* Every slot holds a recognisable key (1..3) before anyone reads:
		 * the formatted ones are random. */
		struct tickets t;
		struct ticket_key k;

		if (tickets_attach(&t, s->region, sizeof(s->region)) != 0)
			return T_EXIT_FAIL;
		for (uint64_t n = 1; n <= 3; n++) {
			make_key(&k, n);
			tickets__rotate_to(&t, &k);
		}
	}
	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (pids[i] == 0) {
			struct tickets t;

			if (tickets_attach(&t, s->region, sizeof(s->region)) != 0 ||
			    stress_barrier_wait(&s->start, NPROC, &s->stop) != 0)
				_exit(T_EXIT_FAIL);
			if (i == 0)
				writer(s, &t);
			else
				reader(s, &t);
			_exit(T_EXIT_PASS);
		}
	}
	for (unsigned i = 0; i < NPROC; i++)
		failed |= stress_reap(pids[i], &status) != 0;
	/* Relaxed: every child was reaped. */
	printf("tickets_stress: %llu copies accepted, %llu retried\n",
	       (unsigned long long)atomic_load_explicit(&s->accepted, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&s->retried, memory_order_relaxed));
	CHECK(!failed);
	CHECK(atomic_load_explicit(&s->accepted, memory_order_relaxed) > READS);
	return CHECK_EXIT();
}
