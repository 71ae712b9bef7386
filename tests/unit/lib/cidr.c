/* Unit test for lib/cidr.c through lib/cidr.h: parsing (IPv4, IPv6,
 * mapped, bad lengths, host bits), longest prefix wins whatever the
 * insertion order, /0, duplicates, mapped socket addresses, and an
 * exhaustive comparison against a brute-force model on random prefixes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"
#include "tests/unit/check.h"

static struct cidr P(const char *text)
{
	struct cidr c;

	if (cidr_parse(text, &c) != 0) {
		fprintf(stderr, "cidr_parse(\"%s\") failed\n", text);
		exit(T_EXIT_FAIL);
	}
	return c;
}

static struct cidr A(const char *text)
{
	struct cidr c;

	if (cidr_parse_addr(text, strlen(text), &c) != 0) {
		fprintf(stderr, "cidr_parse_addr(\"%s\") failed\n", text);
		exit(T_EXIT_FAIL);
	}
	return c;
}

/* cidr_set_add() and cidr_lookup() of a text. */
static int add(struct cidr_set *s, const char *prefix, int tag)
{
	struct cidr c = P(prefix);

	return cidr_set_add(s, &c, tag);
}

static int lookup(const struct cidr_set *s, const char *addr)
{
	struct cidr c = A(addr);

	return cidr_lookup(s, &c);
}

static const char *fmt(const struct cidr *c, bool with_len)
{
	static char buf[4][CIDR_TEXT_MAX];
	static unsigned i;
	char *out = buf[i++ % 4];

	cidr_format(c, with_len, out, CIDR_TEXT_MAX);
	return out;
}

static void test_parse(void)
{
	struct cidr c;

	c = P("10.0.0.0/8");
	CHECK_INT(c.family, AF_INET);
	CHECK_INT(c.len, 8);
	CHECK_STR(fmt(&c, true), "10.0.0.0/8");
	c = P("192.168.1.7");
	CHECK_INT(c.len, 32);
	CHECK_STR(fmt(&c, true), "192.168.1.7/32");
	CHECK_STR(fmt(&c, false), "192.168.1.7");
	c = P("::1");
	CHECK_INT(c.family, AF_INET6);
	CHECK_INT(c.len, 128);
	CHECK_STR(fmt(&c, true), "::1/128");
	c = P("2001:db8::/32");
	CHECK_STR(fmt(&c, true), "2001:db8::/32");
	c = P("0.0.0.0/0");
	CHECK_INT(c.len, 0);
	c = P("::/0");
	CHECK_INT(c.family, AF_INET6);
	/* Mapped prefixes of length >= 96 become IPv4. */
	c = P("::ffff:10.0.0.0/104");
	CHECK_INT(c.family, AF_INET);
	CHECK_STR(fmt(&c, true), "10.0.0.0/8");
	c = P("::ffff:1.2.3.4");
	CHECK_STR(fmt(&c, true), "1.2.3.4/32");
	c = P("::ffff:0:0/96");
	CHECK_INT(c.family, AF_INET);
	CHECK_INT(c.len, 0);
	c = P("::fffe:0:0/95");		/* not mapped: stays IPv6 */
	CHECK_INT(c.family, AF_INET6);

	CHECK_INT(cidr_parse("10.0.0.0/33", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("::/129", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/08", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/-1", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/8x", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0/8", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.256", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("example.com", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("/8", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("[::1]/128", &c), CIDR_ERR_SYNTAX);
	CHECK_INT(cidr_parse("10.1.2.3/8", &c), CIDR_ERR_HOST_BITS);
	CHECK_STR(fmt(&c, true), "10.0.0.0/8");
	CHECK_INT(cidr_parse("2001:db8::1/32", &c), CIDR_ERR_HOST_BITS);

	/* Bare addresses as X-Forwarded-For carries them. */
	c = A("[2001:db8::1]");
	CHECK_STR(fmt(&c, false), "2001:db8::1");
	c = A("::ffff:127.0.0.9");
	CHECK_INT(c.family, AF_INET);
	CHECK_STR(fmt(&c, false), "127.0.0.9");
	CHECK_INT(cidr_parse_addr("[1.2.3.4]", 9, &c), -EINVAL);
	CHECK_INT(cidr_parse_addr("1.2.3.4:80", 10, &c), -EINVAL);
	CHECK_INT(cidr_parse_addr("unknown", 7, &c), -EINVAL);
	CHECK_INT(cidr_parse_addr("", 0, &c), -EINVAL);
	CHECK_INT(cidr_parse_addr("1.2.3.4/32", 10, &c), -EINVAL);
	/* Only s[0..len) counts. */
	c = A("1.2.3.4");
	CHECK_INT(cidr_parse_addr("1.2.3.45", 7, &c), 0);
	CHECK_STR(fmt(&c, false), "1.2.3.4");
}

static void test_longest_prefix(void)
{
	/* Inserted shortest first, then longest first: same answers. */
	static const char *const order[2][4] = {
		{ "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3" },
		{ "10.1.2.3", "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8" },
	};

	for (int o = 0; o < 2; o++) {
		struct cidr_set *s = cidr_set_new();
		struct cidr c;

		CHECK(s != NULL);
		if (!s)
			return;
		for (int i = 0; i < 4; i++) {
			c = P(order[o][i]);
			CHECK_INT(cidr_set_add(s, &c, c.len), 0);
		}
		CHECK_INT(cidr_set_count(s), 4);
		CHECK_INT(lookup(s, "10.1.2.3"), 32);
		CHECK_INT(lookup(s, "10.1.2.4"), 24);
		CHECK_INT(lookup(s, "10.1.3.4"), 16);
		CHECK_INT(lookup(s, "10.200.0.1"), 8);
		CHECK_INT(lookup(s, "11.0.0.1"), CIDR_NONE);
		CHECK_INT(lookup(s, "::ffff:10.1.2.3"), 32);
		CHECK_INT(lookup(s, "::1"), CIDR_NONE);
		cidr_set_free(s);
	}
}

static void test_ipv6_and_zero(void)
{
	struct cidr_set *s = cidr_set_new();

	if (!s)
		abort();
	CHECK_INT(lookup(s, "1.2.3.4"), CIDR_NONE);	/* empty set */
	CHECK_INT(add(s, "::/0", 1), 0);
	CHECK_INT(add(s, "2001:db8::/32", 2), 0);
	CHECK_INT(add(s, "2001:db8:1::/48", 3), 0);
	CHECK_INT(add(s, "::1", 4), 0);
	CHECK_INT(lookup(s, "2001:db8:1::5"), 3);
	CHECK_INT(lookup(s, "2001:db8:2::5"), 2);
	CHECK_INT(lookup(s, "fe80::1"), 1);
	CHECK_INT(lookup(s, "::1"), 4);
	CHECK_INT(lookup(s, "::2"), 1);
	/* ::/0 does not cover IPv4, mapped or not. */
	CHECK_INT(lookup(s, "1.2.3.4"), CIDR_NONE);
	CHECK_INT(lookup(s, "::ffff:1.2.3.4"), CIDR_NONE);
	CHECK_INT(add(s, "0.0.0.0/0", 5), 0);
	CHECK_INT(lookup(s, "1.2.3.4"), 5);
	CHECK_INT(lookup(s, "fe80::1"), 1);
	cidr_set_free(s);
	cidr_set_free(NULL);
}

static void test_duplicates(void)
{
	struct cidr_set *s = cidr_set_new();
	struct cidr c;

	if (!s)
		abort();
	c = P("10.0.0.0/8");
	CHECK_INT(cidr_set_add(s, &c, 1), 0);
	CHECK_INT(cidr_set_add(s, &c, 2), -EEXIST);
	/* The same prefix written as mapped IPv6 is the same prefix. */
	CHECK_INT(add(s, "::ffff:10.0.0.0/104", 3), -EEXIST);
	CHECK_INT(cidr_set_count(s), 1);
	CHECK_INT(lookup(s, "10.9.9.9"), 1);
	CHECK_INT(cidr_set_add(s, &c, -1), -EINVAL);
	c.len = 33;
	CHECK_INT(cidr_set_add(s, &c, 1), -EINVAL);
	cidr_set_free(s);
}

static void test_sockaddr(void)
{
	struct cidr_set *s = cidr_set_new();
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct cidr c;

	if (!s)
		abort();
	CHECK_INT(add(s, "127.0.0.0/8", 7), 0);
	CHECK_INT(add(s, "::1", 8), 0);
	memset(&ss, 0, sizeof(ss));
	in4->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.3", &in4->sin_addr);
	CHECK_INT(cidr_match(s, &ss), 7);
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.3", &in6->sin6_addr);
	CHECK_INT(cidr_match(s, &ss), 7);
	CHECK_INT(cidr_from_sockaddr(&ss, &c), 0);
	CHECK_STR(fmt(&c, false), "127.0.0.3");
	inet_pton(AF_INET6, "::1", &in6->sin6_addr);
	CHECK_INT(cidr_match(s, &ss), 8);
	ss.ss_family = AF_UNIX;
	CHECK_INT(cidr_match(s, &ss), CIDR_NONE);
	CHECK_INT(cidr_from_sockaddr(&ss, &c), -EAFNOSUPPORT);
	cidr_set_free(s);
}

/* ---- brute force: random prefixes clustered so they nest and collide */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* A random full address near <base>: its first <keep> bits kept. */
static struct cidr near(const struct cidr *base, unsigned keep)
{
	struct cidr a = *base;
	unsigned bits = a.family == AF_INET ? 32 : 128;

	a.len = (uint8_t)bits;
	for (unsigned i = keep; i < bits; i++) {
		uint8_t bit = (uint8_t)(0x80u >> (i % 8));

		if (rnd() & 1)
			a.addr[i / 8] |= bit;
		else
			a.addr[i / 8] &= (uint8_t)~bit;
	}
	return a;
}

static void mask(struct cidr *c)
{
	for (unsigned i = c->len; i < 128; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static int model(const struct cidr *pfx, const int *tags, size_t n, const struct cidr *a)
{
	int best = CIDR_NONE, best_len = -1;

	for (size_t i = 0; i < n; i++) {
		if (tags[i] >= 0 && cidr_contains(&pfx[i], a) && pfx[i].len > best_len) {
			best = tags[i];
			best_len = pfx[i].len;
		}
	}
	return best;
}

static void brute_family(uint8_t family, unsigned rounds)
{
	enum { N = 200, Q = 2000 };
	unsigned bits = family == AF_INET ? 32 : 128;
	struct cidr base = { .family = family, .len = 0 }, pfx[N];
	int tags[N];
	unsigned mismatches = 0;

	for (unsigned r = 0; r < rounds; r++) {
		struct cidr_set *s = cidr_set_new();
		size_t n = 1 + rnd() % N;

		if (!s)
			abort();
		for (unsigned i = 0; i < 16; i++)
			base.addr[i] = (uint8_t)rnd();
		for (size_t i = 0; i < n; i++) {
			pfx[i] = near(&base, rnd() % (bits + 1));
			pfx[i].len = (uint8_t)(rnd() % (bits + 1));
			mask(&pfx[i]);
			tags[i] = (int)i;
			int rc = cidr_set_add(s, &pfx[i], (int)i);
			bool dup = false;

			for (size_t j = 0; j < i; j++)
				dup |= tags[j] >= 0 && cidr_equal(&pfx[j], &pfx[i]);
			CHECK_INT(rc, dup ? -EEXIST : 0);
			if (dup)
				tags[i] = -1;	/* the first tag stays */
		}
		for (unsigned q = 0; q < Q; q++) {
			struct cidr a = near(&base, rnd() % (bits + 1));
			int got = cidr_lookup(s, &a), want = model(pfx, tags, n, &a);

			if (got != want && mismatches++ < 5)
				fprintf(stderr, "family %u: %s: got %d, want %d\n", family,
					fmt(&a, false), got, want);
		}
		cidr_set_free(s);
	}
	CHECK_INT(mismatches, 0);
}

int main(void)
{
	test_parse();
	test_longest_prefix();
	test_ipv6_and_zero();
	test_duplicates();
	test_sockaddr();
	brute_family(AF_INET, 200);
	brute_family(AF_INET6, 200);
	return CHECK_EXIT();
}
