/* Unit test for conf/values.c: durations, sizes and addresses, good and bad. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "conf/config.h"
#include "tests/unit/check.h"

static void test_durations(void)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{ "0", 0 }, { "250ms", 250 }, { "10s", 10000 }, { "10", 10000 },
		{ "5m", 300000 }, { "1h", 3600000 }, { "0ms", 0 },
		{ "18446744073709551615ms", UINT64_MAX },
		{ "5124095576030h", 5124095576030ull * 3600000 },
	};
	static const char *const bad[] = {
		"", "10q", "-1s", "+1s", " 1s", "1s ", "1.5s", "s", "ms", "10S", "10 s",
		"1sms", "10hh", "18446744073709551616ms", "18446744073709552s",
		"5124095576031h", "0x10", "1d",
	};
	uint64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		CHECK_INT(conf_parse_duration_ms(good[i].text, &ms), 0);
		CHECK(ms == good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 12345;
		if (conf_parse_duration_ms(bad[i], &ms) != -EINVAL)
			fprintf(stderr, "duration '%s' accepted\n", bad[i]);
		CHECK_INT(conf_parse_duration_ms(bad[i], &ms), -EINVAL);
		CHECK_INT(ms, 12345);
	}
}

static void test_sizes(void)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 }, { "512", 512 }, { "16K", 16384 }, { "16k", 16384 },
		{ "8M", 8u << 20 }, { "8m", 8u << 20 }, { "1G", 1u << 30 }, { "1g", 1u << 30 },
		{ "17179869183G", 17179869183ull << 30 },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "K", "16Q", "-1", "16KB", "16 K", "1.5M", " 1", "1 ", "16KK",
		"17179869184G", "18446744073709551616", "1T",
	};
	uint64_t n;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = 7;
		CHECK_INT(conf_parse_size(good[i].text, &n), 0);
		CHECK(n == good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 7;
		if (conf_parse_size(bad[i], &n) != -EINVAL)
			fprintf(stderr, "size '%s' accepted\n", bad[i]);
		CHECK_INT(conf_parse_size(bad[i], &n), -EINVAL);
		CHECK_INT(n, 7);
	}
}

static void check_addr(const char *text, bool resolve, int family, const char *want_text)
{
	struct gw_addr a;

	memset(&a, 0xa5, sizeof(a));
	CHECK_INT(conf_parse_addr(text, resolve, &a), 0);
	CHECK_INT(a.ss.ss_family, family);
	CHECK_INT(a.len, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	CHECK_STR(a.text, want_text);
}

static void test_addresses(void)
{
	static const char *const bad[] = {
		"", ":80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:8o", "127.0.0.1:+80", "1.2.3:80", "300.1.1.1:80", "127.1:80",
		"0x7f.0.0.1:80", "::1:80", "[::1]", "[::1]80", "[127.0.0.1]:80",
		"[::1:80", "[]:80", "[zz::1]:80", "bad host:80", "a/b:80", "[*]:80",
		"127.0.0.1:80 ", " 127.0.0.1:80", "127.0.0.1:123456",
	};
	struct sockaddr_in *in;
	struct gw_addr a;

	check_addr("127.0.0.1:8080", false, AF_INET, "127.0.0.1:8080");
	check_addr("10.1.2.3:0", false, AF_INET, "10.1.2.3:0");
	check_addr("*:80", false, AF_INET, "0.0.0.0:80");
	check_addr("0.0.0.0:65535", false, AF_INET, "0.0.0.0:65535");
	check_addr("[::1]:80", false, AF_INET6, "[::1]:80");
	check_addr("[::]:443", false, AF_INET6, "[::]:443");
	check_addr("[2001:DB8::1]:9000", false, AF_INET6, "[2001:db8::1]:9000");
	check_addr("[::ffff:1.2.3.4]:1", false, AF_INET6, "[::ffff:1.2.3.4]:1");

	CHECK_INT(conf_parse_addr("127.0.0.1:8080", false, &a), 0);
	in = (struct sockaddr_in *)&a.ss;
	CHECK_INT(ntohs(in->sin_port), 8080);
	CHECK_INT(ntohl(in->sin_addr.s_addr), 0x7f000001);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = conf_parse_addr(bad[i], true, &a);

		if (rc != -EINVAL)
			fprintf(stderr, "address '%s' gave %d\n", bad[i], rc);
		CHECK_INT(rc, -EINVAL);
	}

	/* Names: refused without resolving, resolved from /etc/hosts with. */
	CHECK_INT(conf_parse_addr("localhost:9001", false, &a), -ENOENT);
	CHECK_INT(conf_parse_addr("localhost:9001", true, &a), 0);
	CHECK(strcmp(a.text, "127.0.0.1:9001") == 0 || strcmp(a.text, "[::1]:9001") == 0);
	/* RFC 6761: .invalid never resolves. */
	CHECK_INT(conf_parse_addr("no-such-host.invalid:80", true, &a), -ENOENT);
}

int main(void)
{
	test_durations();
	test_sizes();
	test_addresses();
	return CHECK_EXIT();
}
