/* Unit test for bench/gwbench/url.c: the URL forms gwbench accepts, the
 * request-target it puts on the request line, and the messages for the
 * forms it refuses (https first of all). */
#include <errno.h>

#include "bench/gwbench/url.h"
#include "tests/unit/check.h"

static char err[512];

static void check_target(const struct url *u, const char *want)
{
	if (u->target_len != strlen(want) || memcmp(u->target, want, u->target_len) != 0) {
		fprintf(stderr, "target \"%.*s\", want \"%s\"\n", (int)u->target_len, u->target,
			want);
		check_failures++;
	}
}

#define CHECK_BAD(text, needle) do { \
	struct url u_; \
	int r_ = url_parse((text), &u_, err, sizeof(err)); \
	if (r_ != -EINVAL || !strstr(err, (needle))) { \
		fprintf(stderr, "%s:%d: '%s': want -EINVAL with \"%s\", got %d \"%s\"\n", \
			__FILE__, __LINE__, (text), (needle), r_, err); \
		check_failures++; \
	} \
} while (0)

static void test_good(void)
{
	struct url u, v;
	char o[300];

	CHECK_INT(url_parse("http://127.0.0.1:8080/a/b?x=1&y=2#frag", &u, err, sizeof(err)), 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_INT(u.port, 8080);
	CHECK(u.has_port);
	CHECK(!u.ipv6);
	check_target(&u, "/a/b?x=1&y=2");

	CHECK_INT(url_parse("http://localhost", &u, err, sizeof(err)), 0);
	CHECK_STR(u.host, "localhost");
	CHECK_INT(u.port, 80);
	CHECK(!u.has_port);
	check_target(&u, "/");

	CHECK_INT(url_parse("HTTP://[::1]:9000/x", &u, err, sizeof(err)), 0);
	CHECK_STR(u.host, "::1");
	CHECK(u.ipv6);
	CHECK_INT(u.port, 9000);
	check_target(&u, "/x");
	url_origin(&u, o, sizeof(o));
	CHECK_STR(o, "[::1]:9000");

	CHECK_INT(url_parse("http://[::1]/", &u, err, sizeof(err)), 0);
	CHECK_INT(u.port, 80);

	CHECK_INT(url_parse("http://LocalHost:9000/y", &v, err, sizeof(err)), 0);
	CHECK_INT(url_parse("http://localhost:9000/z?q", &u, err, sizeof(err)), 0);
	CHECK(url_same_origin(&u, &v));
	CHECK_INT(url_parse("http://localhost:9001/z", &v, err, sizeof(err)), 0);
	CHECK(!url_same_origin(&u, &v));
	CHECK_INT(url_parse("http://127.0.0.1:9000/z", &v, err, sizeof(err)), 0);
	CHECK(!url_same_origin(&u, &v));
}

static void test_bad(void)
{
	CHECK_BAD("https://127.0.0.1/", "https is not supported yet");
	CHECK_BAD("ftp://h/", "only http:// URLs");
	CHECK_BAD("127.0.0.1:8080/", "only http:// URLs");
	CHECK_BAD("http://", "no host");
	CHECK_BAD("http:///x", "no host");
	CHECK_BAD("http://h:0/", "port out of range");
	CHECK_BAD("http://h:65536/", "port out of range");
	CHECK_BAD("http://h:80x/", "bad port");
	CHECK_BAD("http://h:/", "bad port");
	CHECK_BAD("http://[::1/", "bad IPv6 literal");
	CHECK_BAD("http://[zz]/", "bad IPv6 literal");
	CHECK_BAD("http://[::1]x/", "junk after the IPv6 literal");
	CHECK_BAD("http://user@h/", "user info");
	CHECK_BAD("http://h%41/", "bad character in the host");
	CHECK_BAD("http://h/a b", "space, control or non-ASCII");
	CHECK_BAD("http://h/\x01", "space, control or non-ASCII");
	CHECK_BAD("http://h?q=1", "a query needs a path: write /?q=1");
}

int main(void)
{
	test_good();
	test_bad();
	return CHECK_EXIT();
}
