/* Creating, formatting and mapping the shared segment.
 *
 * Rules of the segment as a whole (each region's own rules open its file):
 *   - The master creates it once, before the first fork, and keeps it for
 *     its whole life; reloads and worker respawns reuse it, so buckets,
 *     breakers and health survive both.
 *   - The header and the region table are written before the first fork
 *     and never again: fork orders those writes before any worker's read,
 *     and gatewayctl receives the fd only from a running master. No atomics
 *     are needed for them.
 *   - Regions are laid out back to back, page aligned, in enum order; the
 *     rate-limit table takes what is left of shm_size (rounded down to a
 *     power of two buckets). A region is never resized in place: a config
 *     reload that changes shm_size takes effect at the next start.
 *   - A worker killed at any instant leaves the header untouched (it never
 *     writes it); per-region repair is in shm/tables.c. */
#include "shm/segment.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "shm/apikeys.h"
#include "shm/connlimit.h"
#include "shm/inst.h"
#include "shm/jwks.h"
#include "shm/layout.h"
#include "shm/registry.h"
#include "shm/rl.h"
#include "shm/tickets.h"
#include "shm/workers.h"

/* Registry buffers: one current, one a reader may still hold, two to
 * fill, so a publish rarely waits for a reader; each fits SHM_MAX_SERVICES
 * services and SHM_MAX_INSTANCES instances (288 bytes each). */
#define SHM_REG_BUFFERS		4u
#define SHM_REG_BUF_SIZE	(384u << 10)

static const char *const region_names[SHM_REGION_COUNT] = {
	[SHM_REGION_WORKERS] = "workers",
	[SHM_REGION_INSTANCES] = "instances",
	[SHM_REGION_REGISTRY] = "registry",
	[SHM_REGION_TICKETS] = "tickets",
	[SHM_REGION_APIKEYS] = "apikeys",
	[SHM_REGION_JWKS] = "jwks",
	[SHM_REGION_CONNLIMIT] = "connlimit",
	[SHM_REGION_RATELIMIT] = "ratelimit",
};

static uint64_t page_up(uint64_t n)
{
	return (n + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
}

static const struct shm_header_sh *header(const struct shm_segment *seg)
{
	return (const struct shm_header_sh *)seg->base;
}

/* Lay out the fixed regions after the header and give the rest to the
 * rate-limit table. Returns 0 or -EINVAL when <size> leaves it no room. */
static int plan_regions(struct shm_header_sh *h, uint64_t size)
{
	uint64_t at = SHM_PAGE, rest;
	uint64_t fixed[SHM_REGION_RATELIMIT] = {
		[SHM_REGION_WORKERS] = wtab_region_size(SHM_MAX_WORKERS),
		[SHM_REGION_INSTANCES] = inst_region_size(SHM_MAX_INSTANCES, SHM_MAX_WORKERS),
		[SHM_REGION_REGISTRY] = reg_region_size(SHM_REG_BUFFERS, SHM_REG_BUF_SIZE),
		[SHM_REGION_TICKETS] = tickets_region_size(),
		[SHM_REGION_APIKEYS] = apikeys_region_size(),
		[SHM_REGION_JWKS] = jwksr_region_size(),
		[SHM_REGION_CONNLIMIT] = cl_region_size(SHM_CONNLIMIT_BUCKETS, SHM_MAX_WORKERS),
	};
	uint32_t buckets;

	for (unsigned r = 0; r < SHM_REGION_RATELIMIT; r++) {
		h->regions[r].offset = at;
		h->regions[r].size = fixed[r];
		at += page_up(fixed[r]);
	}
	if (at >= size)
		return -EINVAL;
	rest = size - at;
	buckets = rl_buckets_fit(rest);
	if (!buckets)
		return -EINVAL;
	h->regions[SHM_REGION_RATELIMIT].offset = at;
	h->regions[SHM_REGION_RATELIMIT].size = rl_region_size(buckets);
	h->n_regions = SHM_REGION_COUNT;
	return 0;
}

static void format_regions(struct shm_segment *seg)
{
	size_t size;
	void *mem;

	mem = shm_region(seg, SHM_REGION_WORKERS, &size);
	wtab_format_master(mem, SHM_MAX_WORKERS);
	mem = shm_region(seg, SHM_REGION_INSTANCES, &size);
	inst_format_master(mem, SHM_MAX_INSTANCES, SHM_MAX_WORKERS);
	mem = shm_region(seg, SHM_REGION_REGISTRY, &size);
	reg_format_master(mem, SHM_REG_BUFFERS, SHM_REG_BUF_SIZE);
	mem = shm_region(seg, SHM_REGION_TICKETS, &size);
	tickets_format_master(mem, clock_wall_us() / 1000000u);
	mem = shm_region(seg, SHM_REGION_APIKEYS, &size);
	apikeys_format_master(mem);
	mem = shm_region(seg, SHM_REGION_JWKS, &size);
	jwksr_format_master(mem);
	mem = shm_region(seg, SHM_REGION_CONNLIMIT, &size);
	cl_format_master(mem, SHM_CONNLIMIT_BUCKETS, SHM_MAX_WORKERS);
	mem = shm_region(seg, SHM_REGION_RATELIMIT, &size);
	rl_format_master(mem, rl_buckets_fit(size));
}

static void fill_header(struct shm_header_sh *h, uint64_t size)
{
	h->magic = SHM_MAGIC;
	h->version = SHM_LAYOUT_VERSION;
	h->size = size;
	h->epoch_ms = clock_mono_ms();
	h->created_wall_us = clock_wall_us();
	h->master_pid = (int32_t)getpid();
	randombytes_buf(h->hash_key, sizeof(h->hash_key));
}

int shm_create_master(struct shm_segment *seg, uint64_t size)
{
	struct shm_header_sh plan;
	int ret;

	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	memset(&plan, 0, sizeof(plan));
	if (size < SHM_MIN_SIZE || plan_regions(&plan, size) < 0) {
		log_error("shm_size %llu is too small for the shared segment",
			  (unsigned long long)size);
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		log_error("sodium_init() failed");
		return -EIO;
	}
	seg->fd = memfd_create("gatewayd-shm", MFD_CLOEXEC);
	if (seg->fd < 0) {
		ret = -errno;
		log_error("memfd_create() failed: %s", strerror(-ret));
		return ret;
	}
	if (ftruncate(seg->fd, (off_t)size) < 0) {
		ret = -errno;
		log_error("ftruncate(shm, %llu) failed: %s", (unsigned long long)size, strerror(-ret));
		goto err_close;
	}
	seg->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	if (seg->base == MAP_FAILED) {
		ret = -errno;
		seg->base = NULL;
		log_error("mmap(shm, %llu) failed: %s", (unsigned long long)size, strerror(-ret));
		goto err_close;
	}
	seg->size = size;
	seg->writable = true;
	memcpy(seg->base, &plan, sizeof(plan));
	fill_header((struct shm_header_sh *)seg->base, size);
	format_regions(seg);
	return 0;

err_close:
	close(seg->fd);
	seg->fd = -1;
	return ret;
}

/* The header of a segment mapped from outside: is it one we can read? */
static int check_header(const struct shm_header_sh *h, size_t size)
{
	if (h->magic != SHM_MAGIC || h->version != SHM_LAYOUT_VERSION ||
	    h->n_regions != SHM_REGION_COUNT || h->size != size)
		return -EPROTO;
	uint64_t end = SHM_PAGE;

	for (unsigned r = 0; r < SHM_REGION_COUNT; r++) {
		const struct shm_region_sh *reg = &h->regions[r];

		/* Page aligned, in order, not overlapping, inside the file. */
		if (reg->offset % SHM_PAGE || reg->offset < end || reg->offset > size ||
		    reg->size > size - reg->offset)
			return -EPROTO;
		end = reg->offset + reg->size;
	}
	return 0;
}

int shm_map_fd(struct shm_segment *seg, int fd, bool writable)
{
	off_t end = lseek(fd, 0, SEEK_END);
	int ret;

	memset(seg, 0, sizeof(*seg));
	seg->fd = fd;
	if (end < (off_t)SHM_PAGE) {
		ret = end < 0 ? -errno : -EPROTO;
		goto err_close;
	}
	seg->base = mmap(NULL, (size_t)end, writable ? PROT_READ | PROT_WRITE : PROT_READ,
			 MAP_SHARED, fd, 0);
	if (seg->base == MAP_FAILED) {
		ret = -errno;
		seg->base = NULL;
		goto err_close;
	}
	seg->size = (size_t)end;
	seg->writable = writable;
	ret = check_header(header(seg), seg->size);
	if (ret < 0)
		goto err_unmap;
	return 0;

err_unmap:
	munmap(seg->base, seg->size);
	seg->base = NULL;
err_close:
	close(fd);
	seg->fd = -1;
	return ret;
}

void shm_drop_fd(struct shm_segment *seg)
{
	if (seg->fd >= 0)
		close(seg->fd);
	seg->fd = -1;
}

void shm_unmap(struct shm_segment *seg)
{
	if (seg->base)
		munmap(seg->base, seg->size);
	seg->base = NULL;
	shm_drop_fd(seg);
}

void *shm_region(const struct shm_segment *seg, enum shm_region r, size_t *size)
{
	const struct shm_region_sh *reg = &header(seg)->regions[r];

	if (size)
		*size = reg->size;
	return seg->base + reg->offset;
}

const char *shm_region_name(enum shm_region r)
{
	return r < SHM_REGION_COUNT ? region_names[r] : "?";
}

uint64_t shm_epoch_ms(const struct shm_segment *seg)
{
	return header(seg)->epoch_ms;
}

uint64_t shm_created_wall_us(const struct shm_segment *seg)
{
	return header(seg)->created_wall_us;
}

/* Parts longer than this are hashed on their own first, so the message
 * buffer below is bounded whatever a client sends. */
#define HASH_PART_INLINE 256u
#define HASH_PARTS_MAX 8u
#define HASH_MSG_MAX (HASH_PARTS_MAX * (8u + HASH_PART_INLINE))

uint64_t shm_hash(const struct shm_segment *seg, const struct shm_hash_part *parts, size_t n)
{
	unsigned char msg[HASH_MSG_MAX], out[crypto_shorthash_BYTES];
	const unsigned char *key = header(seg)->hash_key;
	size_t len = 0;
	uint64_t h;

	for (size_t i = 0; i < n && i < HASH_PARTS_MAX; i++) {
		uint64_t plen = parts[i].len;

		memcpy(msg + len, &plen, 8);
		len += 8;
		if (plen <= HASH_PART_INLINE) {
			memcpy(msg + len, parts[i].data, plen);
			len += plen;
		} else {
			crypto_shorthash(msg + len, parts[i].data, plen, key);
			len += crypto_shorthash_BYTES;
		}
	}
	crypto_shorthash(out, msg, len, key);
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}
