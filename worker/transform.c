/* The transform stage and the response-head rewrite. */
#include "worker/transform.h"

#include <string.h>

#include "worker/apikey.h"
#include "worker/conn.h"
#include "worker/route.h"
#include "worker/stages.h"

/* Upstream heads are bounded like client heads plus room for what we add. */
#define HEAD_SLACK 1024u

static bool named_in_connection(const char *buf, const struct http_head_common *h,
				struct http_span name)
{
	for (unsigned i = 0; i < h->n_conn_tokens; i++) {
		struct http_span t = h->conn_tokens[i];
		if (t.len == name.len && strncasecmp(buf + t.off, buf + name.off, name.len) == 0)
			return true;
	}
	return false;
}

/* Fields the gateway drops from either direction, or writes itself. */
static bool skip_field(const char *buf, const struct http_head_common *h, struct http_span name)
{
	return http_is_hop_by_hop(buf, name) || named_in_connection(buf, h, name) ||
	       http_span_ieq(buf, name, "content-length") ||
	       http_span_ieq(buf, name, "x-request-id");
}

static int put_field(struct buf *out, size_t limit, const char *buf, const struct http_field *f)
{
	int err = buf_append(out, buf + f->name.off, f->name.len, limit);

	err = err ?: buf_append(out, ": ", 2, limit);
	err = err ?: buf_append(out, buf + f->value.off, f->value.len, limit);
	return err ?: buf_append(out, "\r\n", 2, limit);
}

static int put_framing(struct buf *out, size_t limit, enum http_body_mode mode, int64_t length)
{
	if (mode == HTTP_BODY_CHUNKED)
		return buf_append(out, "Transfer-Encoding: chunked\r\n", 28, limit);
	if (length >= 0)
		return buf_printf(out, limit, "Content-Length: %lld\r\n", (long long)length);
	return 0;
}

/* Request fields, except those replaced by X-Forwarded-*, forward_claims
 * and framing. */
static int put_request_fields(struct worker *w, struct exchange *ex, const char *buf,
			      struct buf *out, size_t limit)
{
	const struct http_head_common *h = &ex->req.h;
	int err = 0;

	for (unsigned i = 0; i < h->n_fields && !err; i++) {
		const struct http_field *f = &h->fields[i];
		if (skip_field(buf, h, f->name) || http_span_ieq(buf, f->name, "expect") ||
		    auth_forwarded_field(w, ex, buf, f->name) ||
		    tls_forwarded_field(w, buf, f->name) ||
		    apikey_dropped_field(w, buf, f->name) ||
		    http_span_ieq(buf, f->name, "x-forwarded-for") ||
		    http_span_ieq(buf, f->name, "x-forwarded-proto") ||
		    http_span_ieq(buf, f->name, "x-forwarded-host"))
			continue;
		err = put_field(out, limit, buf, f);
	}
	return err;
}

/* X-Forwarded-For: every incoming one, in order, as one list (RFC 9110
 * §5.3), then the client's address as the acl stage resolved it (the peer,
 * unless a trusted proxy forwarded for someone; like nginx's
 * $proxy_add_x_forwarded_for with real_ip). */
static int put_xff(struct exchange *ex, const char *buf, struct buf *out, size_t limit)
{
	const struct http_head_common *h = &ex->req.h;
	int err = buf_append(out, "X-Forwarded-For: ", 17, limit);

	for (unsigned i = 0; i < h->n_fields && !err; i++) {
		const struct http_field *f = &h->fields[i];
		if (!http_span_ieq(buf, f->name, "x-forwarded-for") || f->value.len == 0)
			continue;
		err = buf_append(out, buf + f->value.off, f->value.len, limit);
		err = err ?: buf_append(out, ", ", 2, limit);
	}
	return err ?: buf_printf(out, limit, "%s\r\n", ex->client_ip);
}

static int put_forwarded(struct worker *w, struct exchange *ex, const char *buf,
			 struct buf *out, size_t limit)
{
	int err = put_xff(ex, buf, out, limit);

	err = err ?: (ex->client->tls ? buf_append(out, "X-Forwarded-Proto: https\r\n", 26, limit)
				       : buf_append(out, "X-Forwarded-Proto: http\r\n", 25, limit));
	if (ex->req.host.len)
		err = err ?: buf_printf(out, limit, "X-Forwarded-Host: %.*s\r\n",
					(int)ex->req.host.len, buf + ex->req.host.off);
	else	/* HTTP/1.0 without Host: RFC 9112 §3.2 wants one; like nginx's
		 * $proxy_host, name the upstream group (the head is built before
		 * an instance is picked, so a retry can reuse it). */
		err = err ?: buf_printf(out, limit, "Host: %s\r\n",
					w->cfg->services[ex->service].name);
	return err ?: buf_printf(out, limit, "X-Request-Id: %s\r\n", ex->request_id);
}

enum stage_result stage_transform(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	const char *buf = buf_head(&c->in);
	size_t limit = w->cfg->max_header_bytes + HEAD_SLACK + LOG_TARGET_MAX;
	struct buf *out = &ex->up_head;
	int err;

	buf_reset(out);
	err = buf_append(out, buf + ex->req.method_name.off, ex->req.method_name.len, limit);
	err = err ?: buf_append(out, " ", 1, limit);
	err = err ?: route_upstream_target(w->router, (size_t)ex->route, buf, &ex->req, out, limit);
	err = err ?: buf_append(out, " HTTP/1.1\r\n", 11, limit);
	err = err ?: put_request_fields(w, ex, buf, out, limit);
	err = err ?: auth_put_claims(w, ex, out, limit);
	err = err ?: tls_put_subject(w, ex, out, limit);
	err = err ?: apikey_put_consumer(ex, out, limit);
	err = err ?: put_forwarded(w, ex, buf, out, limit);
	err = err ?: put_framing(out, limit, ex->req_body.mode,
				 ex->req_body.mode == HTTP_BODY_LENGTH ? ex->req.h.content_length : -1);
	err = err ?: buf_append(out, "\r\n", 2, limit);
	if (err) {
		ex->status = 431;
		ex->error = "request head too large after rewriting";
		ex->keep_alive = false;
		return STAGE_RESPOND;
	}
	/* The head is now in up_head; its bytes in the client buffer go, and
	 * with them every span in ex->req. */
	request_consume_head(ex);
	return STAGE_CONTINUE;
}

int transform_response_head(struct worker *w, const struct exchange *ex, const char *buf,
			    struct buf *out)
{
	const struct http_response *r = &ex->resp;
	const struct http_head_common *h = &r->h;
	size_t limit = CONN_OUT_CAP;
	bool interim = r->status < 200;
	int err;

	err = buf_printf(out, limit, "HTTP/1.1 %u %.*s\r\n", r->status, (int)r->reason.len,
			 buf + r->reason.off);
	for (unsigned i = 0; i < h->n_fields && !err; i++) {
		const struct http_field *f = &h->fields[i];
		if (skip_field(buf, h, f->name) || http_span_ieq(buf, f->name, "server") ||
		    tls_replaced_response_field(w, ex, buf, f->name))
			continue;
		err = put_field(out, limit, buf, f);
	}
	if (interim)
		return err ?: buf_append(out, "\r\n", 2, limit);
	if (!ex->dechunk)
		err = err ?: put_framing(out, limit, ex->resp_mode,
					 ex->resp_mode == HTTP_BODY_LENGTH ||
					 ex->resp_mode == HTTP_BODY_NONE ? h->content_length : -1);
	if (!ex->keep_alive)
		err = err ?: buf_append(out, "Connection: close\r\n", 19, limit);
	else if (ex->client_minor == 0)
		err = err ?: buf_append(out, "Connection: keep-alive\r\n", 24, limit);
	err = err ?: ratelimit_headers(w, ex, out, limit);
	err = err ?: tls_response_headers(w, ex, out, limit);
	err = err ?: buf_printf(out, limit, "X-Request-Id: %s\r\n\r\n", ex->request_id);
	return err;
}
