/* gw-echo's request state machine.
 *
 * A connection's current request always starts at ->in's read offset. The
 * head is parsed in place (lib/http1.c); the body is framed right after it.
 * Body bytes are cut out of ->in as they arrive, so the head stays intact for
 * the JSON answer without the body ever being held, except for ?echo=body,
 * which keeps them to send back. Once the answer is fully queued, the head
 * (and kept body) is consumed and the next pipelined request starts.
 *
 * Each phase has one step function. A step either moves the phase on and
 * asks for another step, or waits for an event: more input, a send
 * completion, the timer. ->out is written only while no send is in flight,
 * which keeps answers in request order and the in-flight bytes stable. */
#include "bench/echo.h"

#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"

enum step {
	STEP_WAIT = 0,	/* nothing more to do until the next event */
	STEP_NEXT,	/* the phase changed: run the next step */
};

static const char CONTINUE_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* Trailer section bytes a chunked request body may carry. */
#define HTTP_MAX_TRAILER 8192u

void echo_conn_reset_request(struct echo_conn *c)
{
	http_parser_init(&c->parser, ECHO_MAX_HEAD);
	c->body_raw = 0;
	memset(&c->opts, 0, sizeof(c->opts));
	c->err_status = 0;
	c->err_why = NULL;
	c->src = SRC_NONE;
	c->src_chunked = false;
	c->src_pos = 0;
	c->src_left = 0;
	c->phase = PH_HEAD;
}

/* Answer <status> (after whatever is queued) and close. */
static enum step conn_fail(struct echo_conn *c, uint16_t status, const char *why)
{
	c->err_status = status;
	c->err_why = why;
	c->phase = PH_REPLY;
	return STEP_NEXT;
}

/* Remove <n> bytes at <at> (relative to the request start) from ->in:
 * body bytes we count but do not keep. Usually they are the last bytes
 * received, so nothing moves. */
static void in_cut(struct buf *in, size_t at, size_t n)
{
	char *p = buf_head(in) + at;
	size_t tail = buf_avail(in) - at - n;

	if (tail)
		memmove(p, p + n, tail);
	in->len -= n;
}

/* The current request's answer is fully queued: drop its bytes from ->in
 * and get ready for the next one. */
static void conn_request_done(struct echo_conn *c)
{
	bool close_after = c->close_after;

	buf_consume(&c->in, c->req.h.head_len + c->body_raw);
	echo_conn_reset_request(c);
	if (close_after)
		c->phase = PH_FINAL;
}

static enum step head_done(struct echo_conn *c)
{
	const char *msg = buf_head(&c->in);
	enum http_body_mode mode = http_request_body_mode(&c->req);
	int64_t cl = c->req.h.content_length;

	echo_opts_parse(msg + c->req.query.off, c->req.query.len, &c->opts);
	if (mode == HTTP_BODY_LENGTH && cl == 0)
		mode = HTTP_BODY_NONE;
	if (c->opts.echo && mode == HTTP_BODY_LENGTH && cl > (int64_t)ECHO_MAX_ECHO_BODY)
		return conn_fail(c, 413, "body too large for ?echo=body");
	/* Initialised even without a body: the answer reports ->body.total. */
	http_body_init(&c->body, mode, mode == HTTP_BODY_LENGTH ? (uint64_t)cl : 0,
		       HTTP_MAX_TRAILER);
	if (mode == HTTP_BODY_NONE) {
		c->phase = PH_REPLY;
		return STEP_NEXT;
	}
	if (c->req.expect_continue && c->req.h.version_minor == 1 &&
	    buf_append(&c->out, CONTINUE_100, sizeof(CONTINUE_100) - 1, ECHO_OUT_LIMIT) < 0)
		return conn_fail(c, 500, "out of memory");
	c->phase = PH_BODY;
	return STEP_NEXT;
}

static enum step step_head(struct echo_conn *c)
{
	enum http_result r;

	/* Completing a head may write to ->out; and past a batch of
	 * pipelined answers, send before parsing more. */
	if (c->send_busy || !buf_avail(&c->in) || buf_avail(&c->out) >= ECHO_OUT_BATCH)
		return STEP_WAIT;
	r = http_parse_request(&c->parser, buf_head(&c->in), buf_avail(&c->in), &c->req);
	if (r == HTTP_AGAIN)
		return STEP_WAIT;
	if (r == HTTP_ERROR)
		return conn_fail(c, c->parser.status ? c->parser.status : 400,
				 c->parser.error ? c->parser.error : "bad request");
	return head_done(c);
}

static enum step step_body(struct echo_conn *c)
{
	size_t at = c->req.h.head_len + c->body_raw;
	size_t have = buf_avail(&c->in) - at;
	size_t used = 0;
	enum http_result r;

	if (!have)
		return STEP_WAIT;
	r = http_body_feed(&c->body, buf_head(&c->in) + at, have, &used);
	if (r == HTTP_ERROR)
		return conn_fail(c, 400, c->body.error ? c->body.error : "bad body framing");
	if (c->opts.echo) {
		c->body_raw += (uint32_t)used;
		/* Chunked bodies have no announced length; ->in's limit
		 * also bounds the framing of very small chunks. */
		if (c->body.total > ECHO_MAX_ECHO_BODY)
			return conn_fail(c, 413, "body too large for ?echo=body");
	} else {
		in_cut(&c->in, at, used);
	}
	if (r == HTTP_AGAIN)
		return STEP_WAIT;
	c->phase = PH_REPLY;
	return STEP_NEXT;
}

/* Options that hold the answer back first let earlier pipelined answers
 * leave, so that they are not delayed or lost with it. */
static enum step reply_special(struct echo_thread *t, struct echo_conn *c)
{
	struct echo_opts *o = &c->opts;

	if (buf_avail(&c->out))
		return STEP_WAIT;
	if (o->reset) {
		echo_conn_close(t, c, true);
	} else if (o->hang) {
		c->phase = PH_HANG;
		buf_reset(&c->in);
	} else {
		c->phase = PH_DELAY;
		echo_conn_arm_timer(t, c, o->delay_ms);
		o->delay_ms = 0;
	}
	return STEP_WAIT;
}

static enum step step_reply(struct echo_thread *t, struct echo_conn *c)
{
	const struct echo_opts *o = &c->opts;
	int err;

	if (c->send_busy)
		return STEP_WAIT;
	if (c->err_status) {
		err = echo_reply_error(c, c->err_status, c->err_why);
		if (err)
			goto err_close;
		/* The rest of ->in may be garbage: never parse it. */
		c->phase = PH_FINAL;
		return STEP_NEXT;
	}
	if (o->invalid)
		return conn_fail(c, 400, "bad echo option in query");
	if (o->reset || o->hang || o->delay_ms)
		return reply_special(t, c);
	err = echo_reply_start(t, c);
	if (err)
		goto err_close;
	if (c->src != SRC_NONE)
		c->phase = PH_STREAM;
	else
		conn_request_done(c);
	return STEP_NEXT;

err_close:
	log_warn("conn %u: cannot queue answer: %s", c->idx, strerror(-err));
	echo_conn_close(t, c, true);
	return STEP_WAIT;
}

static enum step step_stream(struct echo_thread *t, struct echo_conn *c)
{
	int err;

	/* Produce the next piece only once the previous one has left. */
	if (c->send_busy || buf_avail(&c->out) >= ECHO_PIECE)
		return STEP_WAIT;
	err = echo_reply_fill(c);
	if (err) {
		log_warn("conn %u: cannot queue body: %s", c->idx, strerror(-err));
		echo_conn_close(t, c, true);
		return STEP_WAIT;
	}
	if (c->src != SRC_NONE)
		return STEP_WAIT;
	conn_request_done(c);
	return STEP_NEXT;
}

/* After the last answer: FIN, then read until the client's FIN, so that
 * unread input (a pipelined request we will not answer) cannot turn our
 * close into an RST that destroys the answer in flight. */
static enum step step_final(struct echo_thread *t, struct echo_conn *c)
{
	if (c->send_busy || buf_avail(&c->out))
		return STEP_WAIT;
	if (c->peer_eof) {
		echo_conn_close(t, c, false);
		return STEP_WAIT;
	}
	shutdown(c->fd, SHUT_WR);
	buf_reset(&c->in);
	c->phase = PH_LINGER;
	echo_conn_arm_timer(t, c, ECHO_LINGER_MS);
	return STEP_WAIT;
}

static enum step conn_step(struct echo_thread *t, struct echo_conn *c)
{
	switch (c->phase) {
	case PH_HEAD:
		return step_head(c);
	case PH_BODY:
		return step_body(c);
	case PH_REPLY:
		return step_reply(t, c);
	case PH_STREAM:
		return step_stream(t, c);
	case PH_FINAL:
		return step_final(t, c);
	case PH_DELAY:
	case PH_LINGER:
	case PH_HANG:
	case PH_CLOSING:
		break;
	}
	return STEP_WAIT;
}

/* Run <c> as far as its input and send state allow, then send what got
 * queued. Called after every event on the connection. */
void echo_conn_advance(struct echo_thread *t, struct echo_conn *c)
{
	while (conn_step(t, c) == STEP_NEXT)
		;
	echo_conn_flush(t, c);
	/* The client stopped sending mid-request or between requests: once
	 * our answers are out, nothing more can happen on this connection. */
	if (c->peer_eof && (c->phase == PH_HEAD || c->phase == PH_BODY) &&
	    !c->send_busy && !buf_avail(&c->out))
		echo_conn_close(t, c, false);
}
