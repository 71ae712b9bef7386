/* shm/segment.c in one process: creating and formatting a segment, the
 * region table (every region present, page aligned, in order, inside the
 * segment, disjoint), mapping it again from an fd read-write and read-only,
 * refusing copies whose header was damaged, the keyed hash and the 32-bit
 * segment clock. The layout header is included because the region table and
 * the header bytes are this test's subject (STYLE §3). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "shm/tables.h"
#include "tests/unit/check.h"

#define BIG_SIZE (64ull << 20)

static unsigned logged;

static void count_lines(const char *line, size_t len, void *arg)
{
	(void)line;
	(void)len;
	(void)arg;
	logged++;
}

static uint64_t region_offset(const struct shm_segment *seg, enum shm_region r, size_t *size)
{
	return (uint64_t)((uint8_t *)shm_region(seg, r, size) - seg->base);
}

/* Every region non-empty, page aligned, after the header page, inside the
 * segment, in enum order and disjoint; every region formatted (attaches). */
static void check_layout(const struct shm_segment *seg)
{
	uint64_t prev_end = SHM_PAGE, rl_off;
	struct shm_tables t;
	size_t rl_size;

	for (unsigned r = 0; r < SHM_REGION_COUNT; r++) {
		size_t size;
		uint64_t off = region_offset(seg, (enum shm_region)r, &size);

		if (size == 0)
			fprintf(stderr, "region %s is empty\n", shm_region_name((enum shm_region)r));
		CHECK(size > 0);
		CHECK_INT(off % SHM_PAGE, 0);
		CHECK(off >= prev_end);		/* in order, disjoint, after the header */
		CHECK(off + size <= seg->size);
		prev_end = off + size;
	}
	CHECK_INT(shm_tables_attach(&t, seg, -1), 0);
	CHECK_INT(t.workers.n, SHM_MAX_WORKERS);
	CHECK_INT(t.inst.n_slots, SHM_MAX_INSTANCES);
	CHECK_INT(t.inst.n_workers, SHM_MAX_WORKERS);
	CHECK(t.rl.n_buckets > 0);
	CHECK_INT(t.rl.n_buckets & (t.rl.n_buckets - 1), 0);	/* a power of two */
	/* The rate-limit table is exactly its buckets, and twice as many
	 * would not have fitted in what was left. */
	rl_off = region_offset(seg, SHM_REGION_RATELIMIT, &rl_size);

	CHECK_INT(rl_size, rl_region_size(t.rl.n_buckets));
	CHECK(rl_region_size(2 * t.rl.n_buckets) > seg->size - rl_off);
}

static void test_names(void)
{
	for (unsigned r = 0; r < SHM_REGION_COUNT; r++) {
		CHECK(strcmp(shm_region_name((enum shm_region)r), "?") != 0);
		for (unsigned q = 0; q < r; q++)
			CHECK(strcmp(shm_region_name((enum shm_region)r),
				     shm_region_name((enum shm_region)q)) != 0);
	}
	CHECK_STR(shm_region_name(SHM_REGION_COUNT), "?");
}

static void test_create_sizes(void)
{
	struct shm_segment small, big, odd;
	uint64_t before = clock_mono_ms();
	size_t rl_small, rl_big;

	CHECK_INT(shm_create_master(&small, SHM_MIN_SIZE), 0);
	CHECK(small.base != NULL);
	CHECK(small.fd >= 0);
	CHECK(small.writable);
	CHECK_INT(small.size, SHM_MIN_SIZE);
	/* Monotonic ordering, not a duration: created between two reads. */
	CHECK(shm_epoch_ms(&small) >= before);
	CHECK(shm_epoch_ms(&small) <= clock_mono_ms());
	CHECK(shm_created_wall_us(&small) > 0);
	check_layout(&small);

	CHECK_INT(shm_create_master(&big, BIG_SIZE), 0);
	CHECK_INT(big.size, BIG_SIZE);
	check_layout(&big);
	/* The fixed regions do not grow; the rate-limit table takes the rest. */
	for (unsigned r = 0; r < SHM_REGION_RATELIMIT; r++) {
		size_t a, b;

		CHECK_INT(region_offset(&small, (enum shm_region)r, &a),
			  region_offset(&big, (enum shm_region)r, &b));
		CHECK_INT(a, b);
	}
	/* A size that is no multiple of a page works the same. */
	CHECK_INT(shm_create_master(&odd, SHM_MIN_SIZE + 12345), 0);
	CHECK_INT(odd.size, SHM_MIN_SIZE + 12345);
	check_layout(&odd);
	shm_unmap(&odd);
	shm_region(&small, SHM_REGION_RATELIMIT, &rl_small);
	shm_region(&big, SHM_REGION_RATELIMIT, &rl_big);
	CHECK(rl_big > rl_small);
	shm_unmap(&small);
	shm_unmap(&big);
	CHECK(small.base == NULL);
	CHECK_INT(small.fd, -1);
	shm_unmap(&small);		/* twice is safe */
}

static void test_too_small(void)
{
	static const uint64_t sizes[] = { 0, SHM_PAGE, 1ull << 20, SHM_MIN_SIZE - 1 };
	struct shm_segment seg;

	log_set_sink(count_lines, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		logged = 0;
		CHECK_INT(shm_create_master(&seg, sizes[i]), -EINVAL);
		CHECK(seg.base == NULL);
		CHECK_INT(seg.fd, -1);
		CHECK_INT(logged, 1);		/* logged once, where decided */
		shm_unmap(&seg);		/* safe on a failed create */
	}
	log_set_sink(NULL, NULL);
}

/* Reopen the master's memfd through /proc with <flags>. */
static int reopen(const struct shm_segment *seg, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", seg->fd);
	return open(path, flags | O_CLOEXEC);
}

/* The permissions /proc/self/maps shows for the mapping starting at <p>. */
static int maps_perms(const void *p, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 &&
		    start == (unsigned long)(uintptr_t)p) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_map_read_only(void)
{
	struct shm_segment seg, ro, rw;
	struct shm_tables mt, rt, wt;
	uint64_t attempts, failures;
	struct shm_hash_part part = { "key", 3 };
	struct brk_view v;
	static const struct brk_policy pol = {
		.mode = BRK_MODE_FAILURES, .failures = 1, .window_ms = 1000,
		.open_ms = 1000, .max_open_ms = 1000, .probes = 1,
	};
	char perms[5];
	int fd;

	CHECK_INT(shm_create_master(&seg, SHM_MIN_SIZE), 0);
	CHECK_INT(shm_tables_attach(&mt, &seg, -1), 0);

	fd = reopen(&seg, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_INT(shm_map_fd(&ro, fd, false), 0);
	CHECK(!ro.writable);
	CHECK_INT(ro.size, seg.size);
	CHECK_INT(ro.fd, fd);
	CHECK(ro.base != seg.base);
	CHECK_INT(maps_perms(ro.base, perms), 0);
	CHECK(perms[0] == 'r' && perms[1] == '-' && perms[3] == 's');	/* r--s */
	CHECK_INT(shm_tables_attach(&rt, &ro, -1), 0);		/* attaching writes nothing */
	CHECK_INT(shm_epoch_ms(&ro), shm_epoch_ms(&seg));
	CHECK_INT(shm_hash(&ro, &part, 1), shm_hash(&seg, &part, 1));

	/* The master's writes show through the read-only view. */
	CHECK_INT(wtab_high_water(&rt.workers), 0);
	CHECK_INT(wtab_claim_master(&mt.workers, 0, -1, 7), 0);
	CHECK_INT(wtab_high_water(&rt.workers), 1);
	CHECK_INT(wtab_get_state(&rt.workers, 0), WTAB_STARTING);
	CHECK(inst_is_up(&rt.inst, 5));
	brk_force_open(inst_breaker(&mt.inst, 5), 10);
	brk_read(inst_breaker(&rt.inst, 5), &pol, &v);
	CHECK_INT(v.state, BRK_OPEN);

	/* Asking for a writable mapping of a read-only fd: -EACCES, fd taken. */
	fd = reopen(&seg, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_INT(shm_map_fd(&rw, fd, true), -EACCES);
	CHECK(rw.base == NULL);
	CHECK_INT(rw.fd, -1);
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

	/* A read-write reopen shares the same pages both ways. */
	fd = reopen(&seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK_INT(shm_map_fd(&rw, fd, true), 0);
	CHECK(rw.writable);
	CHECK_INT(maps_perms(rw.base, perms), 0);
	CHECK(perms[0] == 'r' && perms[1] == 'w' && perms[3] == 's');
	CHECK_INT(shm_tables_attach(&wt, &rw, 0), 0);
	inst_count_attempt(&wt.inst, 0, 9, true);
	inst_counts(&mt.inst, 9, 1, &attempts, &failures);
	CHECK_INT(attempts, 1);
	CHECK_INT(failures, 1);

	/* drop_fd keeps the mapping usable. */
	shm_drop_fd(&ro);
	CHECK_INT(ro.fd, -1);
	CHECK_INT(wtab_high_water(&rt.workers), 1);
	shm_unmap(&ro);
	shm_unmap(&rw);
	shm_unmap(&seg);
}

/* A fresh memfd holding a copy of <seg>'s bytes, <len> long (a shorter
 * copy is truncated, a longer one zero-filled). */
static int copy_segment(const struct shm_segment *seg, size_t len)
{
	int fd = memfd_create("segment-copy", MFD_CLOEXEC);
	size_t n = len < seg->size ? len : seg->size, done = 0;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		return -1;
	while (done < n) {
		ssize_t w = pwrite(fd, seg->base + done, n - done, (off_t)done);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	return fd;
}

/* Map a copy of <seg> whose header field at <off> was XORed with <mask>
 * (mask 0: an intact copy); returns shm_map_fd()'s result. */
static int map_damaged(const struct shm_segment *seg, size_t off, uint8_t mask, size_t len)
{
	struct shm_segment copy;
	int fd = copy_segment(seg, len), ret;
	uint8_t b;

	CHECK(fd >= 0);
	if (fd < 0)
		return -999;
	if (mask) {
		CHECK_INT(pread(fd, &b, 1, (off_t)off), 1);
		b ^= mask;
		CHECK_INT(pwrite(fd, &b, 1, (off_t)off), 1);
	}
	ret = shm_map_fd(&copy, fd, false);
	if (ret == 0) {
		struct shm_tables t;

		CHECK_INT(shm_tables_attach(&t, &copy, -1), 0);
		shm_unmap(&copy);
	} else {
		CHECK(copy.base == NULL);
		CHECK_INT(copy.fd, -1);		/* closed on failure too */
	}
	return ret;
}

static void test_damaged_copies(void)
{
	struct shm_segment seg;
	size_t regs = offsetof(struct shm_header_sh, regions);
	size_t last = regs + (SHM_REGION_COUNT - 1) * sizeof(struct shm_region_sh);

	CHECK_INT(shm_create_master(&seg, SHM_MIN_SIZE), 0);
	CHECK_INT(map_damaged(&seg, 0, 0, seg.size), 0);		/* intact copy maps */
	CHECK_INT(map_damaged(&seg, offsetof(struct shm_header_sh, magic), 0x01, seg.size),
		  -EPROTO);
	CHECK_INT(map_damaged(&seg, offsetof(struct shm_header_sh, magic) + 7, 0x80, seg.size),
		  -EPROTO);
	CHECK_INT(map_damaged(&seg, offsetof(struct shm_header_sh, version), 0x01, seg.size),
		  -EPROTO);
	CHECK_INT(map_damaged(&seg, offsetof(struct shm_header_sh, version) + 3, 0x40, seg.size),
		  -EPROTO);
	CHECK_INT(map_damaged(&seg, offsetof(struct shm_header_sh, n_regions), 0x01, seg.size),
		  -EPROTO);
	/* A region pointing past the end, in offset and in size. */
	CHECK_INT(map_damaged(&seg, last + offsetof(struct shm_region_sh, offset) + 4, 0x01,
			      seg.size), -EPROTO);
	CHECK_INT(map_damaged(&seg, last + offsetof(struct shm_region_sh, size) + 4, 0x01,
			      seg.size), -EPROTO);
	CHECK_INT(map_damaged(&seg, regs + offsetof(struct shm_region_sh, offset) + 7, 0x80,
			      seg.size), -EPROTO);
	/* A copy of another length than the header says. */
	CHECK_INT(map_damaged(&seg, 0, 0, seg.size - SHM_PAGE), -EPROTO);
	CHECK_INT(map_damaged(&seg, 0, 0, seg.size + SHM_PAGE), -EPROTO);
	CHECK_INT(map_damaged(&seg, 0, 0, SHM_PAGE - 1), -EPROTO);	/* not even a header */
	CHECK_INT(map_damaged(&seg, 0, 0, 0), -EPROTO);
	shm_unmap(&seg);
}

static uint64_t hash2(const struct shm_segment *seg, const char *a, const char *b)
{
	struct shm_hash_part p[2] = { { a, strlen(a) }, { b, strlen(b) } };

	return shm_hash(seg, p, 2);
}

static void test_hash(void)
{
	struct shm_segment s1, s2;
	struct shm_hash_part p[8];
	static uint8_t big[8][1000];
	uint64_t h, seen[64];

	CHECK_INT(shm_create_master(&s1, SHM_MIN_SIZE), 0);
	CHECK_INT(shm_create_master(&s2, SHM_MIN_SIZE), 0);
	/* Deterministic per segment; keyed, so another segment disagrees
	 * (a false failure here has probability 2^-64). */
	CHECK_INT(hash2(&s1, "GET", "/users"), hash2(&s1, "GET", "/users"));
	CHECK(hash2(&s1, "GET", "/users") != hash2(&s2, "GET", "/users"));
	/* Length-prefixed: where a part ends matters. */
	CHECK(hash2(&s1, "ab", "c") != hash2(&s1, "a", "bc"));
	CHECK(hash2(&s1, "abc", "") != hash2(&s1, "", "abc"));
	p[0] = (struct shm_hash_part){ "abc", 3 };
	CHECK(shm_hash(&s1, p, 1) != hash2(&s1, "abc", ""));
	CHECK(shm_hash(&s1, p, 0) != shm_hash(&s1, p, 1));
	CHECK(shm_hash(&s1, p, 0) != 0);

	/* Parts longer than the inline limit: every byte still counts, and
	 * the maximum (8 parts of 1000 bytes) is handled. */
	for (unsigned i = 0; i < 8; i++) {
		for (unsigned j = 0; j < sizeof(big[i]); j++)
			big[i][j] = (uint8_t)(i * 31 + j);
		p[i] = (struct shm_hash_part){ big[i], sizeof(big[i]) };
	}
	h = shm_hash(&s1, p, 8);
	CHECK_INT(shm_hash(&s1, p, 8), h);
	CHECK(h != 0);
	big[7][999] ^= 1;
	CHECK(shm_hash(&s1, p, 8) != h);
	big[7][999] ^= 1;
	big[0][0] ^= 1;
	CHECK(shm_hash(&s1, p, 8) != h);
	big[0][0] ^= 1;
	/* Around the inline limit (256): prefixes of one buffer all differ,
	 * and a long part differs from the same bytes split in two. */
	for (size_t len = 250; len < 250 + 16; len++) {
		p[0] = (struct shm_hash_part){ big[0], len };
		seen[len - 250] = shm_hash(&s1, p, 1);
		for (size_t k = 0; k < len - 250; k++)
			CHECK(seen[k] != seen[len - 250]);
	}
	p[0] = (struct shm_hash_part){ big[0], 300 };
	h = shm_hash(&s1, p, 1);
	p[0] = (struct shm_hash_part){ big[0], 150 };
	p[1] = (struct shm_hash_part){ big[0] + 150, 150 };
	CHECK(shm_hash(&s1, p, 2) != h);
	/* Never 0: not forceable with a random key; sample it. */
	for (unsigned i = 0; i < 10000; i++) {
		p[0] = (struct shm_hash_part){ &i, sizeof(i) };
		CHECK(shm_hash(&s1, p, 1) != 0);
	}
	shm_unmap(&s1);
	shm_unmap(&s2);
}

static void test_clock32(void)
{
	struct shm_segment seg;
	uint64_t e;

	CHECK_INT(shm_create_master(&seg, SHM_MIN_SIZE), 0);
	e = shm_epoch_ms(&seg);
	CHECK_INT(shm_clock32(&seg, e), 0);
	CHECK_INT(shm_clock32(&seg, e + 1234), 1234);
	CHECK_INT(shm_clock32(&seg, e + UINT32_MAX), UINT32_MAX);
	/* Wraps after 2^32 ms (~49.7 days) ... */
	CHECK_INT(shm_clock32(&seg, e + (1ull << 32)), 0);
	CHECK_INT(shm_clock32(&seg, e + (1ull << 32) + 7), 7);
	CHECK_INT(shm_clock32(&seg, e + 3 * (1ull << 32) + 99), 99);
	/* ... and differences across the wrap stay right when taken modulo 2^32. */
	CHECK_INT((uint32_t)(shm_clock32(&seg, e + (1ull << 32) + 5) -
			     shm_clock32(&seg, e + (1ull << 32) - 5)), 10);
	shm_unmap(&seg);
}

int main(void)
{
	test_names();
	test_create_sizes();
	test_too_small();
	test_map_read_only();
	test_damaged_copies();
	test_hash();
	test_clock32();
	return CHECK_EXIT();
}
