/* Responses: received bytes through the shared HTTP/1.1 parser and body
 * framer (lib/http1.h), and the outcome each one counts.
 *
 * Bytes are parsed where they landed, in the provided buffer. Only a head
 * split across receives is copied, into the connection's ->in, because the
 * head parser wants the whole head in one piece; body bytes go through the
 * framer as they come, whatever their number of pieces.
 *
 * Outcomes of the request at the FIFO's head: a complete 2xx/3xx response
 * is a success and its latency is recorded; another complete response is a
 * status error (by code); a malformed one is a parse error and ends the
 * connection, whose framing is lost. Interim 1xx responses are skipped. */
#include "bench/gwbench/gwbench.h"

#define RESP_IN_LIMIT	(GWB_MAX_HEAD + (64u << 10))	/* ->in: head plus one receive */

void gwb_resp_reset(struct gwb_conn *c)
{
	c->phase = RP_HEAD;
	c->close_after = false;
	buf_reset(&c->in);
	http_parser_init(&c->parser, GWB_MAX_HEAD);
}

/* A malformed response: count it, and end the connection. */
static void resp_fail(struct gwb_thread *t, struct gwb_conn *c, enum gwb_err_class cls)
{
	gwb_conn_fail_head(t, c, cls);
	gwb_conn_close(t, c, 0);
}

/* Feed head bytes. Returns how many bytes of <data> the head used, -1 when
 * the head is still incomplete (everything was used), -2 on a parse error. */
static long resp_head(struct gwb_conn *c, const char *data, size_t len)
{
	size_t prev = buf_avail(&c->in);
	const char *base = data;
	size_t blen = len;
	enum http_result r;

	if (prev) {
		if (buf_append(&c->in, data, len, RESP_IN_LIMIT))
			return -2;
		base = buf_head(&c->in);
		blen = buf_avail(&c->in);
	}
	r = http_parse_response(&c->parser, base, blen, &c->resp);
	if (r == HTTP_ERROR)
		return -2;
	if (r == HTTP_AGAIN) {
		/* The parser keeps offsets, so the copy continues where it was. */
		if (!prev && buf_append(&c->in, data, len, RESP_IN_LIMIT))
			return -2;
		return -1;
	}
	buf_reset(&c->in);
	return (long)(c->resp.h.head_len - prev);
}

/* The head is complete: set up the body framer. */
static void resp_body_start(struct gwb_thread *t, struct gwb_conn *c)
{
	enum http_body_mode mode = http_response_body_mode(&c->resp, t->plan->method);
	int64_t cl = c->resp.h.content_length;

	http_body_init(&c->body, mode, cl > 0 ? (uint64_t)cl : 0, GWB_MAX_TRAILER);
	c->close_after = !c->resp.h.keep_alive || mode == HTTP_BODY_UNTIL_CLOSE ||
			 c->resp.status == 101;
	c->phase = RP_BODY;
}

/* The response to the head request is complete: count it. */
static void resp_done(struct gwb_thread *t, struct gwb_conn *c)
{
	const struct gwb_req *r = gwb_conn_head(c);
	unsigned status = c->resp.status;

	if (r->counted) {
		if (status >= 200 && status < 400) {
			t->st.requests++;
			hist_record(&t->st.latency, t->now - (r->due_ns ? r->due_ns : r->sent_ns));
		} else {
			t->st.err_status++;
			t->st.status[status < GWB_STATUS_CODES ? status : 0]++;
		}
	}
	gwb_conn_pop_head(t, c);
	c->phase = RP_HEAD;
	http_parser_init(&c->parser, GWB_MAX_HEAD);
}

/* The server announced the end of the connection (or --no-keepalive):
 * wait for its FIN, so that the TIME_WAIT stays on its side, unless it
 * said keep-alive and only we want to close. */
static void resp_conn_end(struct gwb_thread *t, struct gwb_conn *c)
{
	if (!c->resp.h.keep_alive) {
		c->state = CS_DRAIN;
		c->since = t->now;
	} else {
		gwb_conn_close(t, c, 0);
	}
}

void gwb_resp_input(struct gwb_thread *t, struct gwb_conn *c, const char *data, size_t len)
{
	enum http_result r;
	size_t used;

	while (c->state == CS_OPEN) {
		if (c->phase == RP_HEAD) {
			long n;

			if (!len)
				return;
			if (!c->n_handed) {
				/* Bytes nobody asked for: the server is broken. */
				if (gwb_measuring(t))
					t->st.err_parse++;
				gwb_conn_close(t, c, 0);
				return;
			}
			n = resp_head(c, data, len);
			if (n == -1)
				return;
			if (n < 0) {
				resp_fail(t, c, GWB_ERR_PARSE);
				return;
			}
			data += n;
			len -= (size_t)n;
			if (c->resp.status < 200 && c->resp.status != 101) {
				http_parser_init(&c->parser, GWB_MAX_HEAD);
				continue;
			}
			resp_body_start(t, c);
		}
		r = http_body_feed(&c->body, data, len, &used);
		if (r == HTTP_ERROR) {
			resp_fail(t, c, GWB_ERR_PARSE);
			return;
		}
		data += used;
		len -= used;
		if (r == HTTP_AGAIN)
			return;
		resp_done(t, c);
		if (c->close_after || !t->plan->args->keepalive) {
			resp_conn_end(t, c);
			return;
		}
	}
}

/* The server closed (res 0) or reset (res < 0) the connection. */
void gwb_resp_eof(struct gwb_thread *t, struct gwb_conn *c, int res)
{
	if (c->state == CS_OPEN && c->n_handed) {
		bool body_to_close = c->phase == RP_BODY && c->body.mode == HTTP_BODY_UNTIL_CLOSE;

		if (body_to_close && res == 0)
			resp_done(t, c);
		else
			gwb_conn_fail_head(t, c, GWB_ERR_READ);
	}
	/* Otherwise the connection was idle (a keep-alive timeout on the
	 * server) or draining: no request lost, just reconnect. */
	gwb_conn_close(t, c, 0);
}
