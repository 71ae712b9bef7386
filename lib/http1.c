/* HTTP/1.1 head scanner: request line, status line and field lines.
 *
 * The scanner is a state machine resumed from p->state and p->pos on every
 * call. Each state is a small function that consumes what it can and
 * returns STEP_NEXT after moving to another state, STEP_AGAIN when the bytes
 * ran out, or STEP_ERROR after recording the status and the reason. Where a
 * state must see two or three bytes together (CR LF, "%" HEXDIG HEXDIG), it
 * leaves p->pos on the first one until all have arrived, so the bytes give
 * the same result however they were split; nothing else is looked at twice.
 *
 * Marks and spans are offsets from the start of the message. The scanner
 * checks each byte's class; the grammar that spans several bytes or fields
 * (request-target forms, Content-Length, Transfer-Encoding, Host...) is
 * checked by http1_head.c once the target or the whole head is complete.
 */
#include <string.h>

#include "lib/http1_int.h"

#define V HTTP__C_VALUE
#define T HTTP__C_TCHAR
#define P HTTP__C_TARGET
#define R HTTP__C_REGNAME
#define H HTTP__C_HEX
#define D HTTP__C_DIGIT

/* Every byte's classes. Ranges never overlap, so each entry lists all the
 * classes of its bytes; anything absent (CTLs, DEL) is in no class. */
const uint8_t http__ctab[256] = {
	['\t'] = HTTP__C_WS, [' '] = HTTP__C_WS,
	['0' ... '9'] = V | T | P | R | H | D,
	['A' ... 'F'] = V | T | P | R | H, ['G' ... 'Z'] = V | T | P | R,
	['a' ... 'f'] = V | T | P | R | H, ['g' ... 'z'] = V | T | P | R,
	/* unreserved */
	['-'] = V | T | P | R, ['.'] = V | T | P | R, ['_'] = V | T | P | R, ['~'] = V | T | P | R,
	/* sub-delims */
	['!'] = V | T | P | R, ['$'] = V | T | P | R, ['&'] = V | T | P | R, ['\''] = V | T | P | R,
	['*'] = V | T | P | R, ['+'] = V | T | P | R,
	['('] = V | P | R, [')'] = V | P | R, [','] = V | P | R, [';'] = V | P | R, ['='] = V | P | R,
	/* the rest of pchar and path */
	[':'] = V | P, ['@'] = V | P, ['/'] = V | P,
	/* tchar but not in a path: '%' only as the start of pct-encoded */
	['%'] = V | T, ['#'] = V | T, ['^'] = V | T, ['`'] = V | T, ['|'] = V | T,
	['"'] = V, ['<'] = V, ['>'] = V, ['?'] = V, ['['] = V, ['\\'] = V, [']'] = V,
	['{'] = V, ['}'] = V,
	[0x80 ... 0xff] = V,
};

#undef V
#undef T
#undef P
#undef R
#undef H
#undef D

enum head_state {
	S_INIT = 0,		/* http_parser_init() leaves this; nothing examined */
	S_REQ_LEAD,		/* empty lines before the request line */
	S_METHOD,		/* mark: method start */
	S_TARGET,		/* mark: target start; mark2: just after the first '?', or 0 */
	S_REQ_VERSION,		/* mark: version start */
	S_STATUS_VERSION,	/* mark: version start (0) */
	S_STATUS_CODE,		/* mark: status code start */
	S_REASON,		/* mark: reason phrase start */
	S_FIELD_START,		/* start of a field line or of the blank line */
	S_FIELD_NAME,		/* mark: name start; name recorded at the colon */
	S_FIELD_OWS,		/* after the colon, before the value */
	S_FIELD_VALUE,		/* mark: value start; mark2: value end without trailing OWS */
	S_HEAD_END,		/* blank line seen; pos is the head length */
	S_DONE,
	S_ERROR,
};

enum step {
	STEP_NEXT,	/* moved to another state: run it */
	STEP_AGAIN,	/* need bytes beyond the limit */
	STEP_ERROR,	/* p->status and p->error are set */
};

static inline struct http_span span(uint32_t from, uint32_t to)
{
	return (struct http_span){ .off = from, .len = to - from };
}

/* End of the run of bytes of <classes> from <pos>, at most <lim>. This is
 * the scanner's inner loop; unrolled because heads are mostly long runs
 * (values, paths) and the bound check then comes once per 8 bytes. */
static inline uint32_t run_end(const uint8_t *s, uint32_t pos, uint32_t lim, uint8_t classes)
{
	for (; lim - pos >= 8; pos += 8) {
		if (!http__is(s[pos], classes))
			return pos;
		if (!http__is(s[pos + 1], classes))
			return pos + 1;
		if (!http__is(s[pos + 2], classes))
			return pos + 2;
		if (!http__is(s[pos + 3], classes))
			return pos + 3;
		if (!http__is(s[pos + 4], classes))
			return pos + 4;
		if (!http__is(s[pos + 5], classes))
			return pos + 5;
		if (!http__is(s[pos + 6], classes))
			return pos + 6;
		if (!http__is(s[pos + 7], classes))
			return pos + 7;
	}
	while (pos < lim && http__is(s[pos], classes))
		pos++;
	return pos;
}

static enum step fail(struct http_parser *p, uint16_t status, const char *error)
{
	p->state = S_ERROR;
	p->status = status;
	p->error = error;
	return STEP_ERROR;
}

/* s[pos] is a CR: STEP_NEXT when an LF follows it, STEP_AGAIN (with p->pos
 * left on the CR) when the next byte has not arrived. */
static enum step crlf_at(struct http_parser *p, const uint8_t *s, uint32_t pos, uint32_t lim)
{
	if (lim - pos < 2) {
		p->pos = pos;
		return STEP_AGAIN;
	}
	if (s[pos + 1] != '\n')
		return fail(p, 400, "bare CR");
	return STEP_NEXT;
}

/* A line must end here (s[pos], pos < lim): anything but CR is an error,
 * and a bare LF gets its own reason because it is the usual mistake. */
static enum step line_end(struct http_parser *p, const uint8_t *s, uint32_t pos, uint32_t lim,
			  const char *error)
{
	if (s[pos] == '\r')
		return crlf_at(p, s, pos, lim);
	return fail(p, 400, s[pos] == '\n' ? "bare LF" : error);
}

/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
 * request-line. We ignore any number; they count against max_head. */
static enum step req_lead(struct http_parser *p, const uint8_t *s, uint32_t lim)
{
	uint32_t pos = p->pos;
	enum step st;

	while (pos < lim && s[pos] == '\r') {
		st = crlf_at(p, s, pos, lim);
		if (st != STEP_NEXT)
			return st;
		pos += 2;
	}
	p->pos = pos;
	if (pos >= lim)
		return STEP_AGAIN;
	if (s[pos] == '\n')
		return fail(p, 400, "bare LF");
	p->mark = pos;
	/* The request line and its CRLF must end by here (see req_limit()). */
	p->line_lim = p->max_line && p->max_line <= UINT32_MAX - 2 - pos ?
		      pos + p->max_line + 2 : UINT32_MAX;
	p->state = S_METHOD;
	return STEP_NEXT;
}

static enum step req_method(struct http_parser *p, const uint8_t *s, uint32_t lim,
			    struct http_request *req)
{
	uint32_t pos = p->pos;

	pos = run_end(s, pos, lim, HTTP__C_TCHAR);
	p->pos = pos;
	if (pos >= lim)
		return STEP_AGAIN;
	if (s[pos] != ' ' || pos == p->mark)
		return fail(p, 400, "invalid method");
	req->method_name = span(p->mark, pos);
	req->method = http_method_lookup((const char *)s + p->mark, pos - p->mark);
	p->pos = pos + 1;
	p->mark = pos + 1;
	p->mark2 = 0;
	p->state = S_TARGET;
	return STEP_NEXT;
}

/* Bytes that a target byte outside HTTP__C_TARGET takes at s[pos]: 1 or 3,
 * 0 when more bytes must arrive first, -1 when it cannot be there. */
static int target_special(const struct http_parser *p, const uint8_t *s, uint32_t pos,
			  uint32_t lim)
{
	uint32_t avail = lim - pos;

	switch (s[pos]) {
	case '?':
		return 1;
	case '%':
		if (avail > 1 && !http__is(s[pos + 1], HTTP__C_HEX))
			return -1;
		if (avail > 2 && !http__is(s[pos + 2], HTTP__C_HEX))
			return -1;
		return avail > 2 ? 3 : 0;
	case '[':
	case ']':
		/* An IP-literal, only possible in the authority of the
		 * absolute-form or authority-form; http__target_check()
		 * checks where the brackets are. */
		return s[p->mark] != '/' && !p->mark2 ? 1 : -1;
	default:
		return -1;
	}
}

static enum step target_end(struct http_parser *p, const uint8_t *s, uint32_t pos,
			    struct http_request *req)
{
	const char *error;
	int status;

	if (pos == p->mark)
		return fail(p, 400, "invalid request-target");
	req->target = span(p->mark, pos);
	status = http__target_check((const char *)s, req, p->mark2, &error);
	if (status)
		return fail(p, status, error);
	p->pos = pos + 1;
	p->mark = pos + 1;
	p->state = S_REQ_VERSION;
	return STEP_NEXT;
}

static enum step req_target(struct http_parser *p, const uint8_t *s, uint32_t lim,
			    struct http_request *req)
{
	uint32_t pos = p->pos;
	int n;

	for (;;) {
		pos = run_end(s, pos, lim, HTTP__C_TARGET);
		p->pos = pos;
		if (pos >= lim)
			return STEP_AGAIN;
		if (s[pos] == ' ')
			return target_end(p, s, pos, req);
		n = target_special(p, s, pos, lim);
		if (n == 0)
			return STEP_AGAIN;
		if (n < 0)
			return fail(p, 400, s[pos] == '%' ? "invalid percent-encoding" :
						       "invalid request-target");
		if (s[pos] == '?' && !p->mark2)
			p->mark2 = pos + 1;
		pos += n;
	}
}

/* Check "HTTP/" DIGIT "." DIGIT from p->mark as far as it has arrived;
 * STEP_NEXT once all 8 bytes are there. Only 1.0 and 1.1 pass: any other
 * well-formed version is 505 (RFC 9110 §15.6.6), anything else 400. */
static enum step version_scan(struct http_parser *p, const uint8_t *s, uint32_t lim)
{
	static const char pattern[8] = "HTTP/d.d";
	uint32_t pos = p->pos, i;
	bool ok;

	if (pos == p->mark && lim - pos >= 8 && memcmp(s + pos, "HTTP/1.1", 8) == 0)
		pos += 8;
	for (; pos < lim && pos - p->mark < 8; pos++) {
		i = pos - p->mark;
		if (pattern[i] == 'd')
			ok = http__is(s[pos], HTTP__C_DIGIT);
		else
			ok = s[pos] == pattern[i];
		if (!ok)
			return fail(p, 400, "invalid http version");
	}
	p->pos = pos;
	if (pos - p->mark < 8)
		return STEP_AGAIN;
	if (s[p->mark + 5] != '1' || s[p->mark + 7] > '1')
		return fail(p, 505, "http version not supported");
	return STEP_NEXT;
}

static enum step req_version(struct http_parser *p, const uint8_t *s, uint32_t lim,
			     struct http_request *req)
{
	enum step st = version_scan(p, s, lim);
	uint32_t pos = p->pos;

	if (st != STEP_NEXT)
		return st;
	if (pos >= lim)
		return STEP_AGAIN;
	st = line_end(p, s, pos, lim, "invalid http version");
	if (st != STEP_NEXT)
		return st;
	req->h.version_minor = s[p->mark + 7] - '0';
	p->pos = pos + 2;
	p->state = S_FIELD_START;
	return STEP_NEXT;
}

static enum step status_version(struct http_parser *p, const uint8_t *s, uint32_t lim,
				struct http_response *resp)
{
	enum step st = version_scan(p, s, lim);
	uint32_t pos = p->pos;

	if (st != STEP_NEXT)
		return st;
	if (pos >= lim)
		return STEP_AGAIN;
	if (s[pos] != ' ')
		return fail(p, 502, "invalid status line");
	resp->h.version_minor = s[p->mark + 7] - '0';
	p->pos = pos + 1;
	p->mark = pos + 1;
	p->state = S_STATUS_CODE;
	return STEP_NEXT;
}

/* status-code = 3DIGIT, then the SP that RFC 9112 §4 requires even when
 * the reason phrase is empty. Only 1xx to 5xx exist (RFC 9110 §15). */
static enum step status_code(struct http_parser *p, const uint8_t *s, uint32_t lim,
			     struct http_response *resp)
{
	uint32_t pos = p->pos;
	const uint8_t *c = s + p->mark;

	for (; pos < lim && pos - p->mark < 3; pos++)
		if (!http__is(s[pos], HTTP__C_DIGIT))
			return fail(p, 502, "invalid status code");
	p->pos = pos;
	if (pos >= lim)
		return STEP_AGAIN;
	if (s[pos] != ' ')
		return fail(p, 502, "invalid status line");
	resp->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
	if (resp->status < 100 || resp->status > 599)
		return fail(p, 502, "invalid status code");
	p->pos = pos + 1;
	p->mark = pos + 1;
	p->state = S_REASON;
	return STEP_NEXT;
}

static enum step status_reason(struct http_parser *p, const uint8_t *s, uint32_t lim,
			       struct http_response *resp)
{
	uint32_t pos = p->pos;
	enum step st;

	pos = run_end(s, pos, lim, HTTP__C_VALUE | HTTP__C_WS);
	p->pos = pos;
	if (pos >= lim)
		return STEP_AGAIN;
	st = line_end(p, s, pos, lim, "invalid reason phrase");
	if (st != STEP_NEXT)
		return st;
	resp->reason = span(p->mark, pos);
	p->pos = pos + 2;
	p->state = S_FIELD_START;
	return STEP_NEXT;
}

static enum step field_start(struct http_parser *p, const uint8_t *s, uint32_t lim,
			     struct http_head_common *h)
{
	uint32_t pos = p->pos;
	uint8_t c;
	enum step st;

	if (pos >= lim)
		return STEP_AGAIN;
	c = s[pos];
	if (http__is(c, HTTP__C_TCHAR)) {
		if (h->n_fields >= p->max_fields)
			return fail(p, 431, "too many header fields");
		p->mark = pos;
		p->pos = pos + 1;
		p->state = S_FIELD_NAME;
		return STEP_NEXT;
	}
	if (c == ' ' || c == '\t')
		return fail(p, 400, "obs-fold");
	if (c == ':')
		return fail(p, 400, "empty field name");
	st = line_end(p, s, pos, lim, "invalid field name");
	if (st != STEP_NEXT)
		return st;
	p->pos = pos + 2;
	p->state = S_HEAD_END;
	return STEP_NEXT;
}

static enum step field_name(struct http_parser *p, const uint8_t *s, uint32_t lim,
			    struct http_head_common *h)
{
	uint32_t pos = p->pos;

	pos = run_end(s, pos, lim, HTTP__C_TCHAR);
	p->pos = pos;
	if (pos >= lim)
		return STEP_AGAIN;
	if (s[pos] != ':')
		return fail(p, 400, http__is(s[pos], HTTP__C_WS) ? "whitespace before colon" :
								   "invalid field name");
	h->fields[h->n_fields].name = span(p->mark, pos);
	p->pos = pos + 1;
	p->state = S_FIELD_OWS;
	return STEP_NEXT;
}

static enum step field_ows(struct http_parser *p, const uint8_t *s, uint32_t lim)
{
	uint32_t pos = p->pos;

	while (pos < lim && http__is(s[pos], HTTP__C_WS))
		pos++;
	p->pos = pos;
	/* More OWS may follow: the value cannot start before a byte that is
	 * not OWS has arrived. */
	if (pos >= lim)
		return STEP_AGAIN;
	p->mark = pos;
	p->mark2 = pos;
	p->state = S_FIELD_VALUE;
	return STEP_NEXT;
}

/* field-value: runs of field-vchar separated by SP/HTAB; p->mark2 tracks
 * the end of the last run so trailing OWS is left out of the span. */
static enum step field_value(struct http_parser *p, const uint8_t *s, uint32_t lim,
			     struct http_head_common *h)
{
	uint32_t pos = p->pos, run;
	enum step st;

	for (;;) {
		run = pos;
		pos = run_end(s, pos, lim, HTTP__C_VALUE);
		if (pos != run)
			p->mark2 = pos;
		while (pos < lim && http__is(s[pos], HTTP__C_WS))
			pos++;
		p->pos = pos;
		if (pos >= lim)
			return STEP_AGAIN;
		if (!http__is(s[pos], HTTP__C_VALUE))
			break;
	}
	st = line_end(p, s, pos, lim, "invalid character in field value");
	if (st != STEP_NEXT)
		return st;
	h->fields[h->n_fields++].value = span(p->mark, p->mark2);
	p->pos = pos + 2;
	p->state = S_FIELD_START;
	return STEP_NEXT;
}

/* The field-line states, common to requests and responses. */
static enum step field_step(struct http_parser *p, const uint8_t *s, uint32_t lim,
			    struct http_head_common *h)
{
	switch (p->state) {
	case S_FIELD_START:
		return field_start(p, s, lim, h);
	case S_FIELD_NAME:
		return field_name(p, s, lim, h);
	case S_FIELD_OWS:
		return field_ows(p, s, lim);
	case S_FIELD_VALUE:
		return field_value(p, s, lim, h);
	default:
		/* A request parser resumed as a response or the reverse. */
		return fail(p, 400, "parser state mismatch");
	}
}

/* Bytes the scanner may look at: the head must fit in max_head. */
static uint32_t head_limit(const struct http_parser *p, size_t len)
{
	return len < p->max_head ? (uint32_t)len : p->max_head;
}

static void head_reset(struct http_head_common *h)
{
	h->version_minor = 0;
	h->keep_alive = false;
	h->chunked = false;
	h->content_length = -1;
	h->n_fields = 0;
	h->n_conn_tokens = 0;
	h->head_len = 0;
}

void http_parser_init(struct http_parser *p, uint32_t max_head)
{
	memset(p, 0, sizeof(*p));
	p->max_head = max_head;
	p->max_fields = HTTP_MAX_HEADERS;
	p->line_lim = UINT32_MAX;
}

void http_parser_limits(struct http_parser *p, unsigned max_fields, uint32_t max_line)
{
	p->max_fields = max_fields && max_fields < HTTP_MAX_HEADERS ? (uint16_t)max_fields :
								      HTTP_MAX_HEADERS;
	p->max_line = max_line;
}

/* Bytes a request state may look at: the head limit, and inside the
 * request line also the line limit. */
static uint32_t req_limit(const struct http_parser *p, uint32_t lim)
{
	if (p->state >= S_METHOD && p->state <= S_REQ_VERSION && p->line_lim < lim)
		return p->line_lim;
	return lim;
}

static enum step req_head_end(struct http_parser *p, const char *buf, struct http_request *req)
{
	const char *error;
	int status = http__request_fields(buf, req, &error);

	if (status)
		return fail(p, status, error);
	req->h.head_len = p->pos;
	p->state = S_DONE;
	return STEP_NEXT;
}

static void request_reset(struct http_request *req)
{
	head_reset(&req->h);
	req->method = HTTP_M_OTHER;
	req->method_name = req->target = req->path = req->query = req->host = span(0, 0);
	req->expect_continue = false;
}

enum http_result http_parse_request(struct http_parser *p, const char *buf, size_t len,
				    struct http_request *req)
{
	const uint8_t *s = (const uint8_t *)buf;
	uint32_t lim = head_limit(p, len);
	enum step st = STEP_NEXT;

	if (p->state == S_INIT) {
		request_reset(req);
		p->state = S_REQ_LEAD;
	}
	while (st == STEP_NEXT) {
		switch (p->state) {
		case S_REQ_LEAD:
			st = req_lead(p, s, lim);
			break;
		case S_METHOD:
			st = req_method(p, s, req_limit(p, lim), req);
			break;
		case S_TARGET:
			st = req_target(p, s, req_limit(p, lim), req);
			break;
		case S_REQ_VERSION:
			st = req_version(p, s, req_limit(p, lim), req);
			break;
		case S_HEAD_END:
			st = req_head_end(p, buf, req);
			break;
		case S_DONE:
			return HTTP_DONE;
		case S_ERROR:
			return HTTP_ERROR;
		default:
			st = field_step(p, s, lim, &req->h);
			break;
		}
	}
	/* More bytes exist but the request line cannot end within its limit. */
	if (st == STEP_AGAIN && req_limit(p, lim) < len && p->state < S_FIELD_START) {
		fail(p, 414, "request line too long");
		return HTTP_ERROR;
	}
	/* More bytes exist but the head cannot end within max_head. */
	if (st == STEP_AGAIN && lim < len) {
		if (p->state < S_FIELD_START)
			fail(p, 414, "request line too long");
		else
			fail(p, 431, "request header too large");
		return HTTP_ERROR;
	}
	return st == STEP_ERROR ? HTTP_ERROR : HTTP_AGAIN;
}

static enum step resp_head_end(struct http_parser *p, const char *buf,
			       struct http_response *resp)
{
	const char *error;
	int status = http__response_fields(buf, resp, &error);

	if (status)
		return fail(p, 502, error);
	resp->h.head_len = p->pos;
	p->state = S_DONE;
	return STEP_NEXT;
}

/* The status-line states, then the common field states. */
static enum step resp_step(struct http_parser *p, const char *buf, uint32_t lim,
			   struct http_response *resp)
{
	const uint8_t *s = (const uint8_t *)buf;

	switch (p->state) {
	case S_STATUS_VERSION:
		return status_version(p, s, lim, resp);
	case S_STATUS_CODE:
		return status_code(p, s, lim, resp);
	case S_REASON:
		return status_reason(p, s, lim, resp);
	case S_HEAD_END:
		return resp_head_end(p, buf, resp);
	default:
		return field_step(p, s, lim, &resp->h);
	}
}

enum http_result http_parse_response(struct http_parser *p, const char *buf, size_t len,
				     struct http_response *resp)
{
	uint32_t lim = head_limit(p, len);
	enum step st = STEP_NEXT;

	if (p->state == S_INIT) {
		head_reset(&resp->h);
		resp->status = 0;
		resp->reason = span(0, 0);
		p->state = S_STATUS_VERSION;
	}
	while (st == STEP_NEXT && p->state != S_DONE && p->state != S_ERROR)
		st = resp_step(p, buf, lim, resp);
	if (p->state == S_DONE)
		return HTTP_DONE;
	if (st == STEP_AGAIN && lim < len)
		fail(p, 502, "response head too large");
	if (p->state != S_ERROR)
		return HTTP_AGAIN;
	/* Whatever is wrong with a response, the client gets a 502. */
	p->status = 502;
	return HTTP_ERROR;
}
