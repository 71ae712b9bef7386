/* shm/jwks.c in one process: empty slots, publish and read back, the
 * double buffer across generations, the section-name check, the size and
 * argument bounds, the request word and the attempt counter. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "shm/jwks.h"
#include "tests/unit/check.h"

static char out[JWKSR_TEXT_MAX];

static void test_publish_read(struct jwksr *t)
{
	size_t len = 0;
	uint64_t gen = 0;

	CHECK_INT(jwksr_gen(t, 0), 0);
	CHECK_INT(jwksr_read(t, 0, "corp", out, sizeof(out), &len, &gen), -ENOENT);
	CHECK_INT(jwksr_publish_master(t, 0, "corp", "{\"keys\":[1]}", 12), 1);
	CHECK_INT(jwksr_gen(t, 0), 1);
	CHECK_INT(jwksr_read(t, 0, "corp", out, sizeof(out), &len, &gen), 0);
	CHECK_INT(len, 12);
	CHECK_INT(gen, 1);
	CHECK(memcmp(out, "{\"keys\":[1]}", 12) == 0);
	/* Another section's name: not ours (a reload moved the slot). */
	CHECK_INT(jwksr_read(t, 0, "corpx", out, sizeof(out), &len, &gen), -ENOENT);
	CHECK_INT(jwksr_read(t, 0, "cor", out, sizeof(out), &len, &gen), -ENOENT);
	/* Generations alternate buffers; each read gets the newest. */
	for (int i = 2; i < 10; i++) {
		char doc[32];
		int n = snprintf(doc, sizeof(doc), "{\"keys\":[%d]}", i);

		CHECK_INT(jwksr_publish_master(t, 0, "corp", doc, (size_t)n), i);
		CHECK_INT(jwksr_read(t, 0, "corp", out, sizeof(out), &len, &gen), 0);
		CHECK_INT(gen, i);
		CHECK_INT(len, n);
		CHECK(memcmp(out, doc, (size_t)n) == 0);
	}
	/* Other slots are untouched. */
	CHECK_INT(jwksr_gen(t, 1), 0);
	CHECK_INT(jwksr_read(t, 1, "corp", out, sizeof(out), &len, &gen), -ENOENT);
}

static void test_bounds(struct jwksr *t)
{
	static char big[JWKSR_TEXT_MAX + 1];
	size_t len;
	uint64_t gen;

	memset(big, ' ', sizeof(big));
	CHECK_INT(jwksr_publish_master(t, 2, "s", big, sizeof(big)), -E2BIG);
	CHECK_INT(jwksr_gen(t, 2), 0);
	CHECK_INT(jwksr_publish_master(t, 2, "s", big, JWKSR_TEXT_MAX), 1);
	CHECK_INT(jwksr_read(t, 2, "s", out, sizeof(out), &len, &gen), 0);
	CHECK_INT(len, JWKSR_TEXT_MAX);
	CHECK_INT(jwksr_read(t, 2, "s", out, sizeof(out) - 1, &len, &gen), -EINVAL);
	CHECK_INT(jwksr_publish_master(t, JWKSR_SLOTS, "s", "{}", 2), -EINVAL);
	CHECK_INT(jwksr_read(t, JWKSR_SLOTS, "s", out, sizeof(out), &len, &gen), -EINVAL);
	CHECK_INT(jwksr_publish_master(t, 3, "", "{}", 2), -EINVAL);
	{
		char name[JWKSR_NAME_MAX + 2];

		memset(name, 'n', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		CHECK_INT(jwksr_publish_master(t, 3, name, "{}", 2), -EINVAL);
		name[JWKSR_NAME_MAX] = '\0';
		CHECK_INT(jwksr_publish_master(t, 3, name, "{}", 2), 1);
		CHECK_INT(jwksr_read(t, 3, name, out, sizeof(out), &len, &gen), 0);
	}
}

static void test_requests(struct jwksr *t)
{
	CHECK(!jwksr_take_request_master(t, 4));
	jwksr_request(t, 4);
	jwksr_request(t, 4);
	CHECK(!jwksr_take_request_master(t, 5));
	CHECK(jwksr_take_request_master(t, 4));
	CHECK(!jwksr_take_request_master(t, 4));
	CHECK_INT(jwksr_attempts(t, 4), 0);
	jwksr_attempted_master(t, 4);
	jwksr_attempted_master(t, 4);
	CHECK_INT(jwksr_attempts(t, 4), 2);
	CHECK_INT(jwksr_refresh_after(t, 4), 0);
	jwksr_set_refresh_after_master(t, 4, 12345);
	CHECK_INT(jwksr_refresh_after(t, 4), 12345);
}

int main(void)
{
	size_t size = jwksr_region_size();
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct jwksr t;

	if (mem == MAP_FAILED)
		return T_EXIT_FAIL;
	CHECK_INT(jwksr_attach(&t, mem, size), -EPROTO);	/* not formatted */
	jwksr_format_master(mem);
	CHECK_INT(jwksr_attach(&t, mem, size - 1), -EPROTO);
	CHECK_INT(jwksr_attach(&t, mem, size), 0);
	test_publish_read(&t);
	test_bounds(&t);
	test_requests(&t);
	munmap(mem, size);
	return CHECK_EXIT();
}
