/* gw-echo's answers: query options, response heads, JSON, streamed bodies.
 *
 * Query options (all optional, combinable; unknown keys are ignored so
 * tests may add cache busters; a known key with a bad value gives 400):
 *   status=NNN   answer NNN (200-599); 204 and 304 carry no body
 *   delay=MS     answer MS milliseconds later (<= 3600000)
 *   size=N       body of N bytes where byte i is 'a' + i % 26, instead of
 *                JSON; produced in ECHO_PIECE pieces, never held whole
 *   chunked=1    Transfer-Encoding: chunked, chunks of <= ECHO_CHUNK bytes
 *                (HTTP/1.0 clients get Content-Length instead)
 *   trailer=1    with chunked: end with the trailer field "X-Trailer: yes"
 *   echo=body    answer with the request body and its Content-Type; a
 *                chunked request body comes back chunked, byte for byte
 *   close=1      Connection: close, then close
 *   reset=1      no answer: close with RST
 *   hang=1       no answer, ever; close when the client closes
 *   bad=1        a malformed answer (both Content-Length and chunked)
 *   headers=N    N extra fields "X-Fill-<i>: " + 32 'x' (i from 0, N <= 10000)
 * Flags take 1/true/yes or 0/false/no; a bare key means 1.
 *
 * Every answer carries "Server: gw-echo" and "X-Echo-Port: <listener port>".
 * The default body is JSON: {"method", "path", "query", "headers" (names as
 * sent; repeated names merged into one value joined by ", "), "body_bytes"
 * (decoded request payload bytes), "port", "server"}. Strings are valid
 * UTF-8 passed through; other bytes and control characters become \u00XX. */
#include "bench/echo.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define PATTERN_PERIOD	26
#define SCRATCH_LIMIT	(1u << 20)	/* bytes of one JSON body */
#define FILL_VALUE_LEN	32

/* 'a' + i % 26 for i in [0, ECHO_PIECE + 26): a piece starting at any
 * offset is one memcpy from pattern + offset % 26. */
static char pattern[ECHO_PIECE + PATTERN_PERIOD];

static const char BAD_RESPONSE[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello";

/* What the head announces; see plan_*(). */
struct reply_plan {
	uint16_t status;
	bool framed;		/* the status allows a body (not 204/304) */
	bool send_body;		/* framed, and the method is not HEAD */
	bool te_chunked;	/* Transfer-Encoding: chunked, else Content-Length */
	uint64_t length;	/* Content-Length in bytes */
	const char *ct;		/* Content-Type value, not NUL-terminated */
	size_t ct_len;
};

/* Call once before any thread starts. */
void echo_pattern_init(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)('a' + i % PATTERN_PERIOD);
}

static bool opt_num(const char *v, uint32_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (!n || n > 18)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

static bool span_is(const char *s, uint32_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool opt_flag(const char *v, uint32_t n, bool *out)
{
	if (!n || span_is(v, n, "1") || span_is(v, n, "true") || span_is(v, n, "yes"))
		*out = true;
	else if (span_is(v, n, "0") || span_is(v, n, "false") || span_is(v, n, "no"))
		*out = false;
	else
		return false;
	return true;
}

static bool opt_apply_num(struct echo_opts *o, const char *k, uint32_t kn,
			  const char *v, uint32_t vn)
{
	uint64_t x = 0;

	if (span_is(k, kn, "status")) {
		if (!opt_num(v, vn, 599, &x) || x < 200)
			return false;
		o->status = (uint16_t)x;
	} else if (span_is(k, kn, "delay")) {
		if (!opt_num(v, vn, 3600000, &x))
			return false;
		o->delay_ms = (uint32_t)x;
	} else if (span_is(k, kn, "size")) {
		if (!opt_num(v, vn, UINT64_C(1) << 50, &o->size))
			return false;
		o->has_size = true;
	} else if (span_is(k, kn, "headers")) {
		if (!opt_num(v, vn, ECHO_MAX_FILL_HEADERS, &x))
			return false;
		o->fill_headers = (uint32_t)x;
	}
	return true;
}

static bool opt_apply(struct echo_opts *o, const char *k, uint32_t kn, const char *v, uint32_t vn)
{
	if (span_is(k, kn, "echo"))
		return span_is(v, vn, "body") ? (o->echo = true) : opt_flag(v, vn, &o->echo);
	if (span_is(k, kn, "chunked"))
		return opt_flag(v, vn, &o->chunked);
	if (span_is(k, kn, "trailer"))
		return opt_flag(v, vn, &o->trailer);
	if (span_is(k, kn, "close"))
		return opt_flag(v, vn, &o->close);
	if (span_is(k, kn, "reset"))
		return opt_flag(v, vn, &o->reset);
	if (span_is(k, kn, "hang"))
		return opt_flag(v, vn, &o->hang);
	if (span_is(k, kn, "bad"))
		return opt_flag(v, vn, &o->bad);
	return opt_apply_num(o, k, kn, v, vn);
}

/* Parse the query string <q> (without '?') into <o>, which the caller
 * zeroed. Sets o->invalid when a known key has an unusable value. */
void echo_opts_parse(const char *q, uint32_t len, struct echo_opts *o)
{
	uint32_t i = 0;

	while (i < len) {
		uint32_t k = i, eq, end;

		while (i < len && q[i] != '&')
			i++;
		end = i++;
		for (eq = k; eq < end && q[eq] != '='; eq++)
			;
		if (eq == k)
			continue;
		if (!opt_apply(o, q + k, eq - k, q + eq + (eq < end), end - eq - (eq < end)))
			o->invalid = true;
	}
}

static char *put(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, uint64_t v)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* JSON string contents for s[0..n); writes at most 6 * n bytes. */
static char *json_esc(char *p, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char ch = s[i];
		size_t k;

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			*p++ = (char)ch;
			i++;
			continue;
		}
		if (ch >= 0x80 && (k = utf8_len(s + i, n - i))) {
			p = put(p, s + i, k);
			i += k;
			continue;
		}
		*p++ = '\\';
		if (ch == '"' || ch == '\\') {
			*p++ = (char)ch;
		} else {
			p = PUT_LIT(p, "u00");
			*p++ = "0123456789abcdef"[ch >> 4];
			*p++ = "0123456789abcdef"[ch & 15];
		}
		i++;
	}
	return p;
}

static char *json_span(char *p, const char *m, struct http_span s)
{
	*p++ = '"';
	p = json_esc(p, m + s.off, s.len);
	*p++ = '"';
	return p;
}

static bool name_eq(const char *m, struct http_span a, struct http_span b)
{
	return a.len == b.len && strncasecmp(m + a.off, m + b.off, a.len) == 0;
}

/* The header object: one key per name (first spelling), repeated fields'
 * values joined with ", " as RFC 9110 section 5.3 allows. */
static char *json_headers(char *p, const char *m, const struct http_head_common *h)
{
	bool first = true;

	*p++ = '{';
	for (unsigned i = 0; i < h->n_fields; i++) {
		struct http_span name = h->fields[i].name;
		unsigned j;

		for (j = 0; j < i && !name_eq(m, h->fields[j].name, name); j++)
			;
		if (j < i)
			continue;
		if (!first)
			*p++ = ',';
		first = false;
		p = json_span(p, m, name);
		p = PUT_LIT(p, ":\"");
		p = json_esc(p, m + h->fields[i].value.off, h->fields[i].value.len);
		for (j = i + 1; j < h->n_fields; j++) {
			if (!name_eq(m, h->fields[j].name, name))
				continue;
			p = PUT_LIT(p, ", ");
			p = json_esc(p, m + h->fields[j].value.off, h->fields[j].value.len);
		}
		*p++ = '"';
	}
	*p++ = '}';
	return p;
}

/* Format the default JSON body into <b>. Every string comes from the head,
 * so 6 bytes per head byte plus the fixed text bound the size. */
static int json_format(struct buf *b, const struct echo_conn *c)
{
	const char *m = buf_head(&c->in);
	const struct http_request *r = &c->req;
	size_t bound = (size_t)r->h.head_len * 6 + (size_t)r->h.n_fields * 8 + 256;
	int err;
	char *p;

	buf_reset(b);
	err = buf_reserve(b, bound, SCRATCH_LIMIT);
	if (err)
		return err;
	p = b->data;
	p = PUT_LIT(p, "{\"method\":");
	p = json_span(p, m, r->method_name);
	p = PUT_LIT(p, ",\"path\":");
	p = json_span(p, m, r->path);
	p = PUT_LIT(p, ",\"query\":");
	p = json_span(p, m, r->query);
	p = PUT_LIT(p, ",\"headers\":");
	p = json_headers(p, m, &r->h);
	p = PUT_LIT(p, ",\"body_bytes\":");
	p = put_u64(p, c->body.total);
	p = PUT_LIT(p, ",\"port\":");
	p = put_u64(p, c->port);
	p = PUT_LIT(p, ",\"server\":\"gw-echo\"}");
	b->len = (size_t)(p - b->data);
	return 0;
}

static void plan_init(const struct echo_conn *c, struct reply_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->status = c->opts.status ? c->opts.status : 200;
	pl->framed = pl->status != 204 && pl->status != 304;
	pl->send_body = pl->framed && c->req.method != HTTP_M_HEAD;
	/* HTTP/1.0 clients cannot decode chunked. */
	pl->te_chunked = c->opts.chunked && c->req.h.version_minor == 1;
}

#define CT(pl, lit) ((pl)->ct = (lit), (pl)->ct_len = sizeof(lit) - 1)

/* ?echo=body: the kept raw body. A chunked one is already framed, so it
 * goes back verbatim (trailer included) under Transfer-Encoding: chunked. */
static void plan_echo(struct echo_conn *c, struct reply_plan *pl)
{
	const char *m = buf_head(&c->in);
	int i = http_field_find(m, &c->req.h, "content-type");

	c->src = SRC_INBUF;
	c->src_pos = c->req.h.head_len;
	c->src_left = c->body_raw;
	if (c->req.h.chunked)
		pl->te_chunked = true;
	c->src_chunked = pl->te_chunked && !c->req.h.chunked;
	pl->length = c->body_raw;
	if (i >= 0) {
		pl->ct = m + c->req.h.fields[i].value.off;
		pl->ct_len = c->req.h.fields[i].value.len;
	} else {
		CT(pl, "application/octet-stream");
	}
}

static void plan_pattern(struct echo_conn *c, struct reply_plan *pl)
{
	c->src = SRC_PATTERN;
	c->src_pos = 0;
	c->src_left = c->opts.size;
	c->src_chunked = pl->te_chunked;
	pl->length = c->opts.size;
	CT(pl, "application/octet-stream");
}

static char *head_fill(char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		p = PUT_LIT(p, "X-Fill-");
		p = put_u64(p, i);
		p = PUT_LIT(p, ": ");
		memset(p, 'x', FILL_VALUE_LEN);
		p = PUT_LIT(p + FILL_VALUE_LEN, "\r\n");
	}
	return p;
}

static int reply_head(struct echo_conn *c, const struct reply_plan *pl)
{
	const char *reason = http_status_reason(pl->status);
	size_t rlen = strlen(reason);
	size_t need = 256 + rlen + pl->ct_len + (size_t)c->opts.fill_headers * (24 + FILL_VALUE_LEN);
	int err = buf_reserve(&c->out, need, ECHO_OUT_LIMIT);
	char *p;

	if (err)
		return err;
	p = c->out.data + c->out.len;
	p = PUT_LIT(p, "HTTP/1.1 ");
	p = put_u64(p, pl->status);
	*p++ = ' ';
	p = put(p, reason, rlen);
	p = PUT_LIT(p, "\r\nServer: gw-echo\r\nX-Echo-Port: ");
	p = put_u64(p, c->port);
	p = PUT_LIT(p, "\r\n");
	if (pl->framed) {
		p = PUT_LIT(p, "Content-Type: ");
		p = put(p, pl->ct, pl->ct_len);
		if (pl->te_chunked) {
			p = PUT_LIT(p, "\r\nTransfer-Encoding: chunked\r\n");
		} else {
			p = PUT_LIT(p, "\r\nContent-Length: ");
			p = put_u64(p, pl->length);
			p = PUT_LIT(p, "\r\n");
		}
	}
	if (c->close_after)
		p = PUT_LIT(p, "Connection: close\r\n");
	else if (c->req.h.version_minor == 0)
		p = PUT_LIT(p, "Connection: keep-alive\r\n");
	p = head_fill(p, c->opts.fill_headers);
	p = PUT_LIT(p, "\r\n");
	c->out.len = (size_t)(p - c->out.data);
	return 0;
}

/* Append body bytes, as chunks of <= ECHO_CHUNK when ->src_chunked. */
static int reply_put_body(struct echo_conn *c, const char *data, size_t n)
{
	if (!c->src_chunked)
		return buf_append(&c->out, data, n, ECHO_OUT_LIMIT);
	while (n) {
		size_t k = n < ECHO_CHUNK ? n : ECHO_CHUNK;
		int err = buf_reserve(&c->out, k + 24, ECHO_OUT_LIMIT);
		char *p;

		if (err)
			return err;
		p = c->out.data + c->out.len;
		p = put_hex(p, k);
		p = PUT_LIT(p, "\r\n");
		p = put(p, data, k);
		p = PUT_LIT(p, "\r\n");
		c->out.len = (size_t)(p - c->out.data);
		data += k;
		n -= k;
	}
	return 0;
}

static int reply_put_end(struct echo_conn *c)
{
	static const char last[] = "0\r\n\r\n";
	static const char last_trailer[] = "0\r\nX-Trailer: yes\r\n\r\n";

	if (!c->src_chunked)
		return 0;
	if (c->opts.trailer)
		return buf_append(&c->out, last_trailer, sizeof(last_trailer) - 1, ECHO_OUT_LIMIT);
	return buf_append(&c->out, last, sizeof(last) - 1, ECHO_OUT_LIMIT);
}

/* Queue the next piece (<= ECHO_PIECE payload bytes) of a streamed body;
 * sets ->src to SRC_NONE after the last one. 0 or -errno. */
int echo_reply_fill(struct echo_conn *c)
{
	size_t n = c->src_left < ECHO_PIECE ? (size_t)c->src_left : ECHO_PIECE;
	const char *data;
	int err;

	if (c->src == SRC_PATTERN)
		data = pattern + c->src_pos % PATTERN_PERIOD;
	else
		data = buf_head(&c->in) + c->src_pos;
	err = reply_put_body(c, data, n);
	if (err)
		return err;
	c->src_pos += n;
	c->src_left -= n;
	if (c->src_left)
		return 0;
	c->src = SRC_NONE;
	return reply_put_end(c);
}

/* Queue the answer to the complete request in ->in: the head, and either
 * the whole JSON body or the first piece of a streamed one (->src set).
 * 0 or -errno (-ENOBUFS past ECHO_OUT_LIMIT). */
int echo_reply_start(struct echo_thread *t, struct echo_conn *c)
{
	struct reply_plan pl;
	int err;

	c->close_after = c->opts.close || c->opts.bad || !c->req.h.keep_alive;
	if (c->opts.bad)
		return buf_append(&c->out, BAD_RESPONSE, sizeof(BAD_RESPONSE) - 1, ECHO_OUT_LIMIT);
	plan_init(c, &pl);
	if (c->opts.echo) {
		plan_echo(c, &pl);
	} else if (c->opts.has_size) {
		plan_pattern(c, &pl);
	} else {
		err = json_format(&t->scratch, c);
		if (err)
			return err;
		c->src_chunked = pl.te_chunked;
		pl.length = t->scratch.len;
		CT(&pl, "application/json");
	}
	err = reply_head(c, &pl);
	if (err)
		return err;
	if (!pl.send_body) {
		c->src = SRC_NONE;
		return 0;
	}
	if (c->src != SRC_NONE)
		return echo_reply_fill(c);
	err = reply_put_body(c, t->scratch.data, t->scratch.len);
	return err ? err : reply_put_end(c);
}

/* Queue a short text/plain error answer that closes the connection. */
int echo_reply_error(struct echo_conn *c, unsigned status, const char *why)
{
	c->close_after = true;
	return buf_printf(&c->out, ECHO_OUT_LIMIT,
			  "HTTP/1.1 %u %s\r\nServer: gw-echo\r\nX-Echo-Port: %u\r\n"
			  "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
			  "Connection: close\r\n\r\n%s\n",
			  status, http_status_reason(status), c->port, strlen(why) + 1, why);
}
