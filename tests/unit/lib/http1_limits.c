/* The request parser's configurable limits (http_parser_limits()): header
 * field count (431) and request-line length (414), at and around each
 * boundary, and with the input split at every point so the verdict never
 * depends on how the bytes arrived. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http1.h"
#include "tests/unit/check.h"

#define MAX_HEAD 16384u

/* Parse <msg> fed as <cut> bytes then the rest (cut == 0: whole; cut ==
 * SIZE_MAX: byte by byte). Returns the result; *status on error. */
static enum http_result parse_split(const char *msg, size_t len, size_t cut, unsigned max_fields,
				    uint32_t max_line, unsigned *status, uint16_t *n_fields)
{
	struct http_parser p;
	struct http_request req;
	enum http_result rc = HTTP_AGAIN;
	size_t at = 0;

	http_parser_init(&p, MAX_HEAD);
	http_parser_limits(&p, max_fields, max_line);
	while (rc == HTTP_AGAIN && at < len) {
		if (cut == SIZE_MAX)
			at++;
		else
			at = (at == 0 && cut && cut < len) ? cut : len;
		/* A fresh copy of exactly the visible bytes: reading past trips ASan. */
		char *b = malloc(at);
		if (!b)
			abort();
		memcpy(b, msg, at);
		rc = http_parse_request(&p, b, at, &req);
		free(b);
	}
	*status = rc == HTTP_ERROR ? p.status : 0;
	*n_fields = rc == HTTP_DONE ? req.h.n_fields : 0;
	return rc;
}

/* Every split of <msg> must give <want_rc> (and <want_status> on error). */
static void expect(int line, const char *msg, unsigned max_fields, uint32_t max_line,
		   enum http_result want_rc, unsigned want_status)
{
	size_t len = strlen(msg);
	unsigned status;
	uint16_t nf;

	for (size_t cut = 0; cut <= len + 1; cut++) {
		size_t c = cut == len + 1 ? SIZE_MAX : cut;
		enum http_result rc = parse_split(msg, len, c, max_fields, max_line, &status, &nf);

		if (rc != want_rc || status != want_status) {
			fprintf(stderr, "line %d: cut %zu: rc %d status %u, want rc %d status %u\n",
				line, cut, rc, status, want_rc, want_status);
			check_failures++;
			return;
		}
	}
}

/* A request with <n> header fields (Host among them). */
static char *with_fields(int n, const char *tail)
{
	size_t cap = 64 + (size_t)n * 32 + strlen(tail);
	char *m = malloc(cap);
	size_t len;

	if (!m)
		abort();
	len = (size_t)snprintf(m, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < n; i++)
		len += (size_t)snprintf(m + len, cap - len, "X-F%d: v\r\n", i);
	snprintf(m + len, cap - len, "\r\n%s", tail);
	return m;
}

/* A request whose request line (without CRLF) is exactly <n> bytes. */
static char *with_line(size_t n, const char *lead)
{
	const char *pre = "GET /", *post = " HTTP/1.1";
	size_t fixed = strlen(pre) + strlen(post), len = strlen(lead);
	char *m = malloc(len + n + 64);

	if (!m || n < fixed)
		abort();
	memcpy(m, lead, len);
	memcpy(m + len, pre, strlen(pre));
	len += strlen(pre);
	memset(m + len, 'a', n - fixed);
	len += n - fixed;
	strcpy(m + len, " HTTP/1.1\r\nHost: a\r\n\r\n");
	return m;
}

static void test_fields(void)
{
	static const int limits[] = { 1, 2, 10, 50, 99, 100 };
	unsigned status;
	uint16_t nf;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int lim = limits[i];
		char *at = with_fields(lim, ""), *over = with_fields(lim + 1, "");

		expect(__LINE__, at, (unsigned)lim, 0, HTTP_DONE, 0);
		if (lim < HTTP_MAX_HEADERS)
			expect(__LINE__, over, (unsigned)lim, 0, HTTP_ERROR, 431);
		free(at);
		free(over);
	}
	/* 0 and anything above the array size mean HTTP_MAX_HEADERS. */
	char *full = with_fields(HTTP_MAX_HEADERS, ""), *more = with_fields(HTTP_MAX_HEADERS + 1, "");
	expect(__LINE__, full, 0, 0, HTTP_DONE, 0);
	expect(__LINE__, full, 1000, 0, HTTP_DONE, 0);
	expect(__LINE__, more, 1000, 0, HTTP_ERROR, 431);
	CHECK_INT(parse_split(full, strlen(full), 0, 0, 0, &status, &nf), HTTP_DONE);
	CHECK_INT(nf, HTTP_MAX_HEADERS);
	free(full);
	free(more);
}

static void test_line(void)
{
	static const size_t limits[] = { 64, 100, 255, 8192 };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		size_t lim = limits[i];
		char *at = with_line(lim, ""), *over = with_line(lim + 1, "");
		char *lead_at = with_line(lim, "\r\n\r\n");

		expect(__LINE__, at, 0, (uint32_t)lim, HTTP_DONE, 0);
		expect(__LINE__, over, 0, (uint32_t)lim, HTTP_ERROR, 414);
		/* Empty lines before the request line do not count against it. */
		expect(__LINE__, lead_at, 0, (uint32_t)lim, HTTP_DONE, 0);
		/* Without a line limit, only max_head applies. */
		expect(__LINE__, over, 0, 0, HTTP_DONE, 0);
		free(at);
		free(over);
		free(lead_at);
	}
	/* A long header value is not the request line's business. */
	char big[600];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX-Long: %0400d\r\n\r\n", 1);
	expect(__LINE__, big, 0, 64, HTTP_DONE, 0);
	/* With both limits set, a short line still meets the field limit. */
	char *both = with_fields(20, "");
	expect(__LINE__, both, 5, 64, HTTP_ERROR, 431);
	free(both);
}

/* An over-long line is refused as soon as the limit is passed, before its
 * end arrives: a client cannot make the gateway buffer it. */
static void test_line_early(void)
{
	char m[300];
	unsigned status;
	uint16_t nf;

	memset(m, 'a', sizeof(m));
	memcpy(m, "GET /", 5);
	CHECK_INT(parse_split(m, sizeof(m), 0, 0, 100, &status, &nf), HTTP_ERROR);
	CHECK_INT(status, 414);
	CHECK_INT(parse_split(m, 102, 0, 0, 100, &status, &nf), HTTP_AGAIN);
	CHECK_INT(parse_split(m, 103, 0, 0, 100, &status, &nf), HTTP_ERROR);
}

int main(void)
{
	test_fields();
	test_line();
	test_line_early();
	return CHECK_EXIT();
}
