/* shm/registry.c through its public header, in one process: building and
 * publishing, generations, the -E2BIG and -EAGAIN contracts, the master's
 * repair of a dead reader, and the read-only copy from a PROT_READ
 * mapping. Reader ids stand in for worker processes here; the cross-process
 * races are registry_stress.c's job. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/registry.h"
#include "tests/unit/check.h"

#define BUF_SIZE 8192u

static struct reg_instance inst4(uint32_t service, uint32_t slot, const char *ip, uint16_t port)
{
	struct reg_instance in;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	memset(&in, 0, sizeof(in));
	inet_pton(AF_INET, ip, &sin.sin_addr);
	memcpy(&in.addr, &sin, sizeof(sin));
	in.addr_len = sizeof(sin);
	in.service = service;
	in.slot = slot;
	in.weight = 1;
	snprintf(in.host, sizeof(in.host), "host-%u", slot);
	return in;
}

static struct reg_instance inst6(uint32_t service, uint32_t slot, const char *ip, uint16_t port)
{
	struct reg_instance in;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	memset(&in, 0, sizeof(in));
	inet_pton(AF_INET6, ip, &sin6.sin6_addr);
	memcpy(&in.addr, &sin6, sizeof(sin6));
	in.addr_len = sizeof(sin6);
	in.service = service;
	in.slot = slot;
	in.weight = 3;
	return in;
}

/* "users" (2 instances) then "orders" (1): names out of order, so the
 * by-name index is exercised. <tag> goes into the first slot. */
static void build_two(struct reg_builder *b, uint32_t tag)
{
	struct reg_instance in;

	reg_builder_reset(b);
	CHECK_INT(reg_builder_add_service(b, "users"), 0);
	in = inst4(0, tag, "10.0.0.1", 8080);
	in.flags = REG_INST_DRAINING;
	in.expires_ms = 12345;
	CHECK_INT(reg_builder_add_instance(b, &in), 0);
	in = inst6(0, 7, "::1", 9000);
	CHECK_INT(reg_builder_add_instance(b, &in), 1);
	CHECK_INT(reg_builder_add_service(b, "orders"), 1);
	in = inst4(1, 9, "192.168.1.2", 80);
	CHECK_INT(reg_builder_add_instance(b, &in), 2);
}

/* A region in an anonymous shared mapping (the unit tests need no fd
 * except for the read-only case). */
static void *region_new(uint32_t n_buffers, size_t buf_size, struct reg_table *r)
{
	size_t size = reg_region_size(n_buffers, buf_size);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(mem != MAP_FAILED);
	CHECK_INT(reg_format_master(mem, n_buffers, buf_size), 0);
	CHECK_INT(reg_attach(r, mem, size), 0);
	return mem;
}

static void test_geometry(void)
{
	size_t size = reg_region_size(3, BUF_SIZE);
	struct reg_table r;
	void *mem;

	CHECK_INT(reg_region_size(2, BUF_SIZE), 0);
	CHECK_INT(reg_region_size(REG_BUFFERS_MAX + 1, BUF_SIZE), 0);
	CHECK_INT(reg_region_size(3, 10), 0);
	CHECK(reg_region_size(3, 100) == reg_region_size(3, 128));	/* rounded to lines */
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	CHECK_INT(reg_attach(&r, mem, size), -EINVAL);		/* zeroes: not formatted */
	CHECK_INT(reg_format_master(mem, 2, BUF_SIZE), -EINVAL);
	CHECK_INT(reg_format_master((char *)mem + 8, 3, BUF_SIZE), -EINVAL);
	CHECK_INT(reg_format_master(mem, 3, BUF_SIZE), 0);
	CHECK_INT(reg_attach(&r, mem, size - 1), -EINVAL);
	CHECK_INT(reg_attach(&r, (char *)mem + 64, size - 64), -EINVAL);
	CHECK_INT(reg_attach(&r, mem, size), 0);
	CHECK_INT(r.n_buffers, 3);
	CHECK_INT(r.buf_size, BUF_SIZE);
	munmap(mem, size);
}

static void test_builder_errors(void)
{
	struct reg_builder *b = reg_builder_new();
	char longname[REG_NAME_MAX + 1];
	struct reg_instance in;

	CHECK(b != NULL);
	memset(longname, 'x', REG_NAME_MAX);
	longname[REG_NAME_MAX] = '\0';
	in = inst4(0, 1, "10.0.0.1", 1);
	CHECK_INT(reg_builder_add_instance(b, &in), -EINVAL);	/* no service yet */
	CHECK_INT(reg_builder_add_service(b, ""), -EINVAL);
	CHECK_INT(reg_builder_add_service(b, NULL), -EINVAL);
	CHECK_INT(reg_builder_add_service(b, longname), -ENAMETOOLONG);
	longname[REG_NAME_MAX - 1] = '\0';
	CHECK_INT(reg_builder_add_service(b, longname), 0);	/* 63 bytes fit */
	CHECK_INT(reg_builder_add_service(b, "a"), 1);
	CHECK_INT(reg_builder_add_service(b, "a"), -EEXIST);
	CHECK_INT(reg_builder_add_instance(b, &in), -EINVAL);	/* service 0 is not last */
	in.service = 1;
	in.weight = 0;
	CHECK_INT(reg_builder_add_instance(b, &in), -EINVAL);
	in.weight = 1;
	in.addr_len = 4;
	CHECK_INT(reg_builder_add_instance(b, &in), -EINVAL);
	in.addr_len = sizeof(in.addr) + 1;
	CHECK_INT(reg_builder_add_instance(b, &in), -EINVAL);
	in.addr.ss_family = AF_UNIX;
	in.addr_len = sizeof(sa_family_t) + 2;
	CHECK_INT(reg_builder_add_instance(b, &in), -EAFNOSUPPORT);
	in = inst4(1, 1, "10.0.0.1", 1);
	CHECK_INT(reg_builder_add_instance(b, &in), 0);
	/* Header, two services, by_name padded to 8, one instance. */
	CHECK_INT(reg_builder_bytes(b), 64 + 2 * sizeof(struct reg_service) + 8 +
		  sizeof(struct reg_instance));
	CHECK_INT(reg_builder_bytes(b), REG_SNAPSHOT_BYTES(2, 1));
	CHECK_INT(REG_SNAPSHOT_BYTES(3, 0), 64 + 3 * sizeof(struct reg_service) + 16);
	reg_builder_reset(b);
	CHECK_INT(reg_builder_bytes(b), 64);
	CHECK_INT(reg_builder_add_service(b, "a"), 0);		/* reset forgot the names */
	reg_builder_free(b);
	reg_builder_free(NULL);
}

/* The snapshot build_two() made, as <v> shows it. */
static void check_two(const struct reg_view *v, uint32_t tag)
{
	const struct reg_service *users, *orders;

	CHECK_INT(v->n_services, 2);
	CHECK_INT(v->n_instances, 3);
	users = reg_service_find(v, "users");
	orders = reg_service_find(v, "orders");
	CHECK(users == &v->services[0]);
	CHECK(orders == &v->services[1]);
	CHECK(reg_service_find(v, "nope") == NULL);
	CHECK(reg_service_find(v, "user") == NULL);
	if (!users || !orders)
		return;
	CHECK_INT(users->first, 0);
	CHECK_INT(users->n, 2);
	CHECK_INT(orders->first, 2);
	CHECK_INT(orders->n, 1);
	CHECK_INT(v->instances[0].slot, tag);
	CHECK_INT(v->instances[0].flags, REG_INST_DRAINING);
	CHECK_INT(v->instances[0].expires_ms, 12345);
	CHECK_STR(v->instances[0].text, "10.0.0.1:8080");
	CHECK_STR(v->instances[1].text, "[::1]:9000");
	CHECK_INT(v->instances[1].weight, 3);
	CHECK_INT(v->instances[2].service, 1);
	CHECK_STR(v->instances[2].text, "192.168.1.2:80");
	CHECK_INT(v->instances[2].addr.ss_family, AF_INET);
	CHECK_INT(v->instances[2].addr_len, sizeof(struct sockaddr_in));
}

static void test_round_trip(void)
{
	struct reg_builder *b = reg_builder_new();
	struct reg_table r;
	struct reg_view v;
	uint64_t gen = 99;
	void *mem = region_new(3, BUF_SIZE, &r);

	CHECK_INT(reg_current_gen(&r), 0);
	CHECK_INT(reg_enter(&r, 0, &v), 0);		/* nothing yet: empty, offline */
	CHECK_INT(v.n_services, 0);
	CHECK(reg_service_find(&v, "users") == NULL);
	CHECK_INT(reg_reader_gen(&r, 0), 0);
	for (uint32_t i = 1; i <= 10; i++) {
		build_two(b, 100 + i);
		CHECK_INT(reg_publish_master(&r, b, &gen), 0);
		CHECK_INT(gen, i);
		CHECK_INT(reg_current_gen(&r), i);
		CHECK_INT(reg_enter(&r, 5, &v), i);
		CHECK_INT(reg_reader_gen(&r, 5), i);
		check_two(&v, 100 + i);
	}
	reg_offline(&r, 5);
	CHECK_INT(reg_reader_gen(&r, 5), 0);
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);
	CHECK_INT(reg_current_gen(&r), 11);
	reg_builder_free(b);
	munmap(mem, r.size);
}

/* "users" has the tag in its first slot and a host of "host-<tag>". */
static void check_host(const struct reg_view *v, uint32_t tag)
{
	char want[32];

	snprintf(want, sizeof(want), "host-%u", tag);
	CHECK_STR(v->instances[0].host, want);
}

static void test_too_big(void)
{
	struct reg_builder *b = reg_builder_new();
	struct reg_instance in = inst4(0, 0, "10.0.0.1", 80);
	struct reg_table r;
	struct reg_view v;
	void *mem = region_new(3, 1024, &r);
	int i;

	CHECK_INT(reg_builder_add_service(b, "s"), 0);
	for (i = 0; reg_builder_bytes(b) + sizeof(in) <= 1024; i++)
		CHECK_INT(reg_builder_add_instance(b, &in), i);
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);		/* exactly full fits */
	CHECK_INT(reg_builder_add_instance(b, &in), i);
	CHECK_INT(reg_publish_master(&r, b, NULL), -E2BIG);
	CHECK_INT(reg_current_gen(&r), 1);
	CHECK_INT(reg_enter(&r, 0, &v), 1);
	CHECK_INT(v.n_instances, (unsigned)i);
	reg_builder_free(b);
	munmap(mem, r.size);
}

/* Three buffers: the current one plus two held by readers 0 and 1 leave
 * nothing to fill until either moves on or goes offline. */
static void test_busy(void)
{
	struct reg_builder *b = reg_builder_new();
	struct reg_table r;
	struct reg_view v0, v1, v2;
	uint64_t gen = 0;
	void *mem = region_new(3, BUF_SIZE, &r);

	build_two(b, 1);
	CHECK_INT(reg_publish_master(&r, b, &gen), 0);
	CHECK_INT(reg_enter(&r, 0, &v0), 1);
	build_two(b, 2);
	CHECK_INT(reg_publish_master(&r, b, &gen), 0);
	CHECK_INT(reg_enter(&r, 1, &v1), 2);
	build_two(b, 3);
	CHECK_INT(reg_publish_master(&r, b, &gen), 0);
	CHECK_INT(gen, 3);
	build_two(b, 4);
	for (int k = 0; k < 5; k++)
		CHECK_INT(reg_publish_master(&r, b, &gen), -EAGAIN);
	CHECK_INT(gen, 3);
	CHECK_INT(reg_current_gen(&r), 3);
	check_host(&v0, 1);				/* held snapshots untouched */
	check_host(&v1, 2);
	/* Reader 2 on the current generation holds nothing extra. */
	CHECK_INT(reg_enter(&r, 2, &v2), 3);
	CHECK_INT(reg_publish_master(&r, b, NULL), -EAGAIN);
	/* Reader 0 moves to gen 3: gen 1's buffer frees. */
	CHECK_INT(reg_enter(&r, 0, &v0), 3);
	CHECK_INT(reg_publish_master(&r, b, &gen), 0);
	CHECK_INT(gen, 4);
	check_host(&v1, 2);
	/* Now 1 holds gen 2, 0 and 2 hold gen 3, gen 4 is current. */
	build_two(b, 5);
	CHECK_INT(reg_publish_master(&r, b, NULL), -EAGAIN);
	reg_offline(&r, 1);
	CHECK_INT(reg_publish_master(&r, b, &gen), 0);
	CHECK_INT(gen, 5);
	CHECK_INT(reg_enter(&r, 1, &v1), 5);
	check_host(&v1, 5);
	check_two(&v1, 5);
	reg_builder_free(b);
	munmap(mem, r.size);
}

/* A reader that died online keeps its buffer until the master forgets it. */
static void test_forget(void)
{
	struct reg_builder *b = reg_builder_new();
	struct reg_table r;
	struct reg_view v;
	void *mem = region_new(3, BUF_SIZE, &r);

	build_two(b, 1);
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);
	CHECK_INT(reg_enter(&r, 62, &v), 1);			/* "dies" here */
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);
	CHECK_INT(reg_enter(&r, 63, &v), 2);
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);
	CHECK_INT(reg_publish_master(&r, b, NULL), -EAGAIN);
	reg_forget_reader_master(&r, 62);
	CHECK_INT(reg_reader_gen(&r, 62), 0);
	CHECK_INT(reg_publish_master(&r, b, NULL), 0);
	CHECK_INT(reg_current_gen(&r), 4);
	CHECK_INT(reg_reader_gen(&r, 63), 2);			/* others untouched */
	reg_builder_free(b);
	munmap(mem, r.size);
}

/* gatewayctl's path: the memfd mapped a second time, read-only, at
 * another address. Any store through it would SIGSEGV. */
static void test_readonly(void)
{
	size_t size = reg_region_size(3, BUF_SIZE);
	int fd = memfd_create("reg-test", MFD_CLOEXEC);
	struct reg_builder *b = reg_builder_new();
	struct reg_table rw, ro, rw2;
	struct reg_view v;
	void *mem, *rmem, *mem2, *dst = malloc(BUF_SIZE);

	CHECK(fd >= 0 && dst);
	CHECK_INT(ftruncate(fd, (off_t)size), 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rmem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	mem2 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED && rmem != MAP_FAILED && mem2 != MAP_FAILED);
	CHECK_INT(reg_format_master(mem, 3, BUF_SIZE), 0);
	CHECK_INT(reg_attach(&rw, mem, size), 0);
	CHECK_INT(reg_attach(&ro, rmem, size), 0);
	CHECK_INT(reg_attach(&rw2, mem2, size), 0);
	CHECK_INT(reg_copy_readonly(&ro, dst, BUF_SIZE, &v), -ENOENT);
	build_two(b, 42);
	CHECK_INT(reg_publish_master(&rw, b, NULL), 0);
	CHECK_INT(reg_current_gen(&ro), 1);
	CHECK_INT(reg_copy_readonly(&ro, dst, BUF_SIZE, &v), 0);
	CHECK_INT(v.gen, 1);
	CHECK((const void *)v.services == dst);
	check_two(&v, 42);
	check_host(&v, 42);
	CHECK_INT(reg_copy_readonly(&ro, dst, 100, &v), -ENOSPC);
	CHECK_INT(reg_copy_readonly(&ro, (char *)dst + 1, BUF_SIZE, &v), -EINVAL);
	/* Position independence: a reader at another address sees the same. */
	CHECK_INT(reg_enter(&rw2, 3, &v), 1);
	check_two(&v, 42);
	CHECK((const char *)v.services > (const char *)mem2);
	CHECK((const char *)v.services < (const char *)mem2 + size);
	free(dst);
	reg_builder_free(b);
	munmap(mem, size);
	munmap(rmem, size);
	munmap(mem2, size);
	close(fd);
}

int main(void)
{
	test_geometry();
	test_builder_errors();
	test_round_trip();
	test_too_big();
	test_busy();
	test_forget();
	test_readonly();
	return CHECK_EXIT();
}
