/* Upstream connections and the upstream half of an exchange.
 *
 * Phases (enum upstream_phase): CONNECTING until the ring's connect
 * completes (connect_timeout), ACTIVE while carrying one exchange (timeout:
 * for the response head, and between reads of the body), IDLE while parked
 * in its instance's pool (idle_timeout; a byte or EOF from an idle upstream
 * closes it). Pools are per worker, so no lock is ever taken.
 *
 * A pooled connection may have been closed by the upstream just before we
 * reuse it. When that happens before any response byte and the request has
 * no body, the request is replayed once on a new connection, as nginx does.
 *
 * Every attempt ends in attempt_report() exactly once: at the final
 * response head (its status decides), or at the failure that ended it
 * (connect, timeout, reset). A failure before the head may start a retry
 * (worker/retry.c), which closes this upstream and picks again. */
#include "worker/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "worker/conn.h"
#include "worker/deadline.h"
#include "worker/pipeline.h"
#include "worker/pool.h"
#include "worker/retry.h"
#include "worker/stages.h"
#include "worker/tlsconn.h"
#include "worker/transform.h"

/* Upstream response heads may be larger than what we accept from clients. */
#define MAX_RESPONSE_HEAD (64u << 10)
#define MAX_RESPONSE_TRAILER 8192u

/* A failed attempt before the response head: count it, and retry when the
 * policy allows. True when a retry took the exchange over. */
static bool attempt_failed(struct worker *w, struct exchange *ex, uint32_t kind, unsigned status)
{
	attempt_report(w, ex, kind, status);
	return retry_maybe(w, ex, kind, status);
}

static const struct gw_service_conf *service_of(struct worker *w, const struct exchange *ex)
{
	return &w->cfg->services[ex->service];
}

static void arm_timer(struct worker *w, struct conn *up, uint64_t ms)
{
	timer_arm(&w->timers, &up->timer, w->now_ms + ms);
}

/* Sends wait until the connect completes. */
static void up_flush(struct worker *w, struct conn *up)
{
	if (up->up.phase == UPSTREAM_ACTIVE)
		conn_flush(w, up);
}

static void detach(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;

	timer_cancel(&w->timers, &up->timer);
	up->up.ex = NULL;
	ex->up = NULL;
	ex->t_up_end_ns = clock_mono_ns();
}

void upstream_abort(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;

	if (!up)
		return;
	detach(w, ex);
	conn_close(w, up);
}

/* A service with tls = yes: the connection is a TLS client of it, its
 * certificate checked against tls_sni or else the instance's address, and
 * it resumes the instance's last session (kept with its pool). */
static int start_tls(struct worker *w, const struct exchange *ex, struct conn *up)
{
	const struct gw_upstream_tls_conf *t = &service_of(w, ex)->tls;
	char ip[INET6_ADDRSTRLEN] = "";
	const void *a = &((const struct sockaddr_in *)&ex->inst.addr)->sin_addr;

	if (!t->on)
		return 0;
	if (ex->inst.addr.ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&ex->inst.addr)->sin6_addr;
	inet_ntop(ex->inst.addr.ss_family, a, ip, sizeof(ip));
	return tlsconn_connect(up, t->client, t->sni, ip, &w->pools[ex->inst.slot].tls_session);
}

static int connect_new(struct worker *w, struct exchange *ex, struct conn **out)
{
	const struct winst *inst = &ex->inst;
	int one = 1;
	int fd = socket(inst->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *up = conn_alloc(w, CONN_UPSTREAM, fd);
	if (!up) {
		close(fd);
		return -EMFILE;
	}
	if (start_tls(w, ex, up) < 0) {
		conn_close(w, up);	/* nothing in flight: released at once */
		return -ENOMEM;
	}
	struct io_uring_sqe *sqe = wk_sqe(w);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&inst->addr, inst->addr_len);
	io_uring_sqe_set_data64(sqe, ud_make(OP_CONNECT, up->index, up->gen));
	up->inflight++;
	up->up.phase = UPSTREAM_CONNECTING;
	arm_timer(w, up, service_of(w, ex)->connect_timeout_ms);
	*out = up;
	return 0;
}

/* Put the exchange on a pooled connection or a new one, with the request
 * head queued. 0 or -errno. */
static int attach(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up_retried ? NULL : pool_take(w, ex->inst.slot);
	int err;

	if (up) {
		arm_timer(w, up, service_of(w, ex)->timeout_ms);
	} else {
		err = connect_new(w, ex, &up);
		if (err)
			return err;
	}
	up->up.ex = ex;
	up->up.slot = ex->inst.slot;
	up->up.requests++;
	ex->up = up;
	ex->t_up_start_ns = clock_mono_ns();
	http_parser_init(&ex->rparser, MAX_RESPONSE_HEAD);
	err = conn_queue(up, buf_head(&ex->up_head), buf_avail(&ex->up_head));
	if (err)
		upstream_abort(w, ex);
	return err;
}

static void send_continue(struct worker *w, struct exchange *ex)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct conn *c = ex->client;

	/* Only a client that asked, is HTTP/1.1, and has not started sending
	 * the body anyway. */
	if (!ex->req.expect_continue || ex->req_body_done || ex->client_minor == 0 ||
	    buf_avail(&c->in) > 0)
		return;
	conn_queue(c, line, sizeof(line) - 1);
	conn_flush(w, c);
}

enum stage_result stage_upstream(struct worker *w, struct exchange *ex)
{
	if (ex->resp_head_done)
		return STAGE_CONTINUE;
	if (ex->up)
		return STAGE_SUSPEND;
	send_continue(w, ex);
	int err = attach(w, ex);
	if (err) {
		log_warn("upstream %s: %s", ex->inst.text, strerror(-err));
		if (attempt_failed(w, ex, GW_FAIL_CONNECT, 0))
			return STAGE_SUSPEND;
		ex->status = err == -EMFILE ? 503 : 502;
		ex->error = "cannot open an upstream connection";
		return STAGE_RESPOND;
	}
	if (upstream_pump_request(w, ex) != 0)
		return STAGE_RESPOND;
	return STAGE_SUSPEND;
}

void upstream_on_connect(struct worker *w, struct conn *up, int res)
{
	struct exchange *ex = up->up.ex;

	if (!ex) {
		conn_close(w, up);
		return;
	}
	if (res < 0) {
		log_info("upstream %s: connect: %s", ex->inst.text, strerror(-res));
		upstream_abort(w, ex);
		if (!attempt_failed(w, ex, GW_FAIL_CONNECT, 0))
			pipeline_fail(w, ex, 502, "upstream connection failed");
		return;
	}
	up->up.phase = UPSTREAM_ACTIVE;
	arm_timer(w, up, service_of(w, ex)->timeout_ms);
	conn_arm_recv(w, up);
	conn_flush(w, up);
}

/* Queue relayed bytes for <to>: straight from the receive buffer when they
 * came from one (<rx>, at most once per buffer), copied otherwise. */
static void queue_relayed(struct worker *w, struct conn *to, const struct rx *rx,
			  const char *p, size_t n)
{
	if (rx && !*rx->held && n > 0 && conn_queue_held(w, to, rx->bid, p, n)) {
		*rx->held = true;
		return;
	}
	conn_queue(to, p, n);
}

/* Move request body bytes from <src> to the upstream until the body ends,
 * the bytes run out, or the upstream has enough queued (then the client is
 * paused). Returns the bytes consumed, or -EINVAL with ex->status/error. */
static ssize_t relay_request(struct worker *w, struct exchange *ex, const char *src, size_t len,
			     const struct rx *rx)
{
	struct conn *up = ex->up;
	uint64_t limit = w->cfg->max_body_bytes;
	size_t used = 0;

	while (!ex->req_body_done && used < len) {
		if (conn_pending_out(up) > CONN_OUT_HIGH) {
			conn_pause_recv(w, ex->client);
			break;
		}
		size_t want = len - used, n = 0;
		if (want > CONN_OUT_HIGH)
			want = CONN_OUT_HIGH;
		enum http_result r = http_body_feed(&ex->req_body, src + used, want, &n);
		if (r == HTTP_ERROR) {
			ex->status = 400;
			ex->error = ex->req_body.error ? ex->req_body.error : "invalid request body";
			ex->keep_alive = false;
			return -EINVAL;
		}
		if (limit && ex->req_body.total > limit) {
			ex->status = 413;
			ex->error = "request body too large";
			ex->keep_alive = false;
			return -EINVAL;
		}
		queue_relayed(w, up, rx, src + used, n);
		ex->bytes_in += n;
		used += n;
		ex->req_body_done = r == HTTP_DONE;
	}
	return (ssize_t)used;
}

/* After relaying: the client's body deadline, and the bytes out. */
static void request_relayed(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;

	/* A stalled body upload is the client's fault (worker/deadline.c). */
	if (ex->req_body_done)
		timer_cancel(&w->timers, &c->timer);
	else
		deadline_body(w, ex);
	up_flush(w, ex->up);
}

int upstream_pump_request(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	ssize_t n = relay_request(w, ex, buf_head(&c->in), buf_avail(&c->in), NULL);

	if (n < 0)
		return (int)n;
	buf_consume(&c->in, (size_t)n);
	request_relayed(w, ex);
	return 0;
}

size_t upstream_offer_request(struct worker *w, struct exchange *ex, const struct rx *rx)
{
	ssize_t n = relay_request(w, ex, rx->data, rx->len, rx);

	if (n < 0) {
		pipeline_fail(w, ex, ex->status, ex->error);
		return rx->len;	/* the connection is closing; drop the rest */
	}
	request_relayed(w, ex);
	return (size_t)n;
}

void upstream_client_data(struct worker *w, struct exchange *ex)
{
	if (upstream_pump_request(w, ex) != 0)
		pipeline_fail(w, ex, ex->status, ex->error);
}

void upstream_on_sent(struct worker *w, struct conn *up)
{
	struct exchange *ex = up->up.ex;

	if (!ex)
		return;
	/* Progress either way counts: a long upload is not an idle upstream. */
	arm_timer(w, up, service_of(w, ex)->timeout_ms);
	if (ex->req_body_done || conn_pending_out(up) >= CONN_OUT_LOW)
		return;
	conn_resume_recv(w, ex->client);
	upstream_client_data(w, ex);
}

static bool body_is_empty(const struct exchange *ex)
{
	return ex->resp_mode == HTTP_BODY_NONE ||
	       (ex->resp_mode == HTTP_BODY_LENGTH && ex->resp.h.content_length == 0);
}

/* Frame the next bytes of the response body: *n of <len> bytes belong to
 * it, of which the first *payload go to the client (all of them, unless
 * decoding chunks for an HTTP/1.0 client, where framing bytes are dropped). */
static enum http_result feed_response(struct exchange *ex, const char *p, size_t len,
				      size_t *n, size_t *payload)
{
	enum http_result r;

	if (!ex->dechunk) {
		r = http_body_feed(&ex->resp_body, p, len, n);
		*payload = *n;
		return r;
	}
	uint64_t data = http_body_chunk_left(&ex->resp_body);
	r = http_body_feed(&ex->resp_body, p, data ? (len < data ? len : data) : 1, n);
	*payload = data ? *n : 0;
	return r;
}

/* Move response body bytes from <src> to the client until the body ends,
 * the bytes run out, or the client has enough queued (then the upstream is
 * paused). Returns the bytes consumed, or -EINVAL with ex->status/error. */
static ssize_t relay_response(struct worker *w, struct exchange *ex, const char *src, size_t len,
			      const struct rx *rx)
{
	struct conn *c = ex->client;
	size_t used = 0;

	if (body_is_empty(ex))
		ex->resp_done = true;
	while (!ex->resp_done && used < len) {
		if (conn_pending_out(c) > CONN_OUT_HIGH) {
			conn_pause_recv(w, ex->up);
			break;
		}
		size_t want = len - used, n = 0, payload = 0;
		if (want > CONN_OUT_HIGH)
			want = CONN_OUT_HIGH;
		enum http_result r = feed_response(ex, src + used, want, &n, &payload);
		if (r == HTTP_ERROR) {
			ex->status = 502;
			ex->error = "invalid response body from upstream";
			return -EINVAL;
		}
		if (payload == n)
			queue_relayed(w, c, rx, src + used, n);
		else	/* decoding chunks: only the payload goes out */
			conn_queue(c, src + used, payload);
		ex->bytes_out += payload;
		used += n;
		ex->resp_done = r == HTTP_DONE;
	}
	return (ssize_t)used;
}

int upstream_pump_response(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;
	ssize_t n = relay_response(w, ex, buf_head(&up->in), buf_avail(&up->in), NULL);

	if (n < 0)
		return (int)n;
	buf_consume(&up->in, (size_t)n);
	conn_flush(w, ex->client);
	if (ex->resp_done)
		upstream_finish(w, ex);
	return 0;
}

/* Stream what the upstream sent of the body; the pipeline moves on once it
 * is complete. */
static void continue_response(struct worker *w, struct exchange *ex)
{
	if (upstream_pump_response(w, ex) != 0)
		pipeline_fail(w, ex, ex->status, ex->error);
	else if (ex->resp_done)
		pipeline_resume(w, ex);
}

void upstream_resume(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;

	if (!up)
		return;
	conn_resume_recv(w, up);
	if (ex->resp_head_sent)
		continue_response(w, ex);
}

/* Anything but silence from a parked connection (data, EOF, its idle
 * deadline) ends it: data out of turn means it cannot be trusted. */
static void drop_idle(struct worker *w, struct conn *up)
{
	pool_unpark(w, up);
	conn_close(w, up);
}

/* Parse response heads, forwarding interim 1xx ones. 0 when the caller
 * should go on (final head done or more bytes needed), -1 when the
 * exchange already failed. */
static int parse_head(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;

	for (;;) {
		const char *buf = buf_head(&up->in);
		enum http_result r = http_parse_response(&ex->rparser, buf, buf_avail(&up->in),
							 &ex->resp);
		ex->resp_started = true;
		if (r == HTTP_AGAIN)
			return 0;
		if (r == HTTP_ERROR) {
			log_info("upstream %s: invalid response: %s", ex->inst.text,
				 ex->rparser.error ? ex->rparser.error : "?");
			if (!attempt_failed(w, ex, GW_FAIL_RESET, 0))
				pipeline_fail(w, ex, 502, "invalid response from upstream");
			return -1;
		}
		if (ex->resp.status >= 200) {
			attempt_report(w, ex, 0, ex->resp.status);
			if (ex->resp.status >= 500 && retry_maybe(w, ex, 0, ex->resp.status))
				return -1;	/* retrying; this response is dropped */
			ex->resp_head_done = true;
			ex->resp_mode = http_response_body_mode(&ex->resp, ex->method);
			/* HTTP/1.0 has no chunked coding: decode, delimit by close. */
			ex->dechunk = ex->resp_mode == HTTP_BODY_CHUNKED && ex->client_minor == 0;
			return 0;
		}
		if (ex->resp.status == 101) {
			attempt_report(w, ex, GW_FAIL_RESET, 0);
			pipeline_fail(w, ex, 502, "upstream switched protocols");
			return -1;
		}
		/* 100 Continue is ours to send (we strip Expect upstream); other
		 * interim responses (103) go to HTTP/1.1 clients. */
		if (ex->resp.status != 100 && ex->client_minor == 1) {
			struct buf *out = conn_out_begin(ex->client);
			size_t before = out->len;
			if (transform_response_head(w, ex, buf, out) == 0)
				conn_out_end(ex->client, before);
			else
				out->len = before;
			conn_flush(w, ex->client);
		}
		buf_consume(&up->in, ex->resp.h.head_len);
		http_parser_init(&ex->rparser, MAX_RESPONSE_HEAD);
	}
}

void upstream_on_data(struct worker *w, struct conn *up)
{
	struct exchange *ex = up->up.ex;

	if (!ex) {
		drop_idle(w, up);
		return;
	}
	arm_timer(w, up, service_of(w, ex)->timeout_ms);
	if (!ex->resp_head_done) {
		if (parse_head(w, ex) == 0 && ex->resp_head_done)
			pipeline_resume(w, ex);
		return;
	}
	if (ex->resp_head_sent)
		continue_response(w, ex);
}

size_t upstream_offer(struct worker *w, struct conn *up, const struct rx *rx)
{
	const char *src = rx->data;
	size_t len = rx->len;
	struct exchange *ex = up->up.ex;

	/* Only body bytes with nothing older waiting in up->in take the short
	 * way; everything else goes through up->in and upstream_on_data(). */
	if (!ex || !ex->resp_head_sent || ex->resp_done || buf_avail(&up->in) > 0)
		return 0;
	arm_timer(w, up, service_of(w, ex)->timeout_ms);
	ssize_t n = relay_response(w, ex, src, len, rx);
	if (n < 0) {
		pipeline_fail(w, ex, ex->status, ex->error);
		return len;
	}
	conn_flush(w, ex->client);
	if (ex->resp_done) {
		/* Bytes after the response's end are out of turn: leave them in
		 * ->in, where upstream_finish() sees them and will not pool the
		 * connection. */
		if ((size_t)n < len && buf_append(&up->in, src + n, len - (size_t)n, CONN_IN_CAP) == 0)
			n = (ssize_t)len;
		upstream_finish(w, ex);
		pipeline_resume(w, ex);
	}
	return (size_t)n;
}

/* A reused connection that closes before answering gets one replay, when
 * the request can be sent again whole (no body). */
static bool can_replay(const struct exchange *ex, const struct conn *up)
{
	return !ex->resp_started && up->up.requests > 1 && !ex->up_retried &&
	       ex->req_body.mode == HTTP_BODY_NONE;
}

void upstream_on_eof(struct worker *w, struct conn *up, int err)
{
	struct exchange *ex = up->up.ex;

	if (!ex) {
		drop_idle(w, up);
		return;
	}
	if (err == 0 && ex->resp_head_sent && ex->resp_mode == HTTP_BODY_UNTIL_CLOSE) {
		ex->resp_done = true;
		ex->keep_alive = false;
		upstream_abort(w, ex);
		pipeline_resume(w, ex);
		return;
	}
	if (err == -EPROTO && up->tls) {
		log_warn("upstream %s: TLS: %s", ex->inst.text, tlsconn_error(up));
	} else if (can_replay(ex, up)) {
		upstream_abort(w, ex);
		ex->up_retried = true;
		if (attach(w, ex) == 0)
			return;
	}
	if (!ex->resp_head_done && attempt_failed(w, ex, GW_FAIL_RESET, 0))
		return;
	pipeline_fail(w, ex, 502, err == 0 ? "upstream closed the connection"
					   : "upstream connection failed");
}

void upstream_on_timeout(struct worker *w, struct conn *up)
{
	struct exchange *ex = up->up.ex;

	if (!ex) {
		drop_idle(w, up);
		return;
	}
	bool connecting = up->up.phase == UPSTREAM_CONNECTING;

	/* The upstream has taken every body byte the client sent and waits
	 * for more: the client is the slow one, and its own deadline
	 * (client_body_timeout, worker/deadline.c) answers 408, not us 504. */
	if (!connecting && !ex->resp_head_done && !ex->req_body_done &&
	    conn_pending_out(up) == 0 && !ex->client->recv_paused) {
		arm_timer(w, up, service_of(w, ex)->timeout_ms);
		return;
	}
	if (!ex->resp_head_done &&
	    attempt_failed(w, ex, connecting ? GW_FAIL_CONNECT : GW_FAIL_TIMEOUT, 0))
		return;
	pipeline_fail(w, ex, 504, connecting ? "upstream connect timeout" : "upstream timeout");
}

void upstream_finish(struct worker *w, struct exchange *ex)
{
	struct conn *up = ex->up;
	const struct gw_service_conf *svc = service_of(w, ex);

	if (!up)
		return;
	bool reuse = ex->resp.h.keep_alive && ex->resp_mode != HTTP_BODY_UNTIL_CLOSE &&
		     ex->req_body_done && buf_avail(&up->in) == 0 && !up->peer_eof &&
		     !w->draining && pool_idle(w, ex->inst.slot) < svc->keepalive;
	detach(w, ex);
	if (!reuse) {
		conn_close(w, up);
		return;
	}
	pool_park(w, up);
	arm_timer(w, up, w->cfg->idle_timeout_ms);
}
