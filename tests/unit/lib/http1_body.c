/* Unit test for the body framer (lib/http1_body.c) through lib/http1.h.
 *
 * Every body is fed whole, byte by byte and in two pieces cut at every
 * point (http1_harness.h); all runs must agree on the result, the bytes
 * consumed, the decoded total and the error.
 */
#include <stdio.h>

#include "tests/unit/lib/http1_harness.h"

#define CHUNKED HTTP_BODY_CHUNKED

static void body_ok_at(int line, enum http_body_mode mode, uint64_t cl, uint32_t max_trailer,
		       const char *data, size_t len, size_t consumed, uint64_t total)
{
	struct body_run r;

	body_all(line, mode, cl, max_trailer, data, len, &r);
	if (r.rc != HTTP_DONE || r.consumed != consumed || r.total != total) {
		fprintf(stderr, "line %d: want DONE %zu/%llu, got rc %d %zu/%llu (%s)\n", line,
			consumed, (unsigned long long)total, r.rc, r.consumed,
			(unsigned long long)r.total, r.error ? r.error : "");
		check_failures++;
	}
}

/* <at> is where the offending byte is: what *consumed reports. */
static void body_bad_at(int line, uint32_t max_trailer, const char *data, size_t len,
			size_t at, const char *error)
{
	struct body_run r;

	body_all(line, CHUNKED, 0, max_trailer, data, len, &r);
	if (r.rc != HTTP_ERROR || strcmp(r.error, error) || r.consumed != at) {
		fprintf(stderr, "line %d: want error \"%s\" at %zu, got rc %d \"%s\" at %zu\n", line,
			error, at, r.rc, r.error ? r.error : "", r.consumed);
		check_failures++;
	}
}

#define CHUNKED_OK(lit, consumed, total) \
	body_ok_at(__LINE__, CHUNKED, 0, 1024, MSG(lit), (consumed), (total))
/* The whole literal is the body. */
#define CHUNKED_ALL(lit, total) CHUNKED_OK(lit, sizeof(lit) - 1, (total))
#define CHUNKED_BAD(lit, at, error) body_bad_at(__LINE__, 1024, MSG(lit), (at), (error))

static void test_length(void)
{
	static const char m[] = "helloGET / HTTP/1.1\r\n";
	struct body_run r;

	body_ok_at(__LINE__, HTTP_BODY_LENGTH, 5, 0, MSG(m), 5, 5);
	body_ok_at(__LINE__, HTTP_BODY_LENGTH, 0, 0, MSG(m), 0, 0);
	body_ok_at(__LINE__, HTTP_BODY_LENGTH, 5, 0, MSG("hello"), 5, 5);
	body_all(__LINE__, HTTP_BODY_LENGTH, 10, 0, MSG("hello"), &r);
	CHECK_INT(r.rc, HTTP_AGAIN);
	CHECK_INT(r.consumed, 5);
	CHECK_INT(r.total, 5);
	body_ok_at(__LINE__, HTTP_BODY_NONE, 0, 0, MSG(m), 0, 0);
	body_all(__LINE__, HTTP_BODY_UNTIL_CLOSE, 0, 0, MSG(m), &r);
	CHECK_INT(r.rc, HTTP_AGAIN);
	CHECK_INT(r.consumed, sizeof(m) - 1);
	CHECK_INT(r.total, sizeof(m) - 1);
}

static void test_chunked(void)
{
	static const char full[] = "5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: v\r\n\r\nNEXT";

	CHUNKED_OK(full, sizeof(full) - 5, 8);
	CHUNKED_OK("0\r\n\r\nGET", 5, 0);
	CHUNKED_ALL("0\r\n\r\n", 0);
	CHUNKED_ALL("000\r\n\r\n", 0);
	CHUNKED_ALL("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 20);
	CHUNKED_ALL("0005\r\nhello\r\n0\r\n\r\n", 5);
	CHUNKED_ALL("0000000000000005\r\nhello\r\n0\r\n\r\n", 5);
	CHUNKED_ALL("5 ;a=b\r\nhello\r\n0 \t; last\r\n\r\n", 5);
	CHUNKED_ALL("5;a=\"q;x\";b\r\nhello\r\n0\r\n\r\n", 5);
	CHUNKED_ALL("5;\tx\x80\xff\r\nhello\r\n0;\r\n\r\n", 5);
	CHUNKED_ALL("1\r\n\r\r\n0\r\n\r\n", 1);
	CHUNKED_ALL("2\r\n\r\n\r\n0\r\n\r\n", 2);
}

static void test_chunked_byte_at_a_time(void)
{
	static const char m[] = "4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nA: b\r\n\r\nrest";
	size_t len = sizeof(m) - 5, i, used;
	struct http_body b;
	enum http_result rc;

	http_body_init(&b, CHUNKED, 0, 100);
	for (i = 0; i < len; i++) {
		rc = http_body_feed(&b, m + i, 1, &used);
		CHECK_INT(used, 1);
		CHECK_INT(rc, i + 1 < len ? HTTP_AGAIN : HTTP_DONE);
	}
	CHECK_INT(b.total, 9);
	rc = http_body_feed(&b, m + len, 4, &used);
	CHECK_INT(rc, HTTP_DONE);
	CHECK_INT(used, 0);
}

/* http_body_chunk_left(): nonzero exactly while inside chunk data. */
static void test_chunk_left(void)
{
	static const char m[] = "5\r\nhello\r\n0\r\n\r\n";
	static const uint64_t want[] = { 0, 0, 0, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0 };
	struct http_body b;
	size_t i, used;

	http_body_init(&b, CHUNKED, 0, 0);
	for (i = 0; i < sizeof(m) - 1; i++) {
		CHECK_INT(http_body_chunk_left(&b), want[i]);
		http_body_feed(&b, m + i, 1, &used);
	}
	CHECK_INT(http_body_chunk_left(&b), 0);
	http_body_init(&b, HTTP_BODY_LENGTH, 9, 0);
	CHECK_INT(http_body_chunk_left(&b), 0);
}

static void test_chunk_size(void)
{
	char line[8192];
	struct body_run r;
	int n;

	/* 2^62 is the largest size: accepted, then waiting for the data. */
	body_all(__LINE__, CHUNKED, 0, 0, MSG("4000000000000000\r\nabc"), &r);
	CHECK_INT(r.rc, HTTP_AGAIN);
	CHECK_INT(r.consumed, 21);
	CHECK_INT(r.total, 3);
	CHUNKED_BAD("4000000000000001\r\n", 15, "chunk size too large");
	CHUNKED_BAD("FFFFFFFFFFFFFFFF\r\n", 15, "chunk size too large");
	CHUNKED_BAD("10000000000000000\r\n", 16, "chunk size too long");
	CHUNKED_BAD("00000000000000005\r\n", 16, "chunk size too long");
	CHUNKED_BAD("\r\n", 0, "invalid chunk size");
	CHUNKED_BAD("g\r\n", 0, "invalid chunk size");
	CHUNKED_BAD("-1\r\n", 0, "invalid chunk size");
	CHUNKED_BAD("+5\r\n", 0, "invalid chunk size");
	CHUNKED_BAD(" 5\r\n", 0, "invalid chunk size");
	CHUNKED_BAD("0x5\r\n", 1, "invalid chunk size");
	CHUNKED_BAD("5g\r\n", 1, "invalid chunk size");
	CHUNKED_BAD("5 x\r\n", 2, "invalid chunk extension");
	CHUNKED_BAD("5\nhello\r\n", 1, "bare LF");
	CHUNKED_BAD("5;a\nhello\r\n", 3, "bare LF");
	CHUNKED_BAD("5\r\rhello\r\n", 2, "bare CR");
	CHUNKED_BAD("5;a\x01\r\nhello\r\n", 3, "invalid chunk extension");
	CHUNKED_BAD("5;a\x7f\r\nhello\r\n", 3, "invalid chunk extension");
	CHUNKED_BAD("5;a\0\r\nhello\r\n", 3, "invalid chunk extension");

	/* The size line may be 4096 bytes long, CRLF excluded. */
	n = snprintf(line, sizeof(line), "1;%04094d\r\nx\r\n0\r\n\r\n", 0);
	body_ok_at(__LINE__, CHUNKED, 0, 0, line, n, n, 1);
	n = snprintf(line, sizeof(line), "1;%04095d\r\nx\r\n0\r\n\r\n", 0);
	body_bad_at(__LINE__, 0, line, n, 4096, "chunk line too long");
}

static void test_chunk_terminator(void)
{
	CHUNKED_BAD("5\r\nhelloX\r\n0\r\n\r\n", 8, "bad chunk terminator");
	CHUNKED_BAD("5\r\nhello\n0\r\n\r\n", 8, "bad chunk terminator");
	CHUNKED_BAD("5\r\nhello\rX0\r\n\r\n", 9, "bad chunk terminator");
	CHUNKED_BAD("5\r\nhello!\r\n0\r\n\r\n", 8, "bad chunk terminator");
	CHUNKED_BAD("5\r\nhell\r\n0\r\n\r\n", 8, "bad chunk terminator");
}

static void test_trailers(void)
{
	static const char t[] = "0\r\nA: 1\r\nB-2: x y\r\n\r\nnext";
	struct body_run r;

	body_ok_at(__LINE__, CHUNKED, 0, 16, MSG(t), sizeof(t) - 5, 0);
	body_bad_at(__LINE__, 15, MSG(t), 18, "trailer section too large");
	body_ok_at(__LINE__, CHUNKED, 0, 0, MSG("0\r\n\r\n"), 5, 0);
	CHUNKED_BAD("0\r\nA: 1\r\n b\r\n\r\n", 9, "obs-fold");
	CHUNKED_BAD("0\r\n\tA: 1\r\n\r\n", 3, "obs-fold");
	CHUNKED_BAD("0\r\nA : 1\r\n\r\n", 4, "whitespace before colon");
	CHUNKED_BAD("0\r\n: 1\r\n\r\n", 3, "empty field name");
	CHUNKED_BAD("0\r\nA(: 1\r\n\r\n", 4, "invalid field name");
	CHUNKED_BAD("0\r\nA\r\n\r\n", 4, "invalid field name");
	CHUNKED_BAD("0\r\nA: 1\n\r\n", 7, "bare LF");
	CHUNKED_BAD("0\r\nA: \x01\r\n\r\n", 6, "invalid character in field value");
	CHUNKED_BAD("0\r\nA: 1\r\r\n", 8, "bare CR");
	CHUNKED_BAD("0\r\n\r\r", 4, "bare CR");
	CHUNKED_BAD("0\r\n\n", 3, "bare LF");

	/* Nothing more is consumed once the framer failed. */
	body_all(__LINE__, CHUNKED, 0, 0, MSG("x"), &r);
	CHECK_INT(r.rc, HTTP_ERROR);
	{
		struct http_body b;
		size_t used = 7;

		http_body_init(&b, CHUNKED, 0, 0);
		CHECK_INT(http_body_feed(&b, "x", 1, &used), HTTP_ERROR);
		CHECK_INT(used, 0);
		CHECK_INT(http_body_feed(&b, "0\r\n\r\n", 5, &used), HTTP_ERROR);
		CHECK_INT(used, 0);
		CHECK_STR(b.error, "invalid chunk size");
	}
}

static bool field_char(int c)
{
	return (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t';
}

/* Extensions and trailer values take the same bytes as field values. */
static void test_char_classes(void)
{
	/* Byte c goes between before and after. */
	static const struct {
		const char *what, *before, *after;
	} at[] = {
		{ "extension", "1;a", "b\r\nx\r\n0\r\n\r\n" },
		{ "trailer", "0\r\nT: a", "b\r\n\r\n" },
	};
	char m[64];
	struct body_run r;
	size_t k;
	int c, n;

	for (c = 0; c < 256; c++)
		for (k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
			n = snprintf(m, sizeof(m), "%s", at[k].before);
			m[n++] = (char)c;
			n += snprintf(m + n, sizeof(m) - n, "%s", at[k].after);
			body_all(__LINE__, CHUNKED, 0, 64, m, n, &r);
			if ((r.rc == HTTP_DONE) != field_char(c)) {
				fprintf(stderr, "%s byte 0x%02x: rc %d\n", at[k].what, c, r.rc);
				check_failures++;
			}
		}
}

/* A request with a chunked body, then the next request on the connection. */
static void test_request_then_body(void)
{
	static const char m[] = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
				"3\r\nabc\r\n0\r\n\r\n"
				"GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
	struct stream s = STREAM(m);
	struct head_run h;
	struct body_run b;

	stream_head(__LINE__, false, &s, &h);
	CHECK_INT(http_request_body_mode(&h.req), CHUNKED);
	stream_body(__LINE__, CHUNKED, 0, &s, &b);
	CHECK_INT(b.rc, HTTP_DONE);
	CHECK_INT(b.consumed, 13);
	CHECK_INT(b.total, 3);
	stream_head(__LINE__, false, &s, &h);
	CHECK_SPAN(s.at, h.req.path, "/next");
}

/* Mutants of a valid chunked body: any split must agree with the whole. */
static void test_differential(void)
{
	static const char base[] = "4;x=\"y\"\r\nwiki\r\n5\r\npedia\r\n0\r\nA: b\r\nC:\r\n\r\nGET";
	static const char poke[] = "\r\n \t:;\"0aF9\x7f\x80";
	size_t len = sizeof(base) - 1, cuts[3], i, j;
	struct body_run whole, other;
	uint64_t seed = 42;
	char m[sizeof(base)];

	for (i = 0; i < 3000; i++) {
		memcpy(m, base, len);
		for (j = 0; j <= i % 3; j++)
			m[rnd_next(&seed) % len] = poke[rnd_next(&seed) % (sizeof(poke) - 1)];
		body_run(CHUNKED, 0, 64, m, &len, 1, &whole);
		random_cuts(&seed, len, cuts);
		body_run(CHUNKED, 0, 64, m, cuts, 3, &other);
		body_compare(__LINE__, "mutant three-piece", &whole, &other);
		if (i % 10 == 0)
			body_all(__LINE__, CHUNKED, 0, 64, m, len, &whole);
	}
}

int main(void)
{
	test_length();
	test_chunked();
	test_chunked_byte_at_a_time();
	test_chunk_left();
	test_chunk_size();
	test_chunk_terminator();
	test_trailers();
	test_char_classes();
	test_request_then_body();
	test_differential();
	return CHECK_EXIT();
}
