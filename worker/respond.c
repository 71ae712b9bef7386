/* The respond stage (the upstream's response head to the client) and the
 * gateway's own responses, which all share one JSON shape:
 *   {"error": "...", "status": N, "request_id": "..."} */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/json.h"
#include "worker/conn.h"
#include "worker/stages.h"
#include "worker/transform.h"
#include "worker/upstream.h"

/* The upstream's head is out; stream the body until it is complete. */
enum stage_result stage_respond(struct worker *w, struct exchange *ex)
{
	if (!ex->resp_head_sent) {
		struct conn *up = ex->up;
		struct buf *out = conn_out_begin(ex->client);
		size_t before = out->len;

		/* An early response leaves the request body unread, and then
		 * the connection cannot find where the next request begins. */
		if (!ex->req_body_done || ex->resp_mode == HTTP_BODY_UNTIL_CLOSE || ex->dechunk ||
		    w->draining)
			ex->keep_alive = false;
		if (transform_response_head(w, ex, buf_head(&up->in), out) != 0) {
			out->len = before;
			ex->status = 502;
			ex->error = "upstream response head too large";
			ex->keep_alive = false;
			return STAGE_RESPOND;
		}
		ex->status = ex->resp.status;
		ex->resp_head_sent = true;
		ex->bytes_out += out->len - before;
		conn_out_end(ex->client, before);
		buf_consume(&up->in, ex->resp.h.head_len);
		http_body_init(&ex->resp_body, ex->resp_mode,
			       ex->resp.h.content_length > 0 ? (uint64_t)ex->resp.h.content_length : 0,
			       8192);
		if (upstream_pump_response(w, ex) != 0)
			return STAGE_RESPOND;
	}
	return ex->resp_done ? STAGE_CONTINUE : STAGE_SUSPEND;
}

/* "Sat, 28 Nov 2026 20:37:12 GMT", recomputed at most once a second. */
static const char *http_date(void)
{
	static char text[40];
	static time_t cached;
	time_t now = time(NULL);

	if (now != cached) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached = now;
	}
	return text;
}

void respond_error(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	char body[512], msg[256];
	int body_len;

	if (!ex->req_body_done || w->draining)
		ex->keep_alive = false;
	/* A head that never completed (408) has no id yet; every answer has one. */
	if (!ex->request_id[0])
		request_id_new(w, ex->request_id);
	/* Our messages are plain, but escaping keeps a future one with a
	 * quote from breaking the JSON. */
	json_escape(msg, sizeof(msg), ex->error ? ex->error : http_status_reason(ex->status));
	body_len = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%u,\"request_id\":\"%s\"}\n",
			    msg, ex->status, ex->request_id);
	struct buf *out = conn_out_begin(c);
	size_t before = out->len;
	int err = buf_printf(out, CONN_OUT_CAP,
		"HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
		"Date: %s\r\nX-Request-Id: %s\r\n%s",
		ex->status, http_status_reason(ex->status), body_len, http_date(), ex->request_id,
		!ex->keep_alive ? "Connection: close\r\n"
		: ex->client_minor == 0 ? "Connection: keep-alive\r\n" : "");

	err = err ?: ratelimit_headers(w, ex, out, CONN_OUT_CAP);
	err = err ?: auth_headers(w, ex, out, CONN_OUT_CAP);
	err = err ?: tls_response_headers(w, ex, out, CONN_OUT_CAP);
	err = err ?: buf_append(out, "\r\n", 2, CONN_OUT_CAP);
	if (!err && ex->method != HTTP_M_HEAD)
		err = buf_append(out, body, (size_t)body_len, CONN_OUT_CAP);
	if (err) {
		out->len = before;	/* nothing half-formatted goes out */
		ex->keep_alive = false;
	}
	ex->bytes_out += out->len - before;
	conn_out_end(c, before);
	ex->resp_head_sent = true;
	ex->resp_done = true;
	conn_flush(w, c);
}
