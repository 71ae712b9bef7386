/* The parse stage: a complete, valid request head, or an error status. */
#include <string.h>

#include "lib/http1.h"
#include "worker/conn.h"
#include "worker/stages.h"

/* Trailer section limit for chunked request bodies. */
#define MAX_TRAILER_BYTES 8192u

static const char hex_digits[] = "0123456789abcdef";

/* A client's X-Request-Id is kept when it is short and plainly printable,
 * so it can be logged and echoed without escaping. */
static bool request_id_ok(const char *p, uint32_t len)
{
	if (len == 0 || len > REQUEST_ID_MAX)
		return false;
	for (uint32_t i = 0; i < len; i++) {
		char ch = p[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.' || ch == ':'))
			return false;
	}
	return true;
}

void request_id_new(struct worker *w, char *out)
{
	uint64_t hi = wk_random(w), lo = wk_random(w);

	for (int i = 0; i < 16; i++) {
		out[i] = hex_digits[(hi >> (60 - 4 * i)) & 0xf];
		out[16 + i] = hex_digits[(lo >> (60 - 4 * i)) & 0xf];
	}
	out[32] = '\0';
}

static void copy_span(char *dst, size_t cap, const char *buf, struct http_span s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	memcpy(dst, buf + s.off, n);
	dst[n] = '\0';
}

/* Keep what later stages and the log need once the head is consumed. */
static void record_request(struct worker *w, struct exchange *ex, const char *buf)
{
	int id = http_field_find(buf, &ex->req.h, "x-request-id");

	ex->method = ex->req.method;
	ex->client_minor = ex->req.h.version_minor;
	copy_span(ex->method_name, sizeof(ex->method_name), buf, ex->req.method_name);
	copy_span(ex->target, sizeof(ex->target), buf, ex->req.target);
	if (id >= 0 && request_id_ok(buf + ex->req.h.fields[id].value.off,
				     ex->req.h.fields[id].value.len))
		copy_span(ex->request_id, sizeof(ex->request_id), buf, ex->req.h.fields[id].value);
	else
		request_id_new(w, ex->request_id);
}

enum stage_result stage_parse(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	const char *buf = buf_head(&c->in);
	enum http_result r = http_parse_request(&ex->parser, buf, buf_avail(&c->in), &ex->req);

	if (r == HTTP_AGAIN)
		return STAGE_SUSPEND;
	c->client.phase = CLIENT_EXCHANGE;
	timer_cancel(&w->timers, &c->timer);
	if (r == HTTP_ERROR) {
		request_id_new(w, ex->request_id);
		ex->status = ex->parser.status;
		ex->error = ex->parser.error;
		ex->keep_alive = false;
		return STAGE_RESPOND;
	}
	ex->head_parsed = true;
	ex->counted = true;
	wtab_count(w->stats, WTAB_REQUESTS, 1);
	wtab_gauge_add(w->stats, WTAB_INFLIGHT, 1);
	record_request(w, ex, buf);
	ex->keep_alive = ex->req.h.keep_alive && !w->draining;

	enum http_body_mode mode = http_request_body_mode(&ex->req);
	uint64_t limit = w->cfg->max_body_bytes;
	if (limit && ex->req.h.content_length > 0 && (uint64_t)ex->req.h.content_length > limit) {
		ex->status = 413;
		ex->error = "request body too large";
		ex->keep_alive = false;
		return STAGE_RESPOND;
	}
	http_body_init(&ex->req_body, mode,
		       ex->req.h.content_length > 0 ? (uint64_t)ex->req.h.content_length : 0,
		       MAX_TRAILER_BYTES);
	ex->req_body_done = mode == HTTP_BODY_NONE;
	return STAGE_CONTINUE;
}

void request_consume_head(struct exchange *ex)
{
	if (!ex->head_parsed)
		return;
	ex->bytes_in += ex->req.h.head_len;
	buf_consume(&ex->client->in, ex->req.h.head_len);
	ex->head_parsed = false;
}
