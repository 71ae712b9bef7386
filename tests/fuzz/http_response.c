/* libFuzzer target: the response parser and the body framer, over an
 * upstream connection's byte stream (interim 1xx heads, then finals, then
 * further responses on a kept-alive connection).
 *
 * The whole input is the stream, so plain HTTP seeds work as they are. Its
 * bytes also steer the run: a hash of them picks the cut points, the last one
 * the request method and, when >= 0x80, a small head limit. For each
 * message: parse it whole and in three pieces, which must agree exactly;
 * check what a DONE head promises; then frame the body whole and in two
 * pieces, which must agree too, and go on after the body. Any disagreement
 * or broken promise abort()s, so the fuzzer reports it.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/http_response.c \
 *        lib/http1*.c lib/buf.c lib/log.c
 */
#include <stdint.h>

#include "tests/fuzz/fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct fuzz_http_target *t, const struct http_parser *p)
{
	if (p->status != 502 || !p->error)
		fuzz_fail(t->name, "error status");
}

static void check_done(const struct fuzz_http_target *t, const struct head_run *r, size_t len)
{
	const struct http_response *resp = &r->resp;
	const struct http_head_common *h = &resp->h;

	fuzz_head_bounds(t, h, len);
	if (resp->status < 100 || resp->status > 599 || h->content_length < -1 ||
	    (h->chunked && h->content_length != -1))
		fuzz_fail(t->name, "status line or framing");
	if (!fuzz_span_inside(resp->reason, h->head_len))
		fuzz_fail(t->name, "reason span outside the head");
	fuzz_head_spans(t, h);
}

static long body_step(const struct fuzz_http_target *t, const struct head_run *r,
		      const char *s, size_t len, uint8_t cut)
{
	enum http_body_mode mode = http_response_body_mode(&r->resp, t->method);
	uint64_t cl = r->resp.h.content_length > 0 ? (uint64_t)r->resp.h.content_length : 0;
	struct body_run whole;

	fuzz_body_split(t, mode, cl, s, len, cut, &whole);
	if (mode == HTTP_BODY_UNTIL_CLOSE && (whole.rc != HTTP_AGAIN || whole.consumed != len))
		fuzz_fail(t->name, "until-close body must take everything");
	if (mode == HTTP_BODY_NONE && (whole.rc != HTTP_DONE || whole.consumed))
		fuzz_fail(t->name, "no body must take nothing");
	if (whole.rc == HTTP_ERROR && !whole.error)
		fuzz_fail(t->name, "body error without reason");
	return whole.rc == HTTP_DONE ? (long)whole.consumed : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[4] = {
		HTTP_M_GET, HTTP_M_HEAD, HTTP_M_CONNECT, HTTP_M_POST,
	};
	struct fuzz_http_target t = {
		.name = "http_response",
		.response = true,
		.check_error = check_error,
		.check_done = check_done,
		.body_step = body_step,
	};

	if (size < 2)
		return 0;
	/* A seed ending in LF (0x0a) gets GET and the normal limit. */
	t.max_head = data[size - 1] & 0x80 ? 16 + (data[size - 1] & 0x1f) * 8 : 65536;
	t.method = methods[(data[size - 1] >> 5) & 3];
	fuzz_http_walk(&t, data, size);
	return 0;
}
