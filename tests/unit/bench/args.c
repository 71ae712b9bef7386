/* Unit test for bench/gwbench/args.c: defaults, every option in its
 * spellings, durations, rates and counts, and that bad input gives a
 * clear one-line reason (checked by substring). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "bench/gwbench/args.h"
#include "tests/unit/check.h"

#define MS UINT64_C(1000000)
#define S  UINT64_C(1000000000)

static char err[512];

/* Parse a NULL-terminated list of arguments (program name implied). */
static int parse_v(struct gwb_args *a, const char **list)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)"gwbench";
	while (*list)
		argv[argc++] = (char *)*list++;
	argv[argc] = NULL;
	return args_parse(a, argc, argv, err, sizeof(err));
}

#define PARSE(a, ...) parse_v((a), (const char *[]){ __VA_ARGS__, NULL })

/* A usage error whose message contains <needle>. */
#define CHECK_BAD(needle, ...) do { \
	struct gwb_args a_; \
	int r_ = PARSE(&a_, __VA_ARGS__); \
	if (r_ != -EINVAL || !strstr(err, (needle))) { \
		fprintf(stderr, "%s:%d: want -EINVAL with \"%s\", got %d \"%s\"\n", __FILE__, \
			__LINE__, (needle), r_, err); \
		check_failures++; \
		if (!r_) \
			args_free(&a_); \
	} \
} while (0)

static void test_durations(void)
{
	uint64_t ns = 0;

	CHECK_INT(args_duration("10s", &ns), 0);
	CHECK_INT(ns, 10 * S);
	CHECK_INT(args_duration("500ms", &ns), 0);
	CHECK_INT(ns, 500 * MS);
	CHECK_INT(args_duration("250us", &ns), 0);
	CHECK_INT(ns, 250000);
	CHECK_INT(args_duration("2m", &ns), 0);
	CHECK_INT(ns, 120 * S);
	CHECK_INT(args_duration("1h", &ns), 0);
	CHECK_INT(ns, 3600 * S);
	CHECK_INT(args_duration("1.5s", &ns), 0);
	CHECK_INT(ns, 1500 * MS);
	CHECK_INT(args_duration("3", &ns), 0);
	CHECK_INT(ns, 3 * S);
	CHECK_INT(args_duration(".5s", &ns), 0);
	CHECK_INT(ns, 500 * MS);
	CHECK_INT(args_duration("0", &ns), 0);
	CHECK_INT(ns, 0);
	CHECK_INT(args_duration("", &ns), -EINVAL);
	CHECK_INT(args_duration("s", &ns), -EINVAL);
	CHECK_INT(args_duration("-1s", &ns), -EINVAL);
	CHECK_INT(args_duration("10 s", &ns), -EINVAL);
	CHECK_INT(args_duration("10sec", &ns), -EINVAL);
	CHECK_INT(args_duration("10d", &ns), -EINVAL);
	CHECK_INT(args_duration("1e3s", &ns), -EINVAL);
	CHECK_INT(args_duration("9000h", &ns), -EINVAL);	/* over a year */
}

static void test_rates_counts(void)
{
	double r = 0;
	uint64_t n = 0;

	CHECK_INT(args_rate("2000", &r), 0);
	CHECK(r == 2000);
	CHECK_INT(args_rate("1.5k", &r), 0);
	CHECK(r == 1500);
	CHECK_INT(args_rate("2M", &r), 0);
	CHECK(r == 2e6);
	CHECK_INT(args_rate("100/s", &r), 0);
	CHECK(r == 100);
	CHECK_INT(args_rate("0.5", &r), 0);
	CHECK(r == 0.5);
	CHECK_INT(args_rate("0", &r), -EINVAL);
	CHECK_INT(args_rate("-5", &r), -EINVAL);
	CHECK_INT(args_rate("fast", &r), -EINVAL);
	CHECK_INT(args_rate("10/m", &r), -EINVAL);
	CHECK_INT(args_rate("", &r), -EINVAL);

	CHECK_INT(args_count("1000", 1, 100000, &n), 0);
	CHECK_INT(n, 1000);
	CHECK_INT(args_count("10k", 1, 100000, &n), 0);
	CHECK_INT(n, 10000);
	CHECK_INT(args_count("1M", 1, 10000000, &n), 0);
	CHECK_INT(n, 1000000);
	CHECK_INT(args_count("0", 1, 10, &n), -EINVAL);
	CHECK_INT(args_count("11", 1, 10, &n), -EINVAL);
	CHECK_INT(args_count("1.5", 1, 10, &n), -EINVAL);
	CHECK_INT(args_count("-1", 0, 10, &n), -EINVAL);
	CHECK_INT(args_count("99999999999999999999999", 0, UINT64_MAX, &n), -EINVAL);
}

static void test_defaults(void)
{
	struct gwb_args a;

	CHECK_INT(PARSE(&a, "http://127.0.0.1:8080/"), 0);
	CHECK_INT(a.connections, 10);
	CHECK_INT(a.threads, 1);
	CHECK_INT(a.pipeline, 1);
	CHECK_INT(a.duration_ns, 10 * S);
	CHECK_INT(a.requests, 0);
	CHECK(a.rate == 0);
	CHECK_INT(a.timeout_ns, 2 * S);
	CHECK_INT(a.warmup_ns, 0);
	CHECK_STR(a.method, "GET");
	CHECK(a.keepalive);
	CHECK(!a.json);
	CHECK(!a.has_max_errors);
	CHECK_INT(a.n_urls, 1);
	CHECK_STR(a.urls[0], "http://127.0.0.1:8080/");
	CHECK_INT(a.n_headers, 0);
	args_free(&a);
}

static void test_all_options(void)
{
	struct gwb_args a;

	CHECK_INT(PARSE(&a, "-c", "64", "-t2", "--duration=3s", "-R", "2k", "-H", "X-A: 1",
			"--header", "X-B: 2", "-mPOST", "--body", "hello", "--pipeline", "4",
			"--timeout", "200ms", "--warmup", "1s", "--urls", "list.txt", "--json",
			"--max-errors", "0", "http://h/a", "http://h/b"), 0);
	CHECK_INT(a.connections, 64);
	CHECK_INT(a.threads, 2);
	CHECK_INT(a.duration_ns, 3 * S);
	CHECK(a.rate == 2000);
	CHECK_INT(a.n_headers, 2);
	CHECK_STR(a.headers[0], "X-A: 1");
	CHECK_STR(a.headers[1], "X-B: 2");
	CHECK_STR(a.method, "POST");
	CHECK_STR(a.body, "hello");
	CHECK_INT(a.pipeline, 4);
	CHECK_INT(a.timeout_ns, 200 * MS);
	CHECK_INT(a.warmup_ns, 1 * S);
	CHECK_STR(a.urls_file, "list.txt");
	CHECK(a.json);
	CHECK(a.has_max_errors);
	CHECK_INT(a.max_errors, 0);
	CHECK_INT(a.n_urls, 2);
	CHECK_STR(a.urls[1], "http://h/b");
	args_free(&a);

	CHECK_INT(PARSE(&a, "-n", "1000", "--no-keepalive", "--body-file", "b.bin",
			"--", "-weird-but-a-url"), 0);
	CHECK_INT(a.requests, 1000);
	CHECK_INT(a.duration_ns, 0);
	CHECK(!a.keepalive);
	CHECK_STR(a.body_file, "b.bin");
	CHECK_STR(a.urls[0], "-weird-but-a-url");
	args_free(&a);

	/* --urls alone is enough. */
	CHECK_INT(PARSE(&a, "--urls=f"), 0);
	CHECK_INT(a.n_urls, 0);
	args_free(&a);

	CHECK_INT(PARSE(&a, "-h"), ARGS_HELP);
	args_free(&a);
	CHECK_INT(PARSE(&a, "http://h/", "--help"), ARGS_HELP);
	args_free(&a);
}

static void test_errors(void)
{
	CHECK_BAD("no URL given", "-c", "10");
	CHECK_BAD("unknown option '--bogus'", "--bogus", "http://h/");
	CHECK_BAD("unknown option '-x'", "-x", "http://h/");
	CHECK_BAD("'-c' needs a value", "http://h/", "-c");
	CHECK_BAD("'--timeout' needs a value", "http://h/", "--timeout");
	CHECK_BAD("'--json' takes no value", "--json=1", "http://h/");
	CHECK_BAD("-c '0'", "-c", "0", "http://h/");
	CHECK_BAD("-c 'ten'", "-c", "ten", "http://h/");
	CHECK_BAD("-t '0'", "-t", "0", "http://h/");
	CHECK_BAD("-t 4 is more than -c 2", "-t", "4", "-c", "2", "http://h/");
	CHECK_BAD("-d '10x'", "-d", "10x", "http://h/");
	CHECK_BAD("-d '0s': the duration must be more than 0", "-d", "0s", "http://h/");
	CHECK_BAD("-d and -n exclude each other", "-d", "1s", "-n", "5", "http://h/");
	CHECK_BAD("-n '0'", "-n", "0", "http://h/");
	CHECK_BAD("-R 'fast'", "-R", "fast", "http://h/");
	CHECK_BAD("-R '0'", "-R", "0", "http://h/");
	CHECK_BAD("--timeout '0': want at least 1ms", "--timeout", "0", "http://h/");
	CHECK_BAD("--pipeline '0'", "--pipeline", "0", "http://h/");
	CHECK_BAD("--pipeline '5000'", "--pipeline", "5000", "http://h/");
	CHECK_BAD("--pipeline needs keep-alive", "--pipeline", "2", "--no-keepalive", "http://h/");
	CHECK_BAD("--body and --body-file exclude", "--body", "x", "--body-file", "f", "http://h/");
	CHECK_BAD("-H 'NoColon'", "-H", "NoColon", "http://h/");
	CHECK_BAD("-H 'Bad Name: x'", "-H", "Bad Name: x", "http://h/");
	CHECK_BAD("CR or LF", "-H", "X: a\r\nY: b", "http://h/");
	CHECK_BAD("-m 'G T'", "-m", "G T", "http://h/");
	CHECK_BAD("--max-errors '-1'", "--max-errors", "-1", "http://h/");
	CHECK_BAD("--warmup 'soon'", "--warmup", "soon", "http://h/");
	/* The message is one line, without the program name. */
	CHECK_BAD("-c", "-c", "0", "http://h/");
	CHECK(!strchr(err, '\n'));
	CHECK(strncmp(err, "gwbench", 7) != 0);
}

int main(void)
{
	test_durations();
	test_rates_counts();
	test_defaults();
	test_all_options();
	test_errors();
	return CHECK_EXIT();
}
