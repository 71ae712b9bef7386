/* libFuzzer target: the request parser and the body framer, over a
 * connection's byte stream that may hold several pipelined requests.
 *
 * The whole input is the stream, so plain HTTP seeds work as they are. Its
 * bytes also steer the run: a hash of them picks the cut points, and a last
 * byte >= 0x80 picks a small head limit. For each message: parse it whole
 * and in three pieces, which must agree exactly; check what a DONE head
 * promises (spans inside the head, sane framing); then frame the body whole
 * and in two pieces, which must agree too, and go on after the body. Any
 * disagreement or broken promise abort()s, so the fuzzer reports it.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/http_request.c \
 *        lib/http1*.c lib/buf.c lib/log.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/lib/http1_harness.h"

#define MAX_MESSAGES 8
#define MAX_TRAILER 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FNV-1a: any mutation moves the cut points. */
static uint64_t input_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3;
	return h;
}

static void fail(const char *what)
{
	fprintf(stderr, "http_request fuzz: %s\n", what);
	abort();
}

static bool span_inside(struct http_span s, uint32_t end)
{
	return s.off <= end && s.len <= end - s.off;
}

static void check_done(const struct http_request *req, size_t len, uint32_t max_head)
{
	const struct http_head_common *h = &req->h;
	uint32_t end = h->head_len;
	unsigned i;

	if (end > len || end > max_head || h->n_fields > HTTP_MAX_HEADERS ||
	    h->n_conn_tokens > HTTP_MAX_CONN_TOKENS || h->version_minor > 1)
		fail("head bounds");
	if (!req->method_name.len || !req->target.len || h->content_length < -1 ||
	    (h->chunked && h->content_length != -1))
		fail("request line or framing");
	if (!span_inside(req->method_name, end) || !span_inside(req->target, end) ||
	    !span_inside(req->path, end) || !span_inside(req->query, end) ||
	    !span_inside(req->host, end))
		fail("request span outside the head");
	for (i = 0; i < h->n_fields; i++)
		if (!span_inside(h->fields[i].name, end) || !span_inside(h->fields[i].value, end) ||
		    !h->fields[i].name.len)
			fail("field span");
	for (i = 0; i < h->n_conn_tokens; i++)
		if (!span_inside(h->conn_tokens[i], end) || !h->conn_tokens[i].len)
			fail("connection token span");
}

static void check_error(const struct http_parser *p)
{
	if (!p->error || (p->status != 400 && p->status != 414 && p->status != 431 &&
			  p->status != 501 && p->status != 505))
		fail("error status");
}

/* Frame the body after <req>: whole and in two pieces. Returns the bytes
 * it took, or -1 when the stream cannot go on. */
static long body_step(const struct http_request *req, const char *s, size_t len, uint8_t cut)
{
	enum http_body_mode mode = http_request_body_mode(req);
	uint64_t cl = req->h.content_length > 0 ? (uint64_t)req->h.content_length : 0;
	size_t cuts[2] = { cut % (len + 1), len };
	struct body_run whole, split;

	body_run(mode, cl, MAX_TRAILER, s, &len, 1, &whole);
	body_run(mode, cl, MAX_TRAILER, s, cuts, 2, &split);
	body_compare(__LINE__, "two-piece", &whole, &split);
	if (check_failures)
		fail("body split differs");
	if (whole.consumed > len || whole.total > whole.consumed)
		fail("body counts");
	if (mode == HTTP_BODY_LENGTH && whole.rc == HTTP_DONE && whole.total != cl)
		fail("length body total");
	if (whole.rc == HTTP_ERROR && !whole.error)
		fail("body error without reason");
	return whole.rc == HTTP_DONE ? (long)whole.consumed : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct head_run *whole, *split;
	uint32_t max_head;
	const char *s;
	size_t len, cuts[3], a, b;
	uint64_t h;
	long body;
	int n;

	if (size < 2)
		return 0;
	max_head = data[size - 1] & 0x80 ? 16 + (data[size - 1] & 0x7f) * 4 : 65536;
	s = (const char *)data;
	len = size;
	h = input_hash(data, size);
	whole = malloc(sizeof(*whole));
	split = malloc(sizeof(*split));
	if (!whole || !split)
		abort();
	for (n = 0; n < MAX_MESSAGES && len; n++) {
		a = (h >> 8 * (n % 4)) % (len + 1);
		b = (h >> (32 + 8 * (n % 4))) % (len + 1);
		cuts[0] = a < b ? a : b;
		cuts[1] = a < b ? b : a;
		cuts[2] = len;
		head_run(false, s, &len, 1, max_head, 0x00, whole);
		head_run(false, s, cuts, 3, max_head, 0xff, split);
		head_compare(__LINE__, "three-piece", false, whole, split);
		if (check_failures)
			fail("head split differs");
		if (whole->rc == HTTP_ERROR)
			check_error(&whole->p);
		if (whole->rc != HTTP_DONE)
			break;
		check_done(&whole->req, len, max_head);
		s += whole->req.h.head_len;
		len -= whole->req.h.head_len;
		body = body_step(&whole->req, s, len, (uint8_t)(h >> n));
		if (body < 0)
			break;
		s += body;
		len -= body;
	}
	free(split);
	free(whole);
	return 0;
}
