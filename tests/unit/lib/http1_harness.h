/* Feeding and comparison helpers shared by the HTTP/1.1 parser tests.
 *
 * A run feeds a message in pieces: for a head, the buffer grows to each cut
 * in turn; for a body, each piece is handed over alone. Every call gets a
 * fresh heap copy of exactly the bytes it may see, so a parser that reads
 * past len trips AddressSanitizer and one that kept a pointer from an
 * earlier call reads freed memory. Runs start from differently poisoned
 * structs, so a field the parser forgot to set shows up as a difference.
 *
 * *_all() helpers parse whole, byte by byte and cut in two at every point,
 * and count a failure (check.h) whenever a run disagrees with the whole one.
 */
#ifndef GW_TESTS_UNIT_LIB_HTTP1_HARNESS_H
#define GW_TESTS_UNIT_LIB_HTTP1_HARNESS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http1.h"
#include "tests/unit/check.h"

#define MAX_HEAD 8192

/* A string literal and its length, NULs included. */
#define MSG(s) (s), (sizeof(s) - 1)

struct head_run {
	enum http_result rc;
	struct http_parser p;
	struct http_request req;
	struct http_response resp;
};

struct body_run {
	enum http_result rc;
	size_t consumed;	/* summed over the calls */
	uint64_t total;
	const char *error;
};

static inline char *dup_bytes(const char *src, size_t len)
{
	char *b = malloc(len ? len : 1);

	if (!b) {
		perror("malloc");
		exit(T_EXIT_FAIL);
	}
	memcpy(b, src, len);
	return b;
}

/* Grow the buffer to each of cuts[0..ncuts) (ascending) and parse, with
 * http_parser_limits(<max_fields>, <max_line>) unless both are 0. */
static inline void head_run_limits(bool response, const char *msg, const size_t *cuts,
				   size_t ncuts, uint32_t max_head, unsigned max_fields,
				   uint32_t max_line, uint8_t poison, struct head_run *r)
{
	char *buf;
	size_t i;

	memset(r, poison, sizeof(*r));
	http_parser_init(&r->p, max_head);
	if (max_fields || max_line)
		http_parser_limits(&r->p, max_fields, max_line);
	r->rc = HTTP_AGAIN;
	for (i = 0; i < ncuts && r->rc == HTTP_AGAIN; i++) {
		buf = dup_bytes(msg, cuts[i]);
		if (response)
			r->rc = http_parse_response(&r->p, buf, cuts[i], &r->resp);
		else
			r->rc = http_parse_request(&r->p, buf, cuts[i], &r->req);
		free(buf);
	}
}

static inline void head_run(bool response, const char *msg, const size_t *cuts, size_t ncuts,
			    uint32_t max_head, uint8_t poison, struct head_run *r)
{
	head_run_limits(response, msg, cuts, ncuts, max_head, 0, 0, poison, r);
}

static inline bool span_same(struct http_span a, struct http_span b)
{
	return a.off == b.off && a.len == b.len;
}

static inline const char *common_diff(const struct http_head_common *a,
				      const struct http_head_common *b)
{
	unsigned i;

	if (a->version_minor != b->version_minor || a->keep_alive != b->keep_alive ||
	    a->chunked != b->chunked || a->content_length != b->content_length)
		return "version/keep_alive/chunked/content_length";
	if (a->n_fields != b->n_fields || a->n_conn_tokens != b->n_conn_tokens ||
	    a->head_len != b->head_len)
		return "n_fields/n_conn_tokens/head_len";
	for (i = 0; i < a->n_fields; i++)
		if (!span_same(a->fields[i].name, b->fields[i].name) ||
		    !span_same(a->fields[i].value, b->fields[i].value))
			return "fields";
	for (i = 0; i < a->n_conn_tokens; i++)
		if (!span_same(a->conn_tokens[i], b->conn_tokens[i]))
			return "conn_tokens";
	return NULL;
}

/* NULL when both runs say the same, else what differs. */
static inline const char *head_diff(bool response, const struct head_run *a,
				    const struct head_run *b)
{
	const struct http_request *x = &a->req, *y = &b->req;

	if (a->rc != b->rc)
		return "result";
	if (a->rc == HTTP_ERROR)
		return a->p.status != b->p.status || strcmp(a->p.error, b->p.error) ?
		       "status/error" : NULL;
	if (a->rc != HTTP_DONE)
		return NULL;
	if (response) {
		if (a->resp.status != b->resp.status ||
		    !span_same(a->resp.reason, b->resp.reason))
			return "status/reason";
		return common_diff(&a->resp.h, &b->resp.h);
	}
	if (x->method != y->method || x->expect_continue != y->expect_continue)
		return "method/expect_continue";
	if (!span_same(x->method_name, y->method_name) || !span_same(x->target, y->target) ||
	    !span_same(x->path, y->path) || !span_same(x->query, y->query) ||
	    !span_same(x->host, y->host))
		return "request spans";
	return common_diff(&x->h, &y->h);
}

static inline void head_compare(int line, const char *how, bool response,
				const struct head_run *whole, const struct head_run *other)
{
	const char *what = head_diff(response, whole, other);

	if (what) {
		fprintf(stderr, "line %d: %s parse differs from whole in %s\n", line, how, what);
		check_failures++;
	}
}

/* Parse msg[0..len) whole, byte by byte, and in two pieces cut at every
 * point; the whole run is left in *whole. */
static inline void head_all(int line, bool response, const char *msg, size_t len,
			    uint32_t max_head, struct head_run *whole)
{
	size_t *cuts = malloc((len + 2) * sizeof(*cuts));
	struct head_run *other = malloc(sizeof(*other));
	size_t i;

	if (!cuts || !other)
		exit(T_EXIT_FAIL);
	head_run(response, msg, &len, 1, max_head, 0x00, whole);
	for (i = 0; i <= len; i++)
		cuts[i] = i;
	head_run(response, msg, cuts, len + 1, max_head, 0xff, other);
	head_compare(line, "byte-at-a-time", response, whole, other);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		cuts[1] = len;
		head_run(response, msg, cuts, 2, max_head, (uint8_t)(0x10 + i), other);
		head_compare(line, "two-piece", response, whole, other);
	}
	free(other);
	free(cuts);
}

/* Parse msg[0..len) (head_all); count a failure unless it is DONE. */
static inline void head_ok_at(int line, bool response, const char *msg, size_t len,
			      struct head_run *r)
{
	head_all(line, response, msg, len, MAX_HEAD, r);
	if (r->rc != HTTP_DONE) {
		fprintf(stderr, "line %d: want DONE, got %d (%u %s)\n", line, r->rc, r->p.status,
			r->rc == HTTP_ERROR ? r->p.error : "");
		check_failures++;
	}
}

/* Parse msg[0..len) (head_all); count a failure unless it is an error with
 * <status> and <error> (any error when <error> is NULL). */
static inline void head_bad_at(int line, bool response, const char *msg, size_t len,
			       uint32_t max_head, unsigned status, const char *error)
{
	struct head_run r;

	head_all(line, response, msg, len, max_head, &r);
	if (r.rc != HTTP_ERROR) {
		fprintf(stderr, "line %d: want error %u, got rc %d\n", line, status, r.rc);
		check_failures++;
	} else if (r.p.status != status || (error && strcmp(r.p.error, error))) {
		fprintf(stderr, "line %d: want %u \"%s\", got %u \"%s\"\n", line, status,
			error ? error : "*", r.p.status, r.p.error);
		check_failures++;
	}
}

/* Feed data[0..len) to a fresh framer, each piece data[cuts[i-1], cuts[i])
 * alone. */
static inline void body_run(enum http_body_mode mode, uint64_t cl, uint32_t max_trailer,
			    const char *data, const size_t *cuts, size_t ncuts,
			    struct body_run *r)
{
	struct http_body b;
	size_t i, prev = 0, used;
	char *piece;

	http_body_init(&b, mode, cl, max_trailer);
	r->rc = HTTP_AGAIN;
	r->consumed = 0;
	for (i = 0; i < ncuts && r->rc == HTTP_AGAIN; i++) {
		piece = dup_bytes(data + prev, cuts[i] - prev);
		r->rc = http_body_feed(&b, piece, cuts[i] - prev, &used);
		free(piece);
		if (used > cuts[i] - prev) {
			fprintf(stderr, "body consumed %zu of %zu bytes\n", used, cuts[i] - prev);
			check_failures++;
		}
		r->consumed += used;
		prev = cuts[i];
	}
	r->total = b.total;
	r->error = r->rc == HTTP_ERROR ? b.error : NULL;
}

static inline void body_compare(int line, const char *how, const struct body_run *a,
				const struct body_run *b)
{
	if (a->rc != b->rc || a->consumed != b->consumed || a->total != b->total ||
	    (a->error != b->error && (!a->error || !b->error || strcmp(a->error, b->error)))) {
		fprintf(stderr, "line %d: %s body feed differs: rc %d/%d consumed %zu/%zu "
			"total %llu/%llu\n", line, how, a->rc, b->rc, a->consumed, b->consumed,
			(unsigned long long)a->total, (unsigned long long)b->total);
		check_failures++;
	}
}

/* The body counterpart of head_all(). */
static inline void body_all(int line, enum http_body_mode mode, uint64_t cl,
			    uint32_t max_trailer, const char *data, size_t len,
			    struct body_run *whole)
{
	size_t *cuts = malloc((len + 2) * sizeof(*cuts));
	struct body_run other;
	size_t i;

	if (!cuts)
		exit(T_EXIT_FAIL);
	body_run(mode, cl, max_trailer, data, &len, 1, whole);
	for (i = 0; i <= len; i++)
		cuts[i] = i;
	body_run(mode, cl, max_trailer, data, cuts, len + 1, &other);
	body_compare(line, "byte-at-a-time", whole, &other);
	for (i = 0; i <= len; i++) {
		cuts[0] = i;
		cuts[1] = len;
		body_run(mode, cl, max_trailer, data, cuts, 2, &other);
		body_compare(line, "two-piece", whole, &other);
	}
	free(cuts);
}

/* A connection's byte stream msg[0..len), read one part after the other as
 * a server would: <off> is where the next part starts and <at> where the
 * last head started (that head's spans count from there). */
struct stream {
	const char *msg;
	size_t len;
	size_t off;
	const char *at;
};

#define STREAM(lit) { .msg = (lit), .len = sizeof(lit) - 1 }

/* Parse the next head (head_ok_at: it must be DONE) and step past it. */
static inline void stream_head(int line, bool response, struct stream *s, struct head_run *r)
{
	s->at = s->msg + s->off;
	head_ok_at(line, response, s->at, s->len - s->off, r);
	s->off += response ? r->resp.h.head_len : r->req.h.head_len;
}

/* Frame the next body (body_all, no room for trailers) and step past what
 * it took. */
static inline void stream_body(int line, enum http_body_mode mode, uint64_t cl,
			       struct stream *s, struct body_run *b)
{
	body_all(line, mode, cl, 0, s->msg + s->off, s->len - s->off, b);
	s->off += b->consumed;
}

/* True when span <s> of <msg> holds exactly <want>; prints otherwise. */
static inline bool span_is(int line, const char *msg, struct http_span s, const char *want)
{
	size_t n = strlen(want), have = strlen(msg);

	if (s.len == n && s.off <= have && have - s.off >= n && memcmp(msg + s.off, want, n) == 0)
		return true;
	if (s.off <= have && have - s.off >= s.len)
		fprintf(stderr, "line %d: span {%u,%u} is \"%.*s\", want \"%s\"\n", line,
			s.off, s.len, (int)s.len, msg + s.off, want);
	else
		fprintf(stderr, "line %d: span {%u,%u} is out of the message, want \"%s\"\n",
			line, s.off, s.len, want);
	return false;
}

#define CHECK_SPAN(msg, s, want) CHECK(span_is(__LINE__, (msg), (s), (want)))

/* <start>, a start line and <first> fields, filled up with fields X<first>,
 * X<first + 1>... to exactly HTTP_MAX_HEADERS: it must parse with all of
 * them; one field more must fail with <status> "too many header fields". */
static inline void head_fields_limit(int line, bool response, const char *start, int first,
				     unsigned status)
{
	char big[4096], last[16];
	struct head_run r;
	const struct http_head_common *h = response ? &r.resp.h : &r.req.h;
	int i, n;

	n = snprintf(big, sizeof(big), "%s", start);
	for (i = first; i < HTTP_MAX_HEADERS; i++)
		n += snprintf(big + n, sizeof(big) - n, "X%d: %d\r\n", i, i);
	n += snprintf(big + n, sizeof(big) - n, "\r\n");
	head_ok_at(line, response, big, n, &r);
	if (h->n_fields != HTTP_MAX_HEADERS) {
		fprintf(stderr, "line %d: %u fields, want %d\n", line, (unsigned)h->n_fields,
			HTTP_MAX_HEADERS);
		check_failures++;
	}
	snprintf(last, sizeof(last), "X%d", HTTP_MAX_HEADERS - 1);
	if (!span_is(line, big, h->fields[HTTP_MAX_HEADERS - 1].name, last))
		check_failures++;
	n -= 2;
	n += snprintf(big + n, sizeof(big) - n, "Y: 1\r\n\r\n");
	head_bad_at(line, response, big, n, MAX_HEAD, status, "too many header fields");
}

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static inline uint64_t rnd_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/* Cut <len> at two random points. */
static inline void random_cuts(uint64_t *seed, size_t len, size_t cuts[3])
{
	size_t a = rnd_next(seed) % (len + 1), b = rnd_next(seed) % (len + 1);

	cuts[0] = a < b ? a : b;
	cuts[1] = a < b ? b : a;
	cuts[2] = len;
}

/* For each valid message of <corpus> (each under 256 bytes): whole against
 * three random pieces, then mutants with a few bytes replaced by ones that
 * matter to the grammar, whole against three random pieces and against
 * byte-at-a-time. Valid or not, any split must give what the whole gives. */
static inline void head_differential(int line, bool response, const char *const *corpus,
				     size_t n)
{
	static const char poke[] = "\r\n \t:,;%?/[]\"\\0aZ9\x7f\x80\xff";
	struct head_run whole, other;
	uint64_t seed = 0x9e3779b97f4a7c15;
	size_t i, k, j, len, cuts[3], bytes[256];
	char m[256];

	for (j = 0; j < 256; j++)
		bytes[j] = j;
	for (i = 0; i < n; i++) {
		len = strlen(corpus[i]);
		head_run(response, corpus[i], &len, 1, MAX_HEAD, 0x00, &whole);
		if (whole.rc != HTTP_DONE || len >= 256) {
			fprintf(stderr, "line %d: corpus[%zu] does not parse\n", line, i);
			check_failures++;
			continue;
		}
		for (k = 0; k < 200; k++) {
			random_cuts(&seed, len, cuts);
			head_run(response, corpus[i], cuts, 3, MAX_HEAD, 0x77, &other);
			head_compare(line, "three-piece", response, &whole, &other);
		}
		for (k = 0; k < 400; k++) {
			memcpy(m, corpus[i], len);
			for (j = 0; j <= k % 3; j++)
				m[rnd_next(&seed) % len] = poke[rnd_next(&seed) % (sizeof(poke) - 1)];
			head_run(response, m, &len, 1, MAX_HEAD, 0x00, &whole);
			random_cuts(&seed, len, cuts);
			head_run(response, m, cuts, 3, MAX_HEAD, 0x77, &other);
			head_compare(line, "mutant three-piece", response, &whole, &other);
			head_run(response, m, bytes, len + 1, MAX_HEAD, 0xee, &other);
			head_compare(line, "mutant byte-at-a-time", response, &whole, &other);
		}
	}
}

#endif
