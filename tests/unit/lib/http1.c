/* Unit test for the HTTP/1.1 request parser and the lookup helpers
 * (lib/http1.c, lib/http1_head.c, lib/http1_util.c) through lib/http1.h.
 *
 * Every message, valid or not, is parsed whole, byte by byte and cut in two
 * at every point (http1_harness.h), and all runs must agree. Responses are
 * in http1_response.c and bodies in http1_body.c.
 */
#include <stdio.h>

#include "tests/unit/lib/http1_harness.h"

#define REQ_OK(msg, r) head_ok_at(__LINE__, false, MSG(msg), (r))
#define REQ_BAD(msg, status, error) \
	head_bad_at(__LINE__, false, MSG(msg), MAX_HEAD, (status), (error))

#define HOST "Host: a\r\n"
/* What follows the target in a request line, to the end of the head. */
#define LINE_END " HTTP/1.1\r\n" HOST "\r\n"

/* A request the parser must reject: <part> (<len> bytes, NULs allowed) goes
 * between the fixed start and end its test sends it with; <line> is where
 * the case is written, for the report. */
struct reject {
	int line;
	const char *part;
	size_t len;
	unsigned status;
	const char *error;
};

#define REJECT(part, status, error) { __LINE__, MSG(part), (status), (error) }
#define REJECT_EACH(pre, post, cases) \
	reject_each((pre), (post), (cases), sizeof(cases) / sizeof((cases)[0]))

/* Send each of <c> as <pre> part <post> (head_bad_at). */
static void reject_each(const char *pre, const char *post, const struct reject *c, size_t n)
{
	size_t a = strlen(pre), z = strlen(post), i;
	char m[256];

	for (i = 0; i < n; i++) {
		if (a + c[i].len + z > sizeof(m)) {
			fprintf(stderr, "line %d: case too long\n", c[i].line);
			check_failures++;
			continue;
		}
		memcpy(m, pre, a);
		memcpy(m + a, c[i].part, c[i].len);
		memcpy(m + a + c[i].len, post, z);
		head_bad_at(c[i].line, false, m, a + c[i].len + z, MAX_HEAD, c[i].status,
			    c[i].error);
	}
}

static void test_basic(void)
{
	static const char m[] = "GET /index.html?x=1&y=%2F HTTP/1.1\r\n"
				"Host: example.com\r\n"
				"User-Agent: t/1.0\r\n"
				"Accept:*/*\r\n"
				"\r\n";
	struct head_run r;

	REQ_OK(m, &r);
	CHECK_INT(r.req.method, HTTP_M_GET);
	CHECK_SPAN(m, r.req.method_name, "GET");
	CHECK_SPAN(m, r.req.target, "/index.html?x=1&y=%2F");
	CHECK_SPAN(m, r.req.path, "/index.html");
	CHECK_SPAN(m, r.req.query, "x=1&y=%2F");
	CHECK_SPAN(m, r.req.host, "example.com");
	CHECK_INT(r.req.h.version_minor, 1);
	CHECK(r.req.h.keep_alive);
	CHECK(!r.req.h.chunked);
	CHECK_INT(r.req.h.content_length, -1);
	CHECK_INT(r.req.h.n_fields, 3);
	CHECK_SPAN(m, r.req.h.fields[0].name, "Host");
	CHECK_SPAN(m, r.req.h.fields[0].value, "example.com");
	CHECK_SPAN(m, r.req.h.fields[1].name, "User-Agent");
	CHECK_SPAN(m, r.req.h.fields[1].value, "t/1.0");
	CHECK_SPAN(m, r.req.h.fields[2].name, "Accept");
	CHECK_SPAN(m, r.req.h.fields[2].value, "*/*");
	CHECK_INT(r.req.h.n_conn_tokens, 0);
	CHECK_INT(r.req.h.head_len, sizeof(m) - 1);
	CHECK(!r.req.expect_continue);
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_NONE);
}

static void test_target_forms(void)
{
	static const char abs[] = "GET http://Example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n";
	static const char nopath[] = "GET HTTPS://h HTTP/1.1\r\n" HOST "\r\n";
	static const char noquery[] = "GET http://h?x=/ HTTP/1.1\r\n" HOST "\r\n";
	static const char ip6[] = "GET http://[::1]:8080/p HTTP/1.1\r\n" HOST "\r\n";
	static const char conn[] = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
	static const char conn6[] = "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n" HOST "\r\n";
	static const char star[] = "OPTIONS * HTTP/1.1\r\n" HOST "\r\n";
	static const char qmark[] = "GET /? HTTP/1.1\r\n" HOST "\r\n";
	static const char qq[] = "GET /a?b?c HTTP/1.1\r\n" HOST "\r\n";
	static const char chars[] = "GET //x/../y;p=1:@!$&'()*+,=-._~?/?:@ HTTP/1.1\r\n" HOST "\r\n";
	static const char pct[] = "GET /%aF%00%Ff HTTP/1.1\r\n" HOST "\r\n";
	struct head_run r;

	REQ_OK(abs, &r);
	CHECK_SPAN(abs, r.req.target, "http://Example.com:8080/a/b?q=1");
	CHECK_SPAN(abs, r.req.host, "Example.com:8080");
	CHECK_SPAN(abs, r.req.path, "/a/b");
	CHECK_SPAN(abs, r.req.query, "q=1");
	REQ_OK(nopath, &r);
	CHECK_SPAN(nopath, r.req.host, "h");
	CHECK_INT(r.req.path.len, 0);
	CHECK_INT(r.req.query.len, 0);
	REQ_OK(noquery, &r);
	CHECK_SPAN(noquery, r.req.host, "h");
	CHECK_INT(r.req.path.len, 0);
	CHECK_SPAN(noquery, r.req.query, "x=/");
	REQ_OK(ip6, &r);
	CHECK_SPAN(ip6, r.req.host, "[::1]:8080");
	CHECK_SPAN(ip6, r.req.path, "/p");
	REQ_OK(conn, &r);
	CHECK_INT(r.req.method, HTTP_M_CONNECT);
	CHECK_SPAN(conn, r.req.host, "example.com:443");
	CHECK_INT(r.req.path.len, 0);
	REQ_OK(conn6, &r);
	CHECK_SPAN(conn6, r.req.host, "[2001:db8::1]:443");
	REQ_OK(star, &r);
	CHECK_INT(r.req.method, HTTP_M_OPTIONS);
	CHECK_SPAN(star, r.req.path, "*");
	CHECK_INT(r.req.query.len, 0);
	REQ_OK(qmark, &r);
	CHECK_SPAN(qmark, r.req.path, "/");
	CHECK_INT(r.req.query.len, 0);
	REQ_OK(qq, &r);
	CHECK_SPAN(qq, r.req.path, "/a");
	CHECK_SPAN(qq, r.req.query, "b?c");
	REQ_OK(chars, &r);
	CHECK_SPAN(chars, r.req.path, "//x/../y;p=1:@!$&'()*+,=-._~");
	CHECK_SPAN(chars, r.req.query, "/?:@");
	REQ_OK(pct, &r);
	CHECK_SPAN(pct, r.req.path, "/%aF%00%Ff");
}

static void test_methods(void)
{
	static const struct {
		const char *name;
		enum http_method m;
	} cases[] = {
		{ "GET", HTTP_M_GET }, { "HEAD", HTTP_M_HEAD }, { "POST", HTTP_M_POST },
		{ "PUT", HTTP_M_PUT }, { "DELETE", HTTP_M_DELETE }, { "OPTIONS", HTTP_M_OPTIONS },
		{ "TRACE", HTTP_M_TRACE }, { "PATCH", HTTP_M_PATCH }, { "get", HTTP_M_OTHER },
		{ "M-SEARCH", HTTP_M_OTHER }, { "GETS", HTTP_M_OTHER }, { "PROPFIND", HTTP_M_OTHER },
		{ "!#$%&'*+-.^_`|~", HTTP_M_OTHER },
	};
	char m[128];
	struct head_run r;
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = snprintf(m, sizeof(m), "%s /x HTTP/1.1\r\n" HOST "\r\n", cases[i].name);
		head_ok_at(__LINE__, false, m, n, &r);
		CHECK_INT(r.req.method, cases[i].m);
		CHECK_SPAN(m, r.req.method_name, cases[i].name);
		CHECK_INT(http_method_lookup(cases[i].name, strlen(cases[i].name)), cases[i].m);
	}
	CHECK_INT(http_method_lookup("CONNECT", 7), HTTP_M_CONNECT);
	CHECK_INT(http_method_lookup("GET", 2), HTTP_M_OTHER);
	CHECK_INT(http_method_lookup("", 0), HTTP_M_OTHER);
}

static void test_leading_lines(void)
{
	static const char m[] = "\r\n\r\nGET / HTTP/1.1\r\n" HOST "\r\n";
	struct head_run r;

	REQ_OK(m, &r);
	CHECK_INT(r.req.method_name.off, 4);
	CHECK_SPAN(m, r.req.target, "/");
	CHECK_INT(r.req.h.head_len, sizeof(m) - 1);
}

static void test_field_values(void)
{
	static const char m[] = "GET / HTTP/1.1\r\n" HOST
				"X-A:   spaced  value \t \r\n"
				"X-B:\r\n"
				"X-C: \t \r\n"
				"X-D:tab\there\r\n"
				"X-E: \x80\xff\r\n"
				"x-f: v:w\r\n"
				"\r\n";
	struct head_run r;

	REQ_OK(m, &r);
	CHECK_INT(r.req.h.n_fields, 7);
	CHECK_SPAN(m, r.req.h.fields[1].value, "spaced  value");
	CHECK_INT(r.req.h.fields[2].value.len, 0);
	CHECK_INT(r.req.h.fields[3].value.len, 0);
	CHECK_SPAN(m, r.req.h.fields[4].value, "tab\there");
	CHECK_SPAN(m, r.req.h.fields[5].value, "\x80\xff");
	CHECK_SPAN(m, r.req.h.fields[6].name, "x-f");
	CHECK_SPAN(m, r.req.h.fields[6].value, "v:w");
	CHECK_INT(http_field_find(m, &r.req.h, "x-a"), 1);
	CHECK_INT(http_field_find(m, &r.req.h, "x-f"), 6);
	CHECK_INT(http_field_find(m, &r.req.h, "host"), 0);
	CHECK_INT(http_field_find(m, &r.req.h, "x-"), -1);
	CHECK_INT(http_field_find(m, &r.req.h, "nope"), -1);
}

static void test_connection(void)
{
	static const char d11[] = "GET / HTTP/1.1\r\n" HOST "\r\n";
	static const char close11[] = "GET / HTTP/1.1\r\n" HOST "Connection: CLOSE\r\n\r\n";
	static const char d10[] = "GET / HTTP/1.0\r\n\r\n";
	static const char ka10[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	static const char both10[] = "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n";
	static const char tokens[] = "GET / HTTP/1.1\r\n" HOST "Connection: Upgrade, X-Foo\r\n"
				     "Connection: ,x-bar,\r\nConnection:\r\n\r\n";
	static const char sixteen[] = "GET / HTTP/1.1\r\n" HOST
				      "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,close,p\r\n\r\n";
	struct head_run r;

	REQ_OK(d11, &r);
	CHECK(r.req.h.keep_alive);
	REQ_OK(close11, &r);
	CHECK(!r.req.h.keep_alive);
	REQ_OK(d10, &r);
	CHECK(!r.req.h.keep_alive);
	CHECK_INT(r.req.h.version_minor, 0);
	CHECK_INT(r.req.host.len, 0);
	REQ_OK(ka10, &r);
	CHECK(r.req.h.keep_alive);
	REQ_OK(both10, &r);
	CHECK(!r.req.h.keep_alive);
	REQ_OK(tokens, &r);
	CHECK(r.req.h.keep_alive);
	CHECK_INT(r.req.h.n_conn_tokens, 3);
	CHECK_SPAN(tokens, r.req.h.conn_tokens[0], "Upgrade");
	CHECK_SPAN(tokens, r.req.h.conn_tokens[1], "X-Foo");
	CHECK_SPAN(tokens, r.req.h.conn_tokens[2], "x-bar");
	REQ_OK(sixteen, &r);
	CHECK(!r.req.h.keep_alive);
	CHECK_INT(r.req.h.n_conn_tokens, 16);
	CHECK_SPAN(sixteen, r.req.h.conn_tokens[15], "p");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\r\n\r\n",
		400, "too many connection options");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "Connection: close keep-alive\r\n\r\n", 400,
		"invalid connection");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "Connection: clo\"se\r\n\r\n", 400, "invalid connection");
}

static void test_framing(void)
{
	static const char cl[] = "POST / HTTP/1.1\r\n" HOST "Content-Length: 42\r\n\r\n";
	static const char list[] = "POST / HTTP/1.1\r\n" HOST "Content-Length: 5 ,\t5\r\n\r\n";
	static const char twice[] = "POST / HTTP/1.1\r\n" HOST "Content-Length: 7\r\n"
				    "content-length: 7\r\n\r\n";
	static const char zero[] = "POST / HTTP/1.1\r\n" HOST "Content-Length: 0\r\n\r\n";
	static const char lead0[] = "POST / HTTP/1.1\r\n" HOST "Content-Length: 007\r\n\r\n";
	static const char max[] = "POST / HTTP/1.1\r\n" HOST
				  "Content-Length: 9223372036854775807\r\n\r\n";
	static const char te[] = "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n";
	static const char te_case[] = "POST / HTTP/1.1\r\n" HOST "transfer-encoding: Chunked\r\n\r\n";
	static const char te_empty[] = "POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: , chunked ,\r\n\r\n";
	static const char none[] = "POST / HTTP/1.1\r\n" HOST "\r\n";
	struct head_run r;

	REQ_OK(cl, &r);
	CHECK_INT(r.req.h.content_length, 42);
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_LENGTH);
	REQ_OK(list, &r);
	CHECK_INT(r.req.h.content_length, 5);
	REQ_OK(twice, &r);
	CHECK_INT(r.req.h.content_length, 7);
	REQ_OK(zero, &r);
	CHECK_INT(r.req.h.content_length, 0);
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_NONE);
	REQ_OK(lead0, &r);
	CHECK_INT(r.req.h.content_length, 7);
	REQ_OK(max, &r);
	CHECK_INT(r.req.h.content_length, INT64_MAX);
	REQ_OK(te, &r);
	CHECK(r.req.h.chunked);
	CHECK_INT(r.req.h.content_length, -1);
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_CHUNKED);
	REQ_OK(te_case, &r);
	CHECK(r.req.h.chunked);
	REQ_OK(te_empty, &r);
	CHECK(r.req.h.chunked);
	REQ_OK(none, &r);
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_NONE);
}

static void test_host(void)
{
	static const char *const good[] = {
		"example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:80",
		"[::ffff:1.2.3.4]", "a%41b", "", "xn--bcher-kva.example", "a:65535", "a:00080",
		"!$&'()*+,;=-._~",
	};
	static const char abs_wins[] = "GET http://one/ HTTP/1.1\r\nHost: two\r\n\r\n";
	char m[256];
	struct head_run r;
	size_t i;
	int n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
		head_ok_at(__LINE__, false, m, n, &r);
		CHECK_SPAN(m, r.req.host, good[i]);
	}
	REQ_OK(abs_wins, &r);
	CHECK_SPAN(abs_wins, r.req.host, "one");
}

static void test_expect(void)
{
	static const char e11[] = "PUT / HTTP/1.1\r\n" HOST "Expect: 100-Continue\r\n\r\n";
	static const char e10[] = "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
	static const char other[] = "PUT / HTTP/1.1\r\n" HOST "Expect: something\r\n\r\n";
	struct head_run r;

	REQ_OK(e11, &r);
	CHECK(r.req.expect_continue);
	REQ_OK(e10, &r);
	CHECK(!r.req.expect_continue);
	REQ_OK(other, &r);
	CHECK(!r.req.expect_continue);
}

static void test_reject_request_line(void)
{
	static const struct reject lines[] = {
		REJECT("GET  /", 400, "invalid request-target"),
		REJECT("GET / ", 400, "invalid http version"),
		REJECT("GET\t/", 400, "invalid method"),
		REJECT(" GET /", 400, "invalid method"),
		REJECT("GE(T /", 400, "invalid method"),
		REJECT("\nGET /", 400, "bare LF"),
		REJECT("\r\n\nGET /", 400, "bare LF"),
		REJECT("\rGET /", 400, "bare CR"),
		REJECT("GET /a\"b", 400, "invalid request-target"),
		REJECT("GET /a#f", 400, "invalid request-target"),
		REJECT("GET /a\\b", 400, "invalid request-target"),
		REJECT("GET /[a]", 400, "invalid request-target"),
		REJECT("GET /?a[", 400, "invalid request-target"),
		REJECT("GET /\x7f", 400, "invalid request-target"),
		REJECT("GET /\xc3\xa9", 400, "invalid request-target"),
		REJECT("GET /a%2G", 400, "invalid percent-encoding"),
		REJECT("GET /a%G2", 400, "invalid percent-encoding"),
		REJECT("GET /a%", 400, "invalid percent-encoding"),
		REJECT("GET /a%2", 400, "invalid percent-encoding"),
		REJECT("GET *", 400, "invalid request-target"),
		REJECT("OPTIONS *x", 400, "invalid request-target"),
		REJECT("OPTIONS */", 400, "invalid request-target"),
	};

	REJECT_EACH("", LINE_END, lines);
	REQ_BAD("GET / HTTP/1.1 \r\n" HOST "\r\n", 400, "invalid http version");
	REQ_BAD("GET / HTTP/1.1\n" HOST "\r\n", 400, "bare LF");
	REQ_BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR");
	REQ_BAD("GET /\r\n\r\n", 400, "invalid request-target");
	REQ_BAD("GET / HTTP/1.1\r\n\r\n", 400, "missing host");
}

static void test_reject_target_forms(void)
{
	static const struct reject lines[] = {
		REJECT("CONNECT /", 400, "invalid request-target"),
		REJECT("CONNECT example.com", 400, "invalid request-target"),
		REJECT("CONNECT example.com:", 400, "invalid request-target"),
		REJECT("CONNECT example.com:99999", 400, "invalid request-target"),
		REJECT("CONNECT :443", 400, "invalid request-target"),
		REJECT("CONNECT [::1:443", 400, "invalid request-target"),
		REJECT("CONNECT http://a:80/", 400, "invalid request-target"),
		REJECT("GET example.com:80", 400, "invalid request-target"),
		REJECT("GET ftp://x/", 400, "invalid request-target"),
		REJECT("GET http:/x", 400, "invalid request-target"),
		REJECT("GET http://", 400, "invalid request-target"),
		REJECT("GET http:///p", 400, "invalid request-target"),
		REJECT("GET http://user@host/", 400, "invalid request-target"),
		REJECT("GET http://[::1/", 400, "invalid request-target"),
		REJECT("GET http://[::g]/", 400, "invalid request-target"),
		REJECT("GET http://[v1.x]/", 400, "invalid request-target"),
		REJECT("GET http://h/[x]", 400, "invalid request-target"),
		REJECT("GET http://h:/", 400, "invalid request-target"),
		REJECT("GET http://h:123456/", 400, "invalid request-target"),
		REJECT("GET http://h%4/", 400, "invalid percent-encoding"),
	};

	REJECT_EACH("", LINE_END, lines);
}

static void test_reject_version(void)
{
	static const struct reject versions[] = {
		REJECT("HTTP/2.0", 505, "http version not supported"),
		REJECT("HTTP/1.2", 505, "http version not supported"),
		REJECT("HTTP/1.9", 505, "http version not supported"),
		REJECT("HTTP/3.0", 505, "http version not supported"),
		REJECT("HTTP/0.9", 505, "http version not supported"),
		REJECT("HTTP/1.10", 400, "invalid http version"),
		REJECT("HTTP/1", 400, "invalid http version"),
		REJECT("http/1.1", 400, "invalid http version"),
		REJECT("HTTP/1.1x", 400, "invalid http version"),
		REJECT("HTTP/11.1", 400, "invalid http version"),
		REJECT("HTTP/1.a", 400, "invalid http version"),
		REJECT("HTTPS/1.1", 400, "invalid http version"),
	};

	REJECT_EACH("GET / ", "\r\n" HOST "\r\n", versions);
}

static void test_reject_fields(void)
{
	static const struct reject fields[] = {
		REJECT("X: a\rb", 400, "bare CR"),
		REJECT("X: a\r", 400, "bare CR"),
		REJECT("X: a\0b", 400, "invalid character in field value"),
		REJECT("X: a\x01", 400, "invalid character in field value"),
		REJECT("X: a\x7f", 400, "invalid character in field value"),
		REJECT("X: \x1b[0m", 400, "invalid character in field value"),
		REJECT(": a", 400, "empty field name"),
		REJECT("Ho(st: a", 400, "invalid field name"),
		REJECT("X", 400, "invalid field name"),
		REJECT("X\rY: a", 400, "invalid field name"),
		REJECT("X-\xc3\x84: a", 400, "invalid field name"),
		REJECT("\x01X: a", 400, "invalid field name"),
	};

	REJECT_EACH("GET / HTTP/1.1\r\n" HOST, "\r\n\r\n", fields);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400, "obs-fold");
	REQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", 400, "obs-fold");
	REQ_BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obs-fold");
	REQ_BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before colon");
	REQ_BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "whitespace before colon");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "X: a\n\r\n", 400, "bare LF");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "\n", 400, "bare LF");
	REQ_BAD("GET / HTTP/1.1\r\n" HOST "\rX", 400, "bare CR");
}

static void test_reject_framing(void)
{
	static const struct reject fields[] = {
		REJECT("Content-Length: abc", 400, "invalid content-length"),
		REJECT("Content-Length:", 400, "invalid content-length"),
		REJECT("Content-Length: -1", 400, "invalid content-length"),
		REJECT("Content-Length: +1", 400, "invalid content-length"),
		REJECT("Content-Length: 1 2", 400, "invalid content-length"),
		REJECT("Content-Length: 0x10", 400, "invalid content-length"),
		REJECT("Content-Length: 1.0", 400, "invalid content-length"),
		REJECT("Content-Length: 5,,5", 400, "invalid content-length"),
		REJECT("Content-Length: 5,", 400, "invalid content-length"),
		REJECT("Content-Length: 9223372036854775808", 400, "invalid content-length"),
		REJECT("Content-Length: 99999999999999999999999", 400, "invalid content-length"),
		REJECT("Content-Length: 5, 6", 400, "conflicting content-length"),
		REJECT("Content-Length: 5\r\nContent-Length: 6", 400, "conflicting content-length"),
		REJECT("Transfer-Encoding: gzip", 501, "unsupported transfer coding"),
		REJECT("Transfer-Encoding: gzip, chunked", 501, "unsupported transfer coding"),
		REJECT("Transfer-Encoding: chunked, identity", 501, "unsupported transfer coding"),
		REJECT("Transfer-Encoding: chunked, chunked", 400, "chunked applied twice"),
		REJECT("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", 400,
		       "chunked applied twice"),
		REJECT("Transfer-Encoding: chunked;x=1", 400, "invalid transfer-encoding"),
		REJECT("Transfer-Encoding:", 400, "invalid transfer-encoding"),
		REJECT("Transfer-Encoding: ,,", 400, "invalid transfer-encoding"),
		REJECT("Transfer-Encoding: chunked x", 400, "invalid transfer-encoding"),
		REJECT("Transfer-Encoding: \"chunked\"", 400, "invalid transfer-encoding"),
		REJECT("Transfer-Encoding: chunked\r\nContent-Length: 5", 400,
		       "content-length with transfer-encoding"),
		REJECT("Content-Length: 0\r\nTransfer-Encoding: chunked", 400,
		       "content-length with transfer-encoding"),
	};

	REJECT_EACH("POST / HTTP/1.1\r\n" HOST, "\r\n\r\n", fields);
	REQ_BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
		"transfer-encoding in http/1.0");
}

static void test_reject_host(void)
{
	static const char *const bad[] = {
		"a b", "[::1", "[zz]", "[]", "a:99999", "a:", "a@b", "a:80x", "a/b", "[::1]x",
		"a:123456", "a%4", "a%zz", "a?b", "::1", "[::1]:", "a:-1",
	};
	char m[256];
	size_t i;
	int n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		head_bad_at(__LINE__, false, m, n, MAX_HEAD, 400, "invalid host");
	}
	REQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "repeated host");
	REQ_BAD("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "repeated host");
}

static void test_limits(void)
{
	static const char m[] = "GET / HTTP/1.1\r\n" HOST "X: 123456789\r\n\r\n";
	static const char more[] = "GET / HTTP/1.1\r\n" HOST "\r\nBODY";
	static const char lead[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n" "GET / HTTP/1.1\r\n" HOST "\r\n";
	char big[4096];
	struct head_run r;
	int n;

	head_all(__LINE__, false, MSG(m), sizeof(m) - 1, &r);
	CHECK_INT(r.rc, HTTP_DONE);
	head_bad_at(__LINE__, false, MSG(m), sizeof(m) - 2, 431, "request header too large");
	/* The head may end exactly at the limit with more bytes behind it. */
	head_all(__LINE__, false, MSG(more), sizeof(more) - 5, &r);
	CHECK_INT(r.rc, HTTP_DONE);
	CHECK_INT(r.req.h.head_len, sizeof(more) - 5);
	head_bad_at(__LINE__, false, MSG(more), sizeof(more) - 6, 431, "request header too large");
	head_bad_at(__LINE__, false, MSG(lead), 20, 414, "request line too long");

	n = snprintf(big, sizeof(big), "GET /%0300d HTTP/1.1\r\n" HOST "\r\n", 7);
	head_bad_at(__LINE__, false, big, n, 100, 414, "request line too long");
	head_bad_at(__LINE__, false, big, n, 310, 414, "request line too long");
	head_bad_at(__LINE__, false, big, n, n - 1, 431, "request header too large");
	head_all(__LINE__, false, big, n, n, &r);
	CHECK_INT(r.rc, HTTP_DONE);

	/* HTTP_MAX_HEADERS fields fit; one more is 431. */
	head_fields_limit(__LINE__, false, "GET / HTTP/1.1\r\n" HOST, 1, 431);
}

static bool ref_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool in_set(int c, const char *set)
{
	return c && strchr(set, c);
}

/* The RFC's sets, spelled out independently of the parser's table. */
static bool ref_tchar(int c)
{
	return ref_alnum(c) || in_set(c, "!#$%&'*+-.^_`|~");
}

static bool ref_target(int c)
{
	return ref_alnum(c) || in_set(c, "-._~!$&'()*+,;=:@/?");
}

static bool ref_field_char(int c)
{
	return (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t';
}

static bool ref_regname(int c)
{
	return ref_alnum(c) || in_set(c, "-._~!$&'()*+,;=");
}

/* Try one message built around byte <c>; it must pass exactly when <want>. */
static void class_try(int line, const char *fmt_a, int c, const char *fmt_b, bool want)
{
	char m[256];
	struct head_run r;
	int n = snprintf(m, sizeof(m), "%s", fmt_a);

	m[n++] = (char)c;
	n += snprintf(m + n, sizeof(m) - n, "%s", fmt_b);
	head_all(line, false, m, n, MAX_HEAD, &r);
	if ((r.rc == HTTP_DONE) != want) {
		fprintf(stderr, "line %d: byte 0x%02x: want %s, got rc %d\n", line, c,
			want ? "accepted" : "rejected", r.rc);
		check_failures++;
	}
	if (!want && r.rc == HTTP_ERROR)
		CHECK_INT(r.p.status, 400);
}

static void test_char_classes(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		class_try(__LINE__, "G", c, "T / HTTP/1.1\r\n" HOST "\r\n", ref_tchar(c));
		class_try(__LINE__, "GET /a", c, "b HTTP/1.1\r\n" HOST "\r\n", ref_target(c));
		class_try(__LINE__, "GET / HTTP/1.1\r\n" HOST "X", c, "Y: v\r\n\r\n",
			  ref_tchar(c) || c == ':');
		class_try(__LINE__, "GET / HTTP/1.1\r\n" HOST "X: a", c, "b\r\n\r\n",
			  ref_field_char(c));
		class_try(__LINE__, "GET / HTTP/1.1\r\nHost: a", c, "b\r\n\r\n", ref_regname(c));
	}
}

static void test_pipelined(void)
{
	static const char m[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				"POST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nabc"
				"GET /c HTTP/1.1\r\nHost: z\r\n\r\n";
	struct stream s = STREAM(m);
	struct head_run r;
	struct body_run b;

	stream_head(__LINE__, false, &s, &r);
	CHECK_INT(r.req.h.head_len, 28);
	CHECK_SPAN(s.at, r.req.path, "/a");
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_NONE);

	stream_head(__LINE__, false, &s, &r);
	CHECK_SPAN(s.at, r.req.path, "/b");
	CHECK_SPAN(s.at, r.req.host, "y");
	CHECK_INT(http_request_body_mode(&r.req), HTTP_BODY_LENGTH);
	stream_body(__LINE__, HTTP_BODY_LENGTH, r.req.h.content_length, &s, &b);
	CHECK_INT(b.rc, HTTP_DONE);
	CHECK_INT(b.consumed, 3);
	CHECK_INT(b.total, 3);

	/* The last head ends the stream. */
	stream_head(__LINE__, false, &s, &r);
	CHECK_SPAN(s.at, r.req.path, "/c");
	CHECK_INT(s.off, s.len);
}

/* Valid requests for the split and mutation checks. */
static const char *const corpus[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /p/q?x=%20&y HTTP/1.1\r\nHost: ex.com:80\r\nA: b \t c\r\nB:\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nConnection: close, X-Y\r\n\r\n",
	"PUT /u HTTP/1.1\r\nHost: [::1]:8\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
	"GET http://h:1/p?q HTTP/1.1\r\nHost: h\r\nX: \x80\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
	"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"M-SEARCH /x HTTP/1.1\r\nHost: a\r\nConnection: a,b,,c\r\nContent-Length: 0\r\n\r\n",
};

static void test_differential(void)
{
	head_differential(__LINE__, false, corpus, sizeof(corpus) / sizeof(corpus[0]));
}

static void test_helpers(void)
{
	static const unsigned known[] = {
		100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307,
		308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
		415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 500, 501, 502,
		503, 504, 505,
	};
	static const char *const hop[] = {
		"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Transfer-Encoding",
		"upgrade", "Trailer", "Proxy-Authenticate", "proxy-authorization",
	};
	static const char *const end_to_end[] = {
		"Host", "tex", "Content-Length", "Upgrades", "Proxy-Connections", "T", "",
	};
	static const char buf[] = "Content-LENGTH";
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(http_status_reason(known[i]), "Unknown")) {
			fprintf(stderr, "no reason phrase for %u\n", known[i]);
			check_failures++;
		}
	CHECK_STR(http_status_reason(200), "OK");
	CHECK_STR(http_status_reason(404), "Not Found");
	CHECK_STR(http_status_reason(431), "Request Header Fields Too Large");
	CHECK_STR(http_status_reason(502), "Bad Gateway");
	CHECK_STR(http_status_reason(306), "Unknown");
	CHECK_STR(http_status_reason(299), "Unknown");
	CHECK_STR(http_status_reason(0), "Unknown");
	CHECK_STR(http_status_reason(600), "Unknown");

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		CHECK(http_is_hop_by_hop(hop[i], (struct http_span){ 0, strlen(hop[i]) }));
	for (i = 0; i < sizeof(end_to_end) / sizeof(end_to_end[0]); i++)
		CHECK(!http_is_hop_by_hop(end_to_end[i],
					  (struct http_span){ 0, strlen(end_to_end[i]) }));

	CHECK(http_span_ieq(buf, (struct http_span){ 0, 14 }, "content-length"));
	CHECK(!http_span_ieq(buf, (struct http_span){ 0, 13 }, "content-length"));
	CHECK(!http_span_ieq(buf, (struct http_span){ 0, 14 }, "content-lengt"));
	CHECK(http_span_ieq(buf, (struct http_span){ 8, 6 }, "length"));
	CHECK(http_span_ieq(buf, (struct http_span){ 3, 0 }, ""));
	CHECK(http_span_ieq(buf, (struct http_span){ 0, 7 }, "content"));
	CHECK(!http_span_ieq(buf, (struct http_span){ 0, 7 }, "content-"));
	CHECK(!http_span_ieq(buf, (struct http_span){ 0, 8 }, "content"));
}

int main(void)
{
	test_basic();
	test_target_forms();
	test_methods();
	test_leading_lines();
	test_field_values();
	test_connection();
	test_framing();
	test_host();
	test_expect();
	test_reject_request_line();
	test_reject_target_forms();
	test_reject_version();
	test_reject_fields();
	test_reject_framing();
	test_reject_host();
	test_limits();
	test_char_classes();
	test_pipelined();
	test_differential();
	test_helpers();
	return CHECK_EXIT();
}
