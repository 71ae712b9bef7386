/* Registry snapshots across processes (STYLE §16).
 *
 * Phase 1: one writer process publishes as fast as it can; every snapshot
 * is a function of its generation alone (counts, names, every instance
 * field), so any reader can rebuild what it must see. Eight readers are
 * pinned round-robin inside the inherited affinity mask and start on a
 * barrier. Holders (even ids) enter, check the whole snapshot against its
 * generation, hold it for a random while and check it again (a checksum,
 * then every byte), and sometimes go offline and sleep, as a worker does
 * before its ring wait. Sprinters (odd ids) enter, check, go offline and
 * enter again in a tight loop, so that the enter handshake runs as often
 * as possible (without it, this test fails in most runs). A tenth process
 * maps the region read-only and copies snapshots out.
 * Exact invariants: no reader ever sees a snapshot differ from its
 * generation or a generation go backwards; no copy the read-only path
 * accepted differs from its generation; the current generation equals the
 * writer's count of successful publishes; the writer made thousands of
 * publishes (its -EAGAIN retries are counted and printed).
 *
 * Phase 2: a reader is SIGKILLed while online and holding a generation;
 * the writer gets -EAGAIN (never blocks) until the master's repair,
 * reg_forget_reader_master(), and then proceeds.
 *
 * alarm() fails the test if anything hangs; children die with the parent
 * (PR_SET_PDEATHSIG). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/registry.h"
#include "tests/unit/check.h"
#include "tests/unit/shm/stress.h"

#define N_READERS	8u
#define N_BUFFERS	4u
#define BUF_SIZE	(64u * 1024u)
#define RUN_MS		1500u
#define ALARM_S		60u
#define MAX_SVC		7u
#define MAX_INST	50u
#define MIN_PUBLISHES	2000u

/* Per child, written by that child only; the parent reads it after
 * waitpid(), which orders every write before the read. */
struct result_sh {
	uint64_t enters;
	uint64_t verified;		/* snapshots checked, hold included */
	uint64_t gens_seen;		/* distinct generations */
	uint64_t offline;
	uint64_t idle;			/* enters before the first publish */
	uint64_t publishes;		/* writer */
	uint64_t busy;			/* writer: -EAGAIN retries */
	uint64_t copies_ok;		/* copier */
	uint64_t copies_raced;		/* copier: -EAGAIN */
} __attribute__((aligned(64)));

struct ctl_sh {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t stop;
	uint8_t pad[52];
	struct result_sh res[N_READERS + 2];	/* readers, writer, copier */
};

#define RES_WRITER	N_READERS
#define RES_COPIER	(N_READERS + 1)

/* A snapshot as its generation says it must be. */
struct expect {
	uint64_t gen;
	uint32_t n_svc, n_inst;
	struct reg_service svc[MAX_SVC];
	struct reg_instance inst[MAX_INST];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The instance <i> of generation <gen> as the writer adds it. */
static void input_instance(uint64_t gen, uint32_t i, uint32_t svc, struct reg_instance *in)
{
	uint16_t port = (uint16_t)(1 + (gen * 13 + i) % 65535);

	memset(in, 0, sizeof(*in));
	in->slot = (uint32_t)((gen * 37 + i) % 1024);
	in->service = svc;
	in->weight = (uint32_t)((gen + i) % 100) + 1;
	in->flags = (uint32_t)((gen + i) & 3);
	in->expires_ms = gen * 1000 + i;
	if ((gen + i) % 3 == 0) {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		uint32_t words[4] = { htonl(0xfd000000u), htonl((uint32_t)(gen >> 32)),
				      htonl((uint32_t)gen), htonl(i) };

		memcpy(&sin6.sin6_addr, words, sizeof(words));
		memcpy(&in->addr, &sin6, sizeof(sin6));
		in->addr_len = sizeof(sin6);
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

		sin.sin_addr.s_addr = htonl(10u << 24 | (uint32_t)(gen & 0xffff) << 8 | i);
		memcpy(&in->addr, &sin, sizeof(sin));
		in->addr_len = sizeof(sin);
	}
	snprintf(in->host, sizeof(in->host), "h%" PRIu64 "-%u", gen, i);
}

static uint32_t n_svc_of(uint64_t gen) { return (uint32_t)(gen % MAX_SVC) + 1; }
static uint32_t n_inst_of(uint64_t gen) { return (uint32_t)(gen % MAX_INST) + 1; }
static uint32_t first_of(uint64_t gen, uint32_t k) { return k * n_inst_of(gen) / n_svc_of(gen); }

/* Names sort in the reverse of their index order, so lookups go through
 * the by-name index for real. */
static void service_name(uint64_t gen, uint32_t k, char out[REG_NAME_MAX])
{
	snprintf(out, REG_NAME_MAX, "svc%u-g%" PRIu64, n_svc_of(gen) - 1 - k, gen);
}

/* "1.2.3.4:80" / "[fd00::...]:80", written independently of the builder. */
static void expect_text(const struct reg_instance *in, char out[REG_TEXT_MAX])
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;

	if (in->addr.ss_family == AF_INET6) {
		memcpy(&sin6, &in->addr, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host));
		snprintf(out, REG_TEXT_MAX, "[%s]:%u", host, ntohs(sin6.sin6_port));
		return;
	}
	memcpy(&sin, &in->addr, sizeof(sin));
	uint32_t a = ntohl(sin.sin_addr.s_addr);
	snprintf(out, REG_TEXT_MAX, "%u.%u.%u.%u:%u", a >> 24, a >> 16 & 255, a >> 8 & 255,
		 a & 255, ntohs(sin.sin_port));
}

static void expect_build(struct expect *e, uint64_t gen)
{
	e->gen = gen;
	e->n_svc = n_svc_of(gen);
	e->n_inst = n_inst_of(gen);
	for (uint32_t k = 0; k < e->n_svc; k++) {
		uint32_t end = k + 1 == e->n_svc ? e->n_inst : first_of(gen, k + 1);

		memset(&e->svc[k], 0, sizeof(e->svc[k]));
		service_name(gen, k, e->svc[k].name);
		e->svc[k].first = first_of(gen, k);
		e->svc[k].n = end - e->svc[k].first;
		for (uint32_t i = e->svc[k].first; i < end; i++) {
			input_instance(gen, i, k, &e->inst[i]);
			expect_text(&e->inst[i], e->inst[i].text);
		}
	}
}

/* The writer's builder for <gen>, made from the same functions. */
static int build(struct reg_builder *b, uint64_t gen)
{
	char name[REG_NAME_MAX];
	struct reg_instance in;

	reg_builder_reset(b);
	for (uint32_t k = 0; k < n_svc_of(gen); k++) {
		uint32_t end = k + 1 == n_svc_of(gen) ? n_inst_of(gen) : first_of(gen, k + 1);

		service_name(gen, k, name);
		if (reg_builder_add_service(b, name) != (int)k)
			return -1;
		for (uint32_t i = first_of(gen, k); i < end; i++) {
			input_instance(gen, i, k, &in);
			if (reg_builder_add_instance(b, &in) != (int)i)
				return -1;
		}
	}
	return 0;
}

/* Does <v> match <e> byte for byte? On the first difference, say which
 * field, with both values, into <why>. */
static int verify(const struct reg_view *v, const struct expect *e, char *why, size_t n)
{
	if (v->gen != e->gen || v->n_services != e->n_svc || v->n_instances != e->n_inst) {
		snprintf(why, n, "gen %" PRIu64 ": %u services %u instances, want %u %u",
			 v->gen, v->n_services, v->n_instances, e->n_svc, e->n_inst);
		return -1;
	}
	for (uint32_t k = 0; k < e->n_svc; k++) {
		if (memcmp(&v->services[k], &e->svc[k], sizeof(e->svc[k])) != 0 ||
		    reg_service_find(v, e->svc[k].name) != &v->services[k]) {
			snprintf(why, n, "gen %" PRIu64 " service %u: \"%.64s\" first %u n %u, "
				 "want \"%s\" %u %u", e->gen, k, v->services[k].name,
				 v->services[k].first, v->services[k].n, e->svc[k].name,
				 e->svc[k].first, e->svc[k].n);
			return -1;
		}
	}
	for (uint32_t i = 0; i < e->n_inst; i++) {
		const struct reg_instance *got = &v->instances[i], *want = &e->inst[i];

		if (memcmp(got, want, sizeof(*want)) != 0) {
			snprintf(why, n, "gen %" PRIu64 " instance %u: slot %u expires %" PRIu64
				 " text %.64s host %.64s, want %u %" PRIu64 " %s %s", e->gen, i,
				 got->slot, got->expires_ms, got->text, got->host, want->slot,
				 want->expires_ms, want->text, want->host);
			return -1;
		}
	}
	return 0;
}

/* FNV-1a over everything the view shows: cheap enough to re-check while
 * holding a snapshot. */
static uint64_t checksum(const struct reg_view *v)
{
	const struct { const void *p; size_t n; } parts[3] = {
		{ v->services, v->n_services * sizeof(*v->services) },
		{ v->by_name, v->n_services * sizeof(*v->by_name) },
		{ v->instances, v->n_instances * sizeof(*v->instances) },
	};
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned k = 0; k < 3; k++)
		for (size_t i = 0; i < parts[k].n; i++)
			h = (h ^ ((const uint8_t *)parts[k].p)[i]) * 0x100000001b3ull;
	return h;
}

static void spin(uint64_t n)
{
	for (volatile uint64_t i = 0; i < n; i++)
		;
}

/* ---- processes ---- */

struct ctx {
	struct reg_table *r;
	struct ctl_sh *ctl;
	int fd;				/* the region's memfd */
	size_t size;
	unsigned id;
};

static void barrier_wait(struct ctl_sh *ctl)
{
	/* Relaxed: a counter; the go flag below carries the ordering. */
	atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_relaxed);
	/* Acquire: pairs with the parent's release store of go. */
	while (!atomic_load_explicit(&ctl->go, memory_order_acquire))
		sched_yield();
}

static int stopped(struct ctl_sh *ctl)
{
	/* Relaxed: a flag polled in a loop; it orders nothing. */
	return atomic_load_explicit(&ctl->stop, memory_order_relaxed) != 0;
}

/* Check <v> now, hold it for a random while, check it again. */
static int hold_and_check(const struct reg_view *v, struct expect *e, uint64_t *rng, unsigned id)
{
	char why[512];
	uint64_t sum;

	if (e->gen != v->gen)
		expect_build(e, v->gen);
	if (verify(v, e, why, sizeof(why)) < 0)
		goto bad;
	sum = checksum(v);
	spin(rnd(rng) % 20000);
	if (checksum(v) != sum) {
		snprintf(why, sizeof(why), "gen %" PRIu64 ": checksum changed while held", v->gen);
		goto bad;
	}
	if (verify(v, e, why, sizeof(why)) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "reader %u: torn snapshot: %s\n", id, why);
	return -1;
}

/* O(1) checks for the sprinters: counts and both ends of the snapshot. */
static int quick_check(const struct reg_view *v, unsigned id)
{
	uint32_t n = n_inst_of(v->gen);

	if (v->n_services == n_svc_of(v->gen) && v->n_instances == n &&
	    v->services[0].first == 0 && v->instances[0].expires_ms == v->gen * 1000 &&
	    v->instances[n - 1].expires_ms == v->gen * 1000 + n - 1)
		return 0;
	fprintf(stderr, "reader %u: torn snapshot: gen %" PRIu64 ": %u services %u instances, "
		"first expires %" PRIu64 "\n", id, v->gen, v->n_services, v->n_instances,
		v->n_instances ? v->instances[0].expires_ms : 0);
	return -1;
}

struct reader_state {
	struct expect e;
	uint64_t last;			/* generation of the previous enter */
	uint64_t rng;
	bool sprinter;			/* odd ids: enter in a tight loop */
};

/* One loop turn: enter, check, hold, maybe go offline and sleep. */
static int reader_turn(const struct ctx *c, struct reader_state *st, struct result_sh *res)
{
	struct reg_view v;
	uint64_t gen = reg_enter(c->r, c->id, &v);
	bool full = !st->sprinter || rnd(&st->rng) % 64 == 0;

	res->enters++;
	if (gen < st->last) {
		fprintf(stderr, "reader %u: generation went back from %" PRIu64 " to %" PRIu64 "\n",
			c->id, st->last, gen);
		return -1;
	}
	res->gens_seen += gen != st->last;
	st->last = gen;
	if (gen == 0) {
		res->idle++;
		sched_yield();			/* let the writer start */
		return 0;
	}
	if (full ? hold_and_check(&v, &st->e, &st->rng, c->id) : quick_check(&v, c->id))
		return -1;
	res->verified++;
	if (st->sprinter || rnd(&st->rng) % 8 == 0) {
		reg_offline(c->r, c->id);
		res->offline++;
		if (!st->sprinter || rnd(&st->rng) % 256 == 0)
			usleep((useconds_t)(rnd(&st->rng) % 200));
	}
	return 0;
}

/* Holders (even ids) check every snapshot in full and hold it a while;
 * sprinters (odd ids) go offline after every turn and re-enter at once,
 * so every enter runs the full handshake and a preemption inside it is
 * as likely as the test can make it. */
static int reader_main(const struct ctx *c)
{
	struct result_sh *res = &c->ctl->res[c->id];
	struct reader_state *st = calloc(1, sizeof(*st));
	int ret = 0;

	if (!st)
		return 1;
	st->rng = 0x9e3779b97f4a7c15ull * (c->id + 1);
	st->sprinter = c->id % 2;
	barrier_wait(c->ctl);
	while (!ret && !stopped(c->ctl))
		ret = reader_turn(c, st, res);
	reg_offline(c->r, c->id);
	free(st);
	return ret ? 1 : 0;
}

static int writer_main(const struct ctx *c)
{
	struct result_sh *res = &c->ctl->res[RES_WRITER];
	struct reg_builder *b = reg_builder_new();
	uint64_t gen = 0, got, end;
	int ret = 1;

	if (!b || build(b, 1) < 0)
		goto out;
	barrier_wait(c->ctl);
	end = now_ms() + RUN_MS;
	while (now_ms() < end) {
		int err = reg_publish_master(c->r, b, &got);

		if (err == -EAGAIN) {
			res->busy++;
			continue;
		}
		if (err < 0 || got != gen + 1) {
			fprintf(stderr, "writer: publish %d, gen %" PRIu64 " after %" PRIu64 "\n",
				err, got, gen);
			goto out;
		}
		gen = got;
		res->publishes++;
		if (build(b, gen + 1) < 0)
			goto out;
	}
	ret = 0;
out:
	/* Relaxed: readers only poll it; nothing is published through it. */
	atomic_store_explicit(&c->ctl->stop, 1, memory_order_relaxed);
	reg_builder_free(b);
	return ret;
}

/* gatewayctl's path: a PROT_READ mapping of its own. */
static int copier_main(const struct ctx *c)
{
	struct result_sh *res = &c->ctl->res[RES_COPIER];
	struct expect *e = calloc(1, sizeof(*e));
	void *dst = malloc(BUF_SIZE);
	void *mem = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->fd, 0);
	struct reg_table ro;
	struct reg_view v;
	uint64_t last = 0;
	char why[512];

	if (!e || !dst || mem == MAP_FAILED || reg_attach(&ro, mem, c->size) < 0)
		return 1;
	barrier_wait(c->ctl);
	while (!stopped(c->ctl)) {
		int err = reg_copy_readonly(&ro, dst, BUF_SIZE, &v);

		if (err == -EAGAIN || err == -ENOENT) {
			res->copies_raced += err == -EAGAIN;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "copier: reg_copy_readonly: %d\n", err);
			return 1;
		}
		if (v.gen < last) {
			fprintf(stderr, "copier: generation went back from %" PRIu64 " to %" PRIu64
				"\n", last, v.gen);
			return 1;
		}
		last = v.gen;
		expect_build(e, v.gen);
		if (verify(&v, e, why, sizeof(why)) < 0) {
			fprintf(stderr, "copier: accepted a torn copy: %s\n", why);
			return 1;
		}
		res->copies_ok++;
	}
	free(dst);
	free(e);
	return 0;
}

static pid_t spawn(int (*fn)(const struct ctx *), const struct ctx *c, unsigned cpu_index)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)stress_pin(cpu_index);	/* if that fails, the child runs unpinned */
	_exit(fn(c));
}

/* Wait for <pid>; 0 if it exited 0. */
static int reap(pid_t pid, const char *what)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "%s: %s %d\n", what, WIFEXITED(st) ? "exit" : "signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

/* A region in a memfd, so the copier can map it again read-only. */
static void *region_new(struct ctx *c, struct reg_table *r, uint32_t n_buffers)
{
	void *mem;

	c->size = reg_region_size(n_buffers, BUF_SIZE);
	c->fd = memfd_create("reg-stress", MFD_CLOEXEC);
	if (c->fd < 0 || ftruncate(c->fd, (off_t)c->size) < 0)
		return NULL;
	mem = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (mem == MAP_FAILED || reg_format_master(mem, n_buffers, BUF_SIZE) < 0 ||
	    reg_attach(r, mem, c->size) < 0)
		return NULL;
	c->r = r;
	return mem;
}

static void report_phase1(const struct ctl_sh *ctl, const struct reg_table *r)
{
	const struct result_sh *w = &ctl->res[RES_WRITER], *cp = &ctl->res[RES_COPIER];
	uint64_t enters = 0, verified = 0;

	for (unsigned i = 0; i < N_READERS; i++) {
		const struct result_sh *rr = &ctl->res[i];

		enters += rr->enters;
		fprintf(stderr, "reader %u: %" PRIu64 " enters (%" PRIu64 " before any publish), "
			"%" PRIu64 " verified, %" PRIu64 " generations, %" PRIu64 " offline\n",
			i, rr->enters, rr->idle, rr->verified, rr->gens_seen, rr->offline);
		verified += rr->verified;
		CHECK(rr->verified > 0);
		CHECK(rr->gens_seen > 1);
		CHECK(rr->offline > 0);
	}
	fprintf(stderr, "phase 1: %" PRIu64 " publishes, %" PRIu64 " -EAGAIN retries; "
		"%" PRIu64 " enters, %" PRIu64 " snapshots verified; read-only copies: %" PRIu64
		" accepted, %" PRIu64 " raced\n", w->publishes, w->busy, enters, verified,
		cp->copies_ok, cp->copies_raced);
	CHECK_INT(reg_current_gen(r), w->publishes);
	CHECK(w->publishes >= MIN_PUBLISHES);
	/* Readers hold the writer up only when they run beside it: on one
	 * CPU they all hold the generation that was current when the writer
	 * last ran. Phase 2 checks -EAGAIN deterministically either way. */
	if (stress_cpus() > 1)
		CHECK(w->busy > 0);
	CHECK(cp->copies_ok > 0);
	for (unsigned i = 0; i < REG_READERS_MAX; i++)
		CHECK_INT(reg_reader_gen(r, i), 0);	/* everyone went offline */
}

static void phase1(struct ctl_sh *ctl)
{
	struct ctx c = { .ctl = ctl };
	pid_t pids[N_READERS + 2];
	struct reg_table r;
	void *mem = region_new(&c, &r, N_BUFFERS);
	int bad = 0;

	CHECK(mem != NULL);
	if (!mem)
		return;
	for (unsigned i = 0; i < N_READERS; i++) {
		c.id = i;
		pids[i] = spawn(reader_main, &c, i);
	}
	pids[RES_WRITER] = spawn(writer_main, &c, N_READERS);
	pids[RES_COPIER] = spawn(copier_main, &c, N_READERS + 1);
	/* Acquire: the children's increments; release: they start together
	 * and see everything the parent wrote before. */
	while (atomic_load_explicit(&ctl->ready, memory_order_acquire) < N_READERS + 2)
		usleep(1000);
	atomic_store_explicit(&ctl->go, 1, memory_order_release);
	bad |= reap(pids[RES_WRITER], "writer");
	/* Relaxed: as in writer_main(); set again should the writer have died. */
	atomic_store_explicit(&ctl->stop, 1, memory_order_relaxed);
	for (unsigned i = 0; i < N_READERS; i++)
		bad |= reap(pids[i], "reader");
	bad |= reap(pids[RES_COPIER], "copier");
	CHECK_INT(bad, 0);
	report_phase1(ctl, &r);
	munmap(mem, c.size);
	close(c.fd);
}

/* Phase 2's victim: online on generation 1, re-checking it until killed. */
static int victim_main(const struct ctx *c)
{
	struct expect *e = calloc(1, sizeof(*e));
	uint64_t rng = 1;
	struct reg_view v;

	if (!e || reg_enter(c->r, c->id, &v) != 1)
		return 1;
	/* Release: the parent may count on our announcement once it sees us. */
	atomic_store_explicit(&c->ctl->ready, 1, memory_order_release);
	for (;;)
		if (hold_and_check(&v, e, &rng, c->id) < 0)
			return 1;
}

/* Publish <n> times; how many returned -EAGAIN. Other errors fail. */
static unsigned publish_n(struct reg_table *r, struct reg_builder *b, unsigned n)
{
	unsigned busy = 0;

	for (unsigned k = 0; k < n; k++) {
		uint64_t gen = reg_current_gen(r) + 1;
		int err;

		CHECK_INT(build(b, gen), 0);
		err = reg_publish_master(r, b, NULL);
		if (err == -EAGAIN)
			busy++;
		else
			CHECK_INT(err, 0);
	}
	return busy;
}

static void phase2(struct ctl_sh *ctl)
{
	struct reg_builder *b = reg_builder_new();
	struct ctx c = { .ctl = ctl, .id = 5 };
	struct expect *e = calloc(1, sizeof(*e));
	uint64_t rng = 7;
	struct reg_table r;
	struct reg_view v;
	void *mem = region_new(&c, &r, REG_BUFFERS_MIN);
	pid_t pid;
	int st;

	CHECK(mem != NULL && b != NULL && e != NULL);
	if (!mem || !b || !e)
		return;
	atomic_store_explicit(&ctl->ready, 0, memory_order_relaxed);	/* Relaxed: before fork */
	CHECK_INT(publish_n(&r, b, 1), 0);
	pid = spawn(victim_main, &c, 0);
	/* Acquire: pairs with the victim's release store after its enter. */
	while (!atomic_load_explicit(&ctl->ready, memory_order_acquire))
		usleep(1000);
	CHECK_INT(publish_n(&r, b, 1), 0);			/* gen 2 */
	CHECK_INT(reg_enter(&r, 6, &v), 2);			/* a live reader holds 2 */
	CHECK_INT(publish_n(&r, b, 1), 0);			/* gen 3: last free buffer */
	CHECK_INT(publish_n(&r, b, 10), 10);
	CHECK_INT(kill(pid, SIGKILL), 0);
	CHECK_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);	/* not a failed check */
	CHECK_INT(reg_reader_gen(&r, 5), 1);
	CHECK_INT(publish_n(&r, b, 1000), 1000);		/* the dead still hold 1 */
	CHECK_INT(reg_current_gen(&r), 3);
	reg_forget_reader_master(&r, 5);
	CHECK_INT(publish_n(&r, b, 1), 0);			/* into gen 1's buffer */
	CHECK_INT(reg_current_gen(&r), 4);
	/* One buffer held (gen 2 by reader 6): the other two alternate. */
	CHECK_INT(publish_n(&r, b, 100), 0);
	CHECK_INT(reg_current_gen(&r), 104);
	CHECK_INT(reg_reader_gen(&r, 6), 2);
	CHECK_INT(hold_and_check(&v, e, &rng, 6), 0);		/* and it is intact */
	reg_offline(&r, 6);
	CHECK_INT(publish_n(&r, b, 100), 0);
	CHECK_INT(reg_current_gen(&r), 204);
	free(e);
	reg_builder_free(b);
	munmap(mem, c.size);
	close(c.fd);
}

int main(void)
{
	struct ctl_sh *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	(void)stress_mask_init();	/* unreadable: the mask is empty, nobody is pinned */
	stress_alarm("registry_stress: timed out", ALARM_S);
	if (ctl == MAP_FAILED)
		return T_EXIT_FAIL;
	phase1(ctl);
	memset(ctl, 0, sizeof(*ctl));
	phase2(ctl);
	munmap(ctl, sizeof(*ctl));
	return CHECK_EXIT();
}
