/* Client connections.
 *
 * Phases (enum client_phase): HEAD while a request head is awaited or
 * arriving, EXCHANGE while the pipeline serves it, LINGER once the final
 * response is out and the connection is closing: the write side is shut and
 * input is read and dropped until the peer closes or LINGER_MS passes, so
 * that unread request bytes do not turn our close into a reset that could
 * destroy the response before the client reads it.
 *
 * Deadlines: header_timeout from the connection's start or a request's first
 * byte until its head is complete (then 408): a total, so a client sending
 * its head a byte at a time (slowloris) is cut off all the same;
 * idle_timeout between requests; the body's and the sends' deadlines are
 * worker/deadline.c's. */
#include "worker/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "worker/conn.h"
#include "worker/connlimit.h"
#include "worker/deadline.h"
#include "worker/pipeline.h"
#include "worker/tlsconn.h"
#include "worker/upstream.h"

#define LINGER_MS 5000u
#define CLIENT_DRAIN_IDLE_MS 1000u	/* an idle keep-alive's grace when a drain starts */
/* Bytes of pipelined requests buffered while one is being served. */
#define PIPELINE_CAP (64u << 10)

/* The peer's address as access lists and logs use it: an IPv4 client of a
 * dual-stack listener (::ffff:a.b.c.d) is a.b.c.d. */
static void peer_text(struct conn *c)
{
	struct cidr *a = &c->client.peer_addr;

	if (cidr_from_sockaddr(&c->client.peer, a) < 0) {
		memset(a, 0, sizeof(*a));
		strcpy(c->client.peer_ip, "unknown");
		return;
	}
	cidr_format(a, false, c->client.peer_ip, sizeof(c->client.peer_ip));
}

static struct exchange *slot_exchange(struct worker *w, struct conn *c)
{
	struct exchange **slot = &w->exchanges[c->index];

	if (!*slot)
		*slot = calloc(1, sizeof(**slot));
	return *slot;
}

/* Is listening socket <listener> of ours a [tls] listen? The master hands
 * a worker every listen address of each slot it serves, in the config's
 * order (master_slot_fds()). */
static bool listener_tls(const struct worker *w, uint32_t listener)
{
	return w->cfg->listens[listener % w->cfg->n_listens].tls;
}

void client_accept(struct worker *w, int fd, uint32_t listener)
{
	struct conn *c = conn_alloc(w, CONN_CLIENT, fd);
	struct exchange *ex;

	if (!c) {
		log_warn("connection table full (%u), refusing a client", w->n_conns);
		close(fd);
		return;
	}
	ex = slot_exchange(w, c);
	if (!ex || (listener_tls(w, listener) && tlsconn_accept(c, w->cfg->tls.server) < 0)) {
		log_error("out of memory for a client connection");
		conn_close(w, c);	/* nothing in flight: released at once */
		return;
	}
	socklen_t len = sizeof(c->client.peer);
	if (getpeername(fd, (struct sockaddr *)&c->client.peer, &len) != 0)
		memset(&c->client.peer, 0, sizeof(c->client.peer));
	peer_text(c);
	if (!connlimit_admit(w, c)) {
		conn_close(w, c);
		return;
	}
	c->client.ex = ex;
	c->client.phase = CLIENT_HEAD;
	ex->client = c;
	pipeline_reset(w, ex);
	w->n_clients++;
	wtab_count(w->stats, WTAB_ACCEPTED, 1);
	wtab_gauge_add(w->stats, WTAB_CONNECTIONS, 1);
	timer_arm(&w->timers, &c->timer, w->now_ms + w->cfg->header_timeout_ms);
	conn_arm_recv(w, c);
}

void client_close(struct worker *w, struct conn *c)
{
	if (c->closing)
		return;
	pipeline_abort(w, c->client.ex);
	connlimit_release(w, c);
	w->n_clients--;
	wtab_gauge_add(w->stats, WTAB_CONNECTIONS, -1);
	conn_close(w, c);
}

/* The last response is queued: shut the write side once it is out. */
static void start_linger(struct worker *w, struct conn *c)
{
	c->client.phase = CLIENT_LINGER;
	buf_reset(&c->in);
	conn_resume_recv(w, c);
	timer_arm(&w->timers, &c->timer, w->now_ms + LINGER_MS);
	if (conn_pending_out(c) > 0)
		return;	/* client_on_sent() finishes the job */
	if (c->peer_eof)
		client_close(w, c);
	else
		conn_shutdown_write(w, c);
}

bool client_next_request(struct worker *w, struct conn *c)
{
	struct exchange *ex = c->client.ex;

	if (c->closing)
		return false;
	if (!ex->keep_alive || !ex->req_body_done || w->draining) {
		start_linger(w, c);
		return false;
	}
	pipeline_reset(w, ex);
	c->client.phase = CLIENT_HEAD;
	conn_resume_recv(w, c);
	if (buf_avail(&c->in) == 0) {
		timer_arm(&w->timers, &c->timer, w->now_ms + w->cfg->idle_timeout_ms);
		return false;
	}
	ex->req_started = true;
	ex->t_start_ns = clock_mono_ns();
	timer_arm(&w->timers, &c->timer, w->now_ms + w->cfg->header_timeout_ms);
	return true;
}

void client_on_data(struct worker *w, struct conn *c)
{
	struct exchange *ex = c->client.ex;

	switch (c->client.phase) {
	case CLIENT_HEAD:
		if (!ex->req_started) {
			ex->req_started = true;
			ex->t_start_ns = clock_mono_ns();
			timer_arm(&w->timers, &c->timer, w->now_ms + w->cfg->header_timeout_ms);
		}
		pipeline_resume(w, ex);
		break;
	case CLIENT_EXCHANGE:
		if (!ex->req_body_done && ex->up)
			upstream_client_data(w, ex);
		else if (buf_avail(&c->in) > PIPELINE_CAP)
			conn_pause_recv(w, c);
		break;
	case CLIENT_LINGER:
		buf_reset(&c->in);
		break;
	}
}

size_t client_offer(struct worker *w, struct conn *c, const struct rx *rx)
{
	struct exchange *ex = c->client.ex;

	if (c->client.phase != CLIENT_EXCHANGE || ex->req_body_done || !ex->up ||
	    buf_avail(&c->in) > 0)
		return 0;
	return upstream_offer_request(w, ex, rx);
}

void client_on_eof(struct worker *w, struct conn *c, int err)
{
	struct exchange *ex = c->client.ex;

	/* A client that half-closes after a complete request still gets its
	 * response (curl and nc do this); anything else ends the connection. */
	if (c->client.phase == CLIENT_EXCHANGE && err == 0 && ex->req_body_done) {
		ex->keep_alive = false;
		return;
	}
	if (err && err != -ECONNRESET && err != -EPIPE)
		log_debug("client %s: %s", c->client.peer_ip, strerror(-err));
	client_close(w, c);
}

void client_on_sent(struct worker *w, struct conn *c)
{
	struct exchange *ex = c->client.ex;

	if (c->client.phase == CLIENT_LINGER) {
		if (conn_pending_out(c) > 0)
			return;
		/* Everything is sent. A peer that already closed its side has
		 * nothing left for us to read: close now, not at LINGER_MS. */
		if (c->peer_eof)
			client_close(w, c);
		else
			conn_shutdown_write(w, c);
		return;
	}
	if (c->client.phase == CLIENT_EXCHANGE && ex->up && conn_pending_out(c) < CONN_OUT_LOW)
		upstream_resume(w, ex);
}

void client_on_timeout(struct worker *w, struct conn *c)
{
	struct exchange *ex = c->client.ex;

	switch (c->client.phase) {
	case CLIENT_HEAD:
		if (!ex->req_started || buf_avail(&c->in) == 0) {
			client_close(w, c);	/* idle keep-alive, or never spoke */
			return;
		}
		c->client.phase = CLIENT_EXCHANGE;
		ex->keep_alive = false;
		wtab_count(w->stats, WTAB_CLIENT_TIMEOUTS, 1);
		pipeline_fail(w, ex, 408, "request header timeout");
		break;
	case CLIENT_EXCHANGE:
		if (!ex->req_body_done && !deadline_body_expired(w, ex))
			break;
		wtab_count(w->stats, WTAB_CLIENT_TIMEOUTS, 1);
		ex->keep_alive = false;
		pipeline_fail(w, ex, 408, "request body timeout");
		break;
	case CLIENT_LINGER:
		client_close(w, c);
		break;
	}
}

void client_drain(struct worker *w, struct conn *c)
{
	/* An idle keep-alive connection gets a moment to send the request
	 * that may already be on its way (served with Connection: close), so
	 * a drain does not race a busy client into a reset. */
	if (c->client.phase == CLIENT_HEAD && buf_avail(&c->in) == 0)
		timer_arm(&w->timers, &c->timer, w->now_ms + CLIENT_DRAIN_IDLE_MS);
}
