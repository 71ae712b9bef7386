/* Registry snapshots: one writer (the master), lock-free readers (workers),
 * quiescent-state-based reclamation of the snapshot buffers.
 *
 * Layout of the region (all offsets from its base, 64-byte lines):
 *   line 0    geometry: magic, version, n_buffers, buf_size
 *   line 1    published: (generation << 8 | buffer index), one 64-bit word
 *   lines 2.. epochs[64]: one line per reader id, the generation it announced
 *   then      n_buffers buffers of buf_size bytes: a 64-byte header (the
 *             generation it holds, counts, offsets) and the payload:
 *             services[] | by_name[] (uint32) | instances[] (8-aligned)
 *
 * States of a buffer: EMPTY (gen 0, never used) -> WRITING (gen 0, the
 * master copying a snapshot in) -> CURRENT (named by published) -> HELD
 * (replaced, but some online reader announced its gen) or FREE (replaced,
 * nobody announced its gen) -> WRITING again. A reader's epoch slot is
 * OFFLINE (0) or ONLINE with the generation whose buffer it may read.
 *
 * Who writes what: the geometry, by reg_format_master() before any reader
 * attaches (fork or fd passing orders it; never written again). published
 * and every buffer (header and payload): the master alone. Epoch slot i:
 * reader i alone while its process lives, then the master alone
 * (reg_forget_reader_master) after reaping it.
 *
 * Invariants:
 *   1. Generations grow by one per publish from 1; a generation lives in
 *      exactly one buffer, whose header records it; published never
 *      repeats a value, so a reader's re-check cannot be fooled by ABA.
 *   2. The master writes into a buffer only when it is not CURRENT and no
 *      online reader announced the generation it holds (finer than the rule
 *      of "every online reader announced a newer one": a reader on an
 *      older generation holds that buffer only, not every newer one).
 *      Three buffers let the master progress while readers hold at most
 *      one old generation; when none is free publish returns -EAGAIN,
 *      having changed nothing, and the master retries on its next tick.
 *   3. A reader that returned from reg_enter() with generation g reads
 *      only g's buffer, and that buffer is not rewritten until the reader
 *      announces something else or goes offline.
 *
 * Why 3 holds (the Dekker handshake). reg_enter() loads published (P),
 * stores gen(P) in its slot (A) and loads published again (R), retrying
 * until R == P. A publish stores published (W) and, on the next publish,
 * loads every slot (S) before choosing a buffer. A, R, W and S are all
 * seq_cst, so they lie in one total order consistent with program order
 * (A before R, W before S). The buffer of g can only be chosen by a
 * publish whose S comes after the W that replaced g. If R did not see
 * that W, R precedes W in the total order, hence A precedes S and S reads
 * g (or a later value of the slot, written only after the reader is done
 * with g): the buffer stays HELD. If R did see it, R != P and the reader
 * retries without having touched the buffer. With acquire/release alone
 * both sides could miss each other (store-load reordering), hence seq_cst
 * on exactly these four; every other access is weaker. The store of A and
 * of offline (0) are also releases and S an acquire, so a reader's reads
 * of a buffer happen before the master overwrites it. reg_enter() skips
 * the handshake when its slot already holds the current generation: that
 * value was validated when stored and the slot has not changed since.
 *
 * Read-only readers (gatewayctl, PROT_READ mapping) cannot announce.
 * reg_copy_readonly() is a seqlock read on the buffer header's gen: the
 * master sets it to 0, then (release fence) rewrites the buffer, then
 * stores the new gen (release). The copier loads published (acquire),
 * checks the buffer's gen is that generation (acquire), copies, fences
 * (acquire) and re-checks it: a copy that overlapped a rewrite sees 0 or
 * a newer gen and is refused with -EAGAIN. As with every seqlock, the
 * payload bytes are plain accesses racing the master's memcpy; the fences
 * make this correct on the hardware models we build for (x86-TSO, ARMv8),
 * and the result is never used unless the re-check passes. A copy is then
 * decoded with every offset and string checked before it is trusted.
 *
 * If a reader dies at any instant, its slot keeps the generation it last
 * announced, and that one buffer stays HELD: the master keeps publishing
 * into the others (or gets -EAGAIN, never blocks) until its child-exit
 * path calls reg_forget_reader_master(). A reader dying inside reg_enter()
 * may leave a generation that is not current announced; that holds at
 * most the one buffer, in the same way, until the same repair. If the
 * master dies mid-publish the buffer it was filling has gen 0 (WRITING),
 * which no reader can be using; published still names the old snapshot. */
#include "shm/registry.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_MAGIC		0x5245474953543031ull	/* "REGIST01" */
#define REG_LAYOUT_VERSION	1u
#define REG_LINE		64u
#define REG_BUF_SIZE_MAX	((size_t)1 << 30)
#define PUB_BUF_BITS		8u
#define PUB_BUF_MASK		((1ull << PUB_BUF_BITS) - 1)

struct reg_epoch_sh {
	_Atomic uint64_t gen;		/* announced generation; 0 = offline */
	uint8_t pad[56];
};

struct reg_snap_sh {
	_Atomic uint64_t gen;		/* generation held; 0 = empty or being rewritten */
	uint64_t len;			/* payload bytes after this header */
	uint32_t n_services;
	uint32_t n_instances;
	uint64_t by_name_off;		/* payload offsets; services[] start at 0 */
	uint64_t instances_off;
	uint8_t pad[24];
};

struct reg_region_sh {
	uint64_t magic;
	uint32_t version;
	uint32_t n_buffers;
	uint64_t buf_size;		/* bytes per buffer, a multiple of REG_LINE */
	uint8_t pad0[40];
	_Atomic uint64_t published;	/* gen << PUB_BUF_BITS | buffer; 0 = none */
	uint8_t pad1[56];
	struct reg_epoch_sh epochs[REG_READERS_MAX];
	/* then n_buffers * buf_size bytes of buffers */
};

_Static_assert(sizeof(struct reg_epoch_sh) == REG_LINE, "one reader per cache line");
_Static_assert(sizeof(struct reg_snap_sh) == 64 && REG_LINE == 64,
	       "buffer header is one line, as REG_SNAPSHOT_BYTES assumes");
_Static_assert(offsetof(struct reg_region_sh, published) == REG_LINE, "published on its own line");
_Static_assert(offsetof(struct reg_region_sh, epochs) == 2 * REG_LINE, "epochs after published");
_Static_assert(sizeof(struct reg_region_sh) % REG_LINE == 0, "buffers start on a line");
_Static_assert(REG_BUFFERS_MAX <= PUB_BUF_MASK + 1, "buffer index fits its bits");
_Static_assert(REG_BUFFERS_MIN >= 3, "current + one held + one to fill");
_Static_assert(sizeof(struct reg_service) % 8 == 0, "by_name[] follows services[] aligned");
_Static_assert(sizeof(struct reg_instance) % 8 == 0, "instances[] stay 8-aligned");
_Static_assert(sizeof(struct reg_instance) == 288 && sizeof(struct reg_service) == 72 &&
	       REG_LAYOUT_VERSION == 1, "bump REG_LAYOUT_VERSION when a record changes");
/* A read-only mapping can only use atomics that are plain loads, and a
 * lock-based atomic would not be shared between processes anyway. */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
	       "64-bit atomics must be lock-free");

struct reg_builder {
	struct reg_service *services;
	uint32_t *by_name;		/* same capacity as services */
	uint32_t n_services, cap_services;
	struct reg_instance *instances;
	uint32_t n_instances, cap_instances;
};

/* Payload geometry of a snapshot with <ns> services and <ni> instances. */
struct snap_geom {
	uint64_t by_name_off;
	uint64_t instances_off;
	uint64_t len;
};

static void snap_geom(uint32_t ns, uint32_t ni, struct snap_geom *g)
{
	g->by_name_off = (uint64_t)ns * sizeof(struct reg_service);
	g->instances_off = (g->by_name_off + (uint64_t)ns * sizeof(uint32_t) + 7) & ~(uint64_t)7;
	g->len = g->instances_off + (uint64_t)ni * sizeof(struct reg_instance);
}

static inline uint64_t pub_gen(uint64_t pub) { return pub >> PUB_BUF_BITS; }
static inline uint32_t pub_buf(uint64_t pub) { return (uint32_t)(pub & PUB_BUF_MASK); }
static inline uint64_t pub_pack(uint64_t gen, uint32_t buf) { return gen << PUB_BUF_BITS | buf; }

/* The only place a buffer index becomes an address. */
static inline struct reg_snap_sh *snap_at(const struct reg_table *r, uint32_t i)
{
	return (struct reg_snap_sh *)(void *)((uint8_t *)r->sh + sizeof(struct reg_region_sh) +
					      (size_t)i * r->buf_size);
}

static size_t round_line(size_t n)
{
	return (n + REG_LINE - 1) & ~(size_t)(REG_LINE - 1);
}

size_t reg_region_size(uint32_t n_buffers, size_t buf_size)
{
	if (n_buffers < REG_BUFFERS_MIN || n_buffers > REG_BUFFERS_MAX ||
	    buf_size < sizeof(struct reg_snap_sh) || buf_size > REG_BUF_SIZE_MAX)
		return 0;
	return sizeof(struct reg_region_sh) + (size_t)n_buffers * round_line(buf_size);
}

int reg_format_master(void *mem, uint32_t n_buffers, size_t buf_size)
{
	struct reg_region_sh *sh = mem;
	struct reg_table r;

	if (!reg_region_size(n_buffers, buf_size) || (uintptr_t)mem % REG_LINE)
		return -EINVAL;
	memset(sh, 0, sizeof(*sh));
	sh->magic = REG_MAGIC;
	sh->version = REG_LAYOUT_VERSION;
	sh->n_buffers = n_buffers;
	sh->buf_size = round_line(buf_size);
	r = (struct reg_table){ .sh = sh, .n_buffers = n_buffers, .buf_size = sh->buf_size };
	for (uint32_t i = 0; i < n_buffers; i++)
		memset(snap_at(&r, i), 0, sizeof(struct reg_snap_sh));
	/* Relaxed, like the memset above: no reader has attached yet, and
	 * whatever hands the region to one (fork, fd passing) orders these. */
	atomic_store_explicit(&sh->published, 0, memory_order_relaxed);
	return 0;
}

int reg_attach(struct reg_table *r, void *mem, size_t size)
{
	const struct reg_region_sh *sh = mem;
	size_t need;

	memset(r, 0, sizeof(*r));
	if (!mem || (uintptr_t)mem % REG_LINE || size < sizeof(*sh) || sh->magic != REG_MAGIC)
		return -EINVAL;
	if (sh->version != REG_LAYOUT_VERSION)
		return -EPROTO;
	need = reg_region_size(sh->n_buffers, sh->buf_size);
	if (!need || sh->buf_size % REG_LINE || need > size)
		return -EINVAL;
	r->sh = mem;
	r->size = size;
	r->n_buffers = sh->n_buffers;
	r->buf_size = sh->buf_size;
	return 0;
}

/* ---- builder (master process memory) ---- */

struct reg_builder *reg_builder_new(void)
{
	return calloc(1, sizeof(struct reg_builder));
}

void reg_builder_free(struct reg_builder *b)
{
	if (!b)
		return;
	free(b->services);
	free(b->by_name);
	free(b->instances);
	free(b);
}

void reg_builder_reset(struct reg_builder *b)
{
	b->n_services = 0;
	b->n_instances = 0;
}

/* Make room for one more element in <*arr> (of <cap> elements of <size>
 * bytes), doubling. 0 or -ENOMEM; <*arr> is unchanged on failure. */
static int grow(void **arr, uint32_t n, uint32_t *cap, size_t size)
{
	uint32_t want;
	void *p;

	if (n < *cap)
		return 0;
	if (*cap >= (UINT32_MAX >> 2))
		return -ENOMEM;
	want = *cap ? *cap * 2 : 16;
	p = realloc(*arr, (size_t)want * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = want;
	return 0;
}

/* Index in by_name[] of the first service not below <name>. */
static uint32_t lower_bound(const struct reg_service *svc, const uint32_t *by_name, uint32_t n,
			    const char *name)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (strncmp(svc[by_name[mid]].name, name, REG_NAME_MAX) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int reg_builder_add_service(struct reg_builder *b, const char *name)
{
	size_t len = name ? strnlen(name, REG_NAME_MAX) : 0;
	uint32_t at, cap = b->cap_services;
	struct reg_service *s;

	if (len == 0)
		return -EINVAL;
	if (len >= REG_NAME_MAX)
		return -ENAMETOOLONG;
	at = lower_bound(b->services, b->by_name, b->n_services, name);
	if (at < b->n_services && strcmp(b->services[b->by_name[at]].name, name) == 0)
		return -EEXIST;
	/* Both arrays share one capacity, kept in cap_services: by_name
	 * grows against a copy of it, so a failure between the two leaves
	 * by_name merely larger than recorded. */
	if (grow((void **)&b->by_name, b->n_services, &cap, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	if (grow((void **)&b->services, b->n_services, &b->cap_services, sizeof(*s)) < 0)
		return -ENOMEM;
	s = &b->services[b->n_services];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, len);
	s->first = b->n_instances;
	memmove(b->by_name + at + 1, b->by_name + at, (b->n_services - at) * sizeof(uint32_t));
	b->by_name[at] = b->n_services;
	return (int)b->n_services++;
}

/* "1.2.3.4:80" or "[::1]:80" for <len> bytes of <ss>. 0, -EINVAL for a
 * length that does not match the family, -EAFNOSUPPORT. */
static int addr_text(const struct sockaddr_storage *ss, uint32_t len, char out[REG_TEXT_MAX])
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;

	if (ss->ss_family == AF_INET) {
		if (len != sizeof(sin))
			return -EINVAL;
		memcpy(&sin, ss, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
		snprintf(out, REG_TEXT_MAX, "%s:%u", host, (unsigned)ntohs(sin.sin_port));
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		if (len != sizeof(sin6))
			return -EINVAL;
		memcpy(&sin6, ss, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host));
		snprintf(out, REG_TEXT_MAX, "[%s]:%u", host, (unsigned)ntohs(sin6.sin6_port));
		return 0;
	}
	return -EAFNOSUPPORT;
}

int reg_builder_add_instance(struct reg_builder *b, const struct reg_instance *in)
{
	struct reg_instance *out;
	int ret;

	if (b->n_services == 0 || in->service != b->n_services - 1 || in->weight == 0 ||
	    in->addr_len > sizeof(in->addr) || b->n_instances >= INT32_MAX)
		return -EINVAL;
	ret = grow((void **)&b->instances, b->n_instances, &b->cap_instances, sizeof(*out));
	if (ret < 0)
		return ret;
	out = &b->instances[b->n_instances];
	/* Zero every byte, padding and unused address bytes included, so a
	 * snapshot's content depends only on what was added. */
	memset(out, 0, sizeof(*out));
	memcpy(&out->addr, &in->addr, in->addr_len);
	ret = addr_text(&out->addr, in->addr_len, out->text);
	if (ret < 0)
		return ret;
	out->slot = in->slot;
	out->service = in->service;
	out->weight = in->weight;
	out->flags = in->flags;
	out->expires_ms = in->expires_ms;
	out->addr_len = in->addr_len;
	snprintf(out->host, sizeof(out->host), "%.*s", (int)(REG_NAME_MAX - 1), in->host);
	b->services[in->service].n++;
	return (int)b->n_instances++;
}

size_t reg_builder_bytes(const struct reg_builder *b)
{
	struct snap_geom g;

	snap_geom(b->n_services, b->n_instances, &g);
	return sizeof(struct reg_snap_sh) + g.len;
}

/* ---- writer ---- */

/* The generations online readers announced, into <out>; returns how many. */
static unsigned announced_gens(const struct reg_table *r, uint64_t out[REG_READERS_MAX])
{
	unsigned n = 0;

	for (unsigned i = 0; i < REG_READERS_MAX; i++) {
		/* seq_cst: the writer's load S of the handshake (rules, top):
		 * it follows our previous publish store in the total order, so
		 * a reader whose re-check missed that store is seen here. Its
		 * acquire half makes the reader's reads of a buffer it stopped
		 * announcing happen before we overwrite that buffer. */
		uint64_t g = atomic_load_explicit(&r->sh->epochs[i].gen, memory_order_seq_cst);

		if (g)
			out[n++] = g;
	}
	return n;
}

/* A buffer that is neither current nor held, preferring the oldest (the
 * one a read-only copier is least likely to be reading), or -EAGAIN. */
static int pick_buffer(const struct reg_table *r, uint64_t pub)
{
	uint64_t held[REG_READERS_MAX], best_gen = UINT64_MAX;
	unsigned n_held = announced_gens(r, held);
	int best = -EAGAIN;

	for (uint32_t i = 0; i < r->n_buffers; i++) {
		/* Relaxed: only the master writes a buffer's gen, and this is
		 * the master reading its own store. */
		uint64_t g = atomic_load_explicit(&snap_at(r, i)->gen, memory_order_relaxed);
		unsigned k = 0;

		if (pub_gen(pub) != 0 && i == pub_buf(pub))
			continue;
		while (g != 0 && k < n_held && held[k] != g)
			k++;
		if (g != 0 && k < n_held)
			continue;
		if (g < best_gen) {
			best_gen = g;
			best = (int)i;
		}
	}
	return best;
}

/* Copy <b> into buffer <idx> as generation <gen>. */
static void fill_buffer(struct reg_table *r, uint32_t idx, const struct reg_builder *b,
			uint64_t gen)
{
	struct reg_snap_sh *s = snap_at(r, idx);
	uint8_t *payload = (uint8_t *)(s + 1);
	struct snap_geom g;

	snap_geom(b->n_services, b->n_instances, &g);
	/* Relaxed store, then a release fence: the seqlock's opening. No
	 * byte written below can be seen by a read-only copier before this
	 * 0, so its re-check fails if it read any of them. */
	atomic_store_explicit(&s->gen, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	s->len = g.len;
	s->n_services = b->n_services;
	s->n_instances = b->n_instances;
	s->by_name_off = g.by_name_off;
	s->instances_off = g.instances_off;
	memset(payload + g.by_name_off, 0, g.instances_off - g.by_name_off);
	/* An empty builder has NULL arrays, which memcpy may not be given
	 * even for 0 bytes. */
	if (b->n_services) {
		memcpy(payload, b->services, (size_t)b->n_services * sizeof(*b->services));
		memcpy(payload + g.by_name_off, b->by_name,
		       (size_t)b->n_services * sizeof(uint32_t));
	}
	if (b->n_instances)
		memcpy(payload + g.instances_off, b->instances,
		       (size_t)b->n_instances * sizeof(*b->instances));
	/* Release: pairs with the copier's acquire load of gen; seeing
	 * <gen> there means seeing the bytes above. */
	atomic_store_explicit(&s->gen, gen, memory_order_release);
}

int reg_publish_master(struct reg_table *r, const struct reg_builder *b, uint64_t *gen_out)
{
	uint64_t pub, gen;
	int idx;

	if (reg_builder_bytes(b) > r->buf_size)
		return -E2BIG;
	/* Relaxed: the master is the only writer of published. */
	pub = atomic_load_explicit(&r->sh->published, memory_order_relaxed);
	idx = pick_buffer(r, pub);
	if (idx < 0)
		return idx;
	gen = pub_gen(pub) + 1;
	fill_buffer(r, (uint32_t)idx, b, gen);
	/* seq_cst: the store W of the handshake (rules, top), ordered before
	 * the slot loads of every later publish. Its release half pairs with
	 * the readers' acquire loads: who sees <gen> sees its bytes. */
	atomic_store_explicit(&r->sh->published, pub_pack(gen, (uint32_t)idx),
			      memory_order_seq_cst);
	if (gen_out)
		*gen_out = gen;
	return 0;
}

void reg_forget_reader_master(struct reg_table *r, unsigned reader)
{
	if (reader >= REG_READERS_MAX)
		return;
	/* Relaxed: the reader's process is reaped (waitpid ordered its last
	 * store before this), nobody else writes the slot, and the master's
	 * own later slot loads follow this store in program order. */
	atomic_store_explicit(&r->sh->epochs[reader].gen, 0, memory_order_relaxed);
}

/* ---- readers ---- */

static void view_of(const struct reg_table *r, uint64_t pub, struct reg_view *v)
{
	const struct reg_snap_sh *s;
	const uint8_t *payload;

	memset(v, 0, sizeof(*v));
	if (pub_gen(pub) == 0 || pub_buf(pub) >= r->n_buffers)
		return;
	s = snap_at(r, pub_buf(pub));
	payload = (const uint8_t *)(s + 1);
	v->gen = pub_gen(pub);
	v->n_services = s->n_services;
	v->n_instances = s->n_instances;
	v->services = (const void *)payload;
	v->by_name = (const void *)(payload + s->by_name_off);
	v->instances = (const void *)(payload + s->instances_off);
}

/* Announce <pub>'s generation in <slot> until published has not moved
 * under us; returns the published word that was validated. */
static uint64_t announce(struct reg_region_sh *sh, _Atomic uint64_t *slot, uint64_t pub)
{
	for (;;) {
		uint64_t again;

		/* seq_cst: the store A of the handshake (rules, top). Its
		 * release half also retires the generation we announced
		 * before: our reads of that buffer happen before its reuse. */
		atomic_store_explicit(slot, pub_gen(pub), memory_order_seq_cst);
		/* seq_cst: the load R of the handshake, after A in the total
		 * order; unchanged means the master's next slot scan sees A. */
		again = atomic_load_explicit(&sh->published, memory_order_seq_cst);
		if (again == pub)
			return pub;
		pub = again;
	}
}

uint64_t reg_enter(struct reg_table *r, unsigned reader, struct reg_view *view)
{
	_Atomic uint64_t *slot;
	uint64_t pub;

	if (reader >= REG_READERS_MAX) {
		assert(!"reg_enter: reader id out of range");
		memset(view, 0, sizeof(*view));
		return 0;
	}
	slot = &r->sh->epochs[reader].gen;
	/* Acquire: pairs with the publish store; seeing gen N makes
	 * snapshot N's bytes visible. */
	pub = atomic_load_explicit(&r->sh->published, memory_order_acquire);
	/* Relaxed: our own slot, written only by this process while it
	 * lives; equal means that generation was validated and still held. */
	if (pub_gen(pub) != 0 && atomic_load_explicit(slot, memory_order_relaxed) != pub_gen(pub))
		pub = announce(r->sh, slot, pub);
	view_of(r, pub, view);
	return view->gen;
}

void reg_offline(struct reg_table *r, unsigned reader)
{
	if (reader >= REG_READERS_MAX)
		return;
	/* Release: our reads of the view happen before any publish whose
	 * slot scan (acquire) sees 0 and rewrites the buffer. No handshake
	 * is needed to stop holding something. */
	atomic_store_explicit(&r->sh->epochs[reader].gen, 0, memory_order_release);
}

uint64_t reg_current_gen(const struct reg_table *r)
{
	/* Relaxed: a hint; reading the snapshot goes through reg_enter()
	 * or reg_copy_readonly(), whose acquire loads order its bytes. */
	return pub_gen(atomic_load_explicit(&r->sh->published, memory_order_relaxed));
}

uint64_t reg_reader_gen(const struct reg_table *r, unsigned reader)
{
	if (reader >= REG_READERS_MAX)
		return 0;
	/* Relaxed: informational, stale as soon as it is read. */
	return atomic_load_explicit(&r->sh->epochs[reader].gen, memory_order_relaxed);
}

/* ---- read-only copy (gatewayctl) ---- */

/* A buffer's header fields, as read under the seqlock. */
struct snap_hdr {
	uint64_t len;
	uint64_t by_name_off;
	uint64_t instances_off;
	uint32_t n_services;
	uint32_t n_instances;
};

/* Every string terminated and every index in range? */
static int check_records(const struct reg_view *v)
{
	for (uint32_t i = 0; i < v->n_services; i++) {
		const struct reg_service *s = &v->services[i];

		if (!memchr(s->name, 0, sizeof(s->name)) || v->by_name[i] >= v->n_services ||
		    s->first > v->n_instances || s->n > v->n_instances - s->first)
			return -EPROTO;
	}
	for (uint32_t i = 0; i < v->n_instances; i++) {
		const struct reg_instance *in = &v->instances[i];

		if (in->service >= v->n_services || in->addr_len > sizeof(in->addr) ||
		    !memchr(in->text, 0, sizeof(in->text)) || !memchr(in->host, 0, sizeof(in->host)))
			return -EPROTO;
	}
	return 0;
}

/* Point <v> into the copy at <dst>, once its geometry and records check
 * out; the copy is trusted no more than any input. */
static int decode(const void *dst, const struct snap_hdr *h, uint64_t gen, struct reg_view *v)
{
	const uint8_t *p = dst;
	struct snap_geom g;
	int ret;

	snap_geom(h->n_services, h->n_instances, &g);
	if (g.len != h->len || g.by_name_off != h->by_name_off ||
	    g.instances_off != h->instances_off)
		return -EPROTO;
	v->gen = gen;
	v->n_services = h->n_services;
	v->n_instances = h->n_instances;
	v->services = (const void *)p;
	v->by_name = (const void *)(p + g.by_name_off);
	v->instances = (const void *)(p + g.instances_off);
	ret = check_records(v);
	if (ret < 0)
		memset(v, 0, sizeof(*v));
	return ret;
}

int reg_copy_readonly(const struct reg_table *r, void *dst, size_t cap, struct reg_view *view)
{
	const struct reg_snap_sh *s;
	struct snap_hdr h;
	uint64_t pub, gen;
	int ret = 0;

	memset(view, 0, sizeof(*view));
	if ((uintptr_t)dst % _Alignof(struct reg_instance))
		return -EINVAL;
	/* Acquire: pairs with the publish store; gen's bytes are visible. */
	pub = atomic_load_explicit(&r->sh->published, memory_order_acquire);
	gen = pub_gen(pub);
	if (gen == 0)
		return -ENOENT;
	if (pub_buf(pub) >= r->n_buffers)
		return -EPROTO;
	s = snap_at(r, pub_buf(pub));
	/* Acquire: the seqlock's opening check, pairing with fill_buffer's
	 * release store of gen; no byte below is read before it. */
	if (atomic_load_explicit(&s->gen, memory_order_acquire) != gen)
		return -EAGAIN;
	h = (struct snap_hdr){ .len = s->len, .by_name_off = s->by_name_off,
			       .instances_off = s->instances_off,
			       .n_services = s->n_services, .n_instances = s->n_instances };
	if (h.len > r->buf_size - sizeof(*s))
		ret = -EPROTO;
	else if (h.len > cap)
		ret = -ENOSPC;
	else
		memcpy(dst, s + 1, h.len);
	/* Acquire fence: every byte read above is read before the re-check. */
	atomic_thread_fence(memory_order_acquire);
	/* Relaxed: ordered after the copy by the fence. Another value means
	 * the master rewrote the buffer meanwhile: header and copy may be
	 * torn, so nothing above is trusted, not even an error. */
	if (atomic_load_explicit(&s->gen, memory_order_relaxed) != gen)
		return -EAGAIN;
	return ret ? ret : decode(dst, &h, gen, view);
}

const struct reg_service *reg_service_find(const struct reg_view *v, const char *name)
{
	uint32_t at;

	if (v->n_services == 0 || !name)
		return NULL;
	at = lower_bound(v->services, v->by_name, v->n_services, name);
	if (at < v->n_services && strncmp(v->services[v->by_name[at]].name, name, REG_NAME_MAX) == 0)
		return &v->services[v->by_name[at]];
	return NULL;
}
