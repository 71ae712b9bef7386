/* Unit test of lib/buf.c through lib/buf.h: appends within and over the
 * limit, consume and compact, and decimal formatting of every magnitude. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/check.h"

static void test_append_limit(void)
{
	struct buf b = { 0 };

	CHECK_INT(buf_append(&b, "hello", 5, 8), 0);
	CHECK_INT(buf_append(&b, "world", 5, 8), -ENOBUFS);
	CHECK_INT(buf_avail(&b), 5);	/* a refused append changes nothing */
	buf_consume(&b, 3);
	CHECK_INT(buf_append(&b, "world", 5, 8), 0);	/* the limit counts held bytes */
	CHECK_INT(buf_avail(&b), 7);
	CHECK(memcmp(buf_head(&b), "loworld", 7) == 0);
	buf_consume(&b, 7);
	CHECK_INT(buf_avail(&b), 0);
	buf_free(&b);
}

static void test_u64(void)
{
	static const uint64_t values[] = { 0, 7, 10, 99, 100, 4294967295u, 4294967296u,
					   10000000000000000000u, UINT64_MAX };
	struct buf b = { 0 };
	char want[32];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		buf_reset(&b);
		CHECK_INT(buf_append_u64(&b, values[i], 64), 0);
		snprintf(want, sizeof(want), "%" PRIu64, values[i]);
		CHECK_INT(buf_avail(&b), strlen(want));
		CHECK(memcmp(buf_head(&b), want, strlen(want)) == 0);
	}
	buf_reset(&b);
	CHECK_INT(buf_append_u64(&b, 123456, 5), -ENOBUFS);
	CHECK_INT(buf_avail(&b), 0);
	buf_free(&b);
}

int main(void)
{
	test_append_limit();
	test_u64();
	return CHECK_EXIT();
}
