/* Strict, resumable HTTP/1.1 message parsers (RFC 9110, RFC 9112).
 *
 * Both parsers work on a buffer that only grows at its end between calls:
 * the caller appends newly received bytes and calls again with the same
 * start and the new length. The parser remembers its state and how far it
 * got, so input may arrive in pieces of any size, one byte at a time
 * included. Everything the parser records is an offset from the start of
 * the message, never a pointer, so the caller may move the buffer (realloc)
 * between calls.
 *
 * Head parsing stops at the blank line ending the header section; the body
 * is then framed by struct http_body, which reports how many bytes belong to
 * the body so the caller can forward them raw (chunked stays chunked).
 *
 * Strictness (a request error maps to 400 unless said otherwise, and the
 * connection must be closed):
 *   - Content-Length together with Transfer-Encoding;
 *   - Content-Length that is not 1*DIGIT, overflows, or repeats with a
 *     different value (a list "5, 5" of equal values is accepted);
 *   - in a request, Transfer-Encoding whose final coding is not "chunked",
 *     "chunked" applied twice, or any coding other than chunked (501); in a
 *     response, chunked applied twice or not last (a response whose final
 *     coding is not chunked is read until close, RFC 9112 §6.3);
 *   - obs-fold, bare CR, NUL and other CTLs (except HTAB in values),
 *     whitespace between field name and colon, empty field names, non-token
 *     bytes in names, a request line with anything but single SP separators;
 *   - HTTP/1.1 without Host, more than one Host, an invalid Host value;
 *   - a request-target that is not origin-form (or absolute-form for
 *     http/https, or authority-form with CONNECT, or "*" with OPTIONS);
 *   - a version other than HTTP/1.0 or HTTP/1.1 (505 for HTTP/x.y with x >= 2);
 *   - a head longer than the limit: 431 for requests, error for responses;
 *   - a request line longer than its own limit (http_parser_limits()): 414;
 *   - more than HTTP_MAX_HEADERS fields, or than the parser's lower field
 *     limit: 431.
 */
#ifndef GW_LIB_HTTP1_H
#define GW_LIB_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_CONN_TOKENS 16

enum http_result {
	HTTP_AGAIN = 0,	/* consumed everything given, need more bytes */
	HTTP_DONE,	/* the head (or body) is complete */
	HTTP_ERROR,	/* malformed: see ->status and ->error */
};

enum http_method {
	HTTP_M_OTHER = 0,	/* a valid token we do not know; still proxied */
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_CONNECT,
	HTTP_M_OPTIONS,
	HTTP_M_TRACE,
	HTTP_M_PATCH,
	HTTP_M__COUNT,
};

/* A span of the message buffer: bytes [off, off + len). */
struct http_span {
	uint32_t off;
	uint32_t len;
};

struct http_field {
	struct http_span name;	/* as sent (case preserved), no trailing colon */
	struct http_span value;	/* leading and trailing OWS stripped */
};

/* Framing of the body that follows a head. */
enum http_body_mode {
	HTTP_BODY_NONE = 0,	/* no body at all */
	HTTP_BODY_LENGTH,	/* exactly content_length bytes */
	HTTP_BODY_CHUNKED,	/* chunked coding, trailers allowed */
	HTTP_BODY_UNTIL_CLOSE,	/* response only: body ends when the peer closes */
};

/* Fields both heads have. */
struct http_head_common {
	uint8_t version_minor;		/* 0 or 1 (major is always 1) */
	bool keep_alive;		/* from version and Connection */
	bool chunked;			/* Transfer-Encoding: chunked present */
	int64_t content_length;		/* -1 when absent */
	uint16_t n_fields;
	struct http_field fields[HTTP_MAX_HEADERS];
	/* Field names listed in Connection (besides close/keep-alive), which
	 * a proxy must drop as hop-by-hop. */
	uint8_t n_conn_tokens;
	struct http_span conn_tokens[HTTP_MAX_CONN_TOKENS];
	uint32_t head_len;		/* bytes of the head, including the final CRLF CRLF */
};

struct http_request {
	struct http_head_common h;
	enum http_method method;
	struct http_span method_name;
	struct http_span target;	/* the request-target as sent */
	struct http_span path;		/* target up to '?' (origin-form), or path part of absolute-form */
	struct http_span query;		/* after '?', without it; len 0 when none */
	struct http_span host;		/* Host field value (or authority of absolute-form) */
	bool expect_continue;		/* Expect: 100-continue */
};

struct http_response {
	struct http_head_common h;
	uint16_t status;
	struct http_span reason;
};

/* Parser state for one head. Zero it (http_parser_init) before each message. */
struct http_parser {
	uint32_t state;		/* internal state machine position */
	uint32_t pos;		/* bytes of the buffer already examined */
	uint32_t mark;		/* start of the token being scanned */
	uint32_t mark2;		/* second mark (e.g. value start) */
	uint32_t max_head;	/* limit on head bytes */
	uint32_t max_line;	/* limit on request-line bytes without CRLF; 0 = max_head */
	uint32_t line_lim;	/* internal: end offset the request line must fit in */
	uint16_t max_fields;	/* limit on header fields, <= HTTP_MAX_HEADERS */
	uint16_t status;	/* on HTTP_ERROR: the status to answer with */
	const char *error;	/* on HTTP_ERROR: a short static reason */
};

/* Prepare <p> to parse a new head of at most <max_head> bytes. */
void http_parser_init(struct http_parser *p, uint32_t max_head);

/* Tighten <p>'s limits after http_parser_init(): at most <max_fields>
 * header fields (clamped to HTTP_MAX_HEADERS; more is 431) and a request
 * line of at most <max_line> bytes, CRLF excluded (longer is 414; 0 leaves
 * only max_head). Empty lines before the request line do not count. */
void http_parser_limits(struct http_parser *p, unsigned max_fields, uint32_t max_line);

/* Parse a request head from buf[0..len). Call again with a longer len after
 * HTTP_AGAIN. On HTTP_DONE, req->h.head_len is where the body begins. */
enum http_result http_parse_request(struct http_parser *p, const char *buf, size_t len,
				    struct http_request *req);

/* Parse a response head. Interim 1xx responses parse as complete heads
 * too; the caller forwards them and parses again for the final one. Whether
 * a body follows is http_response_body_mode()'s answer, which needs the
 * request's method. keep_alive reflects only version and Connection: a body
 * delimited by close also ends the connection. */
enum http_result http_parse_response(struct http_parser *p, const char *buf, size_t len,
				     struct http_response *resp);

/* How the body after a request head is framed. */
enum http_body_mode http_request_body_mode(const struct http_request *req);

/* How the body after a response head is framed, given the request's method
 * (HEAD, CONNECT) and the status (1xx, 204, 304 have none). */
enum http_body_mode http_response_body_mode(const struct http_response *resp,
					    enum http_method request_method);

/* Body framer: consumes raw body bytes and says where the body ends. */
struct http_body {
	enum http_body_mode mode;
	uint32_t state;		/* internal: chunk-size, data, CRLF, trailer... */
	uint64_t remaining;	/* bytes left of the body or of the current chunk */
	uint64_t total;		/* payload bytes seen so far (decoded) */
	uint32_t line_len;	/* bytes in the current chunk-size or trailer line */
	uint32_t trailer_bytes;	/* bytes of trailer section so far */
	uint32_t max_trailer;	/* limit on trailer bytes */
	const char *error;	/* on HTTP_ERROR */
};

/* Prepare <b> for a body of <mode>; <content_length> is used for
 * HTTP_BODY_LENGTH. <max_trailer> bounds the trailer section. */
void http_body_init(struct http_body *b, enum http_body_mode mode, uint64_t content_length,
		    uint32_t max_trailer);

/* Feed <len> bytes. Sets *consumed to the bytes that belong to the body.
 * HTTP_AGAIN: all consumed, body continues. HTTP_DONE: the body ended after
 * *consumed bytes (the rest belongs to the next message). HTTP_ERROR: bad
 * chunk framing (invalid size, missing CRLF, oversized line or trailer).
 * For HTTP_BODY_UNTIL_CLOSE everything is consumed and the caller decides
 * the end at EOF; HTTP_BODY_NONE returns HTTP_DONE with *consumed = 0. */
enum http_result http_body_feed(struct http_body *b, const char *buf, size_t len,
				size_t *consumed);

/* Bytes of chunk data the framer expects next without any framing in
 * between: nonzero only while inside a chunk's data. A caller that decodes
 * (for an HTTP/1.0 client) feeds that many bytes as payload, and framing
 * bytes one at a time otherwise. */
uint64_t http_body_chunk_left(const struct http_body *b);

/* Case-insensitive comparison of a span with a NUL-terminated lowercase name. */
bool http_span_ieq(const char *buf, struct http_span s, const char *lower);

/* Find the first field named <lower_name>; returns its index or -1. */
int http_field_find(const char *buf, const struct http_head_common *h, const char *lower_name);

/* The standard reason phrase for <status>, or "Unknown". */
const char *http_status_reason(unsigned status);

/* Method name to enum (exact, case-sensitive as RFC 9110 says). */
enum http_method http_method_lookup(const char *name, size_t len);

/* True for fields a proxy never forwards (RFC 9110 §7.6.1): Connection,
 * Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Trailer,
 * Proxy-Authenticate, Proxy-Authorization. Transfer-Encoding is listed here
 * but callers that forward a chunked body verbatim keep it. */
bool http_is_hop_by_hop(const char *buf, struct http_span name);

#endif
