/* Minimal assertions for unit tests: each failed check prints where and
 * what, and the test's exit status is the number of failures capped to 1.
 * Unlike assert(), these stay in release builds (NDEBUG). */
#ifndef GW_TESTS_CHECK_H
#define GW_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

static int check_failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		check_failures++; \
	} \
} while (0)

#define CHECK_INT(got, want) do { \
	long long got_ = (long long)(got), want_ = (long long)(want); \
	if (got_ != want_) { \
		fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, got_, want_); \
		check_failures++; \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *got_ = (got), *want_ = (want); \
	if (!got_ || !want_ || strcmp(got_, want_) != 0) { \
		fprintf(stderr, "%s:%d: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, \
			got_ ? got_ : "(null)", want_ ? want_ : "(null)"); \
		check_failures++; \
	} \
} while (0)

/* Return from main() with this. */
#define CHECK_EXIT() (check_failures ? T_EXIT_FAIL : T_EXIT_PASS)

#endif
