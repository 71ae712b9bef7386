/* Interpretation of a complete request-target or head: the target forms and
 * the fields that frame the message or steer the connection
 * (Content-Length, Transfer-Encoding, Connection, Host, Expect).
 *
 * The scanner has already checked every byte's class, so this file only
 * checks the grammar across bytes and fields. It runs once, when the target
 * or the blank line has arrived, and sees the whole head at once: nothing
 * here keeps state between calls, which is what makes the parser give the
 * same result however the input was split.
 *
 * Framing is where request smuggling lives, so ambiguity is an error rather
 * than a guess (RFC 9112 §6.3): Content-Length with Transfer-Encoding,
 * differing Content-Lengths, chunked applied twice or not last.
 */
#include <arpa/inet.h>
#include <string.h>

#include "lib/http1_int.h"

#define AUTH_HOST_REQUIRED 0x1	/* an empty host is invalid */
#define AUTH_PORT_REQUIRED 0x2	/* authority-form: uri-host ":" port */

/* What the fields said, gathered over all of them. */
struct fields_ctx {
	bool request;
	unsigned hosts;			/* Host fields seen */
	struct http_span host;		/* value of the last one */
	bool te;			/* some Transfer-Encoding field seen */
	bool chunked;			/* chunked seen, and so far last */
	bool conn_close;
	bool conn_keep_alive;
	bool expect_continue;
};

/* A comma-separated list (RFC 9110 §5.6.1) inside s[pos, end). */
struct list_cur {
	const uint8_t *s;
	uint32_t pos;
	uint32_t end;
};

enum field_kind { F_OTHER, F_HOST, F_EXPECT, F_CONNECTION, F_CONTENT_LENGTH, F_TE };

static void skip_ws(struct list_cur *c)
{
	while (c->pos < c->end && http__is(c->s[c->pos], HTTP__C_WS))
		c->pos++;
}

/* A token at the cursor: 1 with it in *tok and the cursor after it and any
 * OWS, -1 when there is none. */
static int token_next(struct list_cur *c, struct http_span *tok)
{
	uint32_t start = c->pos;

	while (c->pos < c->end && http__is(c->s[c->pos], HTTP__C_TCHAR))
		c->pos++;
	if (c->pos == start)
		return -1;
	*tok = (struct http_span){ .off = start, .len = c->pos - start };
	skip_ws(c);
	return 1;
}

/* Next list element, which must start with a token: 1 with the token in
 * *tok and the cursor after it and any OWS, 0 at the end of the list, -1 on
 * a syntax error. Empty elements are skipped, as RFC 9110 §5.6.1 requires. */
static int list_next(struct list_cur *c, struct http_span *tok)
{
	while (c->pos < c->end && (c->s[c->pos] == ',' || http__is(c->s[c->pos], HTTP__C_WS)))
		c->pos++;
	if (c->pos == c->end)
		return 0;
	return token_next(c, tok);
}

/* After an element: true when the next comma or the end follows. */
static bool list_sep(const struct list_cur *c)
{
	return c->pos == c->end || c->s[c->pos] == ',';
}

static int quoted_string_skip(struct list_cur *c)
{
	for (c->pos++; c->pos < c->end; c->pos++) {
		if (c->s[c->pos] == '"') {
			c->pos++;
			return 0;
		}
		if (c->s[c->pos] == '\\' && ++c->pos == c->end)
			return -1;
	}
	return -1;
}

/* Skip *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) ), the
 * parameters of a transfer-coding (RFC 9112 §7). 0 or -1. */
static int params_skip(struct list_cur *c)
{
	struct http_span tok;

	while (c->pos < c->end && c->s[c->pos] == ';') {
		c->pos++;
		skip_ws(c);
		if (token_next(c, &tok) < 0 || c->pos == c->end || c->s[c->pos] != '=')
			return -1;
		c->pos++;
		skip_ws(c);
		if (c->pos < c->end && c->s[c->pos] == '"') {
			if (quoted_string_skip(c) < 0)
				return -1;
			skip_ws(c);
		} else if (token_next(c, &tok) < 0) {
			return -1;
		}
	}
	return 0;
}

static struct list_cur list_of(const char *buf, struct http_span value)
{
	return (struct list_cur){
		.s = (const uint8_t *)buf, .pos = value.off, .end = value.off + value.len,
	};
}

static int bad(const char **error, int status, const char *why)
{
	*error = why;
	return status;
}

/* Transfer-Encoding (RFC 9112 §6.1). A request may only use chunked: we
 * cannot decode anything else, so 501. A response may end with another
 * coding and is then read until close (RFC 9112 §6.3), but chunked must be
 * applied at most once and last. */
static int te_field(const char *buf, struct http_span value, struct fields_ctx *x,
		    const char **error)
{
	struct list_cur c = list_of(buf, value);
	struct http_span tok;
	bool params;
	int rc, n = 0;

	while ((rc = list_next(&c, &tok)) > 0) {
		params = c.pos < c.end && c.s[c.pos] == ';';
		if (params && params_skip(&c) < 0)
			break;
		if (!list_sep(&c))
			break;
		n++;
		if (!http_span_ieq(buf, tok, "chunked")) {
			if (x->request)
				return bad(error, 501, "unsupported transfer coding");
			if (x->chunked)
				return bad(error, 400, "chunked is not the final coding");
			continue;
		}
		if (x->chunked)
			return bad(error, 400, "chunked applied twice");
		if (params)
			return bad(error, 400, "invalid transfer-encoding");
		x->chunked = true;
	}
	if (rc != 0 || n == 0)
		return bad(error, 400, "invalid transfer-encoding");
	x->te = true;
	return 0;
}

/* Content-Length = 1*DIGIT; a list of identical values is accepted
 * (RFC 9110 §8.6), so is a repeat with the same value, nothing else. */
static int cl_field(const char *buf, struct http_span value, struct http_head_common *h,
		    const char **error)
{
	const uint8_t *s = (const uint8_t *)buf + value.off;
	uint32_t i = 0, start;
	int64_t v, d;

	for (;;) {
		for (start = i, v = 0; i < value.len && http__is(s[i], HTTP__C_DIGIT); i++) {
			d = s[i] - '0';
			if (v > (INT64_MAX - d) / 10)
				return bad(error, 400, "invalid content-length");
			v = v * 10 + d;
		}
		if (i == start)
			return bad(error, 400, "invalid content-length");
		if (h->content_length >= 0 && h->content_length != v)
			return bad(error, 400, "conflicting content-length");
		h->content_length = v;
		while (i < value.len && http__is(s[i], HTTP__C_WS))
			i++;
		if (i == value.len)
			return 0;
		if (s[i++] != ',')
			return bad(error, 400, "invalid content-length");
		while (i < value.len && http__is(s[i], HTTP__C_WS))
			i++;
	}
}

/* Connection options (RFC 9110 §7.6.1): close and keep-alive steer the
 * connection; every other option names a field the proxy must drop. */
static int conn_field(const char *buf, struct http_span value, struct http_head_common *h,
		      struct fields_ctx *x, const char **error)
{
	struct list_cur c = list_of(buf, value);
	struct http_span tok;
	int rc;

	while ((rc = list_next(&c, &tok)) > 0) {
		if (!list_sep(&c))
			return bad(error, 400, "invalid connection");
		if (http_span_ieq(buf, tok, "close")) {
			x->conn_close = true;
		} else if (http_span_ieq(buf, tok, "keep-alive")) {
			x->conn_keep_alive = true;
		} else {
			if (h->n_conn_tokens == HTTP_MAX_CONN_TOKENS)
				return bad(error, 400, "too many connection options");
			h->conn_tokens[h->n_conn_tokens++] = tok;
		}
	}
	return rc < 0 ? bad(error, 400, "invalid connection") : 0;
}

/* Length of the IP-literal "[" IPv6address "]" at s[0, n), or 0 when it is
 * not one. IPvFuture is refused: nothing can route on it. */
static uint32_t ip_literal_len(const uint8_t *s, uint32_t n)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a;
	const uint8_t *close = memchr(s, ']', n);
	uint32_t len;

	if (!close)
		return 0;
	len = close - s - 1;
	if (!len || len >= sizeof(addr))
		return 0;
	memcpy(addr, s + 1, len);
	addr[len] = '\0';
	return inet_pton(AF_INET6, addr, &a) == 1 ? len + 2 : 0;
}

/* Length of the reg-name at s[0, n) (which also covers IPv4address), or
 * -1 when a '%' is not followed by two HEXDIG. */
static int64_t reg_name_len(const uint8_t *s, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		if (http__is(s[i], HTTP__C_REGNAME)) {
			i++;
		} else if (s[i] == '%') {
			if (n - i < 3 || !http__is(s[i + 1], HTTP__C_HEX) ||
			    !http__is(s[i + 2], HTTP__C_HEX))
				return -1;
			i += 3;
		} else {
			break;
		}
	}
	return i;
}

/* uri-host [ ":" port ] (RFC 3986 §3.2), with no userinfo. A port, when
 * its colon is there, must be 1 to 5 digits up to 65535. */
static bool authority_valid(const uint8_t *s, uint32_t n, unsigned flags)
{
	uint32_t i, digits = 0, port = 0;
	int64_t r;

	if (n && s[0] == '[') {
		i = ip_literal_len(s, n);
		if (!i)
			return false;
	} else {
		r = reg_name_len(s, n);
		if (r < 0)
			return false;
		i = r;
	}
	if (!i && (flags & AUTH_HOST_REQUIRED))
		return false;
	if (i == n)
		return !(flags & AUTH_PORT_REQUIRED);
	if (s[i++] != ':')
		return false;
	for (; i < n && http__is(s[i], HTTP__C_DIGIT) && digits < 5; i++, digits++)
		port = port * 10 + (s[i] - '0');
	return i == n && digits && port <= 65535;
}

static bool prefix_ieq(const uint8_t *s, uint32_t n, const char *lower)
{
	uint32_t i;

	for (i = 0; lower[i]; i++)
		if (i == n || (s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]) != lower[i])
			return false;
	return true;
}

/* absolute-form, for "http" and "https" only (RFC 9112 §3.2.2). The path
 * may be empty ("http://h"), which means "/". The host comes from here:
 * a proxy must ignore the Host field then (RFC 9112 §3.2.2). */
static int absolute_form(const char *buf, struct http_request *req, const char **error)
{
	const uint8_t *s = (const uint8_t *)buf + req->target.off;
	uint32_t n = req->target.len, off = req->target.off, a, i, q;

	if (prefix_ieq(s, n, "http://"))
		a = 7;
	else if (prefix_ieq(s, n, "https://"))
		a = 8;
	else
		return bad(error, 400, "invalid request-target");
	for (i = a; i < n && s[i] != '/' && s[i] != '?'; i++)
		;
	if (!authority_valid(s + a, i - a, AUTH_HOST_REQUIRED))
		return bad(error, 400, "invalid request-target");
	for (q = i; q < n && s[q] != '?'; q++)
		;
	if (memchr(s + i, '[', n - i) || memchr(s + i, ']', n - i))
		return bad(error, 400, "invalid request-target");
	req->host = (struct http_span){ .off = off + a, .len = i - a };
	req->path = (struct http_span){ .off = off + i, .len = q - i };
	if (q < n)
		req->query = (struct http_span){ .off = off + q + 1, .len = n - q - 1 };
	else
		req->query = (struct http_span){ .off = off + n, .len = 0 };
	return 0;
}

int http__target_check(const char *buf, struct http_request *req, uint32_t query,
		       const char **error)
{
	const uint8_t *s = (const uint8_t *)buf + req->target.off;
	uint32_t off = req->target.off, end = off + req->target.len;

	/* origin-form is everything but CONNECT's; CONNECT only takes the
	 * authority-form (RFC 9112 §3.2.3). */
	if (req->method == HTTP_M_CONNECT) {
		if (!authority_valid(s, req->target.len, AUTH_HOST_REQUIRED | AUTH_PORT_REQUIRED))
			return bad(error, 400, "invalid request-target");
		req->host = req->target;
		req->path = req->query = (struct http_span){ .off = end, .len = 0 };
		return 0;
	}
	if (s[0] == '/') {
		req->path = (struct http_span){ .off = off, .len = (query ? query - 1 : end) - off };
		req->query = (struct http_span){ .off = query ? query : end,
						 .len = query ? end - query : 0 };
		return 0;
	}
	if (s[0] == '*') {
		if (req->target.len != 1 || req->method != HTTP_M_OPTIONS)
			return bad(error, 400, "invalid request-target");
		req->path = req->target;
		req->query = (struct http_span){ .off = end, .len = 0 };
		return 0;
	}
	return absolute_form(buf, req, error);
}

/* Which of the fields we interpret <name> is. Most names differ from all
 * of them in length or first letter, so those cost no comparison. */
static enum field_kind field_kind(const char *buf, struct http_span name)
{
	uint8_t first = (uint8_t)buf[name.off] | 0x20;

	switch (name.len) {
	case 4:
		return first == 'h' && http_span_ieq(buf, name, "host") ? F_HOST : F_OTHER;
	case 6:
		return first == 'e' && http_span_ieq(buf, name, "expect") ? F_EXPECT : F_OTHER;
	case 10:
		return first == 'c' && http_span_ieq(buf, name, "connection") ?
		       F_CONNECTION : F_OTHER;
	case 14:
		return first == 'c' && http_span_ieq(buf, name, "content-length") ?
		       F_CONTENT_LENGTH : F_OTHER;
	case 17:
		return first == 't' && http_span_ieq(buf, name, "transfer-encoding") ?
		       F_TE : F_OTHER;
	default:
		return F_OTHER;
	}
}

static int field_interpret(const char *buf, struct http_head_common *h,
			   const struct http_field *f, struct fields_ctx *x, const char **error)
{
	const uint8_t *v = (const uint8_t *)buf + f->value.off;

	switch (field_kind(buf, f->name)) {
	case F_CONTENT_LENGTH:
		return cl_field(buf, f->value, h, error);
	case F_TE:
		return te_field(buf, f->value, x, error);
	case F_CONNECTION:
		return conn_field(buf, f->value, h, x, error);
	case F_HOST:
		if (!x->request)
			return 0;
		x->hosts++;
		x->host = f->value;
		/* An empty Host is valid: reg-name may be empty. */
		if (!authority_valid(v, f->value.len, 0))
			return bad(error, 400, "invalid host");
		return 0;
	case F_EXPECT:
		if (http_span_ieq(buf, f->value, "100-continue"))
			x->expect_continue = true;
		return 0;
	default:
		return 0;
	}
}

static int fields_scan(const char *buf, struct http_head_common *h, struct fields_ctx *x,
		       const char **error)
{
	int status;
	uint16_t i;

	for (i = 0; i < h->n_fields; i++) {
		status = field_interpret(buf, h, &h->fields[i], x, error);
		if (status)
			return status;
	}
	/* RFC 9112 §6.1: in HTTP/1.0 the framing is faulty; §6.3: with
	 * Content-Length it may be a smuggling attempt. */
	if (x->te && h->content_length >= 0)
		return bad(error, 400, "content-length with transfer-encoding");
	if (x->te && h->version_minor == 0)
		return bad(error, 400, "transfer-encoding in http/1.0");
	h->chunked = x->chunked;
	h->keep_alive = !x->conn_close && (h->version_minor == 1 || x->conn_keep_alive);
	return 0;
}

int http__request_fields(const char *buf, struct http_request *req, const char **error)
{
	struct fields_ctx x = { .request = true };
	uint8_t first = buf[req->target.off];
	int status = fields_scan(buf, &req->h, &x, error);

	if (status)
		return status;
	/* RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0. */
	if (x.hosts > 1 || (x.hosts == 0 && req->h.version_minor == 1))
		return bad(error, 400, x.hosts ? "repeated host" : "missing host");
	if (first == '/' || first == '*')
		req->host = x.host;
	/* RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client. */
	req->expect_continue = x.expect_continue && req->h.version_minor == 1;
	return 0;
}

int http__response_fields(const char *buf, struct http_response *resp, const char **error)
{
	struct fields_ctx x = { .request = false };

	return fields_scan(buf, &resp->h, &x, error);
}
