/* Load balancers for one service in one worker.
 *
 * All state is private to the worker that created the balancer: the smooth
 * round-robin weights, the outstanding counts and the PRNG. Nothing here is
 * shared between processes, so nothing here is atomic. When a load function
 * is set (bal_set_load()), least_conn and p2c read the requests in flight
 * from it instead, which the gateway points at the counts every worker
 * shares; the local counts then stay unused.
 *
 * Every pick may exclude instances (unhealthy, open breaker, draining,
 * already tried): policies choose among the usable ones as if the others
 * were absent, and the hash ring walks on to the next usable point.
 *
 * The consistent-hash ring is the exception to "seeded per worker": it is
 * built from the instance addresses and a fixed hash only, so every worker
 * (and every restart) maps a key to the same instance. The seed only moves
 * the random policies.
 *
 * Invariants: n >= 1; every weight used is >= 1 (a zero weight in the config
 * counts as 1); outstanding[i] never goes below 0; cum[i] is the sum of the
 * weights of instances 0..i, so cum[n - 1] == total. */
#include "worker/balance.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Virtual nodes per unit of weight, ketama's figure: enough that four
 * instances each get 25% +- a few % of the keys. */
#define BAL_POINTS_PER_WEIGHT 160u
/* Ring size cap (16 bytes a point); heavy weights halve the points per unit
 * of weight until the ring fits, which keeps the proportions. */
#define BAL_RING_MAX (1u << 20)

struct bal_peer {
	int64_t current;	/* smooth round robin's current_weight */
	uint32_t weight;	/* >= 1 */
	uint32_t outstanding;	/* picked and not yet released */
};

struct bal_point {
	uint64_t hash;
	uint32_t instance;
};

struct balancer {
	enum gw_balance policy;
	uint32_t n;			/* instances, >= 1 */
	uint64_t total;			/* sum of weights */
	uint64_t rng[4];		/* xoshiro256** state */
	struct bal_peer *peers;		/* n entries */
	uint64_t *cum;			/* n prefix sums of weights */
	struct bal_point *ring;		/* hashing policies only, sorted by hash */
	size_t n_points;
	const bool *usable;		/* during bal_pick() only; NULL = every one */
	bool *scratch;			/* n entries, for p2c's second draw */
	unsigned (*load)(void *arg, unsigned instance);	/* NULL = local counts */
	void *load_arg;
};

static inline bool bal_ok(const struct balancer *b, uint32_t i)
{
	return !b->usable || b->usable[i];
}

static inline uint64_t bal_outstanding_of(const struct balancer *b, uint32_t i)
{
	return b->load ? b->load(b->load_arg, i) : b->peers[i].outstanding;
}

static inline uint64_t bal_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* MurmurHash3's 64-bit finaliser: every input bit flips each output bit with
 * probability close to 1/2. */
static inline uint64_t bal_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Little-endian load of <n> <= 8 bytes, so the ring is the same on any host. */
static inline uint64_t bal_load(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* 64-bit hash of <len> bytes under <seed>, murmur3-style: each 8-byte word is
 * mixed into the state, then the length, then a final avalanche. Fixed, so
 * every process computes the same ring. */
static uint64_t bal_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = bal_mix64(seed + 0x9e3779b97f4a7c15ULL);
	size_t left = len;

	for (; left >= 8; left -= 8, p += 8) {
		h ^= bal_mix64(bal_load(p, 8));
		h = bal_rotl(h, 27) * 5 + 0x52dce729;
	}
	h ^= bal_mix64(bal_load(p, left) ^ ((uint64_t)left << 56));
	return bal_mix64(h ^ len);
}

/* splitmix64, only to spread the user's seed over xoshiro's 256 bits. */
static uint64_t bal_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* xoshiro256**: small, fast, and good enough for picking servers. */
static uint64_t bal_next(struct balancer *b)
{
	uint64_t *s = b->rng;
	uint64_t out = bal_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = bal_rotl(s[3], 45);
	return out;
}

/* Uniform in [0, bound) by multiply-high (Lemire); the bias for bounds this
 * small against 2^64 is far below anything measurable. */
static uint64_t bal_below(struct balancer *b, uint64_t bound)
{
	return (uint64_t)(((unsigned __int128)bal_next(b) * bound) >> 64);
}

/* The instance whose weight interval [cum[i] - w, cum[i]) holds <r>. */
static uint32_t bal_cum_find(const struct balancer *b, uint64_t r)
{
	uint32_t lo = 0, hi = b->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (b->cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Weighted random among the usable instances: O(log n) with none
 * excluded, a linear walk otherwise. */
static uint32_t bal_pick_random(struct balancer *b)
{
	uint64_t total = 0, r;

	if (!b->usable)
		return bal_cum_find(b, bal_below(b, b->total));
	for (uint32_t i = 0; i < b->n; i++)
		total += bal_ok(b, i) ? b->peers[i].weight : 0;
	r = bal_below(b, total);
	for (uint32_t i = 0; i < b->n; i++) {
		if (!bal_ok(b, i))
			continue;
		if (r < b->peers[i].weight)
			return i;
		r -= b->peers[i].weight;
	}
	return UINT32_MAX;
}

/* nginx's ngx_http_upstream_get_peer() without failure accounting (the
 * effective weight is always the configured one): every peer gains its
 * weight, the highest current wins and pays back the total. Over any run of
 * <total> picks each peer is chosen exactly <weight> times, interleaved. */
static uint32_t bal_pick_swrr(struct balancer *b)
{
	struct bal_peer *best = NULL;
	int64_t total = 0;
	uint32_t at = UINT32_MAX;

	for (uint32_t i = 0; i < b->n; i++) {
		struct bal_peer *p = &b->peers[i];

		if (!bal_ok(b, i))
			continue;
		p->current += p->weight;
		total += p->weight;
		if (!best || p->current > best->current) {
			best = p;
			at = i;
		}
	}
	if (best)
		best->current -= total;
	return at;
}

/* x->outstanding / x->weight compared with y's (-1, 0, 1), cross-multiplied
 * so no division and no rounding. */
static inline int bal_load_cmp(const struct balancer *b, uint32_t x, uint32_t y)
{
	uint64_t l = bal_outstanding_of(b, x) * b->peers[y].weight;
	uint64_t r = bal_outstanding_of(b, y) * b->peers[x].weight;

	return (l > r) - (l < r);
}

/* Fewest outstanding per unit of weight. Like nginx's least_conn, the peers
 * tied for the minimum share it by smooth round robin among themselves, so
 * an idle service still spreads requests by weight. */
static uint32_t bal_pick_least(struct balancer *b)
{
	uint32_t min = UINT32_MAX;
	struct bal_peer *best = NULL;
	int64_t tied_total = 0;
	uint32_t at = UINT32_MAX;

	for (uint32_t i = 0; i < b->n; i++) {
		if (bal_ok(b, i) && (min == UINT32_MAX || bal_load_cmp(b, i, min) < 0))
			min = i;
	}
	if (min == UINT32_MAX)
		return UINT32_MAX;
	for (uint32_t i = 0; i < b->n; i++) {
		struct bal_peer *p = &b->peers[i];

		if (!bal_ok(b, i) || bal_load_cmp(b, i, min) != 0)
			continue;
		p->current += p->weight;
		tied_total += p->weight;
		if (!best || p->current > best->current) {
			best = p;
			at = i;
		}
	}
	best->current -= tied_total;
	return at;
}

/* Power of two choices: two distinct instances drawn by weight, the less
 * loaded (per unit of weight) wins, the first drawn on a tie. */
static uint32_t bal_pick_p2c(struct balancer *b)
{
	uint32_t i, j;
	uint64_t r, before;

	i = bal_pick_random(b);
	if (b->n == 1 || i == UINT32_MAX)
		return i;
	if (b->usable) {
		/* With exclusions, the second draw is among the usable rest. */
		const bool *usable = b->usable;
		bool *rest = b->scratch;

		for (uint32_t k = 0; k < b->n; k++)
			rest[k] = usable[k] && k != i;
		b->usable = rest;
		j = bal_pick_random(b);
		b->usable = usable;
		return j != UINT32_MAX && bal_load_cmp(b, j, i) < 0 ? j : i;
	}
	/* Draw over the total without i's interval, then step over it. */
	before = b->cum[i] - b->peers[i].weight;
	r = bal_below(b, b->total - b->peers[i].weight);
	if (r >= before)
		r += b->peers[i].weight;
	j = bal_cum_find(b, r);
	return bal_load_cmp(b, j, i) < 0 ? j : i;
}

/* First ring point at or after the key's hash, wrapping past the end. */
static uint32_t bal_pick_hash(const struct balancer *b, const struct bal_key *key)
{
	uint64_t h = bal_hash64(key->data, key->len, 0);
	size_t lo = 0, hi = b->n_points;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ring[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Walk on past unusable instances' points: their keys move to the
	 * next instance on the ring, and come back when they recover. */
	for (size_t k = 0; k < b->n_points; k++) {
		uint32_t i = b->ring[(lo + k) % b->n_points].instance;

		if (bal_ok(b, i))
			return i;
	}
	return UINT32_MAX;
}

static int bal_point_cmp(const void *x, const void *y)
{
	const struct bal_point *a = x, *c = y;

	if (a->hash != c->hash)
		return a->hash < c->hash ? -1 : 1;
	/* Equal hashes (practically never) still order the same everywhere. */
	return (a->instance > c->instance) - (a->instance < c->instance);
}

/* Build the ring: per_unit * weight points per instance, each hashed from
 * the instance's address text with the point's index as seed. */
static int bal_ring_build(struct balancer *b, const struct gw_service_conf *svc)
{
	uint64_t per_unit = BAL_POINTS_PER_WEIGHT;
	size_t k = 0;

	while (per_unit > 1 && per_unit * b->total > BAL_RING_MAX)
		per_unit /= 2;
	b->n_points = (size_t)(per_unit * b->total);
	b->ring = calloc(b->n_points, sizeof(*b->ring));
	if (!b->ring)
		return -1;
	for (uint32_t i = 0; i < b->n; i++) {
		const char *text = svc->instances[i].addr.text;
		size_t len = strnlen(text, sizeof(svc->instances[i].addr.text));
		uint64_t points = per_unit * b->peers[i].weight;

		for (uint64_t v = 0; v < points; v++, k++) {
			b->ring[k].hash = bal_hash64(text, len, v);
			b->ring[k].instance = i;
		}
	}
	qsort(b->ring, b->n_points, sizeof(*b->ring), bal_point_cmp);
	return 0;
}

static void bal_seed(struct balancer *b, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		b->rng[i] = bal_splitmix(&seed);
}

/* Create the balancer for <svc> (borrowed; only read here), which must have
 * at least one instance. <seed> seeds the random policies. Returns NULL when
 * memory runs out or the service has no instance. */
struct balancer *bal_new(const struct gw_service_conf *svc, uint64_t seed)
{
	struct balancer *b;

	if (svc->n_instances == 0 || svc->n_instances > UINT32_MAX)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->policy = svc->balance;
	b->n = (uint32_t)svc->n_instances;
	b->peers = calloc(b->n, sizeof(*b->peers));
	b->cum = calloc(b->n, sizeof(*b->cum));
	b->scratch = calloc(b->n, sizeof(*b->scratch));
	if (!b->peers || !b->cum || !b->scratch)
		goto err_free;
	for (uint32_t i = 0; i < b->n; i++) {
		unsigned w = svc->instances[i].weight;

		b->peers[i].weight = w ? w : 1;
		b->total += b->peers[i].weight;
		b->cum[i] = b->total;
	}
	bal_seed(b, seed);
	if ((b->policy == GW_BAL_HASH_IP || b->policy == GW_BAL_HASH_HEADER) &&
	    bal_ring_build(b, svc) != 0)
		goto err_free;
	return b;

err_free:
	bal_free(b);
	return NULL;
}

/* Free <b>; NULL is fine. */
void bal_free(struct balancer *b)
{
	if (!b)
		return;
	free(b->ring);
	free(b->scratch);
	free(b->cum);
	free(b->peers);
	free(b);
}

/* Pick an instance for a request by the service's policy and count it
 * outstanding until bal_release(). <key> matters only to the hashing
 * policies; NULL or a NULL key->data makes them use round robin. O(n) for
 * round robin and least_conn, O(log n) for the others. */
unsigned bal_pick(struct balancer *b, const struct bal_key *key, const bool *usable)
{
	uint32_t i;

	b->usable = usable;
	switch (b->policy) {
	case GW_BAL_LEAST_CONN:
		i = bal_pick_least(b);
		break;
	case GW_BAL_P2C:
		i = bal_pick_p2c(b);
		break;
	case GW_BAL_RANDOM:
		i = bal_pick_random(b);
		break;
	case GW_BAL_HASH_IP:
	case GW_BAL_HASH_HEADER:
		i = key && key->data ? bal_pick_hash(b, key) : bal_pick_swrr(b);
		break;
	case GW_BAL_ROUND_ROBIN:
	default:
		i = bal_pick_swrr(b);
		break;
	}
	b->usable = NULL;
	if (i != UINT32_MAX && !b->load)
		b->peers[i].outstanding++;
	return i;
}

void bal_set_load(struct balancer *b, unsigned (*load)(void *arg, unsigned instance), void *arg)
{
	b->load = load;
	b->load_arg = arg;
}

/* The request sent to <instance> finished, whatever its outcome. An index
 * out of range or an instance with nothing outstanding is ignored. */
void bal_release(struct balancer *b, unsigned instance)
{
	if (!b->load && instance < b->n && b->peers[instance].outstanding > 0)
		b->peers[instance].outstanding--;
}

/* Requests outstanding on <instance>; 0 for an index out of range. */
unsigned bal_outstanding(const struct balancer *b, unsigned instance)
{
	return instance < b->n ? (unsigned)bal_outstanding_of(b, instance) : 0;
}
