/* The walk shared by the HTTP/1.1 libFuzzer targets (http_request.c,
 * http_response.c), and the checks every message must pass whatever its
 * kind.
 *
 * The whole input is one connection's byte stream. A hash of its bytes
 * picks the cut points. For each message (at most FUZZ_MAX_MESSAGES): parse
 * the head whole and in three pieces, which must agree exactly; let the
 * target check an error or a DONE head; then the target frames the body
 * (fuzz_body_split(): whole and in two pieces, which must agree) and the
 * walk goes on after it. Any disagreement or broken promise abort()s with
 * the target's name, so the fuzzer reports it.
 */
#ifndef GW_TESTS_FUZZ_FUZZ_HTTP_H
#define GW_TESTS_FUZZ_FUZZ_HTTP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/lib/http1_harness.h"

#define FUZZ_MAX_MESSAGES 8
#define FUZZ_MAX_TRAILER 256	/* bytes */

/* One target: what it parses and its own checks, called by fuzz_http_walk(). */
struct fuzz_http_target {
	const char *name;		/* in the abort report, e.g. "http_request" */
	bool response;			/* parse responses, not requests */
	uint32_t max_head;		/* head limit for this input, bytes */
	unsigned max_fields;		/* requests: http_parser_limits(); 0 = none */
	uint32_t max_line;
	enum http_method method;	/* the request's method, for response bodies */
	/* Checks a head that ended in HTTP_ERROR. */
	void (*check_error)(const struct fuzz_http_target *t, const struct http_parser *p);
	/* Checks a DONE head <r>, parsed from <len> input bytes. */
	void (*check_done)(const struct fuzz_http_target *t, const struct head_run *r, size_t len);
	/* Frames the body in s[0..len) after the DONE head <r>, the two-piece
	 * run cut at <cut>. Returns the bytes it took, or -1 when the stream
	 * cannot go on. */
	long (*body_step)(const struct fuzz_http_target *t, const struct head_run *r,
			  const char *s, size_t len, uint8_t cut);
};

/* FNV-1a: any mutation moves the cut points. */
static inline uint64_t fuzz_input_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3;
	return h;
}

static inline void fuzz_fail(const char *target, const char *what)
{
	fprintf(stderr, "%s fuzz: %s\n", target, what);
	abort();
}

static inline bool fuzz_span_inside(struct http_span s, uint32_t end)
{
	return s.off <= end && s.len <= end - s.off;
}

/* Parse s[0..len) whole into *whole and in three pieces into *split, cut
 * where the hash <h> says for message <n>; the two must agree exactly. */
static inline void fuzz_head_split(const struct fuzz_http_target *t, const char *s, size_t len,
				   uint64_t h, int n, struct head_run *whole,
				   struct head_run *split)
{
	size_t cuts[3], a, b;

	a = (h >> 8 * (n % 4)) % (len + 1);
	b = (h >> (32 + 8 * (n % 4))) % (len + 1);
	cuts[0] = a < b ? a : b;
	cuts[1] = a < b ? b : a;
	cuts[2] = len;
	head_run_limits(t->response, s, &len, 1, t->max_head, t->max_fields, t->max_line, 0x00,
			whole);
	head_run_limits(t->response, s, cuts, 3, t->max_head, t->max_fields, t->max_line, 0xff,
			split);
	head_compare(__LINE__, "three-piece", t->response, whole, split);
	if (check_failures)
		fuzz_fail(t->name, "head split differs");
}

/* Walk data[0..size) message by message with target <t>'s checks. */
static inline void fuzz_http_walk(const struct fuzz_http_target *t, const uint8_t *data,
				  size_t size)
{
	struct head_run *whole = malloc(sizeof(*whole)), *split = malloc(sizeof(*split));
	const char *s = (const char *)data;
	uint64_t h = fuzz_input_hash(data, size);
	size_t len = size, head_len;
	long body;
	int n;

	if (!whole || !split)
		abort();
	for (n = 0; n < FUZZ_MAX_MESSAGES && len; n++) {
		fuzz_head_split(t, s, len, h, n, whole, split);
		if (whole->rc == HTTP_ERROR)
			t->check_error(t, &whole->p);
		if (whole->rc != HTTP_DONE)
			break;
		t->check_done(t, whole, len);
		head_len = t->response ? whole->resp.h.head_len : whole->req.h.head_len;
		s += head_len;
		len -= head_len;
		body = t->body_step(t, whole, s, len, (uint8_t)(h >> n));
		if (body < 0)
			break;
		s += body;
		len -= body;
	}
	free(split);
	free(whole);
}

/* A DONE head of <len> input bytes: its length and counts within bounds.
 * The first check of a target's check_done(). */
static inline void fuzz_head_bounds(const struct fuzz_http_target *t,
				    const struct http_head_common *h, size_t len)
{
	uint32_t end = h->head_len;

	if (end > len || end > t->max_head || h->n_fields > HTTP_MAX_HEADERS ||
	    h->n_conn_tokens > HTTP_MAX_CONN_TOKENS || h->version_minor > 1)
		fuzz_fail(t->name, "head bounds");
}

/* A DONE head: every field and Connection token a non-empty span inside
 * the head. The last check of a target's check_done(). */
static inline void fuzz_head_spans(const struct fuzz_http_target *t,
				   const struct http_head_common *h)
{
	uint32_t end = h->head_len;
	unsigned i;

	for (i = 0; i < h->n_fields; i++)
		if (!fuzz_span_inside(h->fields[i].name, end) ||
		    !fuzz_span_inside(h->fields[i].value, end) || !h->fields[i].name.len)
			fuzz_fail(t->name, "field span");
	for (i = 0; i < h->n_conn_tokens; i++)
		if (!fuzz_span_inside(h->conn_tokens[i], end) || !h->conn_tokens[i].len)
			fuzz_fail(t->name, "connection token span");
}

/* Frame the body s[0..len) whole into *whole and in two pieces (cut at
 * <cut>), which must agree, and check the counts. The target checks its
 * body modes after. */
static inline void fuzz_body_split(const struct fuzz_http_target *t, enum http_body_mode mode,
				   uint64_t cl, const char *s, size_t len, uint8_t cut,
				   struct body_run *whole)
{
	size_t cuts[2] = { cut % (len + 1), len };
	struct body_run split;

	body_run(mode, cl, FUZZ_MAX_TRAILER, s, &len, 1, whole);
	body_run(mode, cl, FUZZ_MAX_TRAILER, s, cuts, 2, &split);
	body_compare(__LINE__, "two-piece", whole, &split);
	if (check_failures)
		fuzz_fail(t->name, "body split differs");
	if (whole->consumed > len || whole->total > whole->consumed)
		fuzz_fail(t->name, "body counts");
}

#endif
