/* gwbench's command line: options into a struct, nothing else.
 *
 * args_parse() touches no file and no socket, so tests/unit/bench/args.c
 * can feed it any argv. Files named by options (--body-file, --urls) are
 * read later by plan.c; URLs are checked there too (url.h). */
#ifndef GW_BENCH_GWBENCH_ARGS_H
#define GW_BENCH_GWBENCH_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX_CONNS		1000000u
#define ARGS_MAX_THREADS	256u
#define ARGS_MAX_PIPELINE	1024u

/* args_parse() returns this after -h/--help: print the usage, exit 0. */
#define ARGS_HELP 1

struct gwb_args {
	uint32_t connections;	/* -c, total over all threads */
	uint32_t threads;	/* -t */
	uint32_t pipeline;	/* --pipeline: requests outstanding per connection */
	uint64_t duration_ns;	/* -d; 0 when -n is given */
	uint64_t requests;	/* -n; 0: run for duration_ns instead */
	double rate;		/* -R, requests per second over all connections; 0: closed loop */
	uint64_t timeout_ns;	/* --timeout, per request and per connect */
	uint64_t warmup_ns;	/* --warmup; 0: none */
	const char *method;	/* -m, a token */
	const char **headers;	/* -H values "Name: value", n_headers of them */
	uint32_t n_headers;
	const char *body;	/* --body, NULL when absent */
	const char *body_file;	/* --body-file, NULL when absent */
	const char *urls_file;	/* --urls, NULL when absent */
	const char **urls;	/* positional URLs, n_urls of them */
	uint32_t n_urls;
	bool keepalive;		/* false with --no-keepalive */
	bool json;		/* --json */
	bool has_max_errors;
	uint64_t max_errors;	/* --max-errors, valid when has_max_errors */
};

/* Fill <a> from argv[1..argc). Returns 0, ARGS_HELP, -EINVAL with a one-line
 * reason in err[err_len] (no "gwbench:" prefix, no newline), or -ENOMEM.
 * The strings in <a> point into argv; after 0 or ARGS_HELP free the arrays
 * with args_free() (on errors they are already freed). */
int args_parse(struct gwb_args *a, int argc, char *const argv[], char *err, size_t err_len);

void args_free(struct gwb_args *a);

/* "10s", "500ms", "250us", "2m", "1h", "1.5s"; a bare number is seconds.
 * Writes nanoseconds; 0 or -EINVAL (empty, negative, unknown unit, over a
 * year). */
int args_duration(const char *s, uint64_t *ns);

/* "2000", "1.5k", "2M", optionally followed by "/s"; requests per second,
 * > 0. 0 or -EINVAL. */
int args_rate(const char *s, double *rate);

/* Whole number with an optional k (10^3) or M (10^6) suffix, in [min, max].
 * 0 or -EINVAL. */
int args_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The usage text, for -h and after usage errors. */
extern const char args_usage[];

#endif
