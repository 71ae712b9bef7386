/* libFuzzer target: the request parser and the body framer, over a
 * connection's byte stream that may hold several pipelined requests.
 *
 * The whole input is the stream, so plain HTTP seeds work as they are. Its
 * bytes also steer the run: a hash of them picks the cut points, a last
 * byte >= 0x80 picks a small head limit, and the byte before it may pick a
 * field-count limit (bit 7) and a request-line limit (bit 6), as
 * max_headers and max_request_line set. For each message: parse it whole
 * and in three pieces, which must agree exactly; check what a DONE head
 * promises (spans inside the head, sane framing); then frame the body whole
 * and in two pieces, which must agree too, and go on after the body. Any
 * disagreement or broken promise abort()s, so the fuzzer reports it.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/http_request.c \
 *        lib/http1*.c lib/buf.c lib/log.c
 */
#include <stdint.h>

#include "tests/fuzz/fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct fuzz_http_target *t, const struct http_parser *p)
{
	if (!p->error || (p->status != 400 && p->status != 414 && p->status != 431 &&
			  p->status != 501 && p->status != 505))
		fuzz_fail(t->name, "error status");
}

static void check_done(const struct fuzz_http_target *t, const struct head_run *r, size_t len)
{
	const struct http_request *req = &r->req;
	const struct http_head_common *h = &req->h;
	uint32_t end = h->head_len;

	fuzz_head_bounds(t, h, len);
	if (t->max_fields && h->n_fields > t->max_fields)
		fuzz_fail(t->name, "more fields than max_fields");
	/* METHOD SP TARGET SP HTTP/1.x: the line max_line bounds. */
	if (t->max_line &&
	    req->target.off + req->target.len + 9 - req->method_name.off > t->max_line)
		fuzz_fail(t->name, "request line longer than max_line");
	if (!req->method_name.len || !req->target.len || h->content_length < -1 ||
	    (h->chunked && h->content_length != -1))
		fuzz_fail(t->name, "request line or framing");
	if (!fuzz_span_inside(req->method_name, end) || !fuzz_span_inside(req->target, end) ||
	    !fuzz_span_inside(req->path, end) || !fuzz_span_inside(req->query, end) ||
	    !fuzz_span_inside(req->host, end))
		fuzz_fail(t->name, "request span outside the head");
	fuzz_head_spans(t, h);
}

static long body_step(const struct fuzz_http_target *t, const struct head_run *r,
		      const char *s, size_t len, uint8_t cut)
{
	enum http_body_mode mode = http_request_body_mode(&r->req);
	uint64_t cl = r->req.h.content_length > 0 ? (uint64_t)r->req.h.content_length : 0;
	struct body_run whole;

	fuzz_body_split(t, mode, cl, s, len, cut, &whole);
	if (mode == HTTP_BODY_LENGTH && whole.rc == HTTP_DONE && whole.total != cl)
		fuzz_fail(t->name, "length body total");
	if (whole.rc == HTTP_ERROR && !whole.error)
		fuzz_fail(t->name, "body error without reason");
	return whole.rc == HTTP_DONE ? (long)whole.consumed : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_http_target t = {
		.name = "http_request",
		.check_error = check_error,
		.check_done = check_done,
		.body_step = body_step,
	};

	if (size < 3)
		return 0;
	t.max_head = data[size - 1] & 0x80 ? 16 + (data[size - 1] & 0x7f) * 4 : 65536;
	t.max_fields = data[size - 2] & 0x80 ? 1 + (data[size - 2] & 0x1fu) : 0;
	t.max_line = data[size - 2] & 0x40 ? 8 + (data[size - 2] & 0x3fu) * 4 : 0;
	fuzz_http_walk(&t, data, size);
	return 0;
}
