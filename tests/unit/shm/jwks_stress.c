/* Multi-process stress test of shm/jwks.c (STYLE §16).
 *
 * One writer (the master's role) publishes generation after generation of
 * a JWKS document whose every byte, and whose length, derive from its
 * generation number; seven readers copy the current document as fast as
 * they can, pinned round-robin and started on a barrier. Exact invariants,
 * checked on every copy a reader accepted (jwksr_read() returned 0):
 *   - the copy is whole: byte for byte the document of the generation the
 *     read returned, of exactly its length (a torn or mixed copy differs);
 *   - a reader never sees the generation go backwards;
 *   - the section name is checked: a read under another name never
 *     returns a document.
 * Copies refused with -EAGAIN (after jwksr_read()'s own retries) are
 * counted, never used. The writer must
 * publish every generation and the readers must accept many copies. */
#include <sys/mman.h>

#include "shm/jwks.h"
#include "tests/unit/shm/stress.h"

#define NPROC 8u		/* process 0 writes, the others read */
#define GENERATIONS 40000u
#define READS 40000u

struct shared {
	_Alignas(64) struct stress_barrier start;
	_Atomic unsigned stop;
	_Alignas(64) _Atomic uint64_t accepted, retried, published;
};

/* The document of generation <g> into <out>; returns its length, which
 * varies from a few hundred bytes to JWKSR_TEXT_MAX. */
static size_t make_doc(char *out, uint64_t g)
{
	size_t len = 200 + (size_t)((g * 7919u) % (JWKSR_TEXT_MAX - 200));
	int head = snprintf(out, 64, "{\"keys\":[],\"gen\":%llu,\"pad\":\"", (unsigned long long)g);

	for (size_t i = (size_t)head; i < len - 2; i++)
		out[i] = (char)('a' + (g * 31u + i * 7u) % 26u);
	out[len - 2] = '"';
	out[len - 1] = '}';
	return len;
}

static void writer(struct shared *s, struct jwksr *t, char *doc)
{
	for (uint64_t g = 2; g <= GENERATIONS && !stress_stopped(&s->stop); g++) {
		size_t len = make_doc(doc, g);

		if (jwksr_publish_master(t, 0, "corp", doc, len) != (int64_t)g)
			stress_fail(&s->stop, "jwks_stress: publish of generation %llu failed\n",
				    (unsigned long long)g);
		/* Relaxed: a tally read by the parent after reaping us. */
		atomic_fetch_add_explicit(&s->published, 1, memory_order_relaxed);
	}
}

static void reader(struct shared *s, struct jwksr *t, char *got, char *want)
{
	uint64_t last = 0, accepted = 0, retried = 0, gen;
	size_t len;

	for (unsigned i = 0; i < READS && !stress_stopped(&s->stop); i++) {
		int ret = jwksr_read(t, 0, "corp", got, JWKSR_TEXT_MAX, &len, &gen);

		if (ret == -EAGAIN) {
			retried++;
			continue;
		}
		if (ret != 0) {
			stress_fail(&s->stop, "jwks_stress: read failed: %d\n", ret);
			break;
		}
		accepted++;
		if (len != make_doc(want, gen) || memcmp(got, want, len) != 0)
			stress_fail(&s->stop, "jwks_stress: torn copy of generation %llu\n",
				    (unsigned long long)gen);
		if (gen < last)
			stress_fail(&s->stop, "jwks_stress: generation %llu after %llu\n",
				    (unsigned long long)gen, (unsigned long long)last);
		last = gen;
		if ((i & 1023) == 0 &&
		    jwksr_read(t, 0, "corq", got, JWKSR_TEXT_MAX, &len, &gen) != -ENOENT &&
		    jwksr_read(t, 0, "corq", got, JWKSR_TEXT_MAX, &len, &gen) != -EAGAIN)
			stress_fail(&s->stop, "jwks_stress: another section's name was read\n");
	}
	/* Relaxed: tallies read by the parent after reaping us. */
	atomic_fetch_add_explicit(&s->accepted, accepted, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->retried, retried, memory_order_relaxed);
}

int main(void)
{
	size_t rsize = jwksr_region_size();
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *region = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *a = malloc(JWKSR_TEXT_MAX), *b = malloc(JWKSR_TEXT_MAX);
	pid_t pids[NPROC];
	int failed = 0, status;
	struct jwksr t;

	if (s == MAP_FAILED || region == MAP_FAILED || !a || !b || stress_mask_init() < 0)
		return T_EXIT_FAIL;
	stress_alarm("jwks_stress: timed out\n", 100);
	jwksr_format_master(region);
	if (jwksr_attach(&t, region, rsize) != 0)
		return T_EXIT_FAIL;
	/* Generation 1 exists before anyone reads. */
	jwksr_publish_master(&t, 0, "corp", a, make_doc(a, 1));
	for (unsigned i = 0; i < NPROC; i++) {
		pids[i] = stress_fork(i);
		if (pids[i] == 0) {
			if (stress_barrier_wait(&s->start, NPROC, &s->stop) != 0)
				_exit(T_EXIT_FAIL);
			if (i == 0)
				writer(s, &t, a);
			else
				reader(s, &t, a, b);
			_exit(T_EXIT_PASS);
		}
	}
	for (unsigned i = 0; i < NPROC; i++)
		failed |= stress_reap(pids[i], &status) != 0;
	/* Relaxed: every child was reaped. */
	printf("jwks_stress: %llu generations, %llu copies accepted, %llu retried\n",
	       (unsigned long long)atomic_load_explicit(&s->published, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&s->accepted, memory_order_relaxed),
	       (unsigned long long)atomic_load_explicit(&s->retried, memory_order_relaxed));
	CHECK(!failed);
	CHECK_INT(atomic_load_explicit(&s->published, memory_order_relaxed), GENERATIONS - 1);
	CHECK(atomic_load_explicit(&s->accepted, memory_order_relaxed) > READS);
	CHECK_INT(jwksr_gen(&t, 0), GENERATIONS);
	free(a);
	free(b);
	return CHECK_EXIT();
}
