/* Unit test for the HTTP/1.1 response parser and response body framing
 * (lib/http1.c, lib/http1_head.c, lib/http1_body.c) through lib/http1.h.
 *
 * Every response is parsed whole, byte by byte and cut in two at every
 * point (http1_harness.h), and all runs must agree.
 */
#include <stdio.h>

#include "tests/unit/lib/http1_harness.h"

#define RESP_OK(msg, r) head_ok_at(__LINE__, true, MSG(msg), (r))
#define RESP_BAD(msg, error) head_bad_at(__LINE__, true, MSG(msg), MAX_HEAD, 502, (error))

static void test_basic(void)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello"
				"HTTP/1.1 404 Not Found\r\n\r\n";
	struct stream s = STREAM(m);
	struct head_run r;
	struct body_run b;

	stream_head(__LINE__, true, &s, &r);
	CHECK_INT(r.resp.status, 200);
	CHECK_SPAN(m, r.resp.reason, "OK");
	CHECK_INT(r.resp.h.version_minor, 1);
	CHECK(r.resp.h.keep_alive);
	CHECK_INT(r.resp.h.content_length, 5);
	CHECK_INT(r.resp.h.n_fields, 2);
	CHECK_SPAN(m, r.resp.h.fields[1].name, "Server");
	CHECK_SPAN(m, r.resp.h.fields[1].value, "x");
	CHECK_INT(r.resp.h.head_len, 49);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_LENGTH);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_HEAD), HTTP_BODY_NONE);
	stream_body(__LINE__, HTTP_BODY_LENGTH, 5, &s, &b);
	CHECK_INT(b.rc, HTTP_DONE);
	CHECK_INT(b.consumed, 5);
	stream_head(__LINE__, true, &s, &r);
	CHECK_INT(r.resp.status, 404);
	CHECK_SPAN(s.at, r.resp.reason, "Not Found");
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_UNTIL_CLOSE);
}

static void test_no_body(void)
{
	static const char s204[] = "HTTP/1.1 204 No Content\r\n\r\n";
	static const char s304[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n";
	static const char s101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\n\r\n";
	static const char te304[] = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct head_run r;

	RESP_OK(s204, &r);
	CHECK_INT(r.resp.status, 204);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_NONE);
	RESP_OK(s304, &r);
	CHECK_INT(r.resp.h.content_length, 100);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_NONE);
	RESP_OK(te304, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_NONE);
	RESP_OK(s101, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_NONE);
	CHECK_INT(r.resp.h.n_conn_tokens, 1);
	CHECK_SPAN(s101, r.resp.h.conn_tokens[0], "Upgrade");
}

/* An interim 100 is a complete head of its own; the final response follows
 * it in the same buffer. */
static void test_interim(void)
{
	static const char m[] = "HTTP/1.1 100 Continue\r\n\r\n"
				"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct stream s = STREAM(m);
	struct head_run r;
	struct body_run b;

	stream_head(__LINE__, true, &s, &r);
	CHECK_INT(r.resp.status, 100);
	CHECK_INT(r.resp.h.head_len, 25);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_POST), HTTP_BODY_NONE);
	stream_head(__LINE__, true, &s, &r);
	CHECK_INT(r.resp.status, 200);
	CHECK_INT(s.off, s.len);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_POST), HTTP_BODY_LENGTH);
	stream_body(__LINE__, HTTP_BODY_LENGTH, 0, &s, &b);
	CHECK_INT(b.rc, HTTP_DONE);
	CHECK_INT(b.consumed, 0);
}

static void test_framing(void)
{
	static const char close10[] = "HTTP/1.0 200 OK\r\n\r\nbody until close";
	static const char close11[] = "HTTP/1.1 200 OK\r\n\r\n";
	static const char ka10[] = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
	static const char cclose[] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n";
	static const char gzip[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
	static const char gzch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;level=9\r\n"
				   "Transfer-Encoding: x;q=\"a,\\\"b\" , chunked\r\n\r\n";
	static const char params[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: x ; a = b ; c=\"\"\r\n\r\n";
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "5\r\nhello\r\n0\r\n\r\nHTTP";
	size_t len;
	struct head_run r;
	struct body_run b;

	RESP_OK(close10, &r);
	CHECK(!r.resp.h.keep_alive);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_UNTIL_CLOSE);
	len = sizeof(close10) - 1 - r.resp.h.head_len;
	body_all(__LINE__, HTTP_BODY_UNTIL_CLOSE, 0, 0, close10 + r.resp.h.head_len, len, &b);
	CHECK_INT(b.rc, HTTP_AGAIN);
	CHECK_INT(b.consumed, len);
	CHECK_INT(b.total, len);
	RESP_OK(close11, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_UNTIL_CLOSE);
	RESP_OK(ka10, &r);
	CHECK(r.resp.h.keep_alive);
	RESP_OK(cclose, &r);
	CHECK(!r.resp.h.keep_alive);
	RESP_OK(gzip, &r);
	CHECK(!r.resp.h.chunked);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_UNTIL_CLOSE);
	RESP_OK(gzch, &r);
	CHECK(r.resp.h.chunked);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_CHUNKED);
	RESP_OK(params, &r);
	CHECK(!r.resp.h.chunked);
	RESP_OK(ch, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_CHUNKED);
	len = sizeof(ch) - 1 - r.resp.h.head_len;
	body_all(__LINE__, HTTP_BODY_CHUNKED, 0, 0, ch + r.resp.h.head_len, len, &b);
	CHECK_INT(b.rc, HTTP_DONE);
	CHECK_INT(b.consumed, len - 4);
	CHECK_INT(b.total, 5);
}

static void test_connect_and_head(void)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char denied[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
				     "Content-Length: 3\r\n\r\n";
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	struct head_run r;

	RESP_OK(ok, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_CONNECT), HTTP_BODY_NONE);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_UNTIL_CLOSE);
	RESP_OK(denied, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_CONNECT), HTTP_BODY_LENGTH);
	RESP_OK(head, &r);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_HEAD), HTTP_BODY_NONE);
	CHECK_INT(http_response_body_mode(&r.resp, HTTP_M_GET), HTTP_BODY_LENGTH);
}

static void test_reason(void)
{
	static const char empty[] = "HTTP/1.1 200 \r\n\r\n";
	static const char spaced[] = "HTTP/1.1 404 Not  Found\t\r\n\r\n";
	static const char utf8[] = "HTTP/1.1 599 \xe2\x9c\x93\r\n\r\n";
	struct head_run r;

	RESP_OK(empty, &r);
	CHECK_INT(r.resp.reason.len, 0);
	RESP_OK(spaced, &r);
	CHECK_SPAN(spaced, r.resp.reason, "Not  Found\t");
	RESP_OK(utf8, &r);
	CHECK_INT(r.resp.status, 599);
	CHECK_SPAN(utf8, r.resp.reason, "\xe2\x9c\x93");
}

static void test_reject(void)
{
	RESP_BAD("HTTP/1.1 200\r\n\r\n", "invalid status line");
	RESP_BAD("HTTP/1.1  200 OK\r\n\r\n", "invalid status code");
	RESP_BAD("HTTP/1.1 20 OK\r\n\r\n", "invalid status code");
	RESP_BAD("HTTP/1.1 2000 OK\r\n\r\n", "invalid status line");
	RESP_BAD("HTTP/1.1 2x0 OK\r\n\r\n", "invalid status code");
	RESP_BAD("HTTP/1.1 099 X\r\n\r\n", "invalid status code");
	RESP_BAD("HTTP/1.1 600 X\r\n\r\n", "invalid status code");
	RESP_BAD("HTTP/2.0 200 OK\r\n\r\n", "http version not supported");
	RESP_BAD("HTTP/1.2 200 OK\r\n\r\n", "http version not supported");
	RESP_BAD("HTTP/1.1\t200 OK\r\n\r\n", "invalid status line");
	RESP_BAD("http/1.1 200 OK\r\n\r\n", "invalid http version");
	RESP_BAD("\r\nHTTP/1.1 200 OK\r\n\r\n", "invalid http version");
	RESP_BAD("HTTP/1.1 200 OK\n\r\n", "bare LF");
	RESP_BAD("HTTP/1.1 200 OK\rX\r\n", "bare CR");
	RESP_BAD("HTTP/1.1 200 O\x01K\r\n\r\n", "invalid reason phrase");
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "content-length with transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\n",
		 "content-length with transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		 "chunked is not the final coding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
		 "chunked is not the final coding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "chunked applied twice");
	RESP_BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "transfer-encoding in http/1.0");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: x;a\r\n\r\n", "invalid transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: x;a=\"b\r\n\r\n", "invalid transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: x;a=\"b\\\"\r\n\r\n",
		 "invalid transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: x;=b\r\n\r\n", "invalid transfer-encoding");
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		 "conflicting content-length");
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "invalid content-length");
	RESP_BAD("HTTP/1.1 200 OK\r\nA: 1\r\n b\r\n\r\n", "obs-fold");
	RESP_BAD("HTTP/1.1 200 OK\r\nA : 1\r\n\r\n", "whitespace before colon");
	RESP_BAD("HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", "invalid character in field value");
}

static void test_limits(void)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct head_run r;

	head_all(__LINE__, true, MSG(m), sizeof(m) - 1, &r);
	CHECK_INT(r.rc, HTTP_DONE);
	head_bad_at(__LINE__, true, MSG(m), sizeof(m) - 2, 502, "response head too large");
	head_bad_at(__LINE__, true, MSG(m), 5, 502, "response head too large");

	/* HTTP_MAX_HEADERS fields fit; one more is an error. */
	head_fields_limit(__LINE__, true, "HTTP/1.1 200 OK\r\n", 0, 502);
}

static void test_reason_chars(void)
{
	char m[64];
	struct head_run r;
	bool want;
	int c, n;

	for (c = 0; c < 256; c++) {
		n = snprintf(m, sizeof(m), "HTTP/1.1 200 O");
		m[n++] = (char)c;
		n += snprintf(m + n, sizeof(m) - n, "K\r\n\r\n");
		head_all(__LINE__, true, m, n, MAX_HEAD, &r);
		want = (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t';
		if ((r.rc == HTTP_DONE) != want) {
			fprintf(stderr, "reason byte 0x%02x: rc %d\n", c, r.rc);
			check_failures++;
		}
	}
}

static const char *const corpus[] = {
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\n",
	"HTTP/1.0 404 Not Found\r\nConnection: keep-alive, X-A\r\n\r\n",
	"HTTP/1.1 200 \r\nTransfer-Encoding: gzip, chunked\r\nA:\r\n\r\n",
	"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
	"HTTP/1.1 503 Busy \xff\r\nTransfer-Encoding: x;a=\"b,c\"\r\nRetry-After: 5\r\n\r\n",
};

static void test_differential(void)
{
	head_differential(__LINE__, true, corpus, sizeof(corpus) / sizeof(corpus[0]));
}

int main(void)
{
	test_basic();
	test_no_body();
	test_interim();
	test_framing();
	test_connect_and_head();
	test_reason();
	test_reject();
	test_limits();
	test_reason_chars();
	test_differential();
	return CHECK_EXIT();
}
